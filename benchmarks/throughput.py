"""Environment throughput: single envs in Sync/Async vector envs against the batched TextGenVectorEnv.

    python benchmarks/throughput.py                       # CPU, N in 1 8 64 256, Copy and Sentiment
    python benchmarks/throughput.py --device cuda         # the batched env's tensors on the GPU
    python benchmarks/throughput.py --quick               # smaller N and shorter timings
    python benchmarks/throughput.py --clock cpu           # CPU seconds of this process instead of wall seconds
    python benchmarks/throughput.py --actions uniform     # EOS among the random actions: rows end at mixed
                                                          # times, autoreset at most steps (default: no-eos)
    python benchmarks/throughput.py --agent lm-ppo [--device cuda --model-size gpt2]
                                                          # LM-PPO rollout tokens/s and update time
                                                          # (benchmarks/lm_ppo_throughput.py; its options)

Prints a table and writes a CSV (default ``benchmarks/results/throughput-<device>.csv``).
Every ratio in the table comes from measurements taken side by side in this one run.

Columns: env steps per second (one transition of one env = 1; see :func:`timed_steps`) for (a) ``SyncVectorEnv`` over N
``TextGenEnv``, (b) ``AsyncVectorEnv`` (N processes; skipped above ``--async-max``), (c)
``TextGenVectorEnv`` (on the CPU also with ``arrays="torch"``, the accelerator code path:
torch tensors instead of numpy arrays); the forward time of the bundled tiny LM on the same
batch (full observation, as a policy without a KV cache; and one KV-cached token), so the
env's share of a rollout is visible; and the batched step cost at text length 16 against 256.

The env kinds are timed in ``--rounds`` interleaved rounds and each keeps its best round, so
a burst of load on a shared machine does not land on one kind only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

import textgym  # noqa: F401
from textgym.devices import resolve_device
from textgym.models import load_frozen
from textgym.models.kv_cache import cache_keyword, output_cache

TASKS = {"copy": "textgym/Copy-v0", "sentiment": "textgym/Sentiment-v0"}


def timed_steps(env, actions: np.ndarray, min_seconds: float, sync=None, clock=None) -> float:
    """Env steps (transitions) per second of ``env.step`` over the pre-drawn ``actions`` (cycled), at least
    ``min_seconds``.

    A transition is one env applying one action. In Gymnasium's default next-step autoreset
    (``SyncVectorEnv``, ``AsyncVectorEnv``) the call after an episode's end resets that env
    and ignores its action: that env makes no transition in that call and is not counted. In
    same-step autoreset (``TextGenVectorEnv``) every call is a transition for every env.
    """
    next_step = (
        env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP) == gym.vector.AutoresetMode.NEXT_STEP
    )
    env.reset(seed=0)
    resetting = 0  # envs whose next call is a reset (next-step autoreset)
    for a in actions[:3]:  # warm up
        _, _, terminated, truncated, _ = env.step(a)
        resetting = int((terminated | truncated).sum()) if next_step else 0
    if sync is not None:
        sync()
    clock = clock or time.perf_counter  # (looked up at the call: the tests stand in a clock of their own)
    transitions, start = 0, clock()
    while True:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            transitions += len(a) - resetting
            if next_step:
                resetting = int((terminated | truncated).sum())
        if sync is not None:
            sync()
        elapsed = clock() - start
        if elapsed >= min_seconds:
            return transitions / elapsed


ACTIONS = ("no-eos", "uniform")


def vector_actions(vocab: int, n: int, steps: int, eos: int, seed: int = 0, kind: str = "no-eos") -> np.ndarray:
    """``[steps, n]`` actions drawn uniformly over the vocabulary.

    ``kind="no-eos"``: EOS replaced by another token, so episodes end at the horizon (all rows
    of a batch at the same steps). ``kind="uniform"``: EOS included, so rows end at mixed
    times and the autoreset path runs at almost every step.
    """
    if kind not in ACTIONS:
        raise ValueError(f"unknown actions {kind!r}; allowed: {list(ACTIONS)}")
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, vocab, size=(steps, n))
    if kind == "no-eos":
        actions[actions == eos] = (eos + 2) % vocab  # episodes end by truncation: same work for every env kind
    return actions


def forward_seconds(batch: int, length: int, device: torch.device, repeats: int, clock=None) -> tuple[float, float]:
    """Seconds per forward of the tiny LM: full ``[batch, length]`` input, and one token with a KV cache."""
    clock = clock or time.perf_counter
    lm = load_frozen("tiny", device)
    ids = torch.randint(0, lm.tokenizer.vocab_size, (batch, length), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.no_grad():
        past = output_cache(lm.model(input_ids=ids[:, :-1], use_cache=True))
        sync()
        start = clock()
        for _ in range(repeats):
            lm.model(input_ids=ids)
        sync()
        full = (clock() - start) / repeats
        start = clock()
        for _ in range(repeats):
            lm.model(input_ids=ids[:, -1:], use_cache=True, **{cache_keyword(lm.model): past})
            past.crop(-1)  # drop the token just added: the same cache length for the next repeat
        sync()
        cached = (clock() - start) / repeats
    return full, cached


def step_cost_by_length(env_id: str, n: int, device: torch.device, repeats: int) -> tuple[float, float]:
    """Median seconds per batched step while the texts are 16-23 tokens long, and 256-263 tokens long."""
    horizon = 264
    env = gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", max_new_tokens=horizon, device=device
    )
    actions = vector_actions(env.single_action_space.n, n, horizon, env.tokenizer.eos_token_id, seed=1)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    costs: dict[int, list[float]] = {16: [], 256: []}
    for _ in range(repeats):
        env.reset(seed=0)
        for t in range(horizon - 1):
            window = 16 if 16 <= t < 24 else 256 if t >= 256 else None
            sync()
            start = time.perf_counter()
            env.step(actions[t])
            sync()
            if window is not None:
                costs[window].append(time.perf_counter() - start)
    return float(np.median(costs[16])), float(np.median(costs[256]))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    agent = argparse.ArgumentParser(add_help=False)
    agent.add_argument("--agent", choices=["env", "lm-ppo"], default="env")
    known, rest = agent.parse_known_args(argv)
    if known.agent == "lm-ppo":
        sys.path.insert(0, str(Path(__file__).parent))
        from lm_ppo_throughput import main as lm_ppo_main

        return lm_ppo_main(rest)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", choices=["env", "lm-ppo"], default="env",
                        help="env: this table; lm-ppo: LM-PPO rollout and update throughput (lm_ppo_throughput.py)")
    parser.add_argument("--device", default="cpu", help="device of the batched env and the LM forward: cpu, cuda, auto")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--async-max", type=int, default=64, help="largest N for AsyncVectorEnv (N processes)")
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum timing per measurement and round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds per measurement; the best round counts"
    )
    parser.add_argument("--quick", action="store_true", help="N in 1 8 64, 0.25 s per measurement, 2 rounds")
    parser.add_argument("--csv", default=None, help="output CSV path")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (small tensors: 1 is fastest)")
    parser.add_argument("--actions", choices=ACTIONS, default="no-eos",
                        help="no-eos: uniform actions with EOS replaced (episodes end at the horizon); "
                             "uniform: EOS included (rows end at mixed times, autoreset at most steps)")
    parser.add_argument("--no-lengths", action="store_true", help="skip the step cost at text length 16 against 256")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: seconds on the wall clock (default); cpu: this process's CPU seconds (steadier on a "
        "shared machine whose other tenants take CPU time; no AsyncVectorEnv, whose envs run elsewhere)",
    )
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu measures CPU time: use it with --device cpu")
    if args.quick:
        args.num_envs, args.seconds, args.rounds = [n for n in args.num_envs if n <= 64], 0.25, 2
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rows = []
    for task in args.tasks:
        env_id = TASKS[task]
        for n in args.num_envs:
            envs = {"vector": gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", device=device)}
            if device.type == "cpu":
                envs["vector_torch"] = gym.make_vec(
                    env_id, num_envs=n, vectorization_mode="vector_entry_point", device=device, arrays="torch"
                )
            envs["sync"] = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync")
            if n <= args.async_max and args.clock == "wall":
                envs["async"] = gym.make_vec(env_id, num_envs=n, vectorization_mode="async")
            batched = envs["vector"]
            actions = vector_actions(
                batched.single_action_space.n, n, 64, batched.tokenizer.eos_token_id, kind=args.actions
            )
            sync = torch.cuda.synchronize if device.type == "cuda" else None
            best = {kind: 0.0 for kind in envs}
            for _ in range(args.rounds):
                for kind, env in envs.items():
                    best[kind] = max(
                        best[kind],
                        timed_steps(env, actions, args.seconds, sync if kind.startswith("vector") else None, clock),
                    )
            for env in envs.values():
                env.close()
            vec_sps, sync_sps = best["vector"], best["sync"]
            async_sps = best.get("async", float("nan"))
            torch_sps = best.get("vector_torch", float("nan"))
            length = batched.setup.obs_length
            full, cached = forward_seconds(n, length, device, repeats=5 if n >= 64 else 20, clock=clock)
            step_seconds = n / vec_sps
            rows.append(
                {
                    "task": task,
                    "num_envs": n,
                    "device": str(device),
                    "actions": args.actions,
                    "clock": args.clock,
                    "sync_steps_per_s": round(sync_sps),
                    "async_steps_per_s": round(async_sps) if async_sps == async_sps else "",
                    "vector_steps_per_s": round(vec_sps),
                    "vector_over_sync": round(vec_sps / sync_sps, 1),
                    "vector_torch_arrays_steps_per_s": round(torch_sps) if torch_sps == torch_sps else "",
                    "env_step_ms": round(step_seconds * 1e3, 3),
                    "lm_forward_full_ms": round(full * 1e3, 3),
                    "lm_forward_cached_ms": round(cached * 1e3, 3),
                    "env_step_over_lm_full": round(step_seconds / full, 3),
                }
            )
            print(_format_row(rows[-1]), flush=True)
        if args.no_lengths:
            continue
        n_len = 64 if 64 in args.num_envs else args.num_envs[-1]
        short, long = step_cost_by_length(env_id, n_len, device, repeats=3)
        rows.append({"task": task, "num_envs": n_len, "device": str(device), "step_ms_len16": round(short * 1e3, 3),
                     "step_ms_len256": round(long * 1e3, 3), "len256_over_len16": round(long / short, 2)})
        print(_format_row(rows[-1]), flush=True)
    path = Path(args.csv or Path(__file__).parent / "results" / f"throughput-{device.type}.csv")
    columns = sorted({k for row in rows for k in row}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 100)
    write_csv(path, rows, columns)
    print(f"\n{markdown_table(rows)}\n\nwritten: {path}")
    return 0


def _format_row(row: dict) -> str:
    return "  ".join(f"{k}={v}" for k, v in row.items())


def markdown_table(rows: list[dict]) -> str:
    main = [r for r in rows if "vector_steps_per_s" in r]
    lines = [
        "| task | N | actions | Sync steps/s | Async steps/s | TextGenVectorEnv steps/s | vector / sync "
        "| torch arrays steps/s | env step ms | LM forward ms (full / cached) | env step / LM forward |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in main:
        lines.append(
            f"| {r['task']} | {r['num_envs']} | {r.get('actions', 'no-eos')} | {r['sync_steps_per_s']} | "
            f"{r['async_steps_per_s'] or 'skipped'} | "
            f"{r['vector_steps_per_s']} | {r['vector_over_sync']}x | {r['vector_torch_arrays_steps_per_s'] or '-'} | "
            f"{r['env_step_ms']} | "
            f"{r['lm_forward_full_ms']} / {r['lm_forward_cached_ms']} | {r['env_step_over_lm_full']} |"
        )
    lengths = [r for r in rows if "step_ms_len16" in r]
    if lengths:
        lines += ["", "| task | N | step ms at length 16 | step ms at length 256 | ratio |", "|---|---|---|---|---|"]
        for r in lengths:
            lines.append(
                f"| {r['task']} | {r['num_envs']} | {r['step_ms_len16']} | {r['step_ms_len256']} | "
                f"{r['len256_over_len16']}x |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
