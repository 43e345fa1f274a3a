"""LengthTask: word counting, the full-stop rule, the shipped prompt set."""

import re
from collections import Counter

import numpy as np
import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv, TextGenVectorEnv
from textgym.tasks import LengthTaskV1
from textgym.tasks.length import LengthTask, count_words, generate_prompt_set

FOUR = Prompt("Write a sentence of exactly 4 words about the sea:", data={"n": 4})


def play(task, mode, seed, actions):
    return reward_contract.play(TextGenEnv(task=task, reward_mode=mode), seed, actions)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(st.integers(0, 4095), min_size=1, max_size=40), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(actions, seed):
    task = LengthTask()
    dense, dense_scores, done, info = play(task, "dense", seed, actions)
    sparse, sparse_scores, _, _ = play(task, "sparse", seed, actions)
    assert dense_scores == sparse_scores
    assert all(r == 0.0 for r in sparse[:-1])
    if done:
        assert sum(dense) == pytest.approx(sparse[-1], abs=1e-12)
    assert sum(dense) == pytest.approx(dense_scores[-1], abs=1e-12)
    if "." in info["text"]:
        assert done  # the full stop ends the episode


@pytest.mark.parametrize(
    "text, words",
    [
        ("", 0),
        ("The sea", 2),
        ("  The   sea  ", 2),
        ("The sea - calm", 3),
        ("don't stop", 2),
        ("well-known 42", 2),
        ("!!", 0),
        ("a,b", 1),
    ],
)
def test_count_words(text, words):
    assert count_words(text) == words


@pytest.mark.parametrize(
    "output, expected",
    [
        ("", 0.0),
        (" The sea is calm.", 1.0),  # 4 words and the full stop
        (" The sea is calm", 0.5),  # no full stop: half
        (" The", 0.125),  # 0.5 * (1 - 3/4)
        (" The sea.", 0.5),  # 1 - 2/4
        (" The sea is very calm.", 0.75),  # 1 - 1/4
        (" The sea is very very calm today.", 0.25),  # 1 - 3/4
        (" one two three four five six seven eight.", 0.0),  # 1 - 4/4
        (" one two three four five six seven eight nine ten.", 0.0),  # clipped at 0
        (" The sea is calm. Then more words come", 1.0),  # text after the first stop is ignored
        (".", 0.0),
        (" The sea , is calm.", 1.0),  # a lone comma is no word
    ],
)
def test_score_by_hand(output, expected):
    assert LengthTask().score(FOUR, output) == pytest.approx(expected)


@pytest.mark.parametrize(
    "task_class, model, dense, docstring",
    [
        (LengthTask, "tiny", [0.125, 0.125, 0.125, 0.125, 0.5], None),
        # v1 misses twice as hard: the dense rewards are its closeness differences 0, 0, 0.25, 0.5, 1
        (LengthTaskV1, "tiny-v1", [0, 0, 0.25, 0.25, 0.5], "``0, 0, 0.25, 0.5, 1``"),
    ],
)
def test_worked_example_of_the_docstring(task_class, model, dense, docstring):
    class OnePrompt(task_class):
        def load_prompts(self, split):
            return [FOUR]

    assert docstring is None or docstring in task_class.__doc__
    for mode, expected in (("dense", dense), ("sparse", [0, 0, 0, 0, 1])):
        env = TextGenEnv(task=OnePrompt(), reward_mode=mode, model=model)
        env.reset(seed=0)
        ids = env.tokenizer.encode(" The sea is calm.")
        assert len(ids) == 5
        steps = [env.step(i) for i in ids]
        assert [s[1] for s in steps] == pytest.approx(expected)
        assert [s[2] for s in steps] == [False] * 4 + [True]


@given(chunks=st.lists(st.text(alphabet="ab1 ,.-\t\n\u00a0\u2003\x1c'", max_size=4), max_size=10), n=st.integers(3, 12))
@pytest.mark.parametrize("task_class", [LengthTask, LengthTaskV1])
def test_incremental_scorer_equals_full_score(task_class, chunks, n):
    task = task_class()
    prompt = Prompt("Write:", data={"n": n})
    scorer, text = task.scorer(prompt), ""
    assert scorer.update("", "") == 0.0
    for chunk in chunks:
        text += chunk
        assert scorer.update(text, chunk) == task.score(prompt, text)


def test_is_finished_at_the_full_stop():
    task = LengthTask()
    assert not task.is_finished(FOUR, " The sea is calm")
    assert task.is_finished(FOUR, " The sea is calm.")


def test_prompt_set_is_balanced_disjoint_and_consistent():
    task = LengthTask()
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (200, 50)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    assert Counter(p.data["n"] for p in train) == {n: 20 for n in range(3, 13)}
    assert Counter(p.data["n"] for p in evaluation) == {n: 5 for n in range(3, 13)}
    for prompt in train + evaluation:
        assert re.search(rf"exactly {prompt.data['n']} words", prompt.text)
        assert task.score(prompt, "") == 0.0
    # the shipped file is what the generator writes
    records = generate_prompt_set(0)
    assert [r["text"] for r in records["train"]] == [p.text for p in train]
    assert [r["data"] for r in records["eval"]] == [dict(p.data) for p in evaluation]


def test_prompt_without_word_count_is_refused():
    with pytest.raises(TaskError, match="needs data"):
        LengthTask().score(Prompt("Write something:"), "Hi.")


def test_vector_env_ends_rows_at_the_full_stop_like_single_envs():
    task = LengthTask()
    n = 4
    vec = TextGenVectorEnv(task=task, num_envs=n, device="cpu", autoreset_mode="Disabled")
    vec.reset(options={"prompt_index": np.arange(n)})
    singles = [TextGenEnv(task=task) for _ in range(n)]
    for index, env in enumerate(singles):
        env.reset(options={"prompt_index": index})
    sentences = [" The sea is calm.", " Big waves.", " One two three four five six", " Sun, sand and sea."]
    token_rows = [vec.tokenizer.encode(s) for s in sentences]
    done = np.zeros(n, dtype=bool)
    for t in range(max(len(r) for r in token_rows)):
        actions = np.array([r[t] if t < len(r) else vec.tokenizer.eos_token_id for r in token_rows])
        _, rewards, terms, truncs, _ = vec.step(actions)
        for row, env in enumerate(singles):
            if not done[row]:
                _, reward, term, trunc, info = env.step(int(actions[row]))
                assert rewards[row] == pytest.approx(reward, abs=1e-12)
                assert (terms[row], truncs[row]) == (term, trunc)
                done[row] = term or trunc
                if term and t < len(token_rows[row]):  # ended by the full stop, not by EOS
                    assert info["text"] == sentences[row]
    assert done.all()


def test_env_checker_passes():
    check_env(TextGenEnv(task=LengthTask(), render_mode="ansi"))
