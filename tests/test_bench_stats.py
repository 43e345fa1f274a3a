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
