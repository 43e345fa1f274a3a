"""Train the tiny GPT-2 language model that ships with textgym.

The model is trained from scratch on the synthetic review/story corpus of
:mod:`textgym.models.corpus`, so it needs no downloads and is reproducible::

    python -m textgym.models.train_tiny [--corpus reviews|world] [--out DIR] [--docs N]
                                        [--steps N] [--seed 0] [--threads 2]

The defaults produce the shipped model in ``textgym/models/tiny``, pretrained on reviews and stories (the v0
tasks' model); ``--corpus world`` produces ``textgym/models/tiny-v1`` from the seeded world of
:mod:`textgym.world` (the v1 tasks' model).  Steps:

1. generate the training documents (``seed``) and a held-out set
   (``seed + HELDOUT_SEED_OFFSET``, minus any document also in the training set);
2. train a byte-level BPE tokenizer (vocabulary 4096, special tokens
   ``<|endoftext|>`` and ``<pad>``);
3. pack the documents, each followed by ``<|endoftext|>``, into 128-token blocks
   and train a 4-layer GPT-2 with AdamW and a warmup + cosine learning rate;
4. report held-out perplexity and sample continuations of review openings;
5. save model, tokenizer and ``training_info.json`` to ``--out``.

Every document in the training stream (except the very first) is preceded by
``<|endoftext|>``, so prompts should be prefixed with that token (it is also the
BOS token) to look like the start of a document.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path

# Deterministic tokenizer training does not need Rust-side threads, and passive
# OpenMP waiting keeps torch's two threads efficient when the CPUs are shared.
# Neither setting changes any result; both must precede the torch import.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402

from textgym.models.corpus import generate_documents, review_openings  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "tiny"
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<pad>"
VOCAB_SIZE = 4096
BLOCK_SIZE = 128
N_POSITIONS = 512
N_EMBD = 128
N_LAYER = 4
N_HEAD = 4
HELDOUT_SEED_OFFSET = 1_000
HELDOUT_DOCS = 2_000
CORPORA = ("reviews", "world")
DEFAULT_DOCS = 150_000
#: optimizer steps per corpus: the world's corpus holds more to learn (facts, Glossa, ...)
DEFAULT_STEPS = {"reviews": 1_500, "world": 1_800}
BATCH_SIZE = 32
PEAK_LR = 2e-3
MIN_LR_RATIO = 0.1
WARMUP_STEPS = 75
WEIGHT_DECAY = 0.01
GRAD_CLIP = 1.0
LOG_EVERY = 50
SAMPLE_PROMPTS = 5
SAMPLE_NEW_TOKENS = 40


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_tokenizer(docs: Sequence[str]) -> Tokenizer:
    """Train a deterministic byte-level BPE tokenizer on ``docs``.

    Special tokens get ids 0 (``<|endoftext|>``) and 1 (``<pad>``); all 256
    byte symbols are in the initial alphabet, so any text can be encoded.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(docs), trainer=trainer, length=len(docs))
    return tok


def pack_blocks(tok: Tokenizer, docs: Sequence[str], block_size: int = BLOCK_SIZE) -> torch.Tensor:
    """Tokenize ``docs``, append EOS to each, concatenate and cut into blocks.

    Returns a ``(num_blocks, block_size)`` long tensor; the incomplete tail is dropped.
    """
    eos = tok.token_to_id(EOS_TOKEN)
    ids: list[int] = []
    for enc in tok.encode_batch(list(docs)):
        ids.extend(enc.ids)
        ids.append(eos)
    n_blocks = len(ids) // block_size
    if n_blocks == 0:
        raise ValueError("not enough text for a single block")
    return torch.tensor(ids[: n_blocks * block_size], dtype=torch.long).view(n_blocks, block_size)


