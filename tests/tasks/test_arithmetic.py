"""ArithmeticTask: problems, the digit-plus-exact score, its incremental and tensor forms."""

import numpy as np
import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv, TextGenVectorEnv
from textgym.tasks.arithmetic import ArithmeticTask, generate_prompt_set

PROMPT = Prompt("37+45=", target="82")



@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(st.integers(0, 14), min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(actions, seed):
    task = ArithmeticTask(operations="+-")
    envs = [TextGenEnv(task=task, reward_mode=mode) for mode in ("dense", "sparse")]
    reward_contract.assert_dense_sums_to_sparse(*envs, seed, actions, tolerance=1e-12)


@pytest.mark.parametrize(
    "output, expected",
    [
        ("", 0.0),
        ("82", 1.0),  # 0.5 * 2/2 + 0.5
        ("8", 0.25),  # 0.5 * 1/2
        ("822", 1 / 3),  # 0.5 * 2/3, no bonus
        ("28", 0.0),
        ("92", 0.25),
        ("8-", 0.25),
        ("082", 0.0),  # positions count from the left
    ],
)
def test_score_by_hand(output, expected):
    assert ArithmeticTask().score(PROMPT, output) == pytest.approx(expected)


def test_worked_example_of_the_docstring():
    class OnePrompt(ArithmeticTask):
        def load_prompts(self, split):
            return [PROMPT]

    cases = {
        ("822", "dense"): [0.25, 0.75, -2 / 3, 0],
        ("822", "sparse"): [0, 0, 0, 1 / 3],
        ("82", "dense"): [0.25, 0.75, 0],
        ("82", "sparse"): [0, 0, 1],
    }
    for (answer, mode), expected in cases.items():
        env = TextGenEnv(task=OnePrompt(), reward_mode=mode)
        env.reset(seed=0)
        ids = env.tokenizer.encode(answer) + [env.tokenizer.eos_token_id]
        assert [env.step(i)[1] for i in ids] == pytest.approx(expected)


@given(chunks=st.lists(st.text(alphabet="0123456789+-=", max_size=3), max_size=6))
def test_incremental_scorer_equals_full_score(chunks):
    task = ArithmeticTask(operations="+-")
    for prompt in task.prompts("train")[:5] + [PROMPT]:
        scorer, text = task.scorer(prompt), ""
        assert scorer.update("", "") == 0.0
        for chunk in chunks:
            text += chunk
            assert scorer.update(text, chunk) == task.score(prompt, text)


@pytest.mark.parametrize("operations", ["+", "-", "+-"])
def test_problems_are_right_and_splits_disjoint(operations):
    task = ArithmeticTask(digits=2, operations=operations)
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (200, 50)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    used = set()
    for prompt in train + evaluation:
        left, op, right = prompt.text[:-1].partition("+") if "+" in prompt.text else prompt.text[:-1].partition("-")
        used.add(op)
        assert 0 <= int(left) < 100 and 0 <= int(right) < 100
        assert int(prompt.target) == (int(left) + int(right) if op == "+" else int(left) - int(right)) >= 0
        assert task.score(prompt, prompt.target) == 1.0
    assert used == set(operations)


def test_small_space_is_split_disjointly():
    task = ArithmeticTask(digits=1)
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (80, 20)
    assert len({p.text for p in train + evaluation}) == 100


def test_seeded_and_reproducible():
    assert ArithmeticTask(seed=3).prompts("train") == ArithmeticTask(seed=3).prompts("train")
    assert ArithmeticTask(seed=3).prompts("train") != ArithmeticTask(seed=4).prompts("train")
    records = generate_prompt_set(0)
    assert [r["text"] for r in records["eval"]] == [p.text for p in ArithmeticTask().prompts("eval")]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"digits": 0}, "digits=0"),
        ({"digits": 9}, "digits=9"),
        ({"digits": "2"}, "digits must be an int"),
        ({"digits": True}, "digits must be an int"),
        ({"operations": "*"}, "operations='\\*'"),
        ({"operations": ""}, "operations=''"),
        ({"operations": "++"}, "operations='\\+\\+'"),
        ({"operations": 1}, "operations=1"),
        ({"seed": 1.5}, "seed must be an int"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(TaskError, match=message):
        ArithmeticTask(**kwargs)


def test_tensor_batch_scorer_matches_single_envs():
    """The tensor scorer gives, row by row, the rewards and scores of single environments."""
    task = ArithmeticTask(operations="+-")
    n = 6
    vec = TextGenVectorEnv(task=task, num_envs=n, device="cpu", autoreset_mode="Disabled")
    assert type(vec.scorer).__name__ == "ArithmeticBatchScorer"
    prompt_indices = np.arange(n) * 7
    vec.reset(options={"prompt_index": prompt_indices})
    singles = [TextGenEnv(task=task) for _ in range(n)]
    for env, index in zip(singles, prompt_indices):
        env.reset(options={"prompt_index": int(index)})
    # rows 0-2 start with the right answer's digits, rows 3-5 with random symbols; EOS now and then
    answers = [vec.tokenizer.encode(vec.setup.prompts[i].target) for i in prompt_indices]
    rng = np.random.default_rng(1)
    done = np.zeros(n, dtype=bool)
    for t in range(6):
        actions = rng.integers(2, 15, size=n)
        actions[rng.random(n) < 0.15] = vec.tokenizer.eos_token_id
        for row in range(3):
            if t < len(answers[row]):
                actions[row] = answers[row][t]
        _, rewards, terms, truncs, _ = vec.step(actions)
        for row, env in enumerate(singles):
            if not done[row]:
                _, reward, term, trunc, info = env.step(int(actions[row]))
                assert rewards[row] == pytest.approx(reward, abs=1e-12)
                assert vec.scores[row].item() == pytest.approx(info["score"], abs=1e-12)
                assert (terms[row], truncs[row]) == (term, trunc)
                done[row] = term or trunc


def test_right_answer_scores_one_in_the_vector_env():
    task = ArithmeticTask()
    vec = TextGenVectorEnv(task=task, num_envs=3, device="cpu", reward_mode="sparse", autoreset_mode="Disabled")
    vec.reset(options={"prompt_index": np.array([0, 1, 2])})
    eos = vec.tokenizer.eos_token_id
    answers = [vec.tokenizer.encode(task.prompts("train")[i].target) + [eos] for i in range(3)]
    total = np.zeros(3)
    for t in range(max(len(a) for a in answers)):
        _, rewards, _, _, _ = vec.step(np.array([a[t] if t < len(a) else eos for a in answers]))
        total += rewards
    np.testing.assert_allclose(total, [1.0, 1.0, 1.0])


def test_env_checker_passes():
    check_env(TextGenEnv(task=ArithmeticTask(), render_mode="ansi"))
