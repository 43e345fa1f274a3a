"""How close lm-ppo's rollout comes to plain ``model.generate``: tokens per second, side by side.

    python benchmarks/rollout_vs_generate.py                     # 16 rows x 20 tokens (vs_trl's batches) and 64 x 64
    python benchmarks/rollout_vs_generate.py --shapes 64x64 --rounds 7

For each shape (``ROWSxTOKENS``), on one agent and one model (the bundled ``tiny``, CPU, one
torch thread by default), in interleaved rounds (rollout, generate, rollout, generate, ...):

- ``rollout``: :func:`textgym_agents.lm.rollout.collect_rollout` as lm-ppo runs it: the
  ``textgym/Sentiment-v0`` batched env (its step computes the VADER reward), a KV cache,
  sampling at temperature 1 from the full distribution (its inverse-CDF sampler), the
  log-probability of each sampled token and the value head on each state recorded;
- ``generate``: ``model.generate`` on the same left-padded prompts (BOS in front, as lm-ppo
  feeds them) with ``do_sample=True, temperature=1, top_k=0, top_p=1, use_cache=True``: the
  tokens only, no env, no reward, no log-probs, no values.

EOS is suppressed in both (a logits processor in the rollout, ``min_new_tokens`` for
``generate``) so that every row decodes all ``TOKENS`` tokens and both do the same decoding
work. Each keeps its best round (the machine is shared; the best is the least disturbed).
The table gives tokens/s of each, their ratio (rollout / generate: 1 = as fast as generate),
the env's share (the same env steps alone, best round) and the ratio with the env's time
taken out of the rollout. Writes a CSV (``--out``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

import textgym  # noqa: E402,F401  (registers the environments)
from textgym_agents.lm.models import left_pad  # noqa: E402
from textgym_agents.lm.rollout import collect_rollout  # noqa: E402
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig  # noqa: E402
from textgym_agents.run import RunConfig  # noqa: E402


def parse_shape(text: str) -> tuple[int, int]:
    rows, tokens = text.lower().split("x")
    return int(rows), int(tokens)


def measure(rows: int, tokens: int, rounds: int, seed: int) -> dict[str, object]:
    run = RunConfig(agent="lm-ppo", env_id="textgym/Sentiment-v0", device="cpu", num_envs=rows, seed=seed,
                    env_kwargs={"max_new_tokens": tokens})
    config = LMPPOConfig(num_minibatches=1)  # the rollout only: no update is run, any number of rows works
    agent = LMPPOAgent(run, config)
    env, model = agent.env, agent.policy_model
    eos, pad = env.tokenizer.eos_token_id, env.tokenizer.pad_token_id

    def no_eos(logits: torch.Tensor, step: int) -> torch.Tensor:
        logits[:, eos] = float("-inf")
        return logits

    def rollout() -> tuple[float, int, torch.Tensor]:
        start = time.perf_counter()
        result = collect_rollout(env, model, config, agent.sample_generator, agent.bos_token_id, agent.vocab_size,
                                 logits_processor=no_eos, value_head=agent.value_head)
        return time.perf_counter() - start, int(result.live_steps), result.response_ids

    # generate's prompts: the same left-padded, BOS-prefixed batch the rollout prefills
    obs, _ = env.reset(options={"reset_mask": torch.ones(rows, dtype=torch.bool)})
    width = env.setup.max_prompt_tokens + 1
    prompt_ids, prompt_mask = left_pad(obs["input_ids"], obs["attention_mask"], width, pad, agent.bos_token_id)
    generation = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=tokens, min_new_tokens=tokens,
                      use_cache=True, pad_token_id=pad, eos_token_id=eos)

    @torch.no_grad()
    def generate() -> tuple[float, int]:
        start = time.perf_counter()
        out = model.generate(input_ids=prompt_ids, attention_mask=prompt_mask, **generation)
        seconds = time.perf_counter() - start
        return seconds, int(out.shape[0] * (out.shape[1] - prompt_ids.shape[1]))

    rollout(), generate()  # warm up
    best = {"rollout": float("inf"), "generate": float("inf")}
    counted = {}
    responses = None
    for _ in range(rounds):
        seconds, count, responses = rollout()
        best["rollout"], counted["rollout"] = min(best["rollout"], seconds), count
        seconds, count = generate()
        best["generate"], counted["generate"] = min(best["generate"], seconds), count

    # the env alone, stepping the last rollout's tokens
    env_best = float("inf")
    for _ in range(rounds):
        env.reset(options={"reset_mask": torch.ones(rows, dtype=torch.bool)})
        start = time.perf_counter()
        for t in range(responses.shape[1]):
            env.step(responses[:, t])
        env_best = min(env_best, time.perf_counter() - start)
    agent.close()

    rollout_tps = counted["rollout"] / best["rollout"]
    generate_tps = counted["generate"] / best["generate"]
    model_tps = counted["rollout"] / max(best["rollout"] - env_best, 1e-9)
    return {
        "rows": rows,
        "new_tokens": tokens,
        "threads": torch.get_num_threads(),
        "rounds": rounds,
        "rollout_tokens": counted["rollout"],
        "generate_tokens": counted["generate"],
        "rollout_s": round(best["rollout"], 4),
        "generate_s": round(best["generate"], 4),
        "env_only_s": round(env_best, 4),
        "rollout_tokens_per_s": round(rollout_tps),
        "generate_tokens_per_s": round(generate_tps),
        "rollout_over_generate": round(rollout_tps / generate_tps, 3),
        "rollout_without_env_over_generate": round(model_tps / generate_tps, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--shapes", nargs="+", default=["16x20", "64x64"], help="ROWSxTOKENS: batch rows and new tokens per row"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per shape; each side keeps its best")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/rollout_vs_generate.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    results = [measure(*parse_shape(shape), args.rounds, args.seed) for shape in args.shapes]
    columns = list(results[0])
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in results:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    path = write_csv(args.out, results, columns)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
