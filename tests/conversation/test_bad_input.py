"""Conversation-v0 refuses bad input with errors that name what was wrong and what is allowed; its docstring has
Gymnasium's sections, as every textgym id's does (tests/test_docstrings.py)."""

from __future__ import annotations

import gymnasium as gym
import pytest

from tests.conversation.helpers import example_task, say
from tests.test_docstrings import SECTIONS, items, section
from textgym.conversation import ConversationEnv, ConversationVectorEnv, UserGoal
from textgym.envs.textgen import EpisodeFinishedError

ENV_ID = "textgym/Conversation-v0"


class ScriptedUser:
    """A user whose replies, progress and ends are given (``reply_value``: what reply() returns)."""

    def __init__(self, reply_value: object = "Go on.", progress: object = 0.0, ends_after: int | None = None,
                 end_reason: str = "goal_met") -> None:
        self.reply_value, self._progress = reply_value, progress
        self.ends_after, self._end_reason = ends_after, end_reason
        self.replies = 0

    def reset(self, seed: int, goal: UserGoal) -> None:
        self.replies = 0

    def reply(self, agent_turn: str):
        self.replies += 1
        return self.reply_value

    @property
    def done(self) -> bool:
        return self.ends_after is not None and self.replies >= self.ends_after

    @property
    def end_reason(self) -> str:
        return self._end_reason if self.done else ""

    @property
    def progress(self):
        return self._progress


def test_max_turns_that_cannot_fit_the_budget_is_refused():
    with pytest.raises(ValueError, match=r"max_turns=40 cannot fit in max_conversation_tokens=160.*allowed: max_turns"):
        gym.make(ENV_ID, max_turns=40)
    with pytest.raises(ValueError, match="max_turns must be a positive integer"):
        gym.make(ENV_ID, max_turns=0)


def test_a_horizon_beyond_the_models_context_is_refused():
    with pytest.raises(ValueError, match=r"exceeds the context length 512 of model 'tiny-v1'; allowed: "
                                         r"max_conversation_tokens <= \d+"):
        gym.make(ENV_ID, max_conversation_tokens=500)
    with pytest.raises(ValueError, match="exceeds the context length"):
        ConversationVectorEnv(num_envs=2, max_conversation_tokens=1000)


def test_an_unknown_reward_mode_names_the_allowed_values():
    with pytest.raises(ValueError, match=r"unknown reward_mode 'instant'; allowed: \['dense', 'turn', 'sparse'\]"):
        gym.make(ENV_ID, reward_mode="instant")
    with pytest.raises(ValueError, match=r"unknown split 'test'; allowed: \['train', 'eval'\]"):
        gym.make(ENV_ID, split="test")


def test_a_user_reply_that_is_not_a_string_is_a_clear_error():
    env = ConversationEnv(task=example_task(), user=ScriptedUser(reply_value=42))
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"ScriptedUser.reply\(\) returned int \(42\); allowed: a str"):
        say(env, " Hello.\n")


def test_bad_progress_end_reasons_and_non_users_are_clear_errors():
    env = ConversationEnv(task=example_task(), user=ScriptedUser(progress=1.5))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"progress is 1.5; allowed: a number in \[0, 1\]"):
        say(env, " Hello.\n")
    env = ConversationEnv(task=example_task(), user=ScriptedUser(ends_after=1, end_reason="bored"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"end_reason='bored'; allowed: \['goal_met', 'patience'\]"):
        say(env, " Hello.\n")
    with pytest.raises(TypeError, match=r"user must be a UserSimulator.*lacks the method\(s\) \['reset', 'reply'\]"):
        ConversationEnv(user=object())

    class Stateless:
        def reset(self, seed, goal):
            pass

        def reply(self, agent_turn):
            return "?"

    env = ConversationEnv(task=example_task(), user=Stateless())
    with pytest.raises(TypeError, match=r"has no \['done', 'end_reason', 'progress'\] after reset\(\)"):
        env.reset(seed=0)


def test_a_user_that_never_ends_is_stopped_at_max_turns():
    env = gym.make(ENV_ID, task=example_task(), user=ScriptedUser(), max_turns=3)
    env.reset(seed=0)
    infos = [say(env, " Hello.\n")[-1][4] for _ in range(3)]
    assert [(info["turn"], info["end_reason"]) for info in infos] == [(1, ""), (2, ""), (3, "max_turns")]
    assert infos[1]["text"].count("User: Go on.\nAssistant:") == 2


def test_a_custom_users_end_and_progress_are_the_envs():
    env = gym.make(ENV_ID, task=example_task(), user=ScriptedUser(progress=0.5, ends_after=2, end_reason="patience"))
    env.reset(seed=0)
    say(env, " Hello.\n")
    info = say(env, " Hello.\n")[-1][4]
    assert info["end_reason"] == "patience" and info["score"] == pytest.approx(0.7 * 0.5)


def test_stepping_a_finished_episode_raises():
    env = gym.make(ENV_ID, task=example_task())
    with pytest.raises(EpisodeFinishedError, match="before reset"):
        env.unwrapped.step(5)
    env.reset(seed=0)
    env.step(env.unwrapped.tokenizer.eos_token_id)
    with pytest.raises(EpisodeFinishedError, match=r"after the episode ended; call reset\(\)"):
        env.unwrapped.step(5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"out of range; allowed: integers in \[0, 4096\)"):
        env.unwrapped.step(4096)


def test_the_docstring_has_gymnasiums_sections_and_tells_the_truth_about_the_end():
    doc = ConversationEnv.__doc__
    for title in SECTIONS:
        section(doc, title)
    end = items(section(doc, "Episode End"))
    assert set(end) == {"Termination", "Truncation"}
    assert "max_new_tokens" in end["Termination"] and end["Truncation"].startswith("never by the env")
    env = gym.make(ENV_ID, max_conversation_tokens=8, max_turns=1)
    env.reset(seed=0)
    steps, terminated = 0, False
    while not terminated:
        _, _, terminated, truncated, info = env.step(5)  # never a newline or EOS
        steps += 1
        assert not truncated
    assert steps == 8 and info["end_reason"] == "max_new_tokens"
