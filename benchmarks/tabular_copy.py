"""Tabular Q-learning and SARSA on a short Copy task: dense against sparse rewards.

    python benchmarks/tabular_copy.py                                # both agents, both reward modes, seeds 0 1 2
    python benchmarks/tabular_copy.py --agents q-learning --set step_size=1.0
    python benchmarks/tabular_copy.py --env textgym/Reverse-v0       # any task taking the same task_kwargs
    python benchmarks/tabular_copy.py --steps 50000 --seeds 0        # a quick look

Task: ``textgym/Copy-v0`` with ``task_kwargs={"num_symbols": 3, "min_length": 3,
"max_length": 4}``: 3^3 + 3^4 = 108 strings, fewer than the task's 250, so the train
and the eval split both hold all of them and a table keyed by the exact prefix
(``state_key=prefix``, the default) can be scored on the eval split. Vocabulary 6
(EOS, pad, a, b, c, =), horizon 5 tokens.

Every run goes through ``textgym_agents.train.train`` (the driver of ``textgym train``), with
the agents' default hyper-parameters unless ``--set`` says otherwise; all agents and
reward modes get the same budget (``--steps``) and evaluation grid (``--eval-every``).
The eval return is the mean final score over the eval strings (the sparse return,
comparable across reward modes); "steps to X" is the first evaluation at or above the
threshold ``X`` (``--threshold``, default 0.9), so its resolution is ``--eval-every``.

Prints one row per run and one per (agent, reward mode), and writes a CSV with one row
per run (default ``benchmarks/results/tabular_copy.csv``).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
from pathlib import Path

from textgym_agents.run import RunConfig
from textgym_agents.train import parse_hyperparameters, train

DEFAULT_TASK_KWARGS = {"num_symbols": 3, "min_length": 3, "max_length": 4}
CSV_COLUMNS = [
    "env_id",
    "task_kwargs",
    "agent",
    "reward_mode",
    "seed",
    "steps",
    "final_eval_return",
    "best_eval_return",
    "steps_to_threshold",
    "threshold",
    "wall_seconds",
    "hyperparameters",
]


def steps_to_threshold(metrics: list[dict[str, float]], threshold: float) -> int | None:
    """The first evaluated env step whose eval return is at least ``threshold`` (``None``: never)."""
    return next((int(row["env_steps"]) for row in metrics if row["eval_return"] >= threshold), None)


def read_metrics(folder: Path) -> list[dict[str, float]]:
    """The run's ``metrics.csv`` rows, their numeric cells as floats (empty and text cells left out)."""

    def number(value: str) -> float | None:
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    with (folder / "metrics.csv").open(newline="", encoding="utf-8") as f:
        return [
            {k: x for k, v in row.items() if (x := number(v)) is not None} for row in csv.DictReader(f)
        ]


def run_one(args, agent: str, reward_mode: str, seed: int, runs_dir: Path) -> dict:
    out = runs_dir / f"{agent}-{reward_mode}-seed{seed}"
    config = RunConfig(
        agent=agent, env_id=args.env, reward_mode=reward_mode, steps=args.steps, seed=seed, device="cpu",
        out=str(out), num_envs=args.num_envs, eval_every=args.eval_every, env_kwargs={"task_kwargs": args.task_kwargs},
        hyperparameters=parse_hyperparameters(agent, args.set),
    )
    summary = train(config, progress=False)
    metrics = read_metrics(out)
    return {
        "env_id": args.env, "task_kwargs": json.dumps(args.task_kwargs), "agent": agent, "reward_mode": reward_mode,
        "seed": seed, "steps": summary["env_steps"], "final_eval_return": summary["final_eval_return"],
        "best_eval_return": max(row["eval_return"] for row in metrics),
        "steps_to_threshold": steps_to_threshold(metrics, args.threshold), "threshold": args.threshold,
        "wall_seconds": summary["wall_seconds"], "hyperparameters": json.dumps(config.hyperparameters),
    }


def summarise(rows: list[dict], threshold: float) -> list[str]:
    lines = [f"{'agent':<11} {'reward':<7} {'final eval (mean ± std)':>24} {'reached ' + str(threshold):>13} "
             f"{'steps to ' + str(threshold) + ' per seed':>28} {'wall s':>7}"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["agent"], row["reward_mode"]), []).append(row)
    for (agent, mode), group in groups.items():
        finals = [r["final_eval_return"] for r in group]
        spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
        reached = [r["steps_to_threshold"] for r in group]
        per_seed = ", ".join("—" if s is None else f"{s:,}" for s in reached)
        lines.append(f"{agent:<11} {mode:<7} {statistics.mean(finals):>15.3f} ± {spread:.3f} "
                     f"{sum(s is not None for s in reached):>10}/{len(group)} {per_seed:>28} "
                     f"{statistics.mean(r['wall_seconds'] for r in group):>7.1f}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--env", default="textgym/Copy-v0", help="a textgym id whose task takes num_symbols/min_length/max_length"
    )
    parser.add_argument("--task-kwargs", type=json.loads, default=DEFAULT_TASK_KWARGS, help="JSON task arguments")
    parser.add_argument("--agents", nargs="+", default=["q-learning", "sarsa"], choices=["q-learning", "sarsa"])
    parser.add_argument("--reward-modes", nargs="+", default=["dense", "sparse"], choices=["dense", "sparse"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per run")
    parser.add_argument("--eval-every", type=int, default=5_000, help="env steps between evaluations")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.9, help="eval return whose first crossing is reported")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a hyper-parameter for every agent"
    )
    parser.add_argument("--runs-dir", default=None, help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--csv", default=None, help="output CSV path")
    args = parser.parse_args(argv)
    if not isinstance(args.task_kwargs, dict):
        parser.error(f"--task-kwargs must be a JSON object, got {args.task_kwargs!r}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="tabular_copy.") as scratch:
        runs_dir = Path(args.runs_dir or scratch)
        print(
            f"{args.env} task_kwargs={json.dumps(args.task_kwargs)} steps={args.steps:,} "
            f"eval_every={args.eval_every:,} "
            f"num_envs={args.num_envs} set={args.set or 'defaults'}",
            flush=True,
        )
        print(
            f"{'agent':<11} {'reward':<7} {'seed':>4} {'final':>7} {'best':>7} "
            f"{'steps to ' + str(args.threshold):>14} {'wall s':>7}",
            flush=True,
        )
        for agent in args.agents:
            for mode in args.reward_modes:
                for seed in args.seeds:
                    row = run_one(args, agent, mode, seed, runs_dir)
                    rows.append(row)
                    reached = "—" if row["steps_to_threshold"] is None else f"{row['steps_to_threshold']:,}"
                    print(
                        f"{agent:<11} {mode:<7} {seed:>4} {row['final_eval_return']:>7.3f} "
                        f"{row['best_eval_return']:>7.3f} "
                        f"{reached:>14} {row['wall_seconds']:>7.1f}",
                        flush=True,
                    )
    print()
    print("\n".join(summarise(rows, args.threshold)))

    path = Path(args.csv or Path(__file__).parent / "results" / "tabular_copy.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**row, "steps_to_threshold": "" if row["steps_to_threshold"] is None else row["steps_to_threshold"]}
            )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
