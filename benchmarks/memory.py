"""Memory stays flat: resident set size while stepping one env 100k times and the batched env 10k times.

    python benchmarks/memory.py [--single-steps 100000] [--batched-steps 10000] [--num-envs 64]
                                [--env textgym/Sentiment-v0]

Prints the RSS curve (MiB at regular intervals) and the growth from the first tenth of
the run to the end; writes ``benchmarks/results/memory.csv``.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

import textgym  # noqa: F401


def rss_mib() -> float:
    """Current resident set size in MiB (from /proc; peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def curve(step_fn, steps: int, points: int = 10) -> list[tuple[int, float]]:
    out = [(0, rss_mib())]
    every = max(1, steps // points)
    for t in range(1, steps + 1):
        step_fn()
        if t % every == 0:
            out.append((t, rss_mib()))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="textgym/Sentiment-v0")
    parser.add_argument("--single-steps", type=int, default=100_000)
    parser.add_argument("--batched-steps", type=int, default=10_000)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--csv", default=str(Path(__file__).parent / "results" / "memory.csv"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    env = gym.make(args.env)
    env.reset(seed=0)
    n = env.action_space.n

    def single_step():
        _, _, terminated, truncated, _ = env.step(int(rng.integers(n)))
        if terminated or truncated:
            env.reset()

    vec = gym.make_vec(args.env, num_envs=args.num_envs, vectorization_mode="vector_entry_point", device="cpu")
    vec.reset(seed=0)

    def batched_step():
        vec.step(rng.integers(0, n, args.num_envs))

    rows = []
    for name, fn, steps in (("single", single_step, args.single_steps), ("batched", batched_step, args.batched_steps)):
        points = curve(fn, steps)
        base = points[1][1]
        growth = points[-1][1] - base
        print(
            f"{name}: "
            + "  ".join(f"{t}:{m:.1f}" for t, m in points)
            + f"   growth after the first tenth: {growth:+.1f} MiB"
        )
        rows += [{"env": args.env, "kind": name, "step": t, "rss_mib": round(m, 2)} for t, m in points]
    write_csv(args.csv, rows)
    print(f"written: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
