"""Where do learning curves flatten? An agent's curves (lm-ppo by default; dense, default hyper-parameters) on seeds
the suites do not report, and the budget each task needs.

For every id and seed, one long run evaluated every ``--eval-every`` env steps. The curve is the mean over seeds
of the eval return; each point's 95% CI is ``1.96 * std / sqrt(prompts * seeds)`` (the eval split's prompts are
scored once per evaluation, greedily). A budget ``B`` (an evaluation point) is *flat* when the curve at ``B`` is
within the CIs of both the evaluation before it and the last one of the run (``|a - b| <= ci_a + ci_b``): the
last stretch adds nothing the noise does not cover. The chosen budget is the first flat point (at its nominal
``k * --eval-every``); the rule, the curves and the gains are written out, so the choice can be checked::

    python benchmarks/budgets.py [--ids ID ...] [--seeds 100 101] [--steps 32768] [--eval-every 2048]
                                 [--out runs/budgets] [--csv benchmarks/results/budget_curves.csv]
                                 [--agent lm-ppo] [--set NAME=VALUE ...]

Runs already finished in ``--out`` are read back, not rerun. ``--set`` takes the agent's hyper-parameters as
``textgym train --set`` does. The conversation suite's budget (``agents/suites/conversation.yaml``) was chosen with
this script before any reported run; the curves of the -v1 language tasks are in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402
from learnability import LANGUAGE_V1  # noqa: E402

import textgym  # noqa: E402,F401
from textgym.calibration import calibration_for  # noqa: E402

Z95 = 1.959964


def run_curve(env_id: str, seed: int, steps: int, eval_every: int, out: Path,
              hyperparameters: dict | None = None, agent: str = "lm-ppo") -> list[dict]:
    """The eval rows (env_steps, eval_return, eval_std) of one dense run of ``agent``; trained here unless already in
    ``out``."""
    from textgym_agents.api import LEARNERS

    settings = "".join(f"__{name}={value}" for name, value in sorted((hyperparameters or {}).items()))
    prefix = "" if agent == "lm-ppo" else f"{agent}__"  # lm-ppo's folders keep their first names
    folder = out / f"{prefix}{env_id.split('/')[1]}__seed{seed}__steps{steps}__every{eval_every}{settings}"
    if not (folder / "summary.json").is_file():
        LEARNERS[agent](env_id, out=str(folder), reward_mode="dense", seed=seed, eval_every=eval_every,
                        **(hyperparameters or {})).learn(total_env_steps=steps)
    with (folder / "metrics.csv").open() as f:
        return [{"env_steps": int(float(r["env_steps"])), "eval_return": float(r["eval_return"]),
                 "eval_std": float(r["eval_std"])} for r in csv.DictReader(f)]


def mean_curve(curves: list[list[dict]], prompts: int, eval_every: int) -> list[dict]:
    """The seeds' mean at each evaluation (points matched by their order, each at its nominal ``k * eval_every``)."""
    points = min(len(c) for c in curves)
    out = []
    for k in range(points):
        rows = [c[k] for c in curves]
        mean = sum(r["eval_return"] for r in rows) / len(rows)
        std = math.sqrt(sum(r["eval_std"] ** 2 for r in rows) / len(rows))
        out.append({"budget": k * eval_every, "mean": mean, "ci": Z95 * std / math.sqrt(prompts * len(rows))})
    return out


def within(a: dict, b: dict) -> bool:
    return abs(a["mean"] - b["mean"]) <= a["ci"] + b["ci"]


def flat_budget(curve: list[dict]) -> int | None:
    """The first evaluation point within the CIs of the one before it and of the last one (``None``: none is)."""
    last = curve[-1]
    for before, point in zip(curve, curve[1:]):
        if within(point, before) and within(point, last):
            return point["budget"]
    return None


def normalised_gain(env_id: str, start: dict, point: dict) -> float | None:
    """``point``'s mean less ``start``'s, normalised by ``env_id``'s calibration (``None``: the task has no reference,
    as a reward model's unbounded logit)."""
    calibration = calibration_for(env_id)
    if calibration.reference is None:
        return None
    return calibration.normalised(point["mean"]) - calibration.normalised(start["mean"])


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", nargs="*", default=LANGUAGE_V1)
    parser.add_argument("--seeds", nargs="*", type=int, default=[100, 101])
    parser.add_argument("--steps", type=int, default=32768)
    parser.add_argument("--eval-every", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=Path("runs/budgets"))
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "budget_curves.csv")
    parser.add_argument("--agent", default="lm-ppo", help="the agent whose curves are drawn (default: lm-ppo)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyper-parameter of the agent other than its default (repeatable)")
    args = parser.parse_args(argv)
    from textgym_agents.run import RunConfigError
    from textgym_agents.train import parse_hyperparameters

    try:
        hyperparameters = parse_hyperparameters(args.agent, args.set)
    except RunConfigError as error:
        raise SystemExit(str(error)) from None
    if min(args.seeds) < 100:
        raise SystemExit(f"--seeds {args.seeds}: budgets are chosen on seeds >= 100, which no suite reports")
    import gymnasium as gym

    rows, table = [], []
    for env_id in args.ids:
        curves = [run_curve(env_id, seed, args.steps, args.eval_every, args.out, hyperparameters, args.agent)
                  for seed in args.seeds]
        for seed, curve in zip(args.seeds, curves):
            rows += [{"env_id": env_id, "seed": seed, **r} for r in curve]
        env = gym.make(env_id)  # the env's own task: a make_task task or a conversation's
        prompts = len(env.unwrapped.task.prompts("eval"))
        env.close()
        curve = mean_curve(curves, prompts, args.eval_every)
        budget = flat_budget(curve)
        at = next((p for p in curve if p["budget"] == budget), curve[-1])
        table.append({
            "env_id": env_id, "flat_at": budget, "start": curve[0]["mean"], "at_budget": at["mean"],
            "end": curve[-1]["mean"], "normalised_gain_at_budget": normalised_gain(env_id, curve[0], at),
            "normalised_gain_at_end": normalised_gain(env_id, curve[0], curve[-1]),
        })
    write_csv(args.csv, rows)
    settings = ", ".join(f"{k}={v}" for k, v in hyperparameters.items()) or "default hyper-parameters"
    print(f"{args.agent} dense ({settings}), seeds {args.seeds}, {args.steps} env steps, "
          f"evaluated every {args.eval_every}")
    print("| id | flat at (env steps) | eval at 0 | at that budget | at the end | normalised gain there | at the end |")
    print("|---|---|---|---|---|---|---|")
    for t in table:
        flat = "not within the run" if t["flat_at"] is None else f"{t['flat_at']:,}"
        print(f"| `{t['env_id']}` | {flat} | {t['start']:.3f} | {t['at_budget']:.3f} | {t['end']:.3f} | "
              f"{_signed(t['normalised_gain_at_budget'])} | {_signed(t['normalised_gain_at_end'])} |")


if __name__ == "__main__":
    main()
