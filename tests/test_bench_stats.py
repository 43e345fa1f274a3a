import itertools

import numpy as np
import pytest

from textgym_agents.bench import stats


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


def test_iqm_trims_a_quarter_at_each_end_like_scipy():
    from scipy.stats import trim_mean

    rng = np.random.default_rng(0)
    for n in (4, 5, 8, 10, 50):
        x = rng.standard_normal(n)
        assert stats.iqm(x) == pytest.approx(trim_mean(x, 0.25))
    assert stats.iqm([0.0, 1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.0)  # 5 seeds: the middle 3
    batched = stats.iqm(rng.standard_normal((7, 5)))
    assert batched.shape == (7,)


def _shipped_seed_counts() -> set[int]:
    import yaml

    from textgym_agents.bench.config import SUITES_DIR

    return {yaml.safe_load(p.read_text())["seeds"] for p in SUITES_DIR.glob("*.yaml")}


def test_suites_use_at_least_five_seeds():
    assert min(_shipped_seed_counts()) >= 5


@pytest.mark.parametrize("tasks", [1, 10])
def test_iqm_ci_covers_the_true_value_at_the_suites_seed_counts(tasks):
    """Simulated runs (tasks with different means, N(mean, 1) seeds): the 95% CI covers the population IQM >= 90%."""
    rng = np.random.default_rng(1234 + tasks)
    means = np.linspace(0.0, 2.0, tasks)
    truth = stats.iqm(np.concatenate([m + rng.standard_normal(400_000) for m in means]))
    for seeds in sorted(_shipped_seed_counts()):
        trials, hits = 300, 0
        for trial in range(trials):
            scores = {f"task{i}": means[i] + rng.standard_normal(seeds) for i in range(tasks)}
            _, low, high = stats.stratified_bootstrap_ci(scores, stats.pooled_iqm, repetitions=2000, seed=trial)
            hits += low <= truth <= high
        assert hits / trials >= 0.90, (seeds, hits / trials)


@pytest.mark.parametrize("shift", [0.0, 1.0, 3.0])
def test_probability_of_improvement_ci_covers_at_five_seeds(shift):
    """X ~ N(shift, 1) vs Y ~ N(0, 1), 5 runs each: Newcombe's interval covers Phi(shift / sqrt 2) >= 90%."""
    from scipy.stats import norm

    rng = np.random.default_rng(int(shift * 10) + 7)
    truth = norm.cdf(shift / np.sqrt(2))
    trials = 400
    hits = 0
    for _ in range(trials):
        _, low, high = stats.probability_of_improvement_ci(
            {"t": shift + rng.standard_normal(5)}, {"t": rng.standard_normal(5)}
        )
        hits += low <= truth <= high
    assert hits / trials >= 0.90


def test_clean_separation_is_not_a_certainty():
    point, low, high = stats.probability_of_improvement_ci({"t": [5, 6, 7, 8, 9]}, {"t": [0, 1, 2, 3, 4]})
    assert point == high == 1.0 and 0.5 < low < 0.8
    point, low, high = stats.probability_of_improvement_ci({"t": [1, 2, 3]}, {"t": [1, 2, 3]})
    assert point == 0.5 and low < 0.5 < high


def test_mann_whitney_p_is_exact_at_five_seeds():
    """5 runs that all beat 5 others: 2 of the 252 equally likely splits are as extreme (two-sided), p = 2 / 252."""
    assert stats.mann_whitney_p([5, 6, 7, 8, 9], [0, 1, 2, 3, 4]) == pytest.approx(2 / 252)
    assert stats.mann_whitney_p([0, 1, 2, 3, 4], [5, 6, 7, 8, 9]) == pytest.approx(2 / 252)
    # U = 24 of 25: the splits with U >= 24 are 2 on each side, p = 4 / 252
    assert stats.mann_whitney_p([4, 6, 7, 8, 9], [0, 1, 2, 3, 5]) == pytest.approx(4 / 252)
    assert stats.mann_whitney_p([0.0] * 5, [0.0] * 5) == 1.0  # every run the same: nothing to test
    assert np.isnan(stats.mann_whitney_p([], [1.0]))
    # ties: the permutation distribution, enumerated (a tie at the boundary: U = 24.5)
    assert stats.mann_whitney_p([5, 6, 7, 8, 9], [0, 1, 2, 3, 5]) == pytest.approx(4 / 252)


def test_stratified_permutation_on_one_task_is_the_exact_mann_whitney_test():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y = rng.standard_normal(5) + rng.uniform(0, 2), rng.standard_normal(5)
        exact = mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue
        assert stats.stratified_permutation_p({"t": x}, {"t": y}) == pytest.approx(exact)
        assert stats.mann_whitney_p(x, y) == pytest.approx(exact)


def test_stratified_permutation_monte_carlo_agrees_with_its_enumeration(monkeypatch):
    rng = np.random.default_rng(5)
    x = {"a": rng.standard_normal(4) + 1.0, "b": rng.standard_normal(4) + 0.5}
    y = {"a": rng.standard_normal(4), "b": rng.standard_normal(4)}
    exact = stats.stratified_permutation_p(x, y)  # 70 x 70 splits: enumerated
    monkeypatch.setattr(stats, "PERMUTATIONS", 4000)  # fewer than 4900 splits allowed: seeded draws
    assert stats.stratified_permutation_p(x, y) == pytest.approx(exact, abs=0.02)
    separated = {f"t{i}": [5.0, 6, 7, 8, 9] for i in range(3)}
    below = {f"t{i}": [0.0, 1, 2, 3, 4] for i in range(3)}
    assert stats.stratified_permutation_p(separated, below) < 0.01
    assert stats.stratified_permutation_p(separated, separated) == 1.0


def test_holm_hand_worked_example():
    """m = 4: sorted 0.005, 0.01, 0.03, 0.04 are multiplied by 4, 3, 2, 1 (0.02, 0.03, 0.06, 0.04) and made
    non-decreasing (0.02, 0.03, 0.06, 0.06); at 5% the two smallest are rejected."""
    adjusted = stats.holm_adjusted([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm_adjusted([0.5, float("nan"), 0.6]) == pytest.approx([1.0, float("nan"), 1.0], nan_ok=True)
    assert stats.holm_adjusted([0.01]) == [0.01]  # one test: nothing to adjust
    with pytest.raises(ValueError, match="p-value lies in"):
        stats.holm_adjusted([1.5])


def _closed_testing_rejections(p_values: list[float], alpha: float) -> set[int]:
    """The reference: Holm's procedure is the closed testing procedure of Bonferroni's intersection tests, so
    hypothesis i is rejected iff every subset S holding i has min over S of p <= alpha / |S|."""
    m = len(p_values)
    rejected = set()
    for i in range(m):
        others = [j for j in range(m) if j != i]
        if all(min(p_values[j] for j in (i, *subset)) <= alpha / (len(subset) + 1)
               for size in range(m) for subset in itertools.combinations(others, size)):
            rejected.add(i)
    return rejected


def test_holm_agrees_with_closed_testing_of_bonferroni_tests():
    rng = np.random.default_rng(11)
    for _ in range(200):
        m = int(rng.integers(1, 8))
        p_values = list(rng.uniform(0, 0.08, m) * rng.choice([1, 10], m))
        p_values = [min(p, 1.0) for p in p_values]
        adjusted = stats.holm_adjusted(p_values)
        for alpha in (0.01, 0.05, 0.1):
            assert {i for i, a in enumerate(adjusted) if a <= alpha} == _closed_testing_rejections(p_values, alpha)


def test_verdicts_name_the_side_that_wins_only_after_adjustment():
    assert stats.verdict(1.0, 0.03) == "dense > sparse"
    assert stats.verdict(0.0, 0.03) == "sparse > dense"
    assert stats.verdict(1.0, 0.06) == stats.NO_DIFFERENCE
    assert stats.verdict(0.9, float("nan")) == stats.NO_DIFFERENCE
    assert stats.verdict(0.1, 0.01, "attention", "sparse") == "sparse > attention"
