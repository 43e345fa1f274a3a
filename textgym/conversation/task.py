"""The conversations a :class:`ConversationTask` holds, and their setup for an environment (checked once)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from textgym.conversation.goals import SYSTEM_LINE, USER_TURN, UserGoal, world_prompts
from textgym.conversation.score import SCORE_RANGE, ScoreTally, judge_turn
from textgym.envs.setup import TextGenSetup, check_positive_int, fit_prompt_width
from textgym.models.loader import context_length_of, load_tokenizer
from textgym.prompt import SPLITS, Prompt, TaskError
from textgym.task import PromptsLike, Task

#: the allowed reward modes of a conversation
CONVERSATION_REWARD_MODES = ("dense", "turn", "sparse")
#: default agent turns per conversation
DEFAULT_MAX_TURNS = 6


class ConversationTask(Task):
    """The conversations of ``textgym/Conversation-v0``: openings with the user's goals, in train and eval splits.

    Each prompt is the system line and the user's opening turn (``"...\\nUser: Hello!\\nAssistant:"``); its
    ``data["goal"]`` holds the :class:`~textgym.conversation.goals.UserGoal` (kind and script of turns). By
    default the prompts are those of the seeded world (:func:`~textgym.conversation.goals.world_prompts`); pass
    ``prompts=`` (a list of :class:`~textgym.Prompt` with such data, e.g. from
    :func:`~textgym.conversation.goals.opening_prompt`) for your own.

    :meth:`score` scores a conversation offline: the agent's turns, one per line, as the world user answers them.

    Args:
        prompts: your conversations instead of the world's (see :class:`~textgym.Task` for the forms).
        world_seed: the seed of the world whose conversations are the default prompts.
    """

    name = "conversation"
    description = "talk with a simulated customer until its goal is met: answer, politely and briefly"
    score_range = SCORE_RANGE
    #: the default budget of conversation tokens (agent and user) after the prompt
    max_new_tokens = 160
    model = "tiny-v1"

    def __init__(self, prompts: PromptsLike | None = None, world_seed: int = 0) -> None:
        super().__init__(prompts=prompts)
        if isinstance(world_seed, bool) or not isinstance(world_seed, numbers.Integral) or world_seed < 0:
            raise TaskError(f"world_seed must be a non-negative int, got {world_seed!r}")
        self.world_seed = int(world_seed)

    def load_prompts(self, split: str) -> list[Prompt]:
        return list(world_prompts(self.world_seed)[split])

    def check_prompt(self, prompt: Prompt) -> None:
        UserGoal.from_prompt(prompt, self.name)

    def goal(self, prompt: Prompt) -> UserGoal:
        """The user's goal of ``prompt``."""
        return UserGoal.from_prompt(prompt, self.name)

    def score(self, prompt: Prompt, continuation: str, max_turns: int = DEFAULT_MAX_TURNS) -> float:
        """The score of the conversation whose agent turns are the lines of ``continuation``, answered by a fresh
        :class:`~textgym.conversation.user.WorldUser`, as the env scores it without a token budget: a last line
        without its newline is a turn being written (counted, not yet judged by the user); lines after the user
        ends the conversation, or after ``max_turns``, are not read."""
        from textgym.conversation.user import WorldUser

        return replay_score(self.goal(prompt), continuation, WorldUser(), max_turns)


def replay_score(goal: UserGoal, agent_text: str, user, max_turns: int = DEFAULT_MAX_TURNS) -> float:
    """The score of the agent turns in ``agent_text`` (one per line) with ``user`` (reset here with seed 0)."""
    user.reset(0, goal)
    tally = ScoreTally()
    *finished, writing = agent_text.split("\n")
    for number, turn in enumerate(finished, 1):
        tally.add(judge_turn(turn))
        user.reply(turn)
        tally.progress = float(user.progress)
        if user.done or number == max_turns:
            return tally.score()
    return tally.score(judge_turn(writing) if writing else None)


