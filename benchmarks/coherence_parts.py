"""Where is Coherence's headroom? The three parts of the score of the bundled model's greedy continuations::

    python benchmarks/coherence_parts.py [--ids textgym/Coherence-v1 textgym/Coherence-v2]
                                         [--csv benchmarks/results/coherence_parts.csv]

For each id, on every eval prompt: the greedy continuation of the id's own model (``transformers``' ``generate``,
a BOS first as the agents feed it, the env's horizon, cut at the first EOS), and the parts of Coherence's score
(``CoherenceTask.parts``): the topic share of its content words, the judge's mean token confidence
(grammaticality), the repetition, and the score ``0.5 * topic + 0.5 * confidence - repetition``. One row per id:
the means over the split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402


def parts(env_id: str) -> dict:
    import gymnasium as gym
    import numpy as np
    import torch

    import textgym  # noqa: F401
    from textgym.models.loader import load_frozen
    from textgym.tasks.coherence import words

    env = gym.make(env_id)
    task, setup = env.unwrapped.task, env.unwrapped.setup
    horizon = env.unwrapped.max_new_tokens
    env.close()
    lm = load_frozen(setup.model, "cpu")
    tokenizer, eos = lm.tokenizer, lm.tokenizer.eos_token_id
    rows = []
    for prompt in task.prompts("eval"):
        ids = torch.tensor([[eos, *tokenizer.encode(prompt.text)]])
        with torch.no_grad():
            out = lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=horizon,
                                    do_sample=False, eos_token_id=eos, pad_token_id=eos)
        new = out[0, ids.shape[1]:].tolist()
        continuation = tokenizer.decode(new[:new.index(eos)] if eos in new else new)
        p = task.parts(prompt, continuation)
        rows.append((p["coherence"], p["grammaticality"], p["repetition"], p["score"], len(words(continuation))))
    topic, confidence, repetition, score, length = np.mean(rows, axis=0)
    return {"env_id": env_id, "model": setup.model, "prompts": len(rows), "topic_share": topic,
            "judge_confidence": confidence, "repetition": repetition, "score": score, "words": length}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", nargs="*", default=["textgym/Coherence-v1", "textgym/Coherence-v2"])
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "coherence_parts.csv")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = [parts(env_id) for env_id in args.ids]
    write_csv(args.csv, rows)
    print("| id | model | topic share | judge confidence | repetition | score | words |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['env_id']} | {r['model']} | {r['topic_share']:.3f} | {r['judge_confidence']:.3f} | "
              f"{r['repetition']:.3f} | {r['score']:.3f} | {r['words']:.1f} |")


if __name__ == "__main__":
    main()
