"""How far do results move with the torch thread count? The quick suite's sb3-ppo runs on Copy (1 torch thread per
run: 2 workers on 2 cores) against the same runs with 2 threads per run::

    textgym bench --config benchmarks/configs/quick_threads.yaml --out runs/quick_threads2 --device cpu --workers 1
    python benchmarks/threads_spread.py [--one docs/quick/results.csv] [--two runs/quick_threads2/results.csv]
                                        [--csv benchmarks/results/quick_threads.csv]

Writes each seed's final eval return both ways (and the IQM over seeds with its 95% CI, as the bench reports it) and
prints the table.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402

AGENT, ENV_ID = "sb3-ppo", "textgym/Copy-v0"


def finals(path: Path) -> dict[tuple[str, int], float]:
    """(reward mode, seed) -> the final eval return of each sb3-ppo Copy run in a bench ``results.csv``."""
    last: dict[tuple[str, int], tuple[int, float]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["agent"] != AGENT or row["env_id"] != ENV_ID:
                continue
            key, steps = (row["reward_mode"], int(row["seed"])), int(row["env_steps"])
            if key not in last or steps >= last[key][0]:
                last[key] = (steps, float(row["eval_return"]))
    return {key: value for key, (_, value) in last.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", type=Path, default=ROOT / "docs" / "quick" / "results.csv")
    parser.add_argument("--two", type=Path, default=ROOT / "runs" / "quick_threads2" / "results.csv")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "quick_threads.csv")
    args = parser.parse_args(argv)
    import numpy as np

    from textgym_agents.bench import stats

    one, two = finals(args.one), finals(args.two)
    if not one or set(one) != set(two):
        raise SystemExit(f"{args.one} and {args.two} must hold the same {AGENT} runs on {ENV_ID}")
    rows = [{"reward_mode": mode, "seed": seed, "threads_1": one[(mode, seed)], "threads_2": two[(mode, seed)]}
            for mode, seed in sorted(one)]
    write_csv(args.csv, rows)
    print("| reward | threads | final eval return per seed | IQM [95% CI] |")
    print("|---|---|---|---|")
    for mode in sorted({m for m, _ in one}):
        for label, values in (("1", one), ("2", two)):
            seeds = np.array([values[(m, s)] for m, s in sorted(values) if m == mode])
            point, low, high = stats.stratified_bootstrap_ci({ENV_ID: seeds})
            print(f"| {mode} | {label} | {' '.join(f'{v:.3f}' for v in seeds)} | {point:.3f} "
                  f"[{low:.3f}, {high:.3f}] |")


if __name__ == "__main__":
    main()
