"""Choosing k for sb3-ppo-topk: SB3 PPO over the reference LM's k likeliest tokens, k in 8, 16 and 32, on
Sentiment-v1 and Keywords-v1, seeds 100 and 101 (no suite reports them), beside plain sb3-ppo over the whole
vocabulary on seed 100::

    python benchmarks/topk_choice.py [--out runs/topk_choice] [--csv benchmarks/results/topk_choice.csv]

Every run: 4,096 env steps, an evaluation every 1,024, dense rewards, 16 envs, the standard suite's sb3-ppo settings
(``n_steps 32, batch_size 128, n_epochs 4``), one torch thread. The CSV has one row per run: the eval return at step
0, at the end and its best, the final policy's naturalness (reference-LM perplexity, distinct-1) and the run's wall
seconds. Runs already finished in ``--out`` are read back, not rerun.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402

TASKS = ("textgym/Sentiment-v1", "textgym/Keywords-v1")
KS = (8, 16, 32)
SEEDS = (100, 101)
STEPS, EVAL_EVERY, NUM_ENVS = 4_096, 1_024, 16
SB3_SETTINGS = {"n_steps": 32, "batch_size": 128, "n_epochs": 4}
#: (agent, k or None for the whole vocabulary, seed)
RUNS = [("sb3-ppo-topk", k, seed) for k in KS for seed in SEEDS] + [("sb3-ppo", None, 100)]


def run(agent: str, k: int | None, env_id: str, seed: int, out: Path) -> dict:
    """One run (trained here unless finished in ``out``) and its row."""
    import torch

    from textgym_agents.api import LEARNERS

    folder = out / f"{agent}__k{k or 'all'}__{env_id.split('/')[1]}__seed{seed}"
    if not (folder / "summary.json").is_file():
        torch.set_num_threads(1)
        settings = dict(SB3_SETTINGS, **({"top_k": k} if k else {}))
        LEARNERS[agent](env_id, out=str(folder), reward_mode="dense", seed=seed, eval_every=EVAL_EVERY,
                        num_envs=NUM_ENVS, **settings).learn(total_env_steps=STEPS)
    with (folder / "metrics.csv").open() as f:
        evals = list(csv.DictReader(f))
    summary = json.loads((folder / "summary.json").read_text())
    returns = [float(r["eval_return"]) for r in evals]
    return {"agent": agent, "k": k or "4096 (all)", "env_id": env_id, "seed": seed, "eval_at_0": returns[0],
            "eval_at_end": returns[-1], "best_eval": max(returns),
            "ref_perplexity_at_end": float(evals[-1]["ref_perplexity"]),
            "distinct_1_at_end": float(evals[-1]["distinct_1"]), "wall_seconds": summary["wall_seconds"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/topk_choice"))
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "topk_choice.csv")
    args = parser.parse_args(argv)
    rows = [run(agent, k, env_id, seed, args.out) for agent, k, seed in RUNS for env_id in TASKS]
    write_csv(args.csv, rows)
    print("| agent | k | task | seed | eval at 0 | eval at 4096 | best eval | ref perplexity at 4096 | "
          "distinct-1 at 4096 | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['agent']} | {r['k']} | {r['env_id'].split('/')[1]} | {r['seed']} | {r['eval_at_0']:.3f} | "
              f"{r['eval_at_end']:.3f} | {r['best_eval']:.3f} | {r['ref_perplexity_at_end']:,.0f} | "
              f"{r['distinct_1_at_end']:.2f} | {r['wall_seconds']:.0f} |")


if __name__ == "__main__":
    main()
