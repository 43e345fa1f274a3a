"""LM-PPO throughput: rollout tokens/s with a KV cache against re-encoding the prefix, and update time.

    python benchmarks/lm_ppo_throughput.py                                 # CPU, bundled tiny model
    python benchmarks/lm_ppo_throughput.py --device cuda --model-size gpt2 # GPU, GPT-2-small-sized random model

Both decoders run side by side in this one run, on the same agent and environment
(``textgym/Sentiment-v0``, ``--num-envs`` rows, ``--tokens`` new tokens per episode; EOS is
suppressed so that every row decodes the full horizon and both do the same work):

- ``kv``: LM-PPO's rollout: prefill once, then one new token per step with the KV cache;
- ``reencode``: the same loop, re-encoding the whole prompt + continuation every step.

The table gives real (live-row) tokens per second for each, their ratio, the time the
environment alone takes for the same steps (so the model's share is visible), and the
time of one PPO update (``num_epochs`` x ``num_minibatches`` on the collected batch).
``--model-size gpt2`` builds a GPT-2-small-sized config (12 layers, 768 wide, 50257
tokens, random weights: nothing is downloaded); logits beyond the environment's 4096-token
vocabulary are ignored. Writes a CSV (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

import textgym  # noqa: F401  (registers the environments)
from textgym.devices import resolve_device
from textgym_agents.lm.rollout import collect_rollout  # noqa: E402
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig
from textgym_agents.run import RunConfig


def gpt2_small_sized(seed: int) -> torch.nn.Module:
    """A GPT-2-small-sized causal LM with random weights (no download)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                                      bos_token_id=50256, eos_token_id=50256))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    parser.add_argument(
        "--model-size", default="tiny", choices=["tiny", "gpt2"], help="bundled tiny model, or GPT-2-small-sized random"
    )
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per episode")
    parser.add_argument(
        "--repeats", type=int, default=3, help="rollouts per decoder (alternating); the median is reported"
    )
    parser.add_argument("--update-repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--out", default=None, help="CSV path (default benchmarks/results/lm_ppo_throughput-<device>-<model>.csv)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    run = RunConfig(agent="lm-ppo", env_id="textgym/Sentiment-v0", device=str(device), num_envs=args.num_envs, seed=0,
                    env_kwargs={"max_new_tokens": args.tokens})
    config = LMPPOConfig()
    model = gpt2_small_sized(0) if args.model_size == "gpt2" else None
    agent = LMPPOAgent(run, config, model=model)
    eos = agent.env.tokenizer.eos_token_id

    def no_eos(logits: torch.Tensor, step: int) -> torch.Tensor:
        logits[:, eos] = float("-inf")
        return logits

    def timed_rollout(use_kv_cache: bool):
        sync()
        start = time.perf_counter()
        with agent.autocast():
            rollout = collect_rollout(agent.env, agent.policy_model, config, agent.sample_generator, agent.bos_token_id,
                                      agent.vocab_size, use_kv_cache=use_kv_cache, logits_processor=no_eos,
                                      value_head=agent.value_head)
        sync()
        return time.perf_counter() - start, rollout

    timed_rollout(True)  # warm up (kernels, allocator)
    seconds = {"kv": [], "reencode": []}
    tokens = {}
    rollout = None
    for _ in range(args.repeats):
        for name, use_kv in (("kv", True), ("reencode", False)):
            elapsed, rollout = timed_rollout(use_kv)
            seconds[name].append(elapsed)
            tokens[name] = int(rollout.live_steps)

    # the environment alone, stepping the same tokens
    env_seconds = []
    for _ in range(args.repeats):
        agent.env.reset(options={"reset_mask": torch.ones(args.num_envs, dtype=torch.bool, device=device)})
        sync()
        start = time.perf_counter()
        for t in range(rollout.response_ids.shape[1]):
            agent.env.step(rollout.response_ids[:, t])
        sync()
        env_seconds.append(time.perf_counter() - start)

    update_seconds = []
    for _ in range(args.update_repeats):
        sync()
        start = time.perf_counter()
        agent.update(rollout)
        sync()
        update_seconds.append(time.perf_counter() - start)

    kv, reencode = statistics.median(seconds["kv"]), statistics.median(seconds["reencode"])
    env_s = statistics.median(env_seconds)
    row = {
        "device": str(device)
        + (
            f" ({torch.cuda.get_device_name(device)})"
            if device.type == "cuda"
            else f" ({torch.get_num_threads()} threads)"
        ),
        "model": args.model_size,
        "parameters_M": round(sum(p.numel() for p in agent.policy_model.parameters()) / 1e6, 1),
        "num_envs": args.num_envs,
        "tokens_per_episode": args.tokens,
        "kv_tokens_per_s": round(tokens["kv"] / kv),
        "reencode_tokens_per_s": round(tokens["reencode"] / reencode),
        "kv_speedup": round(reencode / kv, 2),
        "kv_rollout_s": round(kv, 3),
        "reencode_rollout_s": round(reencode, 3),
        "env_only_s": round(env_s, 3),
        "kv_speedup_model_only": round((reencode - env_s) / max(kv - env_s, 1e-9), 2),
        "update_s": round(statistics.median(update_seconds), 3),
        "update_tokens_per_s": round(tokens["kv"] / statistics.median(update_seconds)),
    }
    width = max(len(k) for k in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    path = Path(
        args.out or Path(__file__).parent / "results" / f"lm_ppo_throughput-{device.type}-{args.model_size}.csv"
    )
    write_csv(path, [row])
    print(f"written: {path}")
    agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
