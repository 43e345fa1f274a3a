"""What an episode's reward costs with a causal reward model: read incrementally against re-read at every step.

    python benchmarks/reward_cost.py                  # CPU, N in 16 64 256, T in 16 64 256
    python benchmarks/reward_cost.py --quick          # N in 16 64, T in 16 64
    python benchmarks/reward_cost.py --device cuda    # the classifier (and the env's arrays) on the GPU
    python benchmarks/reward_cost.py --env            # time whole env steps (gym.make_vec) instead of the scorer alone
    python benchmarks/reward_cost.py --env-steps      # every task's batched env step (N = 256) against one KV-cached
                                                      # forward of the tiny policy for those rows (the action's cost);
                                                      # --clock cpu: CPU seconds of this process instead of wall seconds
    python benchmarks/reward_cost.py --lm-ppo         # LM-PPO iteration (rollout + update) on SentimentRM-v0, dense
                                                      # against sparse, defaults
    python benchmarks/reward_cost.py --bidirectional  # a BERT-like classifier (re-read every scoring step):
                                                      # score_every token vs word

The reward model is the bundled ``tiny-sentiment`` (``textgym/SentimentRM-v0``: a 2-layer GPT-2
classifier reading prompt plus continuation). For every ``N`` rows and ``T = max_new_tokens``
it times one episode of every row, dense rewards, three ways, side by side in this one run:

- **full**: ``task_kwargs={"incremental": False}``, the whole text re-read at every step (one
  forward of the rows' texts per step, ``batch_size`` 64 texts per forward);
- **incremental**: the default, each row's key/value cache fed the tokens its text adds;
- **sparse**: ``reward_mode="sparse"`` with the full re-read, scored once at the end (``lazy``).

By default the batched env's scorer is timed alone (``reset_rows``, ``T`` x ``step``,
``finish_rows``: everything the env asks of the reward), on pre-drawn policy tokens that decode
to whole characters and are not EOS, so every row runs the full ``T`` steps. ``--env`` times
``env.step`` of ``gym.make_vec("textgym/SentimentRM-v0", num_envs=N, max_new_tokens=T, ...)``
instead (decoding, observations and autoreset included). The cost of an episode is the run's
time divided by ``N``. Each measurement is the best of ``--rounds`` rounds, fewer where one
round takes more than ``--budget`` seconds; the kinds are timed in interleaved rounds so that
load on a shared machine does not land on one kind only. The final scores of the ways are
compared (they agree to float32 rounding).

``--csv PATH`` also writes the table's rows to a CSV (the recorded ones are
``benchmarks/results/reward_cost_<table>.csv``, the table being ``scorer``, ``env``, ``bidirectional``,
``env_steps`` (``env_steps_cpu`` with ``--clock cpu``) or ``lm_ppo``). Without it no file is written, so that
a short trial run leaves the recorded data files alone.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import textgym  # noqa: E402,F401
from textgym.arrays import ArrayBackend  # noqa: E402
from textgym.devices import resolve_device  # noqa: E402
from textgym.models import load_tokenizer  # noqa: E402
from textgym.tasks import SentimentRMTask  # noqa: E402

ENV_ID = "textgym/SentimentRM-v0"
KINDS = ("full", "incremental", "sparse")


def whole_tokens(tokenizer) -> np.ndarray:
    """Policy tokens that decode to whole characters and are not EOS (so every episode runs to the horizon)."""
    keep = []
    for token in range(tokenizer.vocab_size):
        text = tokenizer.decode([token])
        if token != tokenizer.eos_token_id and text and "\ufffd" not in text:
            keep.append(token)
    return np.array(keep, dtype=np.int64)


def print_table_header(header: str) -> None:
    """A Markdown table's header row and its rule."""
    print(header)
    print("|---" * (header.count("|") - 1) + "|")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_scorer(
    task, tokenizer, device, n: int, tokens: np.ndarray, prompt_indices: np.ndarray, lazy: bool
) -> tuple[float, np.ndarray]:
    """Seconds for one episode of every row through the batched scorer alone, and the final scores."""
    arrays = ArrayBackend(device)
    prompts = task.prompts("train")
    scorer = task.batch_scorer(tokenizer, n, arrays, prompts)
    scorer.lazy = lazy
    rows, active = arrays.arange(n), arrays.from_host(np.ones(n, dtype=bool), "bool")
    steps = [arrays.from_host(step) for step in tokens]
    # the tokens generated so far before each step, as the batched env passes them to ``advance`` (score_every=k
    # counts with them)
    generated = [arrays.from_host(np.full(n, i + 1, dtype=np.int64)) for i in range(len(steps))]
    indices = arrays.from_host(prompt_indices)
    sync(device)
    start = time.perf_counter()
    scorer.reset_rows(rows, indices)
    for step, count in zip(steps, generated):
        scorer.advance(count, None)
        scorer.step(step, active)
    scores = scorer.finish_rows(rows)
    sync(device)
    seconds = time.perf_counter() - start
    return seconds, arrays.to_host(scores).copy()


