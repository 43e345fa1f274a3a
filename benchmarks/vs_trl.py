"""LM-PPO against TRL's GRPO (or RLOO) trainer at equal work: same task, model, budget, passes, schedule and KL.

    pip install trl==1.16.0             # optional: this benchmark only
    python benchmarks/vs_trl.py --seeds 0          # 256 episodes, 4 and 1 passes, beta 0 and 0.05, lr 2e-4 both
    python benchmarks/vs_trl.py --seeds 10 --passes 4 --kl 0 \\
        --lm-ppo-lr 5e-5 1e-4 2e-4 --trl-lr 5e-5 1e-4 2e-4      # learning-rate selection (pairs run side by side)

Both trainers start from the bundled ``tiny`` model and train on the train split of
``textgym/Sentiment-v0`` (20 new tokens at most, temperature 1, full distribution: no top-k,
top-p 1) for the same number of episodes (completions), on the CPU, with one torch thread.
For every seed and every configuration (passes x KL), lm-ppo runs first and TRL right after
it in the same process, so both see the same machine load; the ratio of their wall times is
taken per seed.

What is made equal (the defaults of each trainer are changed where they differ):

- **Batches and passes.** Each update generates ``--num-envs`` (16) completions;
  ``--passes`` passes over them, each in ``--minibatches`` (4) minibatches of 4 completions,
  one optimizer step per minibatch: ``passes x minibatches`` optimizer steps per batch for
  both. lm-ppo: ``num_epochs=passes, num_minibatches=minibatches`` (episodes reshuffled each
  epoch). TRL: ``num_iterations=passes``, ``per_device_train_batch_size=num_envs/minibatches``,
  ``steps_per_generation=minibatches``, ``gradient_accumulation_steps=1`` (the generation
  batch is shuffled once and its slices are reused in the same order on every pass);
  ``max_steps`` = batches x passes x minibatches.
- **Optimizer and schedule.** Adam (TRL: AdamW with weight decay 0), betas (0.9, 0.999),
  epsilon 1e-5 (lm-ppo's; TRL's default is 1e-8), gradient clipping at norm 1, PPO ratio clip
  0.2, and a **constant** learning rate without warm-up (lm-ppo has no scheduler; TRL's
  default ``lr_scheduler_type`` is ``linear`` decay to 0, so ``constant`` is passed).
- **KL.** ``--kl 0``: lm-ppo ``kl_coef=0, adaptive_kl=false`` against GRPO's default
  ``beta=0`` (no reference model). ``--kl b``: lm-ppo with a fixed ``kl_coef=b`` and the
  ``k3`` estimator against GRPO's ``beta=b`` (always k3). The placement differs: lm-ppo
  subtracts ``b * KL_t`` from each token's reward (it enters the advantages); GRPO adds
  ``b * KL_t`` to the per-token loss.

What stays each trainer's own: lm-ppo is PPO with a value head (value loss 0.1) and per-token
GAE on dense rewards (``--reward-mode``); GRPO has no critic, and its advantage is the
completion's final score minus its group's mean, divided by the group's std
(``--num-generations`` 4 completions per prompt), with the ``dapo`` token-sum loss (TRL's
default ``loss_type``). Prompts are given to TRL with the ``<|endoftext|>`` BOS token in
front, as lm-ppo feeds them. Learning rates: ``--lm-ppo-lr`` and ``--trl-lr`` (the same number
of values: pair i runs lm-ppo at the i-th and TRL at the i-th value, side by side).

Both are scored by textgym's evaluation: the mean VADER compound of greedy continuations of
the 54 eval-split prompts after training (0.211 before). Each row gives the training wall time
and the process CPU time over the same span (on a machine shared with other jobs the load
can change between the two runs of a pair; CPU time moves far less with it). It also gives where the
training time went (seconds): lm-ppo: rollout (decoding, with the env step, which computes
the reward, separately), reference forward, update; TRL: ``generate``, reward function,
old-log-prob forward, reference forward, the rest of preparing the batch, and the update
(the remainder of the training time: forward, backward and optimizer steps). Rows are
appended to the CSV as they finish; a summary table (mean per trainer and configuration,
per-seed wall-time ratios) is printed at the end.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import textgym  # noqa: E402,F401
from textgym.evaluation import evaluate  # noqa: E402
from textgym_agents.lm.rollout import greedy_tokens  # noqa: E402
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig  # noqa: E402
from textgym_agents.run import RunConfig  # noqa: E402

ENV_ID = "textgym/Sentiment-v0"
MAX_NEW_TOKENS = 20  # the env's horizon on Sentiment
ADAM_EPS = LMPPOConfig().adam_eps
COLUMNS = [
    "seed",
    "passes",
    "kl",
    "trainer",
    "lr",
    "episodes",
    "optimizer_steps_per_batch",
    "train_seconds",
    "cpu_seconds",
    "eval_after",
    "phase_rollout",
    "phase_reward",
    "phase_old_forward",
    "phase_ref_forward",
    "phase_prep",
    "phase_update",
    "threads",
    "note",
]


# ---------------------------------------------------------------------------------------------
# The two trainers' settings (pure functions: tested in tests/test_vs_trl_args.py)
# ---------------------------------------------------------------------------------------------


def num_batches(episodes: int, num_envs: int) -> int:
    return -(-episodes // num_envs)


def lm_ppo_config(passes: int, minibatches: int, kl: float, lr: float) -> LMPPOConfig:
    """lm-ppo at ``passes`` epochs of ``minibatches`` minibatches, a constant lr and a fixed k3 KL penalty ``kl``."""
    return LMPPOConfig(learning_rate=lr, num_epochs=passes, num_minibatches=minibatches, kl_coef=kl, adaptive_kl=False,
                       kl_estimator="k3", adam_eps=ADAM_EPS, max_grad_norm=1.0, clip_range=0.2, temperature=1.0,
                       top_k=0, top_p=1.0, prepend_bos=True)


def trl_config_kwargs(passes: int, minibatches: int, kl: float, lr: float, episodes: int, num_envs: int,
                      num_generations: int, seed: int, output_dir: str) -> dict[str, Any]:
    """GRPOConfig/RLOOConfig arguments for the same work as :func:`lm_ppo_config`."""
    if num_envs % minibatches:
        raise ValueError(f"--num-envs {num_envs} is not a multiple of --minibatches {minibatches}")
    per_step = num_envs // minibatches
    if num_envs % num_generations:
        raise ValueError(f"--num-envs {num_envs} is not a multiple of --num-generations {num_generations}")
    return dict(
        output_dir=output_dir, seed=seed, use_cpu=True, bf16=False, report_to="none", save_strategy="no",
        logging_steps=10, disable_tqdm=True,
        # one generation batch of num_envs completions per update, split into `minibatches` optimizer steps,
        # reused for `passes` passes
        per_device_train_batch_size=per_step, steps_per_generation=minibatches, gradient_accumulation_steps=1,
        num_iterations=passes, max_steps=num_batches(episodes, num_envs) * passes * minibatches,
        num_generations=num_generations, max_completion_length=MAX_NEW_TOKENS,
        temperature=1.0, top_p=1.0, top_k=0, disable_dropout=True,
        # optimizer and schedule as lm-ppo: Adam (no weight decay), eps 1e-5, clip 1, constant lr, no warm-up
        learning_rate=lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=ADAM_EPS, max_grad_norm=1.0, epsilon=0.2,
        beta=kl,
    )


# ---------------------------------------------------------------------------------------------
# Timing phases
# ---------------------------------------------------------------------------------------------


class PhaseTimer:
    """Accumulates the wall time of wrapped callables by phase name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str | Callable[..., str | None], fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            phase = name(*args, **kwargs) if callable(name) else name
            if phase is None:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start
        return timed


