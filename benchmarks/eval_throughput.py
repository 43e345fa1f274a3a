"""The LM agents' greedy evaluation against their rollout: tokens per second, side by side.

    python benchmarks/eval_throughput.py                      # 16 and 64 rows, textgym/Sentiment-v0, CPU
    python benchmarks/eval_throughput.py --rows 64 --rounds 5

For each batch size (``--rows``), on one lm-ppo agent with the bundled model (``tiny``, CPU,
one torch thread by default), in interleaved rounds:

- ``rollout``: :func:`textgym_agents.lm.rollout.collect_rollout` as lm-ppo runs it (its
  batched train-split env, KV cache, sampling at temperature 1, log-probs and values recorded;
  EOS suppressed, so every row decodes ``max_new_tokens`` tokens);
- ``eval (cached)``: the agent's greedy :meth:`~textgym_agents.lm.base.LMAgent.policy` stepping
  an eval-split env of the same number of rows the way :func:`textgym.evaluation.evaluate_episodes`
  does (numpy observations, same-step autoreset), one episode per row, from a reset until every
  row has ended (the KV-cached :class:`~textgym_agents.lm.rollout.GreedyDecoder`);
- ``eval (full forward)``: the same with :meth:`~textgym_agents.lm.base.LMAgent.full_forward_policy`,
  a full forward over every observation at every step (the evaluation before the KV cache).

Tokens are the episodes' tokens (each row's steps until it ended). Each keeps its best round
(the machine is shared; the best is the least disturbed). The table gives tokens/s of each and
the evaluations' ratios to the rollout. Writes a CSV (``--out``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

import textgym  # noqa: E402,F401  (registers the environments)
from textgym_agents.lm.rollout import collect_rollout  # noqa: E402
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig  # noqa: E402
from textgym_agents.run import RunConfig  # noqa: E402

COLUMNS = ["env_id", "rows", "max_new_tokens", "rollout_tokens_per_s", "eval_cached_tokens_per_s",
           "eval_full_forward_tokens_per_s", "cached_over_rollout", "full_forward_over_rollout",
           "cached_over_full_forward"]


def measure(env_id: str, rows: int, rounds: int, seed: int) -> dict[str, object]:
    """Best-of-``rounds`` tokens/s of the rollout and of both evaluations at ``rows`` rows."""
    run = RunConfig(agent="lm-ppo", env_id=env_id, device="cpu", num_envs=rows, seed=seed)
    config = LMPPOConfig(num_minibatches=1)  # the rollout and the evaluation only: no update is run
    agent = LMPPOAgent(run, config)
    eos = agent.env.tokenizer.eos_token_id
    eval_env = gym.make_vec(env_id, num_envs=rows, vectorization_mode="vector_entry_point", split="eval",
                            device="cpu", output="numpy")
    count = len(eval_env.setup.prompts)

    def no_eos(logits: torch.Tensor, step: int) -> torch.Tensor:
        logits[:, eos] = float("-inf")
        return logits

    def rollout() -> tuple[float, int]:
        start = time.perf_counter()
        result = collect_rollout(agent.env, agent.policy_model, config, agent.sample_generator, agent.bos_token_id,
                                 agent.vocab_size, logits_processor=no_eos, value_head=agent.value_head)
        return time.perf_counter() - start, int(result.live_steps)

    def evaluation(policy) -> tuple[float, int]:
        start = time.perf_counter()
        obs, _ = eval_env.reset(seed=0, options={"prompt_index": np.arange(rows) % count})
        finished = np.zeros(rows, dtype=bool)
        tokens = 0
        while not finished.all():
            actions = policy(obs, eval_env)
            obs, _, terminated, truncated, _ = eval_env.step(actions)
            tokens += int((~finished).sum())
            finished |= np.asarray(terminated) | np.asarray(truncated)
        return time.perf_counter() - start, tokens

    runs = {"rollout": rollout, "cached": lambda: evaluation(agent.policy),
            "full": lambda: evaluation(agent.full_forward_policy)}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in runs.items():
            seconds, tokens = fn()
            best[name] = max(best.get(name, 0.0), tokens / seconds)
    eval_env.close()
    agent.close()
    return {
        "env_id": env_id, "rows": rows, "max_new_tokens": agent.env.max_new_tokens,
        "rollout_tokens_per_s": round(best["rollout"], 1), "eval_cached_tokens_per_s": round(best["cached"], 1),
        "eval_full_forward_tokens_per_s": round(best["full"], 1),
        "cached_over_rollout": round(best["cached"] / best["rollout"], 3),
        "full_forward_over_rollout": round(best["full"] / best["rollout"], 3),
        "cached_over_full_forward": round(best["cached"] / best["full"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env-id", default="textgym/Sentiment-v0")
    parser.add_argument("--rows", type=int, nargs="+", default=[16, 64], help="batch sizes (rows per batch)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each keeps its best")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/eval_throughput.csv", help="CSV of the rows")
    args = parser.parse_args(argv)
    if any(r < 1 for r in args.rows) or args.rounds < 1 or args.threads < 1:
        parser.error(f"--rows, --rounds and --threads must be >= 1 (got rows={args.rows}, rounds={args.rounds}, "
                     f"threads={args.threads})")
    torch.set_num_threads(args.threads)
    results = [measure(args.env_id, rows, args.rounds, args.seed) for rows in args.rows]
    print("| rows | rollout tok/s | eval cached tok/s | eval full-forward tok/s | cached / rollout "
          "| full forward / rollout | cached / full forward |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']} | {r['rollout_tokens_per_s']:.0f} | {r['eval_cached_tokens_per_s']:.0f} "
              f"| {r['eval_full_forward_tokens_per_s']:.0f} | {r['cached_over_rollout']:.2f} "
              f"| {r['full_forward_over_rollout']:.2f} | {r['cached_over_full_forward']:.2f} |")
    print(f"wrote {write_csv(args.out, results, COLUMNS)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
