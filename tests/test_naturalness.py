"""The naturalness numbers reported beside every score: distinct-n, repetition and the same-continuation share."""

import math

import pytest

from textgym.naturalness import (
    NATURALNESS_COLUMNS,
    Naturalness,
    distinct_n,
    measure_naturalness,
    repetition_rate,
    same_continuation_share,
)


def test_distinct_and_repetition_by_hand():
    sequences = [[1, 2, 3, 1, 2, 3], [4, 5]]
    assert distinct_n(sequences, 1) == pytest.approx(5 / 8)
    assert distinct_n(sequences, 2) == pytest.approx(4 / 6)  # (1,2) (2,3) (3,1) (4,5): 4 distinct of 6
    assert repetition_rate(sequences, 3) == pytest.approx(1 / 4)  # (1,2,3) repeats once among 4 trigrams


@pytest.mark.parametrize(
    "sequences, share",
    [
        ([[1, 2], [1, 2], [1, 2], [3]], 3 / 4),
        ([[1], [2], [3], [4]], 1 / 4),
        ([[7, 8]] * 5, 1.0),
        ([[1, 2], [2, 1]], 1 / 2),  # order matters: two different texts
        ([[], [], [5]], 2 / 3),  # empty continuations are one text too
    ],
)
def test_same_continuation_share_is_the_most_common_continuations_share(sequences, share):
    assert same_continuation_share(sequences) == pytest.approx(share)


def test_same_continuation_share_of_nothing_is_nan():
    assert math.isnan(same_continuation_share([]))


def test_measure_naturalness_counts_texts_without_their_eos():
    eos = 0
    # the same words, once ended by EOS and once cut by the horizon: the same text
    result = measure_naturalness(None, [[5], [6], [7]], [[3, 4, eos], [3, 4], [9, eos]], eos, pad_token_id=1)
    assert math.isnan(result.ref_perplexity)
    assert result.same_continuation_share == pytest.approx(2 / 3)
    assert list(result.as_dict()) == list(NATURALNESS_COLUMNS)


def test_a_naturalness_without_the_share_reads_nan_there():
    old = Naturalness(ref_perplexity=2.0, distinct_1=0.5, distinct_2=0.6, repetition=0.0)
    assert math.isnan(old.same_continuation_share)
