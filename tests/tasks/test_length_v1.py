"""Length-v1: the closeness reaches 0 at a miss of N / 2 words (v0: N); everything else is v0's."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textgym import Prompt, TextGenEnv
from textgym.tasks import LengthTask, LengthTaskV1

FOUR = Prompt("Write a sentence of exactly 4 words about the sea:", data={"n": 4})


@pytest.mark.parametrize(
    "output, v1, v0",
    [
        ("", 0.0, 0.0),
        (" The sea is calm.", 1.0, 1.0),
        (" The sea is calm", 0.5, 0.5),  # no full stop: half
        (" The sea is.", 0.5, 0.75),  # v1: 1 - 1/2
        (" The sea.", 0.0, 0.5),  # v1: 1 - 2/2
        (" The sea is very calm.", 0.5, 0.75),
        (" The sea is very very calm.", 0.0, 0.5),  # a miss of N / 2 scores 0
        (" The sea is very very calm today.", 0.0, 0.25),  # clipped at 0
    ],
)
def test_v1_scores_a_miss_twice_as_hard_as_v0(output, v1, v0):
    assert LengthTaskV1().score(FOUR, output) == pytest.approx(v1)
    assert LengthTask().score(FOUR, output) == pytest.approx(v0)


def test_worked_example_of_the_v1_docstring():
    class OnePrompt(LengthTaskV1):
        def load_prompts(self, split):
            return [FOUR]

    assert "``0, 0, 0.25, 0.5, 1``" in LengthTaskV1.__doc__
    for mode, expected in (("dense", [0, 0, 0.25, 0.25, 0.5]), ("sparse", [0, 0, 0, 0, 1])):
        env = TextGenEnv(task=OnePrompt(), reward_mode=mode, model="tiny-v1")
        env.reset(seed=0)
        ids = env.tokenizer.encode(" The sea is calm.")
        assert len(ids) == 5
        steps = [env.step(i) for i in ids]
        assert [s[1] for s in steps] == pytest.approx(expected)
        assert [s[2] for s in steps] == [False] * 4 + [True]


@given(chunks=st.lists(st.text(alphabet="ab1 ,.-\t\n'", max_size=4), max_size=10), n=st.integers(3, 12))
def test_v1_incremental_scorer_equals_full_score(chunks, n):
    task = LengthTaskV1()
    prompt = Prompt("Write:", data={"n": n})
    scorer, text = task.scorer(prompt), ""
    assert scorer.update("", "") == 0.0
    for chunk in chunks:
        text += chunk
        assert scorer.update(text, chunk) == task.score(prompt, text)
