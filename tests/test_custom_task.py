"""Users bring their own prompts and score function as a Task."""

import math

import gymnasium as gym
import numpy as np
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


def offset_score(prompt, continuation):
    """A score that is not 0 on the empty text, as a reward model's is."""
    return 1.0 + continuation.count("!") / 10


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_nonzero_empty_score_the_first_reward_carries_it(mode):
    task = Task("offset", prompts=["x"], score=offset_score)
    single = gym.make("textgym/TextGenEnv-v0", task=task, reward_mode=mode, max_new_tokens=4)
    batched = gym.make_vec("textgym/TextGenEnv-v0", num_envs=3, vectorization_mode="vector_entry_point", task=task,
                           reward_mode=mode, max_new_tokens=4)
    bang = single.unwrapped.tokenizer.encode("!")[0]
    other = single.unwrapped.tokenizer.encode("a")[0]
    _, info = single.reset(seed=0)
    assert info["score"] == 1.0  # the empty text's score
    rewards = [single.step(token)[1] for token in (bang, other, bang, bang)]
    expected = {"dense": [1.1, 0.0, 0.1, 0.1], "sparse": [0.0, 0.0, 0.0, 1.3]}[mode]
    assert rewards == pytest.approx(expected)
    assert sum(rewards) == pytest.approx(1.3)
    # the batched env: same rewards row by row, also for a row that starts again after an autoreset
    batched.reset(seed=0)
    rows = []
    for step in range(8):
        token = (bang, other, bang, bang)[step % 4]
        _, reward, terminated, _, _ = batched.step(np.full(3, token))
        rows.append(reward)
    rows = np.array(rows)
    np.testing.assert_allclose(rows, np.tile(np.array(expected)[:, None], (2, 3)), atol=1e-12)
    batched.close()


def test_empty_prompt_set_is_refused():
    with pytest.raises(TaskError, match="task 'empty' has an empty 'train' prompt set"):
        gym.make("textgym/TextGenEnv-v0", task=Task("empty", prompts=[], score=exclamations))


def test_task_object_with_task_kwargs_is_refused():
    with pytest.raises(TaskError, match="cannot be applied to the Task object 'x'"):
        gym.make("textgym/TextGenEnv-v0", task=Task("x", prompts=["a"], score=exclamations), task_kwargs={"n": 1})
