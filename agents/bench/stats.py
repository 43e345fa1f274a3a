"""Aggregate statistics for few-seed RL results (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
Precipice").

- IQM: the mean of the middle 50% of runs (pooled over tasks), as ``scipy.stats.trim_mean(x, 0.25)``:
  with 5 runs it averages the middle 3.
- 95% CIs by stratified bootstrap: runs are resampled with replacement *within each task*.
  A plain percentile interval undercovers badly at the seed counts of RL papers (about 76%
  at a nominal 95% with 3 runs), because a bootstrap of ``n`` runs underestimates the spread
  by ``(n - 1) / n`` and ignores the t-distribution's tails. The interval here is Hesterberg's
  *expanded percentile* interval (Hesterberg 2015, "What teachers should know about the
  bootstrap", §4.4): the percentiles ``alpha' / 2`` and ``1 - alpha' / 2`` of the bootstrap
  distribution, with ``Phi^-1(alpha' / 2) = sqrt(n / (n - 1)) * t_{alpha/2, df}``
  (``n`` the runs per task, ``df`` the runs minus the tasks). ``tests/test_bench_stats.py``
  simulates runs and checks that it covers the true value at least 90% of the time at the
  seed counts the suites use.
- Probability of improvement P(X > Y): the chance that a random run of X beats a random
  run of Y on the same task (ties count half), averaged over tasks. Its CI is Newcombe's
  score interval for the Mann-Whitney effect size (Newcombe 2006, "Confidence intervals for
  an effect size measure based on the Mann-Whitney statistic", method 5, Hanley-McNeil
  variance), which stays honest when the runs separate cleanly: 5 runs that all beat 5
  others give P = 1 with a lower bound well below 1, not ``[1, 1]``.
- Significance of P(X > Y) on one task: the two-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``), exact:
  the exact null distribution of U when the runs hold no ties, else the permutation distribution, enumerated
  exactly when the label splits number at most ``PERMUTATIONS`` (5 + 5 runs: 252 splits). Over several tasks
  (P averaged over tasks): the stratified permutation test of the same statistic (labels permuted within each
  task), exact or Monte-Carlo with ``PERMUTATIONS`` seeded draws.
- Many comparisons in one table: Holm's step-down adjustment (Holm 1979, "A simple sequentially rejective
  multiple test procedure") holds the family-wise error rate at ``ALPHA`` whatever the dependence between the
  tests. With 5 + 5 runs the smallest two-sided p-value is 2 / 252 = 0.0079, so a family of more than 6
  comparisons can reject nothing at 5%: that is what 5 seeds can show, not a fault of the adjustment.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

Scores = Mapping[str, Sequence[float]]  # task -> one score per run (seed)
CONFIDENCE = 0.95
#: the family-wise error rate of the Holm-adjusted verdicts
ALPHA = 0.05
#: label splits enumerated exactly up to this many; beyond it, this many seeded random splits
PERMUTATIONS = 20_000
NO_DIFFERENCE = "no difference shown"


def iqm(values, axis: int = -1) -> np.ndarray | float:
    """Interquartile mean along ``axis``: drop ``floor(n / 4)`` runs at each end, average the rest."""
    x = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    n = x.shape[axis]
    if n == 0:
        return float("nan")
    cut = n // 4
    middle = np.take(x, np.arange(cut, n - cut), axis=axis)
    with np.errstate(invalid="ignore"):  # inf runs (a threshold never reached) stay inf
        result = middle.mean(axis=axis)
    return float(result) if np.ndim(result) == 0 else result


def pooled_iqm(scores: Mapping[str, np.ndarray]) -> np.ndarray | float:
    """IQM over the runs of every task together (the last axis holds the runs; leading axes are batches)."""
    return iqm(np.concatenate([np.asarray(v, dtype=np.float64) for v in scores.values()], axis=-1))


def expanded_alpha(runs_per_task: Sequence[int], confidence: float = CONFIDENCE) -> float:
    """The two-sided tail mass ``alpha'`` of Hesterberg's expanded percentile interval."""
    n = min(runs_per_task)
    if n < 2:
        return 1.0 - confidence
    df = sum(runs_per_task) - len(runs_per_task)
    z = math.sqrt(n / (n - 1)) * scipy_stats.t.ppf(1 - (1 - confidence) / 2, df)
    return float(2 * scipy_stats.norm.sf(z))


def stratified_bootstrap_ci(
    scores: Scores,
    statistic: Callable[[Mapping[str, np.ndarray]], np.ndarray | float] = pooled_iqm,
    repetitions: int = 4000,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, low, high)``: the statistic and its expanded-percentile stratified-bootstrap CI.

    ``statistic`` receives ``{task: array[..., runs]}`` and reduces the last axis (it is
    called once on the data and once on all ``repetitions`` resamples stacked on axis 0).
    """
    rng = np.random.default_rng(seed)
    arrays = {task: np.asarray(v, dtype=np.float64) for task, v in scores.items() if len(v)}
    if not arrays:
        return float("nan"), float("nan"), float("nan")
    point = float(statistic(arrays))
    resampled = {task: v[rng.integers(0, len(v), (repetitions, len(v)))] for task, v in arrays.items()}
    samples = np.asarray(statistic(resampled), dtype=np.float64)
    alpha = expanded_alpha([len(v) for v in arrays.values()], confidence)
    # inverted-CDF percentiles stay defined when some samples are infinite (a threshold never reached)
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return point, float(low), float(high)


