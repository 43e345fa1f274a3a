"""Is each task learnable within its budget? lm-ppo (dense, default hyper-parameters) on seeds the suites do not report.

For every id, one run per seed at the ``standard`` suite's step budget for that task (the budget of the same task's
``-v0`` entry when the suite lists only v0 ids; ``--steps`` sets one budget for all); the eval score at step 0 and
at the end, and the gain normalised by the task's calibration (``(score - random) / (reference - random)``,
:mod:`textgym.calibration`)::

    python benchmarks/learnability.py [--ids ID ...] [--seeds 100] [--steps N] [--out runs/learnability]
                                      [--csv benchmarks/results/learnability.csv]

writes ``benchmarks/results/learnability.csv`` (one row per run) and prints the table. Runs already finished in
``--out`` are read back, not rerun.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402

import textgym  # noqa: E402,F401
from textgym.calibration import LANGUAGE_TASKS, calibration_for  # noqa: E402

#: the v1 language ids (the default of the benchmarks that measured tiny-v1's world; pass --ids for others)
LANGUAGE_V1 = [f"textgym/{name}-v1" for name in LANGUAGE_TASKS]
SUITE = ROOT / "agents" / "suites" / "standard.yaml"


def budget(env_id: str) -> int:
    """The standard suite's steps for ``env_id`` (or for the same task's other version)."""
    suite = yaml.safe_load(SUITE.read_text())
    stem = env_id.rsplit("-v", 1)[0]
    for task in suite["tasks"]:
        if task["env"] == env_id or task["env"].rsplit("-v", 1)[0] == stem:
            return int(task.get("steps", suite.get("steps")))
    raise SystemExit(f"{env_id}: no task of {SUITE.name} has its name")


def run_one(env_id: str, seed: int, out: Path, steps: int | None = None) -> dict:
    from textgym_agents import LMPPO

    steps = steps or budget(env_id)
    folder = out / f"{env_id.split('/')[1]}__seed{seed}__steps{steps}"
    if not (folder / "summary.json").is_file():
        model = LMPPO(env_id, out=str(folder), reward_mode="dense", seed=seed, eval_every=steps // 2)
        model.learn(total_env_steps=steps)
    with (folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    initial, final = float(rows[0]["eval_return"]), float(rows[-1]["eval_return"])
    calibration = calibration_for(env_id)
    scale = None if calibration is None or calibration.reference is None else calibration.reference - calibration.random
    return {
        "env_id": env_id, "seed": seed, "steps": steps, "initial": initial, "final": final, "gain": final - initial,
        "normalised_initial": None if scale is None else calibration.normalised(initial),
        "normalised_final": None if scale is None else calibration.normalised(final),
        "normalised_gain": None if scale is None else (final - initial) / scale,
        "agent": json.loads((folder / "run.json").read_text())["agent"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", nargs="*", default=LANGUAGE_V1)
    parser.add_argument("--seeds", nargs="*", type=int, default=[100])
    parser.add_argument("--steps", type=int, help="one budget for every id instead of the standard suite's")
    parser.add_argument("--out", type=Path, default=Path("runs/learnability"))
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "learnability.csv")
    args = parser.parse_args(argv)
    rows = [run_one(env_id, seed, args.out, args.steps) for env_id in args.ids for seed in args.seeds]
    write_csv(args.csv, rows)
    print("| id | seed | steps | eval at 0 | final | normalised at 0 | normalised final | normalised gain |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        def fmt(value, digits=3):
            return "–" if value is None else f"{value:.{digits}f}"
        print(f"| `{r['env_id']}` | {r['seed']} | {r['steps']} | {fmt(r['initial'])} | {fmt(r['final'])} | "
              f"{fmt(r['normalised_initial'], 2)} | {fmt(r['normalised_final'], 2)} | {fmt(r['normalised_gain'], 2)} |")


if __name__ == "__main__":
    main()
