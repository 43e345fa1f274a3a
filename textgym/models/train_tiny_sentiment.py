"""Train the tiny sentiment classifier (reward model) that ships with textgym.

The classifier is a 2-layer GPT-2 sequence classifier started from the bundled
tiny language model (:mod:`textgym.models.train_tiny`) and fine-tuned on the
labelled reviews of the synthetic corpus (:func:`textgym.models.corpus.labelled_reviews`),
so it needs no downloads and is reproducible::

    python -m textgym.models.train_tiny_sentiment [--out DIR] [--reviews N]
                                                  [--steps N] [--seed 0] [--threads 1]

The defaults produce the shipped model in ``textgym/models/tiny-sentiment``.  Steps:

1. tokenizer: the tiny LM's byte-level BPE tokenizer with a post-processor that
   prepends the BOS token ``<|endoftext|>`` (id 0) to every sequence, so the
   empty string encodes to ``[0]`` and a text looks like the start of a
   document to the LM-initialised layers.  Training uses exactly the ids that
   ``AutoTokenizer.from_pretrained(out)(text)`` gives;
2. data: positive and negative reviews (styles "pos" and "neg"; neutral and
   mixed reviews are left out, the latter because their label is only their
   base polarity, see :func:`~textgym.models.corpus.labelled_reviews`) from
   ``seed``, and a held-out set from ``seed + HELDOUT_SEED_OFFSET`` minus any
   review also in the training set;
3. model: ``GPT2ForSequenceClassification`` with the tiny LM's embeddings, its
   first ``N_LAYER`` transformer blocks and its final LayerNorm, a fresh linear
   head over 2 labels (0 = negative, 1 = positive) read at the last non-pad
   token (``pad_token_id`` 1, ``<pad>``);
4. training: AdamW with warmup + cosine learning rate on batches in which each
   example is a full review or, with probability ``PREFIX_FRACTION``, a random
   prefix of it (cut at a token boundary, at least ``MIN_PREFIX_WORDS`` words,
   re-tokenized from its text) with the review's label, so that the classifier
   also scores text that is still being generated;
5. evaluation on the held-out set: accuracy on full reviews, on one random
   prefix per review (also by how much of the review the prefix covers), on
   mixed reviews against their base polarity, and the mean positive
   probability of neutral reviews;
6. save model, tokenizer and ``training_info.json`` to ``--out``, reload them
   with ``AutoModelForSequenceClassification`` / ``AutoTokenizer`` offline and
   check that right-padded batches give the same logits as one text at a time.

The positive-class probability ``softmax(logits)[:, 1]`` (or the logit
difference) serves as a sentiment reward.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# Passive OpenMP waiting keeps torch's threads efficient when the CPUs are
# shared; no result depends on it.  Must precede the torch import.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, processors  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from textgym.models.corpus import NEG, POS, labelled_reviews  # noqa: E402
from textgym.models.train_tiny import folder_size, lr_at, set_seed  # noqa: E402  (the LM's script: same schedule and seeding)

DEFAULT_BASE = Path(__file__).parent / "tiny"
DEFAULT_OUT = Path(__file__).parent / "tiny-sentiment"
BOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<pad>"
MODEL_MAX_LENGTH = 512
N_LAYER = 2
ID2LABEL = {0: "negative", 1: "positive"}
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
TRAIN_STYLES = ("pos", "neg")
HELDOUT_SEED_OFFSET = 1_000
HELDOUT_REVIEWS = 2_000
HELDOUT_OTHER = 500  # held-out mixed and neutral reviews (reported, not trained on)
DEFAULT_REVIEWS = 20_000
DEFAULT_STEPS = 2_000
BATCH_SIZE = 32
PREFIX_FRACTION = 0.5
MIN_PREFIX_WORDS = 3
PEAK_LR = 5e-4
WARMUP_STEPS = 100
WEIGHT_DECAY = 0.01
GRAD_CLIP = 1.0
LOG_EVERY = 100
EVAL_BATCH = 128
MAX_SIZE_BYTES = 5_000_000
CONSISTENCY_ATOL = 1e-4


def build_tokenizer(base: Path) -> PreTrainedTokenizerFast:
    """The base tokenizer with a post-processor that prepends BOS (id 0)."""
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    bos_id = tok.token_to_id(BOS_TOKEN)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A",
        pair=f"{BOS_TOKEN} $A $B:1",
        special_tokens=[(BOS_TOKEN, bos_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS_TOKEN,
        eos_token=BOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=MODEL_MAX_LENGTH,
        padding_side="right",
    )


def build_model(base: Path, n_layer: int = N_LAYER) -> tuple[GPT2ForSequenceClassification, int]:
    """A sequence classifier holding the base LM's embeddings and first ``n_layer`` blocks.

    Returns the model and the base LM's number of layers.
    """
    lm = GPT2LMHeadModel.from_pretrained(base, local_files_only=True)
    base_layers = lm.config.n_layer
    if not 1 <= n_layer <= base_layers:
        raise ValueError(f"n_layer must be in [1, {base_layers}], got {n_layer}")
    config = GPT2Config(
        vocab_size=lm.config.vocab_size,
        n_positions=lm.config.n_positions,
        n_embd=lm.config.n_embd,
        n_layer=n_layer,
        n_head=lm.config.n_head,
        activation_function=lm.config.activation_function,
        layer_norm_epsilon=lm.config.layer_norm_epsilon,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=lm.config.bos_token_id,
        eos_token_id=lm.config.eos_token_id,
        pad_token_id=lm.config.pad_token_id,
        num_labels=len(ID2LABEL),
        id2label=dict(ID2LABEL),
        label2id=dict(LABEL2ID),
        problem_type="single_label_classification",
        tie_word_embeddings=False,
        use_cache=False,
        architectures=["GPT2ForSequenceClassification"],
    )
    model = GPT2ForSequenceClassification(config)
    dropped = tuple(f"h.{i}." for i in range(n_layer, base_layers))
    state = {k: v for k, v in lm.transformer.state_dict().items() if not k.startswith(dropped)}
    model.transformer.load_state_dict(state, strict=True)
    return model, base_layers


def prefix_ids(
    tok: PreTrainedTokenizerBase, ids: Sequence[int], rng: random.Random
) -> tuple[list[int], float] | None:
    """A random strict prefix of the text encoded by ``ids`` (BOS first), re-encoded.

    The cut is uniform over the token boundaries that leave at least
    ``MIN_PREFIX_WORDS`` words and at least one token out.  Returns the
    prefix's ids (as ``tok`` encodes its text) and the fraction of the
    review's tokens it keeps, or ``None`` if the review is too short.
    """
    body = list(ids[1:])
    k_min = next(
        (k for k in range(1, len(body)) if len(tok.decode(body[:k]).split()) >= MIN_PREFIX_WORDS),
        None,
    )
    if k_min is None:
        return None
    k = rng.randint(k_min, len(body) - 1)
    return tok(tok.decode(body[:k]))["input_ids"], k / len(body)


def collate(batch: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``batch`` with ``pad_id``; returns ``(input_ids, attention_mask)``."""
    width = max(len(x) for x in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, x in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, : len(x)] = 1
    return ids, mask


