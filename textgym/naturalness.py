"""Naturalness of generated text, reported beside every task score so that reward hacking shows.

GRUE (RL4LMs, Ramamurthy et al. 2023) reports each task metric next to fluency and
diversity: a policy that games its score ("cheering cheering cheering ...") scores high
and reads badly. For a set of continuations (the greedy generations of one evaluation):

- ``ref_perplexity``: the perplexity of the continuations under the environment's reference
  language model, conditioned on their prompts (a BOS token in front, as the LM agents feed
  it): ``exp(total negative log-likelihood / total generated tokens)``, EOS included when
  emitted. ``nan`` for tasks with their own symbol vocabulary (no language model).
- ``distinct_1``, ``distinct_2``: distinct token n-grams over all n-grams of all
  continuations (corpus level; Li et al. 2016).
- ``repetition``: the share of token 3-grams that repeat an earlier 3-gram of the same
  continuation (0: no repeats; near 1: one phrase over and over).
- ``same_continuation_share``: the share of the continuations that equal the most common one
  (``1 / n`` when all ``n`` differ; 1 when every prompt gets the same text): a policy that
  writes one output for every prompt has collapsed, however fluent that output is.

The n-gram metrics count token ids (EOS excluded), so they apply to every task and
vocabulary alike.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

NATURALNESS_COLUMNS = ("ref_perplexity", "distinct_1", "distinct_2", "repetition", "same_continuation_share")


@dataclass(frozen=True)
class Naturalness:
    ref_perplexity: float
    distinct_1: float
    distinct_2: float
    repetition: float
    same_continuation_share: float = math.nan

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _ngrams(tokens: Sequence[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(sequences: Sequence[Sequence[int]], n: int) -> float:
    """Distinct n-grams / all n-grams over ``sequences`` (``nan`` when none has ``n`` tokens)."""
    grams = [g for seq in sequences for g in _ngrams(list(seq), n)]
    return len(set(grams)) / len(grams) if grams else math.nan


def repetition_rate(sequences: Sequence[Sequence[int]], n: int = 3) -> float:
    """The share of n-grams that repeat an earlier n-gram of the same sequence (``nan`` when there are none)."""
    repeated = total = 0
    for seq in sequences:
        grams = _ngrams(list(seq), n)
        total += len(grams)
        repeated += len(grams) - len(set(grams))
    return repeated / total if total else math.nan


def same_continuation_share(sequences: Sequence[Sequence[int]]) -> float:
    """The share of ``sequences`` equal to the most common one (``nan`` when there are none)."""
    if not sequences:
        return math.nan
    return max(Counter(tuple(seq) for seq in sequences).values()) / len(sequences)


@torch.no_grad()
def reference_perplexity(
    model: torch.nn.Module,
    bos_token_id: int,
    pad_token_id: int,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    batch_size: int = 64,
) -> float:
    """``exp`` of the mean negative log-likelihood per continuation token under ``model``, given ``[BOS] + prompt``."""
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    pairs = [(list(p), list(c)) for p, c in zip(prompts, continuations) if len(c)]
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        width = max(1 + len(p) + len(c) for p, c in batch)
        ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        targets = torch.zeros((len(batch), width), dtype=torch.bool)  # positions whose token is a continuation token
        for row, (p, c) in enumerate(batch):
            seq = [bos_token_id] + p + c
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
            targets[row, 1 + len(p) : len(seq)] = True
        ids, mask, targets = ids.to(device), mask.to(device), targets.to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
        log_probs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        chosen = targets[:, 1:]
        total_nll -= float(log_probs[chosen].sum())
        total_tokens += int(chosen.sum())
    return math.exp(total_nll / total_tokens) if total_tokens else math.nan


def measure_naturalness(
    model_name: str | None,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    eos_token_id: int,
    pad_token_id: int,
    device: str | torch.device = "cpu",
) -> Naturalness:
    """The five naturalness numbers of ``continuations`` (token ids, EOS included where emitted).

    ``model_name`` is the environment's reference LM (``env.setup.model``); ``None`` (a task
    with its own symbol vocabulary) gives ``ref_perplexity = nan``.
    """
    perplexity = math.nan
    if model_name is not None:
        from textgym.models import load_frozen

        lm = load_frozen(model_name, device)
        bos = getattr(lm.model.config, "bos_token_id", None)
        bos = bos if isinstance(bos, int) and bos >= 0 else eos_token_id
        perplexity = reference_perplexity(lm.model, bos, pad_token_id, prompts, continuations)
    words = [[int(t) for t in seq if int(t) != eos_token_id] for seq in continuations]
    return Naturalness(
        ref_perplexity=float(perplexity),
        distinct_1=float(distinct_n(words, 1)),
        distinct_2=float(distinct_n(words, 2)),
        repetition=float(repetition_rate(words, 3)),
        same_continuation_share=float(same_continuation_share(words)),
    )