def probability_of_improvement(x: Sequence[float], y: Sequence[float]) -> float:
    """P(a random run of x > a random run of y), ties counting half."""
    a, b = np.asarray(x, dtype=np.float64)[:, None], np.asarray(y, dtype=np.float64)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def _hanley_mcneil_variance(theta: float, m: int, n: int) -> float:
    """Variance of the Mann-Whitney estimate of P(X > Y) with ``m`` and ``n`` runs, at the true value ``theta``."""
    n_star = (m + n) / 2 - 1
    return theta * (1 - theta) / (m * n) * (1 + (n_star - 1) * ((1 - theta) / (2 - theta) + theta / (1 + theta)))


def probability_of_improvement_ci(x: Scores, y: Scores, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Task-averaged P(X > Y) with Newcombe's score CI (the tasks' variances at a common P, averaged)."""
    tasks = [t for t in x if t in y and len(x[t]) and len(y[t])]
    if not tasks:
        return float("nan"), float("nan"), float("nan")
    point = float(np.mean([probability_of_improvement(x[t], y[t]) for t in tasks]))
    sizes = [(len(x[t]), len(y[t])) for t in tasks]
    z = scipy_stats.norm.ppf(1 - (1 - confidence) / 2)

    def outside(theta: float) -> bool:  # theta is rejected by the score test
        variance = sum(_hanley_mcneil_variance(theta, m, n) for m, n in sizes) / len(tasks) ** 2
        return (point - theta) ** 2 > z * z * variance

    def boundary(inside: float, out: float) -> float:
        for _ in range(60):
            middle = (inside + out) / 2
            inside, out = (inside, middle) if outside(middle) else (middle, out)
        return inside

    low = 0.0 if not outside(0.0) else boundary(point, 0.0)
    high = 1.0 if not outside(1.0) else boundary(point, 1.0)
    return point, float(low), float(high)


def steps_to_threshold(steps: Sequence[float], returns: Sequence[float], threshold: float) -> float:
    """The first evaluated env step whose return reaches ``threshold``; ``inf`` if never."""
    for s, r in zip(steps, returns):
        if r >= threshold:
            return float(s)
    return float("inf")


def mann_whitney_p(x: Sequence[float], y: Sequence[float]) -> float:
    """The two-sided Mann-Whitney U test's p-value for runs ``x`` against runs ``y`` (see the module docstring);
    1 when every run scored the same, ``nan`` when either side has no run."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not a.size or not b.size:
        return float("nan")
    pooled = np.concatenate([a, b])
    if np.all(pooled == pooled[0]):
        return 1.0
    if len(np.unique(pooled)) == len(pooled):
        method = "exact"
    else:  # ties: the permutation distribution of U (exact up to PERMUTATIONS splits)
        method = scipy_stats.PermutationMethod(n_resamples=PERMUTATIONS, rng=np.random.default_rng(0))
    return float(scipy_stats.mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


def stratified_permutation_p(x: Scores, y: Scores, seed: int = 0) -> float:
    """Two-sided p-value of the task-averaged P(X > Y) against 0.5: X's and Y's labels are permuted within each
    task (every split when they number at most ``PERMUTATIONS``, else ``PERMUTATIONS`` seeded draws, the observed
    split counted in); on one task it is the Mann-Whitney U test by permutation."""
    tasks = [t for t in x if t in y and len(x[t]) and len(y[t])]
    if not tasks:
        return float("nan")
    pooled = [np.concatenate([np.asarray(x[t], dtype=np.float64), np.asarray(y[t], dtype=np.float64)]) for t in tasks]
    sizes = [len(x[t]) for t in tasks]
    observed = abs(np.mean([probability_of_improvement(x[t], y[t]) for t in tasks]) - 0.5)
    splits = math.prod(math.comb(len(p), m) for p, m in zip(pooled, sizes))
    if splits <= PERMUTATIONS:
        per_task = [list(itertools.combinations(range(len(p)), m)) for p, m in zip(pooled, sizes)]
        statistics = []
        for choice in itertools.product(*per_task):
            values = []
            for p, chosen in zip(pooled, choice):
                mask = np.zeros(len(p), dtype=bool)
                mask[list(chosen)] = True
                values.append(probability_of_improvement(p[mask], p[~mask]))
            statistics.append(abs(np.mean(values) - 0.5))
        return float(np.mean(np.asarray(statistics) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    total = np.zeros(PERMUTATIONS)
    for p, m in zip(pooled, sizes):
        order = np.argsort(rng.random((PERMUTATIONS, len(p))), axis=1)
        first, second = p[order[:, :m]], p[order[:, m:]]
        a, b = first[:, :, None], second[:, None, :]
        total += ((a > b).sum((1, 2)) + 0.5 * (a == b).sum((1, 2))) / (m * (len(p) - m))
    statistics = np.abs(total / len(tasks) - 0.5)
    return float((1 + np.sum(statistics >= observed - 1e-12)) / (1 + PERMUTATIONS))


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: sorted ascending, the i-th (from 0) of ``m`` becomes
    ``max over j <= i of min(1, (m - j) p_(j))``; a hypothesis is rejected at family-wise level ``alpha`` when its
    adjusted p-value is at most ``alpha``. ``nan`` p-values (no test) stay ``nan`` and do not count in ``m``."""
    values = [float(p) for p in p_values]
    for p in values:
        if not math.isnan(p) and not 0.0 <= p <= 1.0:
            raise ValueError(f"a p-value lies in [0, 1], got {p}")
    tested = sorted((p, i) for i, p in enumerate(values) if not math.isnan(p))
    m = len(tested)
    adjusted = [float("nan")] * len(values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(probability: float, adjusted_p: float, first: str = "dense", second: str = "sparse",
            alpha: float = ALPHA) -> str:
    """``"first > second"`` or ``"second > first"`` where the Holm-adjusted p-value is at most ``alpha`` (the side
    that P(first > second) favours), else ``NO_DIFFERENCE``."""
    if math.isnan(adjusted_p) or adjusted_p > alpha or probability == 0.5:
        return NO_DIFFERENCE
    return f"{first} > {second}" if probability > 0.5 else f"{second} > {first}"