def eval_model(model: torch.nn.Module, bos_token_id: int | None, vocab_size: int) -> float:
    """textgym's evaluation of a causal LM's greedy continuations (mean VADER compound, eval split)."""
    model.eval()

    def policy(observation, vector_env):
        return greedy_tokens(
            model, observation, vector_env.tokenizer.pad_token_id, bos_token_id, vocab_size, torch.device("cpu")
        )

    mean, _ = evaluate(policy, ENV_ID, {}, device="cpu")
    return mean


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------


def run_lm_ppo(args, seed: int, passes: int, kl: float, lr: float) -> dict[str, Any]:
    run = RunConfig(agent="lm-ppo", env_id=ENV_ID, reward_mode=args.reward_mode, seed=seed, device="cpu",
                    num_envs=args.num_envs, out="unused")
    torch.manual_seed(seed)
    config = lm_ppo_config(passes, args.minibatches, kl, lr)
    agent = LMPPOAgent(run, config)
    timer = PhaseTimer()
    agent.collect = timer.wrap("rollout", agent.collect)
    agent.env.step = timer.wrap("reward", agent.env.step)  # the env step computes the reward (inside the rollout)
    agent.update = timer.wrap("update", agent.update)
    agent.reference_logprobs = timer.wrap("ref_forward", agent.reference_logprobs)  # the reference model's forward
    batches = num_batches(args.episodes, args.num_envs)
    start, cpu_start = time.perf_counter(), time.process_time()
    while agent.updates < batches:
        agent.learn(1)  # one update of num_envs episodes
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    after = eval_model(agent.policy_model, agent.bos_token_id, agent.vocab_size)
    agent.close()
    s = timer.seconds
    return {"trainer": f"lm-ppo ({args.reward_mode})", "episodes": agent.updates * args.num_envs,
            "optimizer_steps_per_batch": passes * args.minibatches, "train_seconds": round(seconds, 2),
            "cpu_seconds": round(cpu_seconds, 2),
            "eval_after": round(after, 4),
            "phase_rollout": round(s["rollout"] - s["reward"], 2), "phase_reward": round(s["reward"], 2),
            "phase_old_forward": 0.0, "phase_ref_forward": round(s["ref_forward"], 2), "phase_prep": 0.0,
            "phase_update": round(s["update"] - s["ref_forward"], 2),
            "note": f"{passes} epochs x {args.minibatches} minibatches, fixed kl_coef {kl} (k3), constant lr, "
                    f"{agent.env_steps} env tokens"}


