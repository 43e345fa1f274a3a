import numpy as np
import pytest

from agents.bench import stats


def test_iqm_drops_the_outer_quartiles():
    assert stats.iqm([0, 1, 2, 3, 4, 5, 6, 100]) == pytest.approx(np.mean([2, 3, 4, 5]))
    assert stats.iqm([1.0, 2.0, 3.0]) == pytest.approx(2.0)


def test_probability_of_improvement_hand_computed():
    assert stats.probability_of_improvement([1, 2], [0, 2]) == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert stats.probability_of_improvement([3], [1]) == 1.0


def test_stratified_bootstrap_ci_contains_point_and_is_degenerate_for_constants():
    point, lo, hi = stats.stratified_bootstrap_ci({"a": [1, 1, 1], "b": [1, 1, 1]}, stats.pooled_iqm)
    assert point == lo == hi == 1.0
    point, lo, hi = stats.stratified_bootstrap_ci({"a": [0, 1, 2, 3], "b": [5, 6, 7, 8]}, stats.pooled_iqm, seed=1)
    assert lo <= point <= hi and lo < hi


def test_steps_to_threshold():
    assert stats.steps_to_threshold([0, 10, 20], [0.1, 0.5, 0.9], 0.5) == 10
    assert stats.steps_to_threshold([0, 10], [0.1, 0.2], 0.5) == float("inf")