@torch.no_grad()
def logits_for(
    model: torch.nn.Module, batch_ids: Sequence[Sequence[int]], pad_id: int, batch_size: int = EVAL_BATCH
) -> torch.Tensor:
    """Logits for every id sequence, batched by length (returned in input order)."""
    model.eval()
    order = sorted(range(len(batch_ids)), key=lambda i: len(batch_ids[i]))
    out = torch.empty((len(batch_ids), model.config.num_labels))
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        ids, mask = collate([batch_ids[i] for i in idx], pad_id)
        out[idx] = model(input_ids=ids, attention_mask=mask).logits.float()
    return out


def accuracy(logits: torch.Tensor, labels: Sequence[int]) -> float:
    return (logits.argmax(-1) == torch.tensor(labels)).float().mean().item()


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorms)."""
    decay, no_decay = [], []
    for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": WEIGHT_DECAY},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-8)


def to_class(label: int) -> int:
    """Corpus polarity (POS / NEG) to class index (1 / 0)."""
    if label not in (POS, NEG):
        raise ValueError(f"not a positive/negative label: {label}")
    return LABEL2ID["positive"] if label == POS else LABEL2ID["negative"]


@torch.no_grad()
def check_saved(out: Path, texts: Sequence[str], reference: torch.Tensor) -> dict[str, float]:
    """Reload ``out`` offline; compare batched, one-at-a-time and reference logits."""
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(out, local_files_only=True)
    model.eval()
    if tok("")["input_ids"] != [tok.bos_token_id]:
        raise RuntimeError("the saved tokenizer does not encode '' to [BOS]")
    single = torch.cat([model(**tok(t, return_tensors="pt")).logits for t in texts])
    batched = torch.cat([
        model(**tok(list(texts[i : i + 16]), padding=True, return_tensors="pt")).logits
        for i in range(0, len(texts), 16)
    ])
    diffs = {
        "batched_vs_single_max_abs_diff": (batched - single).abs().max().item(),
        "reloaded_vs_trained_max_abs_diff": (single - reference).abs().max().item(),
    }
    if max(diffs.values()) > CONSISTENCY_ATOL:
        raise RuntimeError(f"saved model is inconsistent: {diffs}")
    return diffs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the tiny textgym sentiment classifier.")
    parser.add_argument("--base", default="tiny",
                        help="the LM it starts from: a bundled name ('tiny', 'tiny-v1') or a folder")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the bundled tiny-sentiment folder of the base: "
                        "tiny -> tiny-sentiment, tiny-v1 -> tiny-sentiment-v1)")
    parser.add_argument("--reviews", type=int, default=DEFAULT_REVIEWS,
                        help="positive + negative training reviews")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="optimizer steps")
    parser.add_argument("--lr", type=float, default=PEAK_LR, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    args.base_name = args.base
    bundled = {"tiny": DEFAULT_BASE, "tiny-v1": DEFAULT_BASE.parent / "tiny-v1"}
    args.base = bundled.get(args.base, Path(args.base))
    if args.out is None:
        if args.base_name not in bundled:
            parser.error("--out is needed when --base is a folder")
        args.out = DEFAULT_OUT.parent / args.base_name.replace("tiny", "tiny-sentiment", 1)
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the full pipeline; returns the contents of ``training_info.json``."""
    args = parse_args(argv)
    start = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    set_seed(args.seed)

    def log(msg: str) -> None:
        print(f"[{time.time() - start:7.1f}s] {msg}", flush=True)

    # 1. Tokenizer, reloaded the way users load it so training sees their ids.
    with tempfile.TemporaryDirectory() as tmp:
        build_tokenizer(args.base).save_pretrained(tmp)
        tok = AutoTokenizer.from_pretrained(tmp, local_files_only=True)
    pad_id, bos_id = tok.pad_token_id, tok.bos_token_id
    if tok("")["input_ids"] != [bos_id]:
        raise RuntimeError("tokenizer does not encode '' to [BOS]")
    log(f"tokenizer: vocab {len(tok)}, bos id {bos_id}, pad id {pad_id}")

    # 2. Data.
    train = labelled_reviews(args.reviews, seed=args.seed, styles=TRAIN_STYLES)
    train_set = {t for t, _ in train}
    heldout_seed = args.seed + HELDOUT_SEED_OFFSET
    heldout = [r for r in labelled_reviews(HELDOUT_REVIEWS, seed=heldout_seed, styles=TRAIN_STYLES)
               if r[0] not in train_set]
    mixed = labelled_reviews(HELDOUT_OTHER, seed=heldout_seed, styles=("mixed",))
    neutral = labelled_reviews(HELDOUT_OTHER, seed=heldout_seed, styles=("neutral",))
    train_ids = tok([t for t, _ in train])["input_ids"]
    train_y = [to_class(y) for _, y in train]
    log(f"data: {len(train)} train reviews ({sum(train_y)} positive), {len(heldout)} held-out; "
        f"mean {np.mean([len(x) for x in train_ids]):.1f} tokens")

    # 3. Model.
    model, base_layers = build_model(args.base)
    if model.config.pad_token_id != pad_id:
        raise RuntimeError("model and tokenizer disagree on the pad id")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params:,} parameters ({N_LAYER} of {base_layers} base layers)")

    # 4. Training.
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    needed = args.steps * BATCH_SIZE
    order = torch.cat([torch.randperm(len(train), generator=gen)
                       for _ in range(math.ceil(needed / len(train)))])[:needed].tolist()
    optimizer = make_optimizer(model, args.lr)
    train_start = time.time()
    model.train()
    running, since_log, n_prefixes = 0.0, 0, 0
    loss_value = float("nan")
    for step in range(args.steps):
        lr = lr_at(step, args.steps, peak=args.lr, warmup=WARMUP_STEPS)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch, labels = [], []
        for i in order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]:
            ids = train_ids[i]
            if rng.random() < PREFIX_FRACTION:
                cut = prefix_ids(tok, ids, rng)
                if cut is not None:
                    ids = cut[0]
                    n_prefixes += 1
            batch.append(ids)
            labels.append(train_y[i])
        input_ids, mask = collate(batch, pad_id)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=torch.tensor(labels)).loss
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
    model.eval()

    # 5. Evaluation.
    h_texts = [t for t, _ in heldout]
    h_y = [to_class(y) for _, y in heldout]
    h_ids = tok(h_texts)["input_ids"]
    full_logits = logits_for(model, h_ids, pad_id)
    full_acc = accuracy(full_logits, h_y)
    prng = random.Random(heldout_seed)
    p_ids, p_y, p_frac = [], [], []
    for ids, y in zip(h_ids, h_y):
        cut = prefix_ids(tok, ids, prng)
        if cut is not None:
            p_ids.append(cut[0])
            p_y.append(y)
            p_frac.append(cut[1])
    prefix_logits = logits_for(model, p_ids, pad_id)
    prefix_acc = accuracy(prefix_logits, p_y)
    by_fraction = {}
    for lo, hi in ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0)):
        sel = [i for i, f in enumerate(p_frac) if lo <= f < hi]
        by_fraction[f"{lo:.2f}-{hi:.2f}"] = {
            "n": len(sel),
            "accuracy": accuracy(prefix_logits[sel], [p_y[i] for i in sel]) if sel else None,
        }
    mixed_logits = logits_for(model, tok([t for t, _ in mixed])["input_ids"], pad_id)
    mixed_acc = accuracy(mixed_logits, [to_class(y) for _, y in mixed])
    neutral_p = logits_for(model, tok([t for t, _ in neutral])["input_ids"], pad_id).softmax(-1)[:, 1]
    empty_p = logits_for(model, [tok("")["input_ids"]], pad_id).softmax(-1)[0, 1].item()
    log(f"held-out accuracy: full {full_acc:.4f} ({len(h_y)}), prefixes {prefix_acc:.4f} "
        f"({len(p_y)}), by prefix fraction "
        + ", ".join(f"{k}: {v['accuracy']:.3f}" for k, v in by_fraction.items() if v["n"]))
    log(f"mixed reviews vs base polarity: {mixed_acc:.4f}; neutral reviews mean P(positive) "
        f"{neutral_p.mean().item():.3f}; empty text P(positive) {empty_p:.3f}")

    # 6. Save and check the saved folder.
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    build_tokenizer(args.base).save_pretrained(out)
    check_texts = [""] + h_texts[:24] + [tok.decode(ids, skip_special_tokens=True) for ids in p_ids[:23]]
    ref = logits_for(model, tok(check_texts)["input_ids"], pad_id, batch_size=1)
    consistency = check_saved(out, check_texts, ref)
    log(f"saved-model checks: {consistency}")
    info = {
        "seed": args.seed,
        "base_model": args.base_name,
        "base_layers": base_layers,
        "layers": N_LAYER,
        "reviews": args.reviews,
        "train_styles": list(TRAIN_STYLES),
        "steps": args.steps,
        "batch_size": BATCH_SIZE,
        "prefix_fraction": PREFIX_FRACTION,
        "min_prefix_words": MIN_PREFIX_WORDS,
        "train_prefixes": n_prefixes,
        "peak_lr": args.lr,
        "warmup_steps": WARMUP_STEPS,
        "params": n_params,
        "final_train_loss": loss_value,
        "heldout_seed": heldout_seed,
        "heldout_reviews": len(h_y),
        "heldout_accuracy_full": full_acc,
        "heldout_prefixes": len(p_y),
        "heldout_accuracy_prefix": prefix_acc,
        "heldout_accuracy_prefix_by_fraction": by_fraction,
        "heldout_mixed_reviews": len(mixed),
        "heldout_accuracy_mixed_vs_base_polarity": mixed_acc,
        "heldout_neutral_reviews": len(neutral),
        "heldout_neutral_mean_p_positive": neutral_p.mean().item(),
        "empty_text_p_positive": empty_p,
        **consistency,
        "train_seconds": round(train_seconds, 1),
        "threads": args.threads,
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "id2label": {str(k): v for k, v in ID2LABEL.items()},
        "bos_token_id": bos_id,
        "pad_token_id": pad_id,
    }
    info_path = out / "training_info.json"
    info_path.unlink(missing_ok=True)
    info["model_bytes"] = (out / "model.safetensors").stat().st_size
    info["folder_bytes_without_training_info"] = folder_size(out)
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    size = folder_size(out)
    if size > MAX_SIZE_BYTES:
        raise RuntimeError(f"{out} is {size} bytes, over the {MAX_SIZE_BYTES} byte limit")
    log(f"saved to {out} ({size / 1e6:.2f} MB), total {time.time() - start:.1f}s")
    return info


if __name__ == "__main__":
    main()
