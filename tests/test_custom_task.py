"""Users bring their own prompts and score function as a Task."""

import math

import gymnasium as gym
import pytest

import textgym
from textgym import Task, TaskError


def exclamations(prompt, continuation):
    return continuation.count("!") / 10


def test_custom_task_runs_and_keeps_the_contract():
    task = Task("excited", prompts=["Say hello", "Say goodbye"], score=exclamations, score_range=(0, 1), max_new_tokens=6)
    tok = textgym.models.load_tokenizer("tiny")
    bang = tok.encode("!")[0]
    for mode in ("dense", "sparse"):
        env = gym.make("textgym/TextGenEnv-v0", task=task, reward_mode=mode)
        env.reset(seed=0)
        rewards = [env.step(bang)[1] for _ in range(6)]
        assert sum(rewards) == pytest.approx(0.6)
        if mode == "sparse":
            assert rewards[:-1] == [0.0] * 5


@pytest.mark.parametrize("bad", [lambda p, c: math.nan, lambda p, c: None, lambda p, c: "high", lambda p, c: math.inf])
def test_bad_score_values_name_the_task(bad):
    env = gym.make("textgym/TextGenEnv-v0", task=Task("broken", prompts=["x"], score=bad))
    with pytest.raises(TaskError, match="task 'broken'"):
        env.reset(seed=0)
        env.step(100)


def test_nonzero_empty_score_is_refused():
    env = gym.make("textgym/TextGenEnv-v0", task=Task("offset", prompts=["x"], score=lambda p, c: 1.0))
    with pytest.raises(ValueError, match=r"task 'offset': score\(prompt, ''\) must be 0, got 1.0"):
        env.reset(seed=0)


def test_empty_prompt_set_is_refused():
    with pytest.raises(TaskError, match="task 'empty' has an empty 'train' prompt set"):
        gym.make("textgym/TextGenEnv-v0", task=Task("empty", prompts=[], score=exclamations))


def test_task_object_with_task_kwargs_is_refused():
    with pytest.raises(TaskError, match="cannot be applied to the Task object 'x'"):
        gym.make("textgym/TextGenEnv-v0", task=Task("x", prompts=["a"], score=exclamations), task_kwargs={"n": 1})
