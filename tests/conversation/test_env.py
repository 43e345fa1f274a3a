"""textgym/Conversation-v0, one conversation: the reward modes, the turns, agent_mask, the user's ends, pickling."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tests.conversation.helpers import EXAMPLE_GOAL, example_task, random_agent_tokens, say
from textgym.conversation import ConversationEnv, WorldUser
from textgym.conversation.user import turn_fits

ENV_ID = "textgym/Conversation-v0"


def run(env, tokens, seed: int, options=None) -> tuple[list[float], list[dict], list[dict]]:
    """Rewards, infos and observations of one episode of ``tokens`` (until it ends or they run out)."""
    obs, info = env.reset(seed=seed, options=options)
    rewards, infos, observations = [], [info], [obs]
    for token in tokens:
        obs, reward, terminated, truncated, info = env.step(int(token))
        assert not truncated
        rewards.append(reward)
        infos.append(info)
        observations.append(obs)
        if terminated:
            break
    return rewards, infos, observations


@pytest.mark.parametrize("seed", range(8))
def test_dense_turn_and_sparse_returns_are_equal_for_the_same_actions(seed):
    returns, scores = {}, {}
    tokens = None
    for mode in ("dense", "turn", "sparse"):
        env = gym.make(ENV_ID, reward_mode=mode, max_conversation_tokens=96)
        if tokens is None:
            tokens = random_agent_tokens(env.unwrapped.tokenizer, np.random.default_rng(seed), 96)
        rewards, infos, _ = run(env, tokens, seed)
        assert infos[-1]["end_reason"], "the episode ends within the budget"
        returns[mode], scores[mode] = sum(rewards), infos[-1]["score"]
        if mode == "turn":  # non-zero only where an agent turn ends (or at the last step)
            for reward, info in zip(rewards[:-1], infos[1:-1]):
                assert reward == 0.0 or info["agent_turn_ended"]
        if mode == "sparse":
            assert all(reward == 0.0 for reward in rewards[:-1])
    assert returns["dense"] == pytest.approx(returns["sparse"], abs=1e-9)
    assert returns["turn"] == pytest.approx(returns["sparse"], abs=1e-9)
    assert returns["sparse"] == scores["sparse"] == scores["dense"] == scores["turn"]


def test_agent_mask_marks_exactly_the_agents_tokens_and_each_step_adds_the_agent_token_first():
    env = gym.make(ENV_ID, max_conversation_tokens=120)
    tokens = random_agent_tokens(env.unwrapped.tokenizer, np.random.default_rng(3), 120)
    rewards, infos, observations = run(env, tokens, seed=5)
    assert max(info["turn"] for info in infos) >= 2
    prompt_length = infos[0]["length"]
    for t, (obs, info) in enumerate(zip(observations, infos)):
        agent, attention, ids = obs["agent_mask"], obs["attention_mask"], obs["input_ids"]
        assert agent.sum() == info["num_generated"] == t
        assert (ids[agent == 1] == tokens[:t]).all()
        assert not agent[:prompt_length].any() and (agent <= attention).all()
        assert attention.sum() == info["length"] and attention[: info["length"]].all()
        assert info["length"] - prompt_length <= 120  # the budget counts agent and user tokens after the prompt
        if t:
            before = observations[t - 1]["attention_mask"].sum()
            assert agent[before] == 1 and ids[before] == tokens[t - 1]  # the agent's token comes first
            user_tokens = info["length"] - before - 1
            assert (user_tokens > 0) == (info["agent_turn_ended"] and not info["end_reason"])
            assert not agent[before + 1 : info["length"]].any()


def test_the_docstrings_worked_example():
    """Greeting answered without politeness (0.35), then the question answered politely: goal met at 0.85."""
    results = {}
    for mode in ("dense", "turn", "sparse"):
        env = gym.make(ENV_ID, task=example_task(), reward_mode=mode)
        obs, info = env.reset(seed=0, options={"prompt_index": 0})
        assert env.unwrapped.task.goal(env.unwrapped.setup.prompts[0]) == EXAMPLE_GOAL
        first = say(env, " Hello! How can I help?\n")
        assert first[-1][4]["agent_turn_ended"] and first[-1][4]["score"] == pytest.approx(0.35)
        assert first[-1][4]["text"].endswith("\nUser: Are you open on Monday?\nAssistant:")
        second = say(env, " Yes, we are open on Monday. Thank you for asking!\n")
        info = second[-1][4]
        assert (info["end_reason"], info["turn"], second[-1][2]) == ("goal_met", 2, True)
        assert info["score"] == pytest.approx(0.85)
        results[mode] = [step[1] for step in first + second]
    assert sum(results["dense"]) == pytest.approx(0.85) and results["sparse"][-1] == pytest.approx(0.85)
    assert [r for r in results["turn"] if r] == pytest.approx([0.35, 0.5])
    assert sorted(round(r, 6) for r in results["dense"] if r)[-3:] == [0.15, 0.35, 0.35]


def test_a_scripted_agent_reaches_a_second_turn_and_the_fact_goal():
    env = gym.make(ENV_ID, task=example_task())
    env.reset(seed=0, options={"prompt_index": 1})
    text = say(env, " Hello, glad to help!\n")[-1][4]["text"]
    assert text.endswith("User: What is the capital of France?\nAssistant:")
    assert say(env, " It is Paris, thank you.\n")[-1][4]["turn"] == 2
    info = say(env, " You're welcome, my pleasure.\n")[-1][4]
    assert (info["end_reason"], info["turn"], info["user_goal"]) == ("goal_met", 3, "fact")
    assert info["score"] == pytest.approx(1.0)  # every turn fits and is polite: the top of the range


def test_the_user_runs_out_of_patience_with_unhelpful_turns_and_faster_with_rude_ones():
    env = gym.make(ENV_ID, task=example_task())
    env.reset(seed=0, options={"prompt_index": 1})
    say(env, " Hello!\n")
    infos = [say(env, " Okay.\n")[-1][4] for _ in range(3)]
    assert [info["end_reason"] for info in infos] == ["", "", "patience"]
    assert infos[0]["text"].count("What is the capital of France?") == 2  # asked again
    env.reset(seed=0, options={"prompt_index": 1})
    info = say(env, " Whatever, idiot.\n")[-1][4]
    assert any(f"\nUser: {start}" in info["text"] for start in ("No need to be rude", "That was rude", "Excuse me?"))
    assert say(env, " Hello, whatever.\n")[-1][4]["end_reason"] == "patience"  # fits, but rude: 3 - 2 - 2 < 0


def test_an_episode_of_the_world_reaches_a_second_turn():
    env = gym.make(ENV_ID, split="eval")
    env.reset(seed=1)
    info = say(env, " Okay.\n")[-1][4]
    assert info["agent_turn_ended"] and not info["end_reason"]
    assert say(env, " Okay.\n")[-1][4]["turn"] == 2


def test_turn_fits_needs_the_intent_cue_and_the_named_item():
    goal_turn = EXAMPLE_GOAL.turns[1]
    assert turn_fits(goal_turn, "Yes, we are open on Monday.")
    assert not turn_fits(goal_turn, "Yes, we are open.")
    assert not turn_fits(goal_turn, "Monday.")


def test_check_env_passes():
    check_env(gym.make(ENV_ID, max_conversation_tokens=48).unwrapped)


def test_the_env_pickles_mid_conversation_and_the_copy_continues_identically():
    env = gym.make(ENV_ID, task=example_task(), reward_mode="turn")
    env.reset(seed=4, options={"prompt_index": 1})
    say(env, " Hello, glad to help!\n It is")
    copy = pickle.loads(pickle.dumps(env))
    rest = env.unwrapped.tokenizer.encode(" Paris, thank you.\n You're welcome!\n")
    for token in rest:
        a, b = env.step(token), copy.step(token)
        for key in a[0]:
            assert (a[0][key] == b[0][key]).all()
        assert a[1:] == b[1:]
        if a[2]:
            break
    assert a[4]["end_reason"] == "goal_met"


def test_the_task_scores_agent_turns_offline_as_the_env_does():
    task = example_task()
    prompt = task.prompts("train")[1]
    turns = " Hello, glad to help!\n It is Paris.\n Whatever.\n"
    env = ConversationEnv(task=task, user=WorldUser())
    env.reset(seed=0, options={"prompt_index": 1})
    info = say(env, turns)[-1][4]
    assert task.score(prompt, turns) == pytest.approx(info["score"])


def test_train_and_eval_conversations_are_disjoint_and_from_the_world():
    env = gym.make(ENV_ID)
    task = env.unwrapped.task
    goal_turns = {}
    for split in ("train", "eval"):
        goals = [task.goal(prompt) for prompt in task.prompts(split)]
        goal_turns[split] = {goal.goal_turn.text for goal in goals}
        assert {goal.kind for goal in goals} == {"fact", "question", "request", "complaint"}
        assert all(2 <= len(goal.turns) <= 3 for goal in goals)
    assert len(task.prompts("train")) == 225 and len(task.prompts("eval")) == 54
    assert not goal_turns["train"] & goal_turns["eval"]
