"""How much better than its greedy output does a model's own sampling get? The headroom RL can find without leaving
the model's distribution::

    python benchmarks/sample_headroom.py [--ids ID ...] [--models tiny-v1 runs/skills/mix800] [--prompts 20]
                                         [--samples 16] [--csv benchmarks/results/sample_headroom.csv]

For each id and model, on the first ``--prompts`` eval prompts: the greedy continuation's score, the mean score of
``--samples`` continuations sampled at temperature 1 (no top-k or top-p), and the best of them (torch seed 0,
``transformers``' ``generate`` with the env's horizon, cut at the first EOS, scored by the task's own ``score``).
Each is the mean over the prompts, also normalised by the id's shipped calibration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402

DEFAULT_IDS = ["textgym/Keywords-v1", "textgym/Coherence-v1", "textgym/Translate-v1"]


def model_folder(model: str) -> Path:
    """A bundled model's folder (``tiny-v1``) or a folder given as a path."""
    from textgym.models import BUNDLED_MODELS

    return Path(BUNDLED_MODELS.get(model, model))


def headroom(env_id: str, model: str, prompts: int, samples: int) -> dict:
    import gymnasium as gym
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2LMHeadModel

    import textgym  # noqa: F401
    from textgym.calibration import calibration_for

    env = gym.make(env_id)
    task, horizon = env.unwrapped.task, env.unwrapped.setup.max_new_tokens
    env.close()
    folder = model_folder(model)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    lm = GPT2LMHeadModel.from_pretrained(folder).eval()
    eos, pad = lm.config.eos_token_id, lm.config.pad_token_id
    torch.manual_seed(0)

    def text(row: list[int]) -> str:
        return tokenizer.decode(row[: row.index(eos)] if eos in row else row)

    greedy, mean, best = [], [], []
    for prompt in task.prompts("eval")[:prompts]:
        ids = [lm.config.bos_token_id, *tokenizer.encode(prompt.text).ids]
        batch = torch.tensor([ids])
        with torch.no_grad():
            made = lm.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=horizon, do_sample=False,
                               pad_token_id=pad)
            drawn = lm.generate(batch.repeat(samples, 1), attention_mask=torch.ones_like(batch).repeat(samples, 1),
                                max_new_tokens=horizon, do_sample=True, top_k=0, pad_token_id=pad)
        greedy.append(task.score(prompt, text(made[0, len(ids):].tolist())))
        scores = [task.score(prompt, text(row[len(ids):].tolist())) for row in drawn]
        mean.append(sum(scores) / len(scores))
        best.append(max(scores))
    calibration = calibration_for(env_id)
    row = {"env_id": env_id, "model": model, "prompts": len(greedy), "samples": samples}
    for name, values in (("greedy", greedy), ("sampled_mean", mean), ("best_of_samples", best)):
        row[name] = sum(values) / len(values)
        row[f"{name}_normalised"] = calibration.normalised(row[name])
    print(f"{env_id} {model}: greedy {row['greedy']:.3f}, sampled {row['sampled_mean']:.3f}, best of {samples} "
          f"{row['best_of_samples']:.3f} (normalised {row['greedy_normalised']:.2f}, "
          f"{row['sampled_mean_normalised']:.2f}, {row['best_of_samples_normalised']:.2f})", flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", nargs="+", default=DEFAULT_IDS)
    parser.add_argument("--models", nargs="+", default=["tiny-v1", "runs/skills/mix800"])
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "sample_headroom.csv")
    args = parser.parse_args(argv)
    missing = [m for m in args.models if not (model_folder(m) / "model.safetensors").is_file()]
    if missing:
        raise SystemExit(f"--models: no model.safetensors for {missing}; a bundled name (tiny-v1) or a model folder")
    import torch

    torch.set_num_threads(1)
    write_csv(args.csv, [headroom(env_id, model, args.prompts, args.samples)
                         for env_id in args.ids for model in args.models])


if __name__ == "__main__":
    main()
