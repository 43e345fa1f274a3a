"""LM agents at GPT-2 size: peak memory and rollout/update tokens per second, full fine-tuning in fp32 and in bf16,
and LoRA.

    python benchmarks/scale.py [--device cpu|cuda] [--num-envs 8] [--max-new-tokens 16] [--updates 2]
                               [--configs full-fp32,full-bf16,lora] [--csv benchmarks/results/scale.csv]

The policy is a randomly initialised GPT-2 of 124M parameters (``GPT2Config()``: 12 layers, 768 wide, GPT-2's
50257-token embedding, of which the bundled tokenizer's ids use the first rows), trained by ``lm-ppo`` on
Sentiment-v0. Each
configuration runs in a fresh process (so that one's memory never counts in another's): it builds the agent,
runs ``--updates`` rollouts and updates, and reports

- ``peak MiB``: the process's peak resident set size (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA),
  measured from the start of the process, so it includes the environment, its bundled reference LM and the
  imports, the same in every row;
- ``weights MiB``: the bytes of every parameter the agent holds (policy, reference, value head), which shows
  whether the reference is a second copy of the weights;
- ``rollout tok/s``: generated tokens per second of KV-cached decoding; ``update tok/s``: tokens per second
  of the update (forward and backward over every epoch).

``full-fp32``: every weight trains, fp32, a frozen fp32 reference copy. ``full-bf16``: the same with
``bf16_weights`` (weights, gradients, Adam states and the reference in bf16). ``lora``: ``lora=true`` (rank 8
on GPT-2's ``c_attn``), fp32; the reference is the base model with the adapters disabled. Prints one table and
the ratios of each configuration's peak memory to full-fp32's, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from csv_rows import write_csv  # benchmarks/, the script's own folder

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    "full-fp32": {},
    "full-bf16": {"bf16_weights": True},
    "lora": {"lora": True, "lora_rank": 8},
}


def peak_mib(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(name: str, device: str, num_envs: int, max_new_tokens: int, updates: int) -> dict:
    """One configuration, in this process."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    import textgym  # noqa: F401
    from textgym.models import load_tokenizer
    from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig
    from textgym_agents.run import RunConfig

    torch.manual_seed(0)
    tokenizer = load_tokenizer("tiny")
    config = GPT2Config(
        vocab_size=max(50257, tokenizer.vocab_size),
        n_positions=1024,
        n_embd=768,
        n_layer=12,
        n_head=12,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    run = RunConfig(agent="lm-ppo", env_id="textgym/Sentiment-v0", seed=0, device=device, num_envs=num_envs,
                    out="unused", env_kwargs={"max_new_tokens": max_new_tokens})
    agent = LMPPOAgent(run, LMPPOConfig(num_epochs=1, num_minibatches=2, **CONFIGS[name]), model=model)
    del model
    held = [agent.policy_model, agent.value_head] + ([agent.reference] if agent.reference is not None else [])
    seen, weight_bytes = set(), 0
    for module in held:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                weight_bytes += p.numel() * p.element_size()
    trainable = sum(p.numel() for p in agent.parameters())
    rollout_s = update_s = 0.0
    rollout_tokens = update_tokens = 0
    for _ in range(updates):
        tick = time.perf_counter()
        rollout = agent.collect()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        rollout_s += time.perf_counter() - tick
        rollout_tokens += int(rollout.live_steps)
        tick = time.perf_counter()
        agent.update(rollout)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        update_s += time.perf_counter() - tick
        update_tokens += int(rollout.live_steps) * agent.config.num_epochs
    total = sum(p.numel() for p in agent.policy_model.parameters())
    result = {
        "config": name,
        "device": device,
        "policy_params": total,
        "trainable_params": trainable,
        "weights_mib": weight_bytes / 2**20,
        "peak_mib": peak_mib(device),
        "rollout_tok_s": rollout_tokens / rollout_s,
        "update_tok_s": update_tokens / update_s,
    }
    agent.close()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--csv", default=str(REPO / "benchmarks" / "results" / "scale.csv"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one configuration and print json
    args = parser.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(measure(args.one, args.device, args.num_envs, args.max_new_tokens, args.updates)))
        return 0
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown --configs {unknown}; allowed: {', '.join(CONFIGS)}")
    rows = []
    for name in names:
        command = [sys.executable, str(Path(__file__).resolve()), "--one", name, "--device", args.device,
                   "--num-envs", str(args.num_envs), "--max-new-tokens", str(args.max_new_tokens),
                   "--updates", str(args.updates)]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        line = next((out for out in result.stdout.splitlines() if out.startswith("RESULT ")), None)
        if result.returncode != 0 or line is None:
            print(result.stdout[-2000:] + result.stderr[-4000:], file=sys.stderr)
            return 1
        rows.append(json.loads(line[len("RESULT "):]))
        print(f"measured {name}", flush=True)
    base = next((r for r in rows if r["config"] == "full-fp32"), None)
    print(
        f"\nlm-ppo at GPT-2 size (124M, random init), Sentiment-v0, {args.num_envs} envs x {args.max_new_tokens} "
        f"tokens, "
        f"{args.updates} updates, device {args.device}\n"
    )
    print(
        "| config | policy params | trainable params | weights held MiB | peak MiB | peak vs full-fp32 | rollout tok/s "
        "| update tok/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['peak_mib'] / base['peak_mib']:.2f}x" if base else "–"
        print(
            f"| {r['config']} | {r['policy_params'] / 1e6:.1f}M | {r['trainable_params'] / 1e6:.2f}M | "
            f"{r['weights_mib']:.0f} | {r['peak_mib']:.0f} | {ratio} | "
            f"{r['rollout_tok_s']:.1f} | {r['update_tok_s']:.1f} |"
        )
    write_csv(args.csv, rows)
    print(f"\nwritten: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
