"""Aggregate statistics for few-seed RL results (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice").

- IQM: the mean of the middle 50% of runs (pooled over tasks).
- 95% CIs by stratified bootstrap: runs are resampled with replacement *within each task*.
- Probability of improvement P(X > Y): the chance that a random run of X beats a random
  run of Y on the same task (ties count half), averaged over tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

Scores = Mapping[str, Sequence[float]]  # task -> one score per run (seed)


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the values between the 25th and 75th percentile (by rank)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0:
        return float("nan")
    lo, hi = int(np.floor(0.25 * n)), int(np.ceil(0.75 * n))
    if hi <= lo:
        return float(x.mean())
    # weights for fractional quartile boundaries, as scipy.stats.trim_mean does with whole runs
    return float(x[lo:hi].mean())


def pooled_iqm(scores: Scores) -> float:
    return iqm(np.concatenate([np.asarray(v, dtype=np.float64) for v in scores.values()]))


def stratified_bootstrap_ci(
    scores: Scores,
    statistic: Callable[[Scores], float],
    repetitions: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, low, high)``: the statistic and its percentile bootstrap CI, resampling runs within each task."""
    rng = np.random.default_rng(seed)
    arrays = {task: np.asarray(v, dtype=np.float64) for task, v in scores.items() if len(v)}
    point = statistic(arrays)
    samples = np.empty(repetitions)
    for r in range(repetitions):
        samples[r] = statistic({task: v[rng.integers(0, len(v), len(v))] for task, v in arrays.items()})
    alpha = (1 - confidence) / 2
    # inverted-CDF percentiles stay defined when some samples are infinite (a threshold never reached)
    low, high = np.quantile(samples, [alpha, 1 - alpha], method="inverted_cdf")
    return float(point), float(low), float(high)


def probability_of_improvement(x: Sequence[float], y: Sequence[float]) -> float:
    """P(a random run of x > a random run of y), ties counting half."""
    a, b = np.asarray(x, dtype=np.float64)[:, None], np.asarray(y, dtype=np.float64)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def probability_of_improvement_ci(x: Scores, y: Scores, repetitions: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Task-averaged P(X > Y) with a stratified-bootstrap 95% CI (both sides resampled per task)."""
    tasks = [t for t in x if t in y and len(x[t]) and len(y[t])]
    if not tasks:
        return float("nan"), float("nan"), float("nan")
    xs = {t: np.asarray(x[t], dtype=np.float64) for t in tasks}
    ys = {t: np.asarray(y[t], dtype=np.float64) for t in tasks}

    def mean_poi(xd, yd):
        return float(np.mean([probability_of_improvement(xd[t], yd[t]) for t in tasks]))

    rng = np.random.default_rng(seed)
    point = mean_poi(xs, ys)
    samples = np.empty(repetitions)
    for r in range(repetitions):
        samples[r] = mean_poi(
            {t: v[rng.integers(0, len(v), len(v))] for t, v in xs.items()},
            {t: v[rng.integers(0, len(v), len(v))] for t, v in ys.items()},
        )
    return point, float(np.quantile(samples, 0.025)), float(np.quantile(samples, 0.975))


def steps_to_threshold(steps: Sequence[float], returns: Sequence[float], threshold: float) -> float:
    """The first evaluated env step whose return reaches ``threshold``; ``inf`` if never."""
    for s, r in zip(steps, returns):
        if r >= threshold:
            return float(s)
    return float("inf")
