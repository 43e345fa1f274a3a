"""LM-PPO learning benchmark: does the bundled model learn to write positive reviews?

    python benchmarks/lm_ppo_sentiment.py                        # 30k env steps, seeds 0 1 2, dense and sparse
    python benchmarks/lm_ppo_sentiment.py --steps 10000 --seeds 0 --workers 2 --out /tmp/sentiment

Runs ``textgym train --agent lm-ppo --env textgym/Sentiment-v0`` on the CPU for every
(reward mode, seed): the bundled ``tiny`` model as the initial policy, LM-PPO's default
hyper-parameters (change them with ``--set NAME=VALUE``). ``--workers`` runs go in
parallel processes (one torch thread each). The eval return is the mean VADER compound
score of greedy continuations of the 54 eval-split prompts (the driver's evaluation), in
[-1, 1]. The target is an improvement of at least +0.3 over the initial model within 30k
env steps.

Prints a table (initial and final eval return per run, the improvement, the mean over
seeds per reward mode) and writes ``results.csv`` in ``--out``; every run's folder
(metrics.csv, summary.json, TensorBoard, checkpoints) is kept there too. Runs already
finished in ``--out`` are reused and interrupted ones are resumed, so the script can be
stopped and started again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from csv_rows import write_csv  # benchmarks/, the script's own folder

ENV_ID = "textgym/Sentiment-v0"
TARGET_IMPROVEMENT = 0.3


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one run (resuming it if interrupted); return its first and last evaluation."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(spec["threads"])
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar per run
    from textgym_agents.run import RunConfig
    from textgym_agents.train import train

    out = Path(spec["out"])
    run = RunConfig(
        agent="lm-ppo",
        env_id=ENV_ID,
        reward_mode=spec["reward_mode"],
        steps=spec["steps"],
        seed=spec["seed"],
        device=spec["device"],
        out=str(out),
        num_envs=spec["num_envs"],
        eval_every=spec["eval_every"],
        hyperparameters=dict(spec["hyperparameters"]),
    )
    summary_file = out / "summary.json"
    done = summary_file.is_file() and json.loads(summary_file.read_text())["env_steps"] >= spec["steps"]
    if not done:
        resume = (out / "run.json").is_file()
        start = time.perf_counter()
        train(run, resume=resume, progress=False)
        print(
            f"  {spec['reward_mode']:<6} seed {spec['seed']}: done in {time.perf_counter() - start:.0f} s", flush=True
        )
    with (out / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    summary = json.loads(summary_file.read_text())
    return {
        "reward_mode": spec["reward_mode"], "seed": spec["seed"],
        "initial_eval_return": float(rows[0]["eval_return"]), "final_eval_return": float(rows[-1]["eval_return"]),
        "best_eval_return": max(float(r["eval_return"]) for r in rows),
        "improvement": float(rows[-1]["eval_return"]) - float(rows[0]["eval_return"]),
        "env_steps": int(summary["env_steps"]), "wall_seconds": float(summary["wall_seconds"]),
    }


def parse_set(items: list[str]) -> dict[str, Any]:
    from textgym_agents.train import parse_hyperparameters

    return parse_hyperparameters("lm-ppo", items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reward-modes", nargs="+", default=["dense", "sparse"], choices=["dense", "sparse"])
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--num-envs", type=int, default=16, help="parallel episodes per round")
    parser.add_argument("--eval-every", type=int, default=0, help="env steps between evaluations (0: ten per run)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="an lm-ppo hyper-parameter (repeatable)"
    )
    parser.add_argument(
        "--out", default="benchmarks/results/lm_ppo_sentiment", help="folder for the runs and results.csv"
    )
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hyperparameters = parse_set(args.set)
    specs = [
        {"reward_mode": mode, "seed": seed, "steps": args.steps, "device": args.device, "num_envs": args.num_envs,
         "eval_every": args.eval_every, "threads": args.threads, "hyperparameters": hyperparameters,
         "out": str(out / f"{mode}-seed{seed}")}
        for mode in args.reward_modes for seed in args.seeds
    ]
    print(f"{len(specs)} runs of {args.steps} env steps on {ENV_ID} ({args.workers} at a time), in {out}", flush=True)
    start = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_one, spec) for spec in specs]
        for future in as_completed(futures):
            results.append(future.result())
    results.sort(key=lambda r: (r["reward_mode"], r["seed"]))

    columns = ["reward_mode", "seed", "initial_eval_return", "final_eval_return", "best_eval_return", "improvement",
               "env_steps", "wall_seconds"]
    write_csv(out / "results.csv", results, columns)
    print(table(results))
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s; hyper-parameters: defaults"
          + (f" with {hyperparameters}" if hyperparameters else "") + f"; written: {out / 'results.csv'}")
    return 0


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| reward mode | seed | initial eval return | final eval return | improvement | best | env steps | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['reward_mode']} | {r['seed']} | {r['initial_eval_return']:.3f} | {r['final_eval_return']:.3f} | "
            f"{r['improvement']:+.3f} | {r['best_eval_return']:.3f} | {r['env_steps']} | {r['wall_seconds']:.0f} |"
        )
    for mode in sorted({r["reward_mode"] for r in results}):
        rows = [r for r in results if r["reward_mode"] == mode]
        improvement = statistics.mean(r["improvement"] for r in rows)
        verdict = "meets" if improvement >= TARGET_IMPROVEMENT else "misses"
        lines.append(
            f"| **{mode}: mean of {len(rows)}** | | {statistics.mean(r['initial_eval_return'] for r in rows):.3f} | "
            f"{statistics.mean(r['final_eval_return'] for r in rows):.3f} | **{improvement:+.3f}** "
            f"({verdict} +{TARGET_IMPROVEMENT}) | "
            f"{statistics.mean(r['best_eval_return'] for r in rows):.3f} | | |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
