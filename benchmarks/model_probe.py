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


def probe(model: str, ids: list[str]) -> list[dict]:
    """``model``'s greedy eval score on each of ``ids``, beside the shipped model's, normalised by the shipped
    calibration: one row per id."""
    import gymnasium as gym

    import textgym  # noqa: F401
    from textgym.calibration import _lm_policy, calibration_for
    from textgym.evaluation import evaluate_episodes

    policy = _lm_policy(model, "cpu", greedy=True, seed=0)  # greedy: one policy serves every id
    rows = []
    for env_id in ids:
        env = gym.make(env_id)
        task = env.unwrapped.task
        env.close()
        count = len(task.prompts("eval"))
        score = evaluate_episodes(policy, env_id, {"task": task, "model": model}, "cpu", batch_size=count,
                                  naturalness=False).mean
        shipped = calibration_for(env_id)
        rows.append({"env_id": env_id, "model": model, "greedy": score, "normalised": shipped.normalised(score),
                     "shipped_model": shipped.model, "shipped_greedy": shipped.greedy,
                     "shipped_normalised": shipped.normalised(shipped.greedy)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model folder (or name) to probe")
    parser.add_argument("--ids", nargs="*", default=LANGUAGE_V1)
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "model_probe.csv")
    args = parser.parse_args(argv)
    rows = probe(args.model, args.ids)
    print("| id | shipped greedy | normalised | candidate greedy | normalised |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['env_id']}` | {r['shipped_greedy']:.3f} | {r['shipped_normalised']:.2f} | {r['greedy']:.3f} | "
              f"{r['normalised']:.2f} |")
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
