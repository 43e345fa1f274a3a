"""Users bring their own prompts and score function as a Task."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest

import textgym
from textgym import Task, TaskError


def exclamations(prompt, continuation):
    return continuation.count("!") / 10


def test_custom_task_runs_and_keeps_the_contract():
    task = Task(
        "excited", prompts=["Say hello", "Say goodbye"], score=exclamations, score_range=(0, 1), max_new_tokens=6
    )
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


def test_score_outside_its_range_warns_once_per_task():
    from textgym.task import ScoreRangeWarning

    task = Task("shouty", prompts=["x"], score=lambda p, c: c.count("!") / 2, score_range=(0, 1), max_new_tokens=6)
    env = gym.make("textgym/TextGenEnv-v0", task=task)
    bang = env.unwrapped.tokenizer.encode("!")[0]
    env.reset(seed=0)
    with pytest.warns(ScoreRangeWarning) as record:
        for _ in range(6):  # scores 0.5, 1.0 (inside), then 1.5, 2.0, ... (outside)
            env.step(bang)
    assert len(record) == 1
    assert str(record[0].message).startswith("task 'shouty': score 1.5 is outside its declared score_range [0, 1]")
    env.reset(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(6):
            env.step(bang)  # the same task object: no second warning
    # another task object warns again, also in the batched env
    other = Task("shouty", prompts=["x"], score=lambda p, c: -c.count("!"), score_range=(0, 1), max_new_tokens=4)
    batched = gym.make_vec("textgym/TextGenEnv-v0", num_envs=3, vectorization_mode="vector_entry_point", task=other)
    batched.reset(seed=0)
    with pytest.warns(ScoreRangeWarning, match=r"task 'shouty': score -1 is outside its declared score_range \[0, 1\]"):
        batched.step(np.full(3, bang))
    batched.close()


def test_scores_inside_the_range_or_without_one_do_not_warn():
    inside = Task("excited", prompts=["x"], score=exclamations, score_range=(0, 1), max_new_tokens=10)
    unbounded = Task("offset", prompts=["x"], score=offset_score, max_new_tokens=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for task in (inside, unbounded):
            env = gym.make("textgym/TextGenEnv-v0", task=task)
            bang = env.unwrapped.tokenizer.encode("!")[0]
            env.reset(seed=0)
            for _ in range(10):
                env.step(bang)
        assert inside.checked_score(1 + 1e-12) == 1 + 1e-12  # rounding error is not a warning


def test_readme_politeness_score_stays_in_its_range():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Custom tasks", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(block, "README custom task", "exec"), namespace)
    task = namespace["task"]
    prompt = task.prompts("train")[0]
    low, high = task.score_range
    for text in ("", "please", "please thanks", "Please, please, thanks, thank you!", "please " * 8):
        assert low <= task.checked_score(task.score(prompt, text)) <= high
