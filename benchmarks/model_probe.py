"""A candidate bundled model against the shipped one: greedy eval scores on the -v1 language tasks, normalised by the
shipped calibration (the random policy's mean does not depend on the model)::

    python -m textgym.models.train_tiny --corpus world --steps 3000 --out runs/tiny-v1-3000
    python benchmarks/model_probe.py runs/tiny-v1-3000 [--ids ID ...] [--csv benchmarks/results/model_probe.csv]

The candidate must share the shipped model's tokenizer (``train_tiny`` with the same seed trains the same one):
the tasks' prompts and references are tokenised with the model's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402
from learnability import LANGUAGE_V1  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model folder (or name) to probe")
    parser.add_argument("--ids", nargs="*", default=LANGUAGE_V1)
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "model_probe.csv")
    args = parser.parse_args(argv)
    import gymnasium as gym

    import textgym  # noqa: F401
    from textgym.calibration import _lm_policy, calibration_for
    from textgym.evaluation import evaluate_episodes

    policy = _lm_policy(args.model, "cpu", greedy=True, seed=0)  # greedy: one policy serves every id
    rows = []
    print("| id | shipped greedy | normalised | candidate greedy | normalised |")
    print("|---|---|---|---|---|")
    for env_id in args.ids:
        env = gym.make(env_id)
        task = env.unwrapped.task
        env.close()
        count = len(task.prompts("eval"))
        score = evaluate_episodes(policy, env_id, {"task": task, "model": args.model}, "cpu", batch_size=count,
                                  naturalness=False).mean
        shipped = calibration_for(env_id)
        rows.append({"env_id": env_id, "model": args.model, "greedy": score, "normalised": shipped.normalised(score),
                     "shipped_model": shipped.model, "shipped_greedy": shipped.greedy,
                     "shipped_normalised": shipped.normalised(shipped.greedy)})
        r = rows[-1]
        print(f"| `{env_id}` | {r['shipped_greedy']:.3f} | {r['shipped_normalised']:.2f} | {score:.3f} | "
              f"{r['normalised']:.2f} |", flush=True)
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
