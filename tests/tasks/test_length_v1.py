"""Length-v1: the closeness reaches 0 at a miss of N / 2 words (v0: N); everything else is v0's."""

import pytest

from textgym import Prompt
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
