"""ReverseTask: Copy's scoring against the reversed string."""

import numpy as np
import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv, TextGenVectorEnv
from textgym.tasks.reverse import ReverseTask, generate_prompt_set

PROMPT = Prompt("abc=", target="cba")



@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(st.integers(0, 7), min_size=1, max_size=10), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(actions, seed):
    task = ReverseTask()
    envs = [TextGenEnv(task=task, reward_mode=mode) for mode in ("dense", "sparse")]
    reward_contract.assert_dense_sums_to_sparse(*envs, seed, actions, tolerance=1e-12)


@pytest.mark.parametrize(
    "output, expected",
    [("", 0.0), ("cba", 1.0), ("c", 1 / 3), ("cbba", 0.5), ("abc", 1 / 3), ("xyz", 0.0), ("cbaa", 0.75)],
)
def test_score_by_hand(output, expected):
    assert ReverseTask().score(PROMPT, output) == pytest.approx(expected)


def test_worked_example_of_the_docstring():
    class OnePrompt(ReverseTask):
        def load_prompts(self, split):
            return [PROMPT]

    for mode, expected in (("dense", [1 / 3, 1 / 3, 0, -1 / 6, 0]), ("sparse", [0, 0, 0, 0, 0.5])):
        env = TextGenEnv(task=OnePrompt(), reward_mode=mode)
        env.reset(seed=0)
        ids = env.tokenizer.encode("cbba") + [env.tokenizer.eos_token_id]
        assert [env.step(i)[1] for i in ids] == pytest.approx(expected)


@given(chunks=st.lists(st.text(alphabet="abcde=", max_size=3), max_size=8))
def test_incremental_scorer_equals_full_score(chunks):
    task = ReverseTask()
    for prompt in task.prompts("train")[:5]:
        scorer, text = task.scorer(prompt), ""
        assert scorer.update("", "") == 0.0
        for chunk in chunks:
            text += chunk
            assert scorer.update(text, chunk) == task.score(prompt, text)


def test_targets_are_reversed_and_splits_disjoint():
    task = ReverseTask()
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (200, 50)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    for prompt in train + evaluation:
        assert prompt.text.endswith("=") and prompt.target == prompt.text[:-1][::-1]
        assert 3 <= len(prompt.target) <= 6
    records = generate_prompt_set(0)
    assert [r["text"] for r in records["train"]] == [p.text for p in train]
    assert ReverseTask(seed=1).prompts("train") != train


@pytest.mark.parametrize(
    "kwargs",
    [{"num_symbols": 1}, {"num_symbols": 27}, {"min_length": 0}, {"min_length": 5, "max_length": 4}, {"seed": "0"}],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(TaskError, match="task 'reverse'"):
        ReverseTask(**kwargs)


def test_tensor_batch_scorer_matches_task_score():
    task = ReverseTask()
    vec = TextGenVectorEnv(task=task, num_envs=4, device="cpu")
    assert type(vec.scorer).__name__ == "TokenPositionMatchBatchScorer"
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        vec.step(rng.integers(2, vec.single_action_space.n, size=4))
        prompts = [vec.setup.prompts[i] for i in vec.prompt_indices.tolist()]
        texts = [
            vec.tokenizer.decode(row[len(vec.setup.prompt_ids[i]) : pos])
            for row, i, pos in zip(vec.input_ids.tolist(), vec.prompt_indices.tolist(), vec.positions.tolist())
        ]
        expected = [task.score(p, t) for p, t in zip(prompts, texts)]
        np.testing.assert_allclose(vec.scores.numpy(), expected, atol=1e-12)


def test_env_checker_passes():
    check_env(TextGenEnv(task=ReverseTask(), render_mode="ansi"))