@dataclass
class ConversationSetup(TextGenSetup):
    """:class:`~textgym.envs.setup.TextGenSetup` of a conversation: ``max_new_tokens`` is the conversation budget
    (agent and user tokens after the prompt), and ``max_turns`` the agent turns allowed."""

    max_turns: int = DEFAULT_MAX_TURNS
    #: the token ids of the user's turn markers around an empty reply: the least a user turn adds
    min_user_tokens: int = 0

    def observation_space(self) -> spaces.Dict:
        high = self.tokenizer.vocab_size - 1
        length = self.obs_length
        return spaces.Dict({
            "input_ids": spaces.Box(0, high, (length,), np.int64),
            "attention_mask": spaces.Box(0, 1, (length,), np.int64),
            "agent_mask": spaces.Box(0, 1, (length,), np.int64),
        })


def check_conversation_reward_mode(reward_mode: object) -> str:
    if reward_mode not in CONVERSATION_REWARD_MODES:
        raise ValueError(f"unknown reward_mode {reward_mode!r}; allowed: {list(CONVERSATION_REWARD_MODES)}")
    return reward_mode  # type: ignore[return-value]


def build_conversation_setup(
    task: str | ConversationTask,
    model: str | None,
    reward_mode: str,
    max_turns: int,
    max_conversation_tokens: int | None,
    max_prompt_tokens: int | None,
    split: str,
) -> ConversationSetup:
    """Check every argument of a conversation env, load the tokenizer and tokenise the split's prompts.

    Refused here (a ``ValueError`` that says what is allowed): an unknown ``reward_mode`` or ``split``, a prompt
    longer than ``max_prompt_tokens``, a prompt plus budget beyond the model's context, and a ``max_turns`` that
    cannot fit in the budget (each turn but the last needs at least one agent token and a user turn's markers).
    """
    if task == ConversationTask.name:
        task = ConversationTask()
    if not isinstance(task, ConversationTask):
        raise ValueError(f"task must be {ConversationTask.name!r} or a ConversationTask, got {task!r}")
    reward_mode = check_conversation_reward_mode(reward_mode)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {list(SPLITS)}")
    max_turns = check_positive_int("max_turns", max_turns)
    budget = check_positive_int(
        "max_conversation_tokens", task.max_new_tokens if max_conversation_tokens is None else max_conversation_tokens
    )
    model_name = task.model if model is None else model
    tokenizer = load_tokenizer(model_name)
    prompts = task.prompts(split)
    prompt_ids = [np.asarray(tokenizer.encode(prompt.text), dtype=np.int64) for prompt in prompts]
    other = next(s for s in SPLITS if s != split)
    longest = max(len(ids) for ids in prompt_ids + [tokenizer.encode(p.text) for p in task.prompts(other)])
    max_prompt_tokens = fit_prompt_width(longest, max_prompt_tokens, "the conversations have an", "opening")
    context = context_length_of(model_name)
    if max_prompt_tokens + budget > context:
        raise ValueError(
            f"max_prompt_tokens + max_conversation_tokens = {max_prompt_tokens} + {budget} exceeds the context "
            f"length {context} of model {model_name!r}; allowed: max_conversation_tokens <= "
            f"{context - max_prompt_tokens}"
        )
    min_user = len(tokenizer.encode(USER_TURN.format(turn="")))
    needed = max_turns + (max_turns - 1) * min_user
    if needed > budget:
        fitting = (budget + min_user) // (1 + min_user)
        raise ValueError(
            f"max_turns={max_turns} cannot fit in max_conversation_tokens={budget}: {max_turns} agent turns need "
            f"at least {needed} tokens (one agent token per turn and {min_user} tokens of user turn markers between "
            f"turns); allowed: max_turns <= {fitting}, or a larger max_conversation_tokens (the context of "
            f"{model_name!r} allows up to {context - max_prompt_tokens})"
        )
    return ConversationSetup(
        task, model_name, tokenizer, reward_mode, split, budget, max_prompt_tokens, list(prompts), prompt_ids,
        max_turns=max_turns, min_user_tokens=min_user,
    )


__all__ = [
    "CONVERSATION_REWARD_MODES",
    "ConversationSetup",
    "ConversationTask",
    "SYSTEM_LINE",
    "build_conversation_setup",
    "replay_score",
]
