"""sb3-ppo-topk's rollout stepping with the key/value-cached reference LM against the uncached one: env steps/s.

    python benchmarks/topk_cache.py                          # 16 and 64 rows, textgym/Keywords-v1, CPU
    python benchmarks/topk_cache.py --num-envs 16 --steps 512 --rounds 5

For each batch size (``--num-envs``), the env as sb3-ppo-topk steps it in its rollout: the
batched env (train split, same-step autoreset) under the SB3 ``VecEnv`` adapter under
:class:`~textgym_agents.sb3.action_spaces.TopKActionsVecEnv` (``--k`` candidates from the
reference LM after every step), stepped ``--steps`` times from a reset with uniformly random
actions among the candidates (so rows pick EOS now and then and end their episodes at
different steps), in interleaved rounds of:

- ``cached``: the wrapper's reference through
  :class:`~textgym.wrappers.reference.IncrementalReference` (one new token per row and step;
  rows that start a new episode re-encoded alone), as sb3-ppo-topk runs it;
- ``uncached``: the wrapper as it was before the cache (:class:`FullForwardTopK`): the
  :class:`~textgym.wrappers.reference.ReferenceLM`'s full forward over every observation at
  every step, and one more for each ended row's terminal observation.

Both start from the same seed and draw the same actions. Env steps are rows times steps (SB3's
``num_timesteps``); each keeps its best round (the machine is shared; the best is the least
disturbed). Policy forward and PPO update are not part of it (``textgym train --agent
sb3-ppo-topk`` times the whole run).

An untimed pass then steps the cached wrapper once more and compares, at every step, the cached
logits with an uncached forward over the same observations: ``max_abs_logit_diff`` and
``top_k_agreement`` (the share of row-steps whose ordered top-k ids are equal: two candidates
whose logits tie to float rounding may swap places). Writes a CSV (``--out``).
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
from textgym_agents.sb3.action_spaces import TopKActionsVecEnv  # noqa: E402
from textgym_agents.sb3.vec_env import TextGenSB3VecEnv  # noqa: E402

COLUMNS = ["env_id", "num_envs", "k", "steps", "max_new_tokens", "uncached_env_steps_per_s",
           "cached_env_steps_per_s", "cached_over_uncached", "max_abs_logit_diff", "top_k_agreement", "prefills",
           "rows_re_encoded", "episodes_ended"]


class FullForwardTopK(TopKActionsVecEnv):
    """:class:`TopKActionsVecEnv` without the cache: an uncached forward per step and per terminal observation."""

    def reset(self):
        obs = self.observe(self.venv.reset())
        self.candidates = obs["candidates"]
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            if "terminal_observation" in info:
                terminal = info["terminal_observation"]
                info["terminal_observation"] = {
                    k: v[0] for k, v in self.observe({k: v[None] for k, v in terminal.items()}).items()
                }
        obs = self.observe(obs)
        self.candidates = obs["candidates"]
        return obs, rewards, dones, infos


def measure(env_id: str, num_envs: int, k: int, steps: int, rounds: int, seed: int) -> dict[str, object]:
    """Best-of-``rounds`` env steps/s of the top-k rollout stepping, cached and uncached, at ``num_envs`` rows."""
    vector = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device="cpu")
    adapter = TextGenSB3VecEnv(vector)
    wrappers = {"uncached": FullForwardTopK(adapter, vector, k), "cached": TopKActionsVecEnv(adapter, vector, k)}

    def rollout(venv: TopKActionsVecEnv) -> float:
        venv.rollout_reference = venv.reference.incremental()  # a fresh cache (FullForwardTopK does not use it)
        rng = np.random.default_rng(seed)
        venv.seed(seed)
        start = time.perf_counter()
        venv.reset()
        for _ in range(steps):
            venv.step_async(rng.integers(0, k, num_envs))
            venv.step_wait()
        return time.perf_counter() - start

    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, venv in wrappers.items():
            best[name] = max(best.get(name, 0.0), num_envs * steps / rollout(venv))
    venv = wrappers["cached"]
    check = check_agreement(venv, steps, seed)
    max_new_tokens = vector.max_new_tokens
    venv.close()
    return {
        "env_id": env_id, "num_envs": num_envs, "k": k, "steps": steps, "max_new_tokens": max_new_tokens,
        "uncached_env_steps_per_s": round(best["uncached"], 1), "cached_env_steps_per_s": round(best["cached"], 1),
        "cached_over_uncached": round(best["cached"] / best["uncached"], 3), **check,
    }


def check_agreement(venv: TopKActionsVecEnv, steps: int, seed: int) -> dict[str, object]:
    """Step the cached wrapper ``steps`` times (untimed), comparing each step's cached logits with an uncached
    forward over the same observations; the cache's counters."""
    reference, cached = venv.reference, venv.reference.incremental()
    venv.rollout_reference = cached
    rng = np.random.default_rng(seed)
    venv.seed(seed)
    obs, worst, agree, rows, ended = venv.reset(), 0.0, 0, 0, 0
    for step in range(steps + 1):
        full = reference.logits(obs["input_ids"], obs["attention_mask"])
        # the wrapper has just asked the cached view for this observation: asking again feeds nothing
        logits = cached.logits(obs["input_ids"], obs["attention_mask"])
        worst = max(worst, float((full - logits).abs().max()))
        agree += int((torch.topk(full, venv.k).indices == torch.topk(logits, venv.k).indices).all(1).sum())
        rows += len(full)
        if step < steps:
            venv.step_async(rng.integers(0, venv.k, venv.num_envs))
            obs, _, dones, _ = venv.step_wait()
            ended += int(dones.sum())
    return {"max_abs_logit_diff": float(f"{worst:.2e}"), "top_k_agreement": round(agree / rows, 5),
            "prefills": cached.prefills, "rows_re_encoded": cached.splices, "episodes_ended": ended}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env-id", default="textgym/Keywords-v1")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[16, 64], help="batch sizes (rows)")
    parser.add_argument("--k", type=int, default=16, help="candidates per step (sb3-ppo-topk's top_k)")
    parser.add_argument("--steps", type=int, default=256, help="batched steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each keeps its best")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/topk_cache.csv", help="CSV of the rows")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.num_envs) or min(args.k, args.steps, args.rounds, args.threads) < 1:
        parser.error(f"--num-envs, --k, --steps, --rounds and --threads must be >= 1 (got num_envs={args.num_envs}, "
                     f"k={args.k}, steps={args.steps}, rounds={args.rounds}, threads={args.threads})")
    torch.set_num_threads(args.threads)
    results = [measure(args.env_id, n, args.k, args.steps, args.rounds, args.seed) for n in args.num_envs]
    print("| rows | uncached env steps/s | cached env steps/s | cached / uncached | max abs logit diff "
          "| top-k agreement | prefills | rows re-encoded |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['num_envs']} | {r['uncached_env_steps_per_s']:.0f} | {r['cached_env_steps_per_s']:.0f} "
              f"| {r['cached_over_uncached']:.2f} | {r['max_abs_logit_diff']:.1e} | {r['top_k_agreement']:.4f} "
              f"| {r['prefills']} "
              f"| {r['rows_re_encoded']} |")
    print(f"wrote {write_csv(args.out, results, COLUMNS)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