def time_env(kind: str, device, n: int, tokens: np.ndarray) -> tuple[float, np.ndarray]:
    """Seconds for ``T`` steps of the batched env (one episode of every row), and the final scores."""
    env = gym.make_vec(
        ENV_ID,
        num_envs=n,
        vectorization_mode="vector_entry_point",
        max_new_tokens=len(tokens),
        device=device,
        reward_mode="sparse" if kind == "sparse" else "dense",
        task_kwargs={"incremental": kind == "incremental", "device": str(device)},
    )
    env.reset(seed=0)
    sync(device)
    start = time.perf_counter()
    for step in tokens:
        _, _, terminated, _, info = env.step(step)
    sync(device)
    seconds = time.perf_counter() - start
    assert terminated.all()
    env.close()
    return seconds, np.asarray(info["final_info"]["score"], dtype=np.float64)


def measure(args, tasks, tokenizer, device, n: int, t: int, pool: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    rng = np.random.default_rng(n * 1000 + t)
    tokens = rng.choice(pool, size=(t, n))
    prompt_indices = rng.integers(len(tasks["full"].prompts("train")), size=n)

    def once(kind):
        if args.env:
            return time_env(kind, device, n, tokens)
        task = tasks["incremental" if kind == "incremental" else "full"]
        return time_scorer(task, tokenizer, device, n, tokens, prompt_indices, lazy=kind == "sparse")

    best: dict[str, tuple[float, np.ndarray]] = {}
    rounds = {kind: args.rounds for kind in KINDS}
    for round_index in range(args.rounds):
        for kind in KINDS:
            if round_index >= rounds[kind]:
                continue
            seconds, scores = once(kind)
            if round_index == 0:  # a slow kind gets fewer rounds, within the budget
                rounds[kind] = max(1, min(args.rounds, math.floor(args.budget / max(seconds, 1e-9))))
            if kind not in best or seconds < best[kind][0]:
                best[kind] = (seconds, scores)
    return best


# -- bidirectional (BERT-like) classifier: score_every ------------------------------------------

#: the score_every values of the bidirectional table, with the sparse (scored once) reference
BIDIRECTIONAL_KINDS = ("token", "word", 4, "sparse")


def save_bert_classifier(folder: Path, tokenizer, hidden: int = 256, layers: int = 2, seed: int = 0) -> str:
    """A BERT sequence classifier (random weights, seeded) with a WordPiece vocabulary of the policy's words, saved in
    ``folder``.

    The vocabulary: the lowercased words of the policy's tokens, plus letters and digits alone and
    as ``##`` pieces, so that a text takes about one WordPiece token per word, as with a real BERT.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-:;()")
    found = {tokenizer.decode([i]).strip().lower() for i in range(tokenizer.vocab_size)}
    words = sorted(w for w in found if w.isalpha() and w not in letters)
    vocab = specials + letters + ["##" + c for c in letters] + words + ["##" + w for w in words]
    backend = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))]
    )
    rm_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=2048,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=4 * hidden,
        max_position_embeddings=2048,
        num_labels=2,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
        pad_token_id=0,
    )
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    rm_tokenizer.save_pretrained(folder)
    return str(folder)


def bidirectional_table(args, device, tokenizer, pool: np.ndarray) -> list[dict[str, object]]:
    """Per-episode reward cost of a BERT-like classifier read whole at every scoring step, at each score_every."""
    import tempfile

    from textgym.tasks import RewardModelTask
    from textgym.tasks.data import load_prompts

    prompts = {split: [p.text for p in load_prompts("sentiment", split)] for split in ("train", "eval")}
    with tempfile.TemporaryDirectory() as folder:
        path = save_bert_classifier(Path(folder), tokenizer, hidden=args.bert_hidden)
        tasks = {
            kind: RewardModelTask(
                path,
                label="positive",
                text="prompt+continuation",
                prompts=prompts,
                device=str(device),
                score_every="token" if kind == "sparse" else kind,
            )
            for kind in BIDIRECTIONAL_KINDS
        }
        model = tasks["token"].reward_model.model
        assert not tasks["token"].incremental
        forwards = [0]
        hook = model.register_forward_pre_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
        print(
            f"reward cost per episode, BERT-like classifier (2 layers, hidden {args.bert_hidden}, WordPiece) on prompt "
            f"plus continuation, the batched env's scorer alone, device {device}, {args.threads} torch thread(s), best "
            f"of up to "
            f"{args.rounds} rounds; forwards: classifier forwards per episode of all rows (reset, steps, end)"
        )
        header = (
            "| N | T | token (ms/episode) | word (ms/episode) | every 4 (ms/episode) "
            "| sparse, scored once (ms/episode) "
            "| token / word | forwards token / word / 4 | max abs final score diff |"
        )
        print_table_header(header)
        rows: list[dict[str, object]] = []
        for n in args.n:
            for t in args.t:
                rng = np.random.default_rng(n * 1000 + t)
                tokens = rng.choice(pool, size=(t, n))
                prompt_indices = rng.integers(len(prompts["train"]), size=n)
                best: dict = {}
                counts: dict = {}
                rounds = {kind: args.rounds for kind in BIDIRECTIONAL_KINDS}
                for round_index in range(args.rounds):
                    for kind in BIDIRECTIONAL_KINDS:
                        if round_index >= rounds[kind]:
                            continue
                        forwards[0] = 0
                        seconds, scores = time_scorer(
                            tasks[kind], tokenizer, device, n, tokens, prompt_indices, lazy=kind == "sparse"
                        )
                        counts[kind] = forwards[0]
                        if round_index == 0:
                            rounds[kind] = max(1, min(args.rounds, math.floor(args.budget / max(seconds, 1e-9))))
                        if kind not in best or seconds < best[kind][0]:
                            best[kind] = (seconds, scores)
                ms = {kind: 1000 * best[kind][0] / n for kind in BIDIRECTIONAL_KINDS}
                diff = max(float(np.abs(best[kind][1] - best["token"][1]).max()) for kind in BIDIRECTIONAL_KINDS)
                print(
                    f"| {n} | {t} | {ms['token']:.2f} | {ms['word']:.2f} | {ms[4]:.2f} | {ms['sparse']:.2f} "
                    f"| **{ms['token'] / ms['word']:.2f}x** | {counts['token']} / {counts['word']} / {counts[4]} "
                    f"| {diff:.1e} |",
                    flush=True,
                )
                rows.append({
                    "n": n, "t": t, "token_ms_per_episode": round(ms["token"], 3),
                    "word_ms_per_episode": round(ms["word"], 3), "every4_ms_per_episode": round(ms[4], 3),
                    "sparse_ms_per_episode": round(ms["sparse"], 3),
                    "token_over_word": round(ms["token"] / ms["word"], 3),
                    "forwards_token": counts["token"], "forwards_word": counts["word"], "forwards_every4": counts[4],
                    "max_abs_score_diff": diff,
                })
        hook.remove()
    return rows


# -- --env-steps: every task's batched env step against the policy's forward; --lm-ppo: dense against sparse ----------

ENV_STEP_ROWS = 256
#: the clock of --env-steps: wall seconds, or this process's CPU seconds with --clock cpu
ENV_STEP_CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def all_env_ids() -> list[str]:
    """Every registered textgym id but the generic ``TextGenEnv-v0`` (a task argument, not a task)."""
    return sorted(k for k in gym.registry if k.startswith("textgym/") and k != "textgym/TextGenEnv-v0")


def cached_forward_seconds(lm, n: int, length: int, device, repeats: int, clock=time.perf_counter) -> float:
    """Seconds of one KV-cached forward of the tiny LM: one new token for ``n`` rows after ``length`` cached ones."""
    from textgym.models.kv_cache import cache_keyword, output_cache

    ids = torch.randint(
        0, lm.tokenizer.vocab_size, (n, length + 1), device=device, generator=torch.Generator(device).manual_seed(0)
    )
    with torch.no_grad():
        past = output_cache(lm.model(input_ids=ids[:, :-1], use_cache=True))
        keyword = cache_keyword(lm.model)
        lm.model(input_ids=ids[:, -1:], use_cache=True, **{keyword: past})  # warm up
        past.crop(-1)
        best = math.inf
        for _ in range(repeats):
            sync(device)
            start = clock()
            lm.model(input_ids=ids[:, -1:], use_cache=True, **{keyword: past})
            sync(device)
            best = min(best, clock() - start)
            past.crop(-1)  # drop the token just added: the same cache length for the next repeat
    return best


def env_step_round(env, actions: np.ndarray, seconds: float, device, clock=time.perf_counter) -> tuple[float, float]:
    """Seconds per batched step over the pre-drawn ``actions`` (cycled, resets included), for at least ``seconds``,
    and of them the seconds per step inside reward-model (or judge) forwards of an ``IncrementalClassifier``."""
    from textgym.models.incremental_reward import IncrementalClassifier

    plain = IncrementalClassifier._forward
    inside = [0.0]

    def timed_forward(self, store, feeds):
        sync(device)
        begin = clock()
        plain(self, store, feeds)
        sync(device)
        inside[0] += clock() - begin

    IncrementalClassifier._forward = timed_forward
    try:
        steps, start = 0, clock()
        while True:
            for a in actions:
                env.step(a)
                steps += 1
                if clock() - start >= seconds:
                    sync(device)
                    return (clock() - start) / steps, inside[0] / steps
    finally:
        IncrementalClassifier._forward = plain


def env_steps_table(args, device) -> list[dict[str, object]]:
    """``--env-steps``: each task's batched env step at N rows against one KV-cached forward of the tiny policy."""
    from textgym.models import load_frozen

    n = args.env_rows
    clock = ENV_STEP_CLOCK[args.clock]
    lm = load_frozen("tiny", device)
    context = int(getattr(lm.model.config, "n_positions", 1024))
    print(
        f"batched env step (gym.make_vec, N = {n}, dense, default task arguments, SameStep autoreset, numpy output) "
        f"against one KV-cached forward of the bundled tiny policy for the same {n} rows (one new token after the "
        f"observation's length, capped at {context - 1}), device {device}, {args.threads} torch thread(s), "
        f"{args.clock} clock; actions: {args.env_actions} "
        f"(uniform over the env's vocabulary"
        f"{', EOS replaced: episodes end at the horizon' if args.env_actions == 'no-eos' else ''}); "
        f"env and forward timed in {args.env_rounds} interleaved rounds, best kept"
    )
    header = (
        "| task | step ms (env) | of which reward-model forwards ms | forward ms (tiny policy, KV cache) "
        "| env / forward | "
        "reward-model forwards / policy forward | target <= 0.25x |"
    )
    print_table_header(header)
    rows: list[dict[str, object]] = []
    for env_id in args.env_ids or all_env_ids():
        try:
            env = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", device=device)
        except Exception as error:  # noqa: BLE001  (a task that cannot be built here is reported, not fatal)
            print(f"| {env_id} | not built: {type(error).__name__}: {str(error)[:80]} | | | | | |", flush=True)
            continue
        vocab, eos = int(env.single_action_space.n), env.tokenizer.eos_token_id
        actions = np.random.default_rng(0).integers(0, vocab, size=(64, n))
        if args.env_actions == "no-eos":
            actions[actions == eos] = (eos + 2) % vocab
        length = min(env.setup.obs_length, context - 1)
        env.reset(seed=0)
        env.step(actions[0])  # warm up
        step_s = forward_s = math.inf
        model_s = 0.0
        for _ in range(args.env_rounds):
            round_s, round_model_s = env_step_round(env, actions, args.env_seconds, device, clock)
            if round_s < step_s:  # the best round, and the reward-model share within it
                step_s, model_s = round_s, round_model_s
            forward_s = min(forward_s, cached_forward_seconds(lm, n, length, device, repeats=3, clock=clock))
        env.close()
        ratio = step_s / forward_s
        model = f"{model_s * 1e3:.2f} | " if model_s else "- | "
        floor = f"{model_s / forward_s:.3f}x | " if model_s else "- | "
        print(f"| {env_id} | {step_s * 1e3:.2f} | {model}{forward_s * 1e3:.2f} | **{ratio:.3f}x** | {floor}"
              f"{'yes' if ratio <= 0.25 else 'no'} |", flush=True)
        rows.append({
            "env_id": env_id, "rows": n, "clock": args.clock, "actions": args.env_actions,
            "env_step_ms": round(step_s * 1e3, 3),
            "reward_model_forwards_ms": round(model_s * 1e3, 3) if model_s else "",
            "policy_forward_ms": round(forward_s * 1e3, 3), "env_over_forward": round(ratio, 4),
            "reward_model_over_forward": round(model_s / forward_s, 4) if model_s else "",
            "meets_0_25x": ratio <= 0.25,
        })
    return rows


def lm_ppo_table(args, device) -> list[dict[str, object]]:
    """``--lm-ppo``: seconds per LM-PPO iteration (rollout + update) on SentimentRM-v0, dense against sparse,
    defaults."""
    import statistics

    from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig
    from textgym_agents.run import RunConfig

    modes = ("dense", "sparse")
    agents = {
        mode: LMPPOAgent(
            RunConfig(agent="lm-ppo", env_id=ENV_ID, reward_mode=mode, device=str(device), seed=0), LMPPOConfig()
        )
        for mode in modes
    }
    times: dict[str, dict[str, list[float]]] = {mode: {"rollout": [], "update": [], "steps": []} for mode in modes}
    for iteration in range(args.lm_ppo_iterations + 1):  # the first iteration of each warms up and is not counted
        for mode in modes:  # interleaved: load on a shared machine lands on both
            agent = agents[mode]
            start = time.perf_counter()
            rollout = agent.collect()
            middle = time.perf_counter()
            agent.update(rollout)
            end = time.perf_counter()
            if iteration:
                times[mode]["rollout"].append(middle - start)
                times[mode]["update"].append(end - middle)
                times[mode]["steps"].append(float(rollout.live_steps))
    for agent in agents.values():
        agent.close()
    run = RunConfig(agent="lm-ppo", env_id=ENV_ID)
    print(
        f"LM-PPO iteration (agent.collect() + agent.update()), {ENV_ID}, defaults (num_envs={run.num_envs}, "
        f"LMPPOConfig()), device {device}, {args.threads} torch thread(s); median of {args.lm_ppo_iterations} "
        f"iterations "
        f"after one warm-up, dense and sparse interleaved"
    )
    print("| reward | rollout s | update s | iteration s | live env steps / iteration |")
    print("|---|---|---|---|---|")
    total = {}
    rows: list[dict[str, object]] = []
    for mode in modes:
        rollout_s, update_s = statistics.median(times[mode]["rollout"]), statistics.median(times[mode]["update"])
        total[mode] = statistics.median([r + u for r, u in zip(times[mode]["rollout"], times[mode]["update"])])
        print(
            f"| {mode} | {rollout_s:.3f} | {update_s:.3f} | {total[mode]:.3f} | "
            f"{statistics.median(times[mode]['steps']):.0f} |"
        )
        rows.append({
            "env_id": ENV_ID, "reward_mode": mode, "iterations": args.lm_ppo_iterations,
            "rollout_s": round(rollout_s, 4), "update_s": round(update_s, 4), "iteration_s": round(total[mode], 4),
            "live_env_steps": statistics.median(times[mode]["steps"]),
        })
    ratio = total["dense"] / total["sparse"]
    print(
        f"\ndense / sparse iteration time: **{ratio:.2f}x** (target <= 1.3x: {'met' if ratio <= 1.3 else 'missed'})",
        flush=True,
    )
    for row in rows:
        row["dense_over_sparse_iteration"] = round(ratio, 4)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="where the classifier runs: cpu (default), cuda, auto")
    parser.add_argument("--quick", action="store_true", help="N in 16 64 and T in 16 64, 2 rounds")
    parser.add_argument("--n", type=int, nargs="+", default=None, help="rows (default 16 64 256)")
    parser.add_argument("--t", type=int, nargs="+", default=None, help="max_new_tokens (default 16 64 256)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds per measurement, best kept (default 3; 2 with --quick)"
    )
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds: a kind whose first round takes longer gets fewer rounds"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: steadier on a shared machine)"
    )
    parser.add_argument(
        "--env", action="store_true", help="time env.step of the batched env instead of its scorer alone"
    )
    parser.add_argument(
        "--bidirectional",
        action="store_true",
        help="only the table of a BERT-like classifier at score_every token / word / 4 (default N, T in 16 64)",
    )
    parser.add_argument(
        "--bert-hidden", type=int, default=256, help="hidden size of the --bidirectional classifier (default 256)"
    )
    parser.add_argument(
        "--env-steps",
        action="store_true",
        help="only the table of every task's batched env step at --env-rows rows against one KV-cached forward of the "
        "tiny policy",
    )
    parser.add_argument("--env-rows", type=int, default=ENV_STEP_ROWS, help="rows of --env-steps (default 256)")
    parser.add_argument("--env-ids", nargs="+", default=None, help="ids of --env-steps (default every textgym id)")
    parser.add_argument("--env-actions", choices=["no-eos", "uniform"], default="no-eos",
                        help="--env-steps actions: uniform over the vocabulary, EOS replaced (default) or included")
    parser.add_argument("--env-seconds", type=float, default=1.0, help="--env-steps: seconds per env timing round")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="--env-steps: wall seconds (default), or this process's CPU seconds (steadier on a shared machine)",
    )
    parser.add_argument(
        "--env-rounds", type=int, default=3, help="--env-steps: interleaved rounds, best kept (default 3)"
    )
    parser.add_argument(
        "--lm-ppo",
        action="store_true",
        help="only the table of an LM-PPO iteration (rollout + update) on SentimentRM-v0, dense against sparse",
    )
    parser.add_argument(
        "--lm-ppo-iterations", type=int, default=4, help="--lm-ppo: timed iterations per mode (after one warm-up)"
    )
    parser.add_argument(
        "--csv",
        default=None,
        help="also write the table's rows to this CSV (the recorded ones: benchmarks/results/reward_cost_<table>.csv, "
        "<table> one of scorer, env, bidirectional, env_steps, env_steps_cpu, lm_ppo); default: none. With "
        "--env-steps and --lm-ppo together, the lm_ppo rows go to the same name with _lm_ppo before .csv",
    )
    args = parser.parse_args(argv)

    def save(rows: list[dict[str, object]], path: str | Path | None) -> None:
        if rows and path:
            print(f"wrote {write_csv(path, rows)}", file=sys.stderr)

    if args.env_steps or args.lm_ppo:
        torch.set_num_threads(args.threads)
        device = resolve_device(args.device)
        if args.clock == "cpu" and device.type != "cpu":
            parser.error("--clock cpu measures this process's CPU time: use it with --device cpu")
        if args.env_steps:
            save(env_steps_table(args, device), args.csv)
        if args.lm_ppo:
            path = args.csv
            if path and args.env_steps:  # the --env-steps rows took --csv
                path = Path(path).with_name(Path(path).stem + "_lm_ppo.csv")
            save(lm_ppo_table(args, device), path)
        return None
    args.n = args.n or ([16, 64] if args.quick or args.bidirectional else [16, 64, 256])
    args.t = args.t or ([16, 64] if args.quick or args.bidirectional else [16, 64, 256])
    args.rounds = args.rounds or (2 if args.quick else 3)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    tokenizer = load_tokenizer("tiny")
    pool = whole_tokens(tokenizer)
    if args.bidirectional:
        return save(bidirectional_table(args, device, tokenizer, pool), args.csv)
    tasks = {
        kind: SentimentRMTask(device=str(device), incremental=kind == "incremental") for kind in ("full", "incremental")
    }
    assert tasks["incremental"].incremental and not tasks["full"].incremental

    what = "env.step of the batched env" if args.env else "the batched env's scorer alone"
    print(f"reward cost per episode, {ENV_ID} (tiny-sentiment, decoder classifier), {what}, device {device}, "
          f"{args.threads} torch thread(s), best of up to {args.rounds} rounds")
    header = ("| N | T | full (ms/episode) | incremental (ms/episode) | sparse, scored once (ms/episode) "
              "| full / incremental | full / sparse | max abs score diff |")
    print_table_header(header)
    rows: list[dict[str, object]] = []
    for n in args.n:
        for t in args.t:
            best = measure(args, tasks, tokenizer, device, n, t, pool)
            ms = {kind: 1000 * best[kind][0] / n for kind in KINDS}
            diff = max(float(np.abs(best[kind][1] - best["full"][1]).max()) for kind in KINDS)
            print(
                f"| {n} | {t} | {ms['full']:.2f} | {ms['incremental']:.2f} | {ms['sparse']:.2f} "
                f"| **{ms['full'] / ms['incremental']:.1f}x** | {ms['full'] / ms['sparse']:.1f}x | {diff:.1e} |",
                flush=True,
            )
            rows.append({
                "n": n, "t": t, "full_ms_per_episode": round(ms["full"], 3),
                "incremental_ms_per_episode": round(ms["incremental"], 3),
                "sparse_ms_per_episode": round(ms["sparse"], 3),
                "full_over_incremental": round(ms["full"] / ms["incremental"], 3),
                "full_over_sparse": round(ms["full"] / ms["sparse"], 3), "max_abs_score_diff": diff,
            })
    save(rows, args.csv)


if __name__ == "__main__":
    main()