def run_trl(args, seed: int, passes: int, kl: float, lr: float) -> dict[str, Any]:
    name = {"grpo": "GRPO", "rloo": "RLOO"}[args.trainer]
    try:
        import trl
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        return {
            "trainer": f"trl {name}",
            "note": f"not run: {error}; install the optional benchmark dependency with `pip install trl`",
        }

    from textgym.models.loader import BUNDLED_MODELS
    from textgym.tasks.data import load_prompts
    from textgym.tasks.sentiment import vader_compound

    path = str(BUNDLED_MODELS["tiny"])
    tokenizer = AutoTokenizer.from_pretrained(path)
    bos_text = tokenizer.convert_ids_to_tokens(tokenizer.eos_token_id)
    prompts = [bos_text + p.text for p in load_prompts("sentiment", "train")]
    dataset = Dataset.from_dict({"prompt": prompts})
    timer = PhaseTimer()

    @functools.wraps(vader_compound)
    def vader_reward(completions, **kwargs) -> list[float]:
        return [vader_compound(text) for text in completions]

    vader_reward = timer.wrap("reward", vader_reward)
    output_dir = tempfile.mkdtemp(prefix=f"trl-{args.trainer}-")
    kwargs = trl_config_kwargs(
        passes, args.minibatches, kl, lr, args.episodes, args.num_envs, args.num_generations, seed, output_dir
    )
    try:
        if args.trainer == "grpo":
            config, trainer_class = trl.GRPOConfig(**kwargs), trl.GRPOTrainer
        else:
            config, trainer_class = trl.RLOOConfig(**kwargs), trl.RLOOTrainer
        model = AutoModelForCausalLM.from_pretrained(path)
        trainer = trainer_class(model=model, reward_funcs=vader_reward, args=config, train_dataset=dataset,
                                processing_class=tokenizer)
        ref_model = getattr(trainer, "ref_model", None)
        trainer._generate_and_score_completions = timer.wrap(
            "generate_and_score", trainer._generate_and_score_completions
        )
        trainer._generate = timer.wrap("generate", trainer._generate)

        def logps_phase(model, *a, **k):
            if torch.is_grad_enabled():
                return None  # the update's own forward
            return "ref_forward" if ref_model is not None and model is ref_model else "old_forward"

        trainer._get_per_token_logps_and_entropies = timer.wrap(logps_phase, trainer._get_per_token_logps_and_entropies)
        start, cpu_start = time.perf_counter(), time.process_time()
        trainer.train()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        threads = torch.get_num_threads()
        after = eval_model(trainer.model, tokenizer.eos_token_id, len(tokenizer))
    except Exception as error:  # report why TRL could not run, keep LM-PPO's row
        traceback.print_exc()
        return {"trainer": f"trl {name}", "note": f"failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"}
    s = timer.seconds
    steps_per_batch = config.num_iterations * config.steps_per_generation // config.gradient_accumulation_steps
    scheduler = getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type)
    return {
        "trainer": f"trl {trl.__version__} {name}",
        "episodes": config.max_steps // steps_per_batch * args.num_envs,
        "optimizer_steps_per_batch": steps_per_batch,
        "train_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "eval_after": round(after, 4),
        "phase_rollout": round(s["generate"], 2),
        "phase_reward": round(s["reward"], 2),
        "phase_old_forward": round(s["old_forward"], 2),
        "phase_ref_forward": round(s["ref_forward"], 2),
        "phase_prep": round(
            s["generate_and_score"] - s["generate"] - s["reward"] - s["old_forward"] - s["ref_forward"], 2
        ),
        "phase_update": round(seconds - s["generate_and_score"], 2),
        "threads": threads,
        "note": f"{config.num_iterations} iterations x {config.steps_per_generation} steps of "
        f"{config.per_device_train_batch_size}, {config.num_generations} per prompt, beta {config.beta}, "
        f"{scheduler} lr, loss {config.loss_type}",
    }


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def summary(rows: list[dict[str, Any]]) -> str:
    """Mean final eval and wall time per (configuration, trainer, lr), and the per-seed TRL / lm-ppo time ratios."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("train_seconds") not in (None, ""):
            groups[(row["passes"], row["kl"], row["trainer"].startswith("lm-ppo"), row["lr"])].append(row)
    lines = [
        "| passes | KL beta | trainer | lr | seeds | final eval per seed | mean final eval | wall s per seed "
        "| mean wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (passes, kl, _, lr), group in sorted(
        groups.items(), key=lambda item: (-item[0][0], item[0][1], not item[0][2], item[0][3])
    ):
        evals = " / ".join(f"{r['eval_after']:.3f}" for r in group)
        walls = " / ".join(f"{r['train_seconds']:.1f}" for r in group)
        seeds = " ".join(str(r["seed"]) for r in group)
        lines.append(f"| {passes} | {kl} | {group[0]['trainer']} | {lr} | {seeds} | {evals} | "
                     f"{statistics.mean(r['eval_after'] for r in group):.3f} | {walls} | "
                     f"{statistics.mean(r['train_seconds'] for r in group):.1f} |")
    # side-by-side pairs: the lm-ppo row and the TRL row right after it
    for column, what in (("train_seconds", "wall time"), ("cpu_seconds", "CPU time")):
        ratios: dict[tuple, list[float]] = defaultdict(list)
        for first, second in zip(rows, rows[1:]):
            if (
                first["trainer"].startswith("lm-ppo")
                and second["trainer"].startswith("trl")
                and first["seed"] == second["seed"]
                and first.get(column)
                and second.get(column)
            ):
                ratios[(first["passes"], first["kl"], first["lr"], second["lr"])].append(second[column] / first[column])
        if not ratios:
            continue
        lines += ["", f"| passes | KL beta | lm-ppo lr | TRL lr | TRL / lm-ppo {what}, per seed | geometric mean |",
                  "|---|---|---|---|---|---|"]
        for (passes, kl, lr_a, lr_b), values in sorted(ratios.items(), key=lambda item: (-item[0][0], item[0][1])):
            geo = math.exp(statistics.mean(math.log(v) for v in values))
            per_seed = " / ".join(f"{v:.2f}" for v in values)
            lines.append(f"| {passes} | {kl} | {lr_a} | {lr_b} | {per_seed} | **{geo:.2f}x** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainer", default="grpo", choices=["grpo", "rloo"])
    parser.add_argument("--episodes", type=int, default=256, help="episodes (completions) for each trainer and run")
    parser.add_argument("--num-envs", type=int, default=16, help="completions per batch (both)")
    parser.add_argument("--minibatches", type=int, default=4, help="optimizer steps per pass over a batch (both)")
    parser.add_argument("--num-generations", type=int, default=4, help="TRL: completions per prompt (group size)")
    parser.add_argument(
        "--passes", type=int, nargs="+", default=[4, 1], help="passes per batch (lm-ppo epochs, TRL num_iterations)"
    )
    parser.add_argument("--kl", type=float, nargs="+", default=[0.0, 0.05], help="KL coefficient beta (0: none)")
    parser.add_argument("--lm-ppo-lr", type=float, nargs="+", default=[2e-4], help="lm-ppo learning rate(s)")
    parser.add_argument(
        "--trl-lr", type=float, nargs="+", default=[2e-4], help="TRL learning rate(s), paired with --lm-ppo-lr"
    )
    parser.add_argument("--reward-mode", default="dense", choices=["dense", "sparse"], help="lm-ppo's reward mode")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip", choices=["lm-ppo", "trl"], default=None)
    parser.add_argument("--out", default="benchmarks/results/vs_trl.csv")
    args = parser.parse_args(argv)
    if len(args.lm_ppo_lr) != len(args.trl_lr):
        parser.error("--lm-ppo-lr and --trl-lr take the same number of values (they run in pairs)")
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for seed in args.seeds:
            for passes in args.passes:
                for kl in args.kl:
                    for lm_ppo_lr, trl_lr in zip(args.lm_ppo_lr, args.trl_lr):
                        for trainer, lr, runner in (("lm-ppo", lm_ppo_lr, run_lm_ppo), ("trl", trl_lr, run_trl)):
                            if args.skip == trainer:
                                continue
                            torch.set_num_threads(args.threads)
                            row = {"seed": seed, "passes": passes, "kl": kl, "lr": lr, "threads": args.threads}
                            row.update(runner(args, seed, passes, kl, lr))
                            rows.append(row)
                            writer.writerow({c: row.get(c, "") for c in COLUMNS})
                            f.flush()
                            print(row, flush=True)
    print("\n" + summary(rows))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