def build_model(eos_id: int, pad_id: int) -> GPT2LMHeadModel:
    """Build the (untrained) tiny GPT-2 model."""
    config = GPT2Config(
        vocab_size=VOCAB_SIZE,
        n_positions=N_POSITIONS,
        n_embd=N_EMBD,
        n_layer=N_LAYER,
        n_head=N_HEAD,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def lr_at(step: int, total: int, peak: float = PEAK_LR, warmup: int = WARMUP_STEPS) -> float:
    """Linear warmup to ``peak`` followed by cosine decay to ``MIN_LR_RATIO * peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorms)."""
    decay, no_decay = [], []
    for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": WEIGHT_DECAY},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=PEAK_LR, betas=(0.9, 0.95), eps=1e-8)


def batch_order(n_blocks: int, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """Block indices for every step: seeded per-epoch permutations, concatenated."""
    gen = torch.Generator().manual_seed(seed)
    needed = steps * batch_size
    perms = [torch.randperm(n_blocks, generator=gen) for _ in range(math.ceil(needed / n_blocks))]
    return torch.cat(perms)[:needed].view(steps, batch_size)


@torch.no_grad()
def evaluate_perplexity(model: GPT2LMHeadModel, blocks: torch.Tensor, batch_size: int = 64) -> float:
    """Token-level perplexity of ``model`` on packed ``blocks``."""
    model.eval()
    total_loss, total_tokens = 0.0, 0
    for i in range(0, len(blocks), batch_size):
        batch = blocks[i : i + batch_size]
        loss = model(input_ids=batch, labels=batch).loss
        n = batch.numel() - batch.shape[0]  # one prediction fewer than tokens per block
        total_loss += loss.item() * n
        total_tokens += n
    return math.exp(total_loss / total_tokens)


@torch.no_grad()
def sample_continuations(
    model: GPT2LMHeadModel, tok: Tokenizer, prompts: Sequence[str], seed: int
) -> list[dict[str, str]]:
    """Sample one continuation per prompt (temperature 1.0, top-k 50, fixed seed)."""
    model.eval()
    eos = tok.token_to_id(EOS_TOKEN)
    pad = tok.token_to_id(PAD_TOKEN)
    out = []
    for i, prompt in enumerate(prompts):
        torch.manual_seed(seed + i)
        ids = torch.tensor([[eos] + tok.encode(prompt).ids])
        gen = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            temperature=1.0,
            top_k=50,
            max_new_tokens=SAMPLE_NEW_TOKENS,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        new = [t for t in gen[0, ids.shape[1] :].tolist() if t != eos]
        out.append({"prompt": prompt, "continuation": tok.decode(new)})
    return out


def folder_size(path: Path) -> int:
    """Total size in bytes of the files directly inside ``path``."""
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the tiny textgym GPT-2 model.")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the bundled one, tiny for --corpus reviews, tiny-v1 for world)")
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="training documents")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimizer steps (default: {DEFAULT_STEPS['reviews']} for reviews, "
                        f"{DEFAULT_STEPS['world']} for world)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--corpus", choices=CORPORA, default="reviews",
                        help="'reviews': reviews and stories only (textgym.models.corpus); 'world': the seeded world "
                        "of textgym.world (reviews and stories plus the knowledge the language tasks test)")
    parser.add_argument("--world-seed", type=int, default=0, help="the world's seed (--corpus world)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = DEFAULT_OUT if args.corpus == "reviews" else DEFAULT_OUT.parent / "tiny-v1"
    if args.steps is None:
        args.steps = DEFAULT_STEPS[args.corpus]
    return args


def corpus_documents(args: argparse.Namespace, n: int, draw_seed: int) -> list[str]:
    """``n`` documents of the chosen corpus, drawn with ``draw_seed``."""
    if args.corpus == "world":
        from textgym.world import World

        return World(args.world_seed).documents(n, draw_seed=draw_seed)
    return generate_documents(n, seed=draw_seed)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the full pipeline; returns the contents of ``training_info.json``."""
    args = parse_args(argv)
    start = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    set_seed(args.seed)

    def log(msg: str) -> None:
        print(f"[{time.time() - start:7.1f}s] {msg}", flush=True)

    train_docs = corpus_documents(args, args.docs, draw_seed=args.seed)
    train_set = set(train_docs)
    heldout_seed = args.seed + HELDOUT_SEED_OFFSET
    heldout_docs = [d for d in corpus_documents(args, HELDOUT_DOCS, draw_seed=heldout_seed) if d not in train_set]
    log(f"corpus: {len(train_docs)} train docs, {len(heldout_docs)} held-out docs")

    tok = train_tokenizer(train_docs)
    eos_id, pad_id = tok.token_to_id(EOS_TOKEN), tok.token_to_id(PAD_TOKEN)
    log(f"tokenizer: vocab {tok.get_vocab_size()}, eos id {eos_id}, pad id {pad_id}")

    train_blocks = pack_blocks(tok, train_docs)
    heldout_blocks = pack_blocks(tok, heldout_docs)
    log(f"data: {train_blocks.numel()} train tokens in {len(train_blocks)} blocks, "
        f"{heldout_blocks.numel()} held-out tokens")

    model = build_model(eos_id, pad_id)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params:,} parameters")

    optimizer = make_optimizer(model)
    order = batch_order(len(train_blocks), args.steps, BATCH_SIZE, args.seed)
    train_start = time.time()
    model.train()
    running, since_log = 0.0, 0
    loss_value = float("nan")
    for step in range(args.steps):
        lr = lr_at(step, args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = train_blocks[order[step]]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        loss_value = loss.item()
        running += loss_value
        since_log += 1
        if (step + 1) % LOG_EVERY == 0 or step == 0 or step + 1 == args.steps:
            log(f"step {step + 1}/{args.steps} loss {running / since_log:.4f} lr {lr:.2e} "
                f"elapsed {time.time() - train_start:.1f}s")
            running, since_log = 0.0, 0
    train_seconds = time.time() - train_start

    ppl = evaluate_perplexity(model, heldout_blocks)
    log(f"held-out perplexity: {ppl:.3f}")
    prompts = review_openings(SAMPLE_PROMPTS, seed=args.seed)
    samples = sample_continuations(model, tok, prompts, seed=args.seed)
    for s in samples:
        log(f"sample: {s['prompt']} | {s['continuation']}")

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        bos_token=EOS_TOKEN,
        model_max_length=N_POSITIONS,
    )
    hf_tok.save_pretrained(out)
    info = {
        "seed": args.seed,
        "corpus": args.corpus,
        "world_seed": args.world_seed if args.corpus == "world" else None,
        "docs": len(train_docs),
        "steps": args.steps,
        "params": n_params,
        "heldout_perplexity": ppl,
        "train_seconds": round(train_seconds, 1),
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "threads": args.threads,
        "batch_size": BATCH_SIZE,
        "block_size": BLOCK_SIZE,
        "peak_lr": PEAK_LR,
        "warmup_steps": WARMUP_STEPS,
        "train_tokens": train_blocks.numel(),
        "tokens_seen": args.steps * BATCH_SIZE * BLOCK_SIZE,
        "final_train_loss": loss_value,
        "heldout_seed": heldout_seed,
        "heldout_docs": len(heldout_docs),
        "vocab_size": tok.get_vocab_size(),
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
        "samples": samples,
    }
    (out / "training_info.json").write_text(json.dumps(info, indent=2) + "\n")
    log(f"saved to {out} ({folder_size(out) / 1e6:.2f} MB), total {time.time() - start:.1f}s")
    return info


if __name__ == "__main__":
    main()
