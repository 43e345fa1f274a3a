"""Does some agent learn on every task? Each run's gain over its own start, from a suite's records.

    python benchmarks/learning_gains.py [--records docs/standard/records] [--share 0.05] [--most 0.8]
                                        [--csv benchmarks/results/standard_gains.csv]

A run's gain is its last evaluation's eval return minus its first (at env step 0), over the width of the task's
score range (``task.score_range``: 1 on the tasks scored in [0, 1], 2 on Sentiment's [-1, 1]). A run *learned* when
its gain is at least ``--share`` of the range. Per task, agent and reward mode the CSV gives the runs, the runs that
learned and the mean gain; per task the script prints the cell with the most runs that learned and whether it
reaches ``--most`` of its seeds (the standard suite's question: some agent gains at least 5% of the task's score
range in at least 4 of 5 seeds, here 80% of the suite's seeds). Only the records are read: nothing is trained.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402


def run_gains(records: Path) -> dict[tuple[str, str, str], list[float]]:
    """``(env_id, agent, reward_mode)`` -> every run's gain as a share of its task's score range."""
    import textgym  # noqa: F401  (registers the ids)
    from textgym_agents.bench.config import task_of

    ranges: dict[str, tuple[float, float]] = {}
    gains: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for summary_file in sorted(records.glob("*/summary.json")):
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        with (summary_file.parent / "metrics.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        run = json.loads((summary_file.parent / "run.json").read_text(encoding="utf-8"))
        env_id, env_kwargs = summary["env_id"], run.get("env_kwargs") or {}
        key = json.dumps([env_id, env_kwargs], sort_keys=True)
        if key not in ranges:
            ranges[key] = task_of(env_id, env_kwargs).score_range
        low, high = ranges[key]
        gain = (float(rows[-1]["eval_return"]) - float(rows[0]["eval_return"])) / (high - low)
        gains[(env_id, summary["agent"], summary["reward_mode"])].append(gain)
    return gains


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=Path, default=ROOT / "docs" / "standard" / "records")
    parser.add_argument("--share", type=float, default=0.05, help="a run learned at this share of the score range")
    parser.add_argument("--most", type=float, default=0.8, help="share of a cell's runs that must learn")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "standard_gains.csv")
    args = parser.parse_args(argv)

    gains = run_gains(args.records)
    if not gains:
        raise SystemExit(f"no run records (*/summary.json with metrics.csv) in {args.records}")
    rows = [{"env_id": env_id, "agent": agent, "reward_mode": mode, "runs": len(values),
             "runs_learned": sum(value >= args.share for value in values),
             "mean_gain": round(sum(values) / len(values), 4)}
            for (env_id, agent, mode), values in sorted(gains.items())]
    write_csv(args.csv, rows)

    print(f"| task | cell with the most runs that learned (gain >= {args.share:g} of the range) | runs | "
          f"some cell in >= {args.most:.0%} of its runs |")
    print("|---|---|---|---|")
    held = 0
    for env_id in sorted({row["env_id"] for row in rows}):
        best = max((row for row in rows if row["env_id"] == env_id), key=lambda r: (r["runs_learned"], r["mean_gain"]))
        holds = best["runs_learned"] >= args.most * best["runs"]
        held += holds
        print(f"| {env_id} | {best['agent']} {best['reward_mode']} (mean gain {best['mean_gain']:+.3f}) | "
              f"{best['runs_learned']}/{best['runs']} | {'yes' if holds else '**no**'} |")
    print(f"\n{held} of {len({row['env_id'] for row in rows})} tasks; written: {args.csv}")


if __name__ == "__main__":
    main()
