"""LM-PPO against TRL's GRPO or RLOO trainer on the same task, model and episode budget.

    pip install trl                     # optional: this benchmark only (TRL 1.16 was used)
    python benchmarks/vs_trl.py                          # 1500 episodes each, GRPO, CPU
    python benchmarks/vs_trl.py --trainer rloo --episodes 800 --seed 1

Both start from the bundled ``tiny`` model and train on the train split of
``textgym/Sentiment-v0`` (20 new tokens at most, temperature 1) for the same number of
episodes (completions), on the CPU:

- **lm-ppo**: :class:`agents.lm_ppo.LMPPOAgent` with its defaults but ``--lm-ppo-epochs``
  (see below), ``--num-envs`` episodes per update (dense per-token rewards by default, ``--reward-mode``), updates
  until the episode budget is spent;
- **TRL**: ``GRPOTrainer`` (or ``RLOOTrainer``) with a reward function that returns the
  VADER compound score of each completion, ``--num-generations`` completions per prompt,
  batches of ``--num-envs`` completions, ``--trl-lr`` (the learning rate: TRL's default
  1e-6 is meant for large models), ``--trl-num-iterations`` passes per batch (TRL's
  default 1), TRL's defaults otherwise; LM-PPO makes ``--lm-ppo-epochs`` passes (default 2:
  faster per second than its default of 4 here) x 4 minibatches. Prompts are given to TRL with
  the ``<|endoftext|>`` BOS token in front, as LM-PPO feeds them (``prepend_bos``).

Both are scored by textgym's evaluation: the mean VADER compound of greedy continuations
of the 54 eval-split prompts, before and after training. Reports wall time (training only)
and the eval scores side by side, and writes a CSV. If TRL is missing or fails, the row
says why and LM-PPO's result is still reported.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import textgym  # noqa: E402,F401
from agents.evaluation import evaluate  # noqa: E402
from agents.lm_ppo import LMPPOAgent, LMPPOConfig, greedy_tokens  # noqa: E402
from agents.run import RunConfig  # noqa: E402

ENV_ID = "textgym/Sentiment-v0"


def eval_model(model: torch.nn.Module, bos_token_id: int | None, vocab_size: int) -> float:
    """textgym's evaluation of a causal LM's greedy continuations (mean VADER compound, eval split)."""
    model.eval()

    def policy(observation, vector_env):
        return greedy_tokens(model, observation, vector_env.tokenizer.pad_token_id, bos_token_id, vocab_size, torch.device("cpu"))

    mean, _ = evaluate(policy, ENV_ID, {}, device="cpu")
    return mean


def run_lm_ppo(args) -> dict[str, Any]:
    run = RunConfig(agent="lm-ppo", env_id=ENV_ID, reward_mode=args.reward_mode, seed=args.seed, device="cpu",
                    num_envs=args.num_envs, out="unused")
    torch.manual_seed(args.seed)
    agent = LMPPOAgent(run, LMPPOConfig(num_epochs=args.lm_ppo_epochs))
    before = eval_model(agent.policy_model, agent.bos_token_id, agent.vocab_size)
    start = time.perf_counter()
    while agent.updates * args.num_envs < args.episodes:
        agent.learn(1)  # one update of num_envs episodes
    seconds = time.perf_counter() - start
    after = eval_model(agent.policy_model, agent.bos_token_id, agent.vocab_size)
    episodes = agent.updates * args.num_envs
    agent.close()
    return {"trainer": f"lm-ppo ({args.reward_mode})", "episodes": episodes, "env_tokens": agent.env_steps,
            "train_seconds": round(seconds, 1), "eval_before": round(before, 4), "eval_after": round(after, 4),
            "improvement": round(after - before, 4),
            "note": f"defaults but epochs (lr {agent.config.learning_rate}, {agent.config.num_epochs} epochs x {agent.config.num_minibatches} minibatches per batch)"}


def run_trl(args) -> dict[str, Any]:
    name = {"grpo": "GRPO", "rloo": "RLOO"}[args.trainer]
    try:
        import trl
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        return {"trainer": f"trl {name}", "note": f"not run: {error}; install the optional benchmark dependency with `pip install trl`"}

    from textgym.models.loader import BUNDLED_MODELS
    from textgym.tasks.data import load_prompts
    from textgym.tasks.sentiment import vader_compound

    path = str(BUNDLED_MODELS["tiny"])
    tokenizer = AutoTokenizer.from_pretrained(path)
    bos_text = tokenizer.convert_ids_to_tokens(tokenizer.eos_token_id)
    prompts = [bos_text + p.text for p in load_prompts("sentiment", "train")]
    dataset = Dataset.from_dict({"prompt": prompts})

    def vader_reward(completions, **kwargs) -> list[float]:
        return [vader_compound(text) for text in completions]

    common = dict(
        output_dir=tempfile.mkdtemp(prefix=f"trl-{args.trainer}-"), per_device_train_batch_size=args.num_envs,
        gradient_accumulation_steps=1, num_generations=args.num_generations, max_completion_length=20,
        learning_rate=args.trl_lr, max_steps=-(-args.episodes // args.num_envs) * args.trl_num_iterations,
        num_iterations=args.trl_num_iterations,
        temperature=1.0, top_p=1.0,
        use_cpu=True, bf16=False, report_to="none", save_strategy="no", logging_steps=10, seed=args.seed,
        disable_dropout=True,
    )
    try:
        if args.trainer == "grpo":
            config, trainer_class = trl.GRPOConfig(**common), trl.GRPOTrainer
        else:
            config, trainer_class = trl.RLOOConfig(**common), trl.RLOOTrainer
        model = AutoModelForCausalLM.from_pretrained(path)
        before = eval_model(model, tokenizer.eos_token_id, len(tokenizer))
        trainer = trainer_class(model=model, reward_funcs=vader_reward, args=config, train_dataset=dataset,
                                processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        after = eval_model(trainer.model, tokenizer.eos_token_id, len(tokenizer))
    except Exception as error:  # report why TRL could not run, keep LM-PPO's row
        traceback.print_exc()
        return {"trainer": f"trl {name}", "note": f"failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"}
    episodes = config.max_steps * args.num_envs // config.num_iterations  # each generated batch is used num_iterations times
    return {"trainer": f"trl {trl.__version__} {name}", "episodes": episodes, "env_tokens": "",
            "train_seconds": round(seconds, 1), "eval_before": round(before, 4), "eval_after": round(after, 4),
            "improvement": round(after - before, 4),
            "note": f"lr {args.trl_lr}, {args.num_generations} completions per prompt, beta {config.beta}, "
                    f"{config.num_iterations} pass(es) per batch"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainer", default="grpo", choices=["grpo", "rloo"])
    parser.add_argument("--episodes", type=int, default=1500, help="episodes (completions) for each trainer")
    parser.add_argument("--num-envs", type=int, default=16, help="episodes per update (both)")
    parser.add_argument("--num-generations", type=int, default=4, help="TRL: completions per prompt (group size)")
    parser.add_argument("--trl-lr", type=float, default=None, help="TRL learning rate (default: LM-PPO's)")
    parser.add_argument("--lm-ppo-epochs", type=int, default=2, help="LM-PPO: PPO passes per batch (its default is 4)")
    parser.add_argument("--trl-num-iterations", type=int, default=1, help="TRL: optimisation passes per generated batch (TRL default 1)")
    parser.add_argument("--reward-mode", default="dense", choices=["dense", "sparse"], help="LM-PPO's reward mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip", choices=["lm-ppo", "trl"], default=None)
    parser.add_argument("--out", default="benchmarks/results/vs_trl.csv")
    args = parser.parse_args(argv)
    if args.trl_lr is None:
        args.trl_lr = LMPPOConfig().learning_rate
    torch.set_num_threads(args.threads)
    rows = []
    if args.skip != "lm-ppo":
        rows.append(run_lm_ppo(args))
        print(rows[-1], flush=True)
    if args.skip != "trl":
        rows.append(run_trl(args))
        print(rows[-1], flush=True)
    columns = ["trainer", "episodes", "env_tokens", "train_seconds", "eval_before", "eval_after", "improvement", "note"]
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows([{c: row.get(c, "") for c in columns} for row in rows])
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
