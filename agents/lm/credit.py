"""Credit assignment for the LM agents: which token of an episode gets how much of its reward.

Three modes (``LMConfig.credit``):

- ``"env"``: the env's own per-token rewards as they are (dense or sparse, as the env was made).
- ``"uniform"``: the episode's final score spread evenly over its tokens (:func:`uniform_credit`).
- ``"attention"``: attention-based credit (ABC, :func:`attention_credit`), reward-model tasks only.

Attention-based credit follows Chan, Sun, Holt and van der Schaar, "Dense Reward for Free in
Reinforcement Learning from Human Feedback", ICML 2024 (arXiv:2402.00782; code:
https://github.com/XanderJC/attention-based-credit). A reward model is a transformer whose
classification head reads the hidden state of one position (the last real token of a GPT-2
style decoder classifier, ``[CLS]`` at position 0 of a BERT-style one). The last layer's
attention from that position, averaged over the heads, says how much each token of the text
fed the state that is scored. ABC takes that attention row, keeps the response's part of it,
renormalises it to sum to 1 over the response, and hands out the scalar score in those
proportions: a dense reward "for free" (one reward-model forward with attentions per batch),
whose sum per episode is still the score, so the optimal policy is unchanged (the paper's
potential-based shaping argument). The authors mix it with the sparse reward:
``r = beta * score * attention + (1 - beta) * score * [last token]`` (``beta`` here too;
``beta=1``, pure redistribution, is the default).

The authors' reward model reads the policy's own tokens, so their attention row indexes the
response tokens directly. Here the reward model has its own tokenizer and reads the decoded
text (:class:`~textgym.tasks.reward_model.RewardModelTask`), so the attention is carried over
through characters: policy token ``t`` covers the characters its incremental decoding added to
the continuation (what the env's decoder returned at that step); a reward-model token covers the
characters of its offset mapping; a reward-model token's weight goes to the policy tokens whose
characters overlap it, split in proportion to the overlap. The part of a reward-model token that
lies in the prompt (a byte-pair merge across the prompt's end), the prompt's tokens and special
tokens (BOS) hold no response characters: their weight is dropped, as the authors drop the
attention on the query, before the renormalisation.

Edge cases (decided here):

- Tokens that add no characters (EOS; a token holding the first bytes of a multi-byte character,
  which the decoder returns with the token that completes it) get no attention credit. The text
  the decoder still holds at the episode's end (U+FFFD for a never-completed character) belongs
  to the last token, where the env's own reward for it lands.
- An empty continuation (EOS first, or only tokens that decode to nothing), or a response that
  gets no attention weight at all: the whole score goes to the last live token, as in sparse mode.
- The score is the env's final score, ``env_rewards.sum(1)`` (the same number in dense and sparse
  mode by the reward contract). With the task's ``baseline="none"`` it includes the classifier's
  score of the prompt alone (``text="prompt+continuation"``) or of the empty text
  (``text="continuation"``); ABC, like the authors' code, gives all of it to the response tokens,
  because no action chose the prompt. With ``baseline="prompt"`` the score is measured from the
  prompt's own, and that difference is what is redistributed.
- A row with no live token (no transition) gets 0 everywhere.

The sum identity (each row's credited rewards sum to its final score) is exact up to float
rounding: the shares are computed in float64 and sum to 1 per row.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from textgym.models.reward_models import RewardModel
from textgym.models.tokenizer import TextTokenizer
from textgym.tasks.reward_model import RewardModelTask

CREDIT_MODES = ("env", "uniform", "attention")

#: the reward model -> a copy of it with eager attention (the env's own copy keeps its attention implementation)
_EAGER_COPIES: weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module] = weakref.WeakKeyDictionary()


# -- checks ------------------------------------------------------------------------------------------------


def check_credit(credit: str, task, env_id: str = "this env") -> None:
    """Raise a ``ValueError`` if ``credit`` is not a mode, or is ``"attention"`` for a ``task`` without a reward model
    (``env_id`` names the env in the message)."""
    if credit not in CREDIT_MODES:
        allowed = ", ".join(repr(mode) for mode in CREDIT_MODES)
        raise ValueError(f"unknown credit={credit!r}; allowed: {allowed}")
    if credit != "attention":
        return
    if not isinstance(task, RewardModelTask):
        raise ValueError(
            f"credit='attention' needs a reward-model task (e.g. textgym/SentimentRM-v0 or task='reward-model'); "
            f"{env_id}'s task {task.name!r} has no reward model; allowed here: 'env', 'uniform'"
        )
    tokenizer = task.reward_model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"credit='attention' maps the reward model's tokens to the policy's by character offsets, which needs a "
            f"fast tokenizer; reward model {task.reward_model.name!r} has a slow one ({type(tokenizer).__name__})"
        )


def task_of(env) -> tuple[Any, str]:
    """``(task, id)`` of a (possibly wrapped) textgym env, the arguments of :func:`check_credit`."""
    base = env.unwrapped
    return base.task, base.spec.id if getattr(base, "spec", None) is not None else "this env"


# -- uniform ----------------------------------------------------------------------------------------------


def uniform_credit(env_rewards: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Each episode's final score spread evenly over its live tokens (``[B, H]``, 0 after the end).

    The final score is ``env_rewards.sum(1)``: the sparse return, which the dense rewards sum to as well.
    """
    mask = response_mask.bool()
    totals = env_rewards.double().sum(1)
    counts = mask.sum(1).clamp(min=1)
    shares = (totals / counts).unsqueeze(1) * mask
    return shares.to(env_rewards.dtype)


# -- attention (ABC) ----------------------------------------------------------------------------------------


@torch.inference_mode()
def attention_credit(
    env,
    env_rewards: torch.Tensor,
    response_ids: torch.Tensor,
    response_mask: torch.Tensor,
    beta: float = 1.0,
) -> torch.Tensor:
    """Each episode's final score redistributed over its tokens by the reward model's attention (ABC).

    Call it right after a rollout round on ``env``, before the next reset: the env still holds each
    row's prompt and text. One reward-model forward (with attentions) reads all rows' texts
    (``batch_size`` texts per forward).

    Args:
        env: the batched env of a reward-model task (see :func:`check_credit`).
        env_rewards: ``[B, H]`` the env's rewards (dense or sparse), 0 after each episode's end.
        response_ids: ``[B, H]`` the sampled tokens.
        response_mask: ``[B, H]`` True for the live transitions (a prefix of each row).
        beta: the share redistributed by attention; the rest, ``1 - beta``, goes to the last live
            token as the sparse reward does (the authors' mixing; 1: pure redistribution).

    Returns:
        ``[B, H]`` rewards (``env_rewards``' dtype and device): each token's share (>= 0) of its row's
        final score, 0 on masked tokens; each row sums to its final score.
    """
    check_credit("attention", *task_of(env))
    if not 0.0 <= float(beta) <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta!r}")
    base = env.unwrapped
    task: RewardModelTask = base.task
    num_rows, horizon = response_ids.shape
    if num_rows != base.num_envs:
        raise ValueError(f"attention_credit: {num_rows} rows of responses, but the env has {base.num_envs}")

    lengths = response_mask.bool().sum(1).tolist()
    ids = response_ids.tolist()
    continuations = base.texts()
    prompt_indices = base.prompt_indices.tolist()

    # the classifier's input of every row with some text, and where its continuation starts in it
    token_ends: list[np.ndarray] = []
    inputs, input_rows, starts = [], [], []
    for row in range(num_rows):
        text, ends = policy_token_ends(base.tokenizer, ids[row][: lengths[row]])
        if text != continuations[row]:
            raise ValueError(
                f"attention_credit: row {row}'s tokens decode to {text!r} but the env holds {continuations[row]!r}; "
                f"call it right after the rollout round, before the env is reset, with that round's response_ids and "
                f"response_mask"
            )
        token_ends.append(ends)
        if not text:
            continue
        classifier_input = task.classifier_input(base.setup.prompts[prompt_indices[row]], text)
        if not classifier_input.endswith(text):
            raise ValueError(
                f"attention_credit: task {task.name!r}'s classifier input does not end with the continuation"
            )
        inputs.append(classifier_input)
        input_rows.append(row)
        starts.append(len(classifier_input) - len(text))

    # ABC weights over each row's tokens: the scoring position's attention, its response part renormalised (the
    # authors' get_attention_distribution, abcrl/attention/redistribution.py); a row with none: its last live token
    weights = np.zeros((num_rows, horizon), dtype=np.float64)
    for row, start, (offsets, attention) in zip(input_rows, starts, scoring_attention(task.reward_model, inputs)):
        ends = token_ends[row]
        row_weights = spread_over_tokens(offsets - start, attention, ends)
        total = row_weights.sum()
        if total > 0:
            weights[row, : len(ends)] = row_weights / total
    last = np.asarray(lengths) - 1
    live = last >= 0
    sparse = np.zeros_like(weights)
    sparse[live, last[live]] = 1.0
    unweighted = live & (weights.sum(1) == 0)
    weights[unweighted] = sparse[unweighted]
    # the authors' mix (experiments/scripts/rlhf_imdb.py, method "abc"): reward[-1] = (1 - beta) * total, then
    # reward += beta * total * distribution
    shares = beta * weights + (1.0 - beta) * sparse

    totals = env_rewards.double().sum(1, keepdim=True)
    credit = totals * torch.from_numpy(shares).to(totals.device)
    return credit.to(env_rewards.dtype)


def policy_token_ends(tokenizer: TextTokenizer, ids: Sequence[int]) -> tuple[str, np.ndarray]:
    """The continuation ``ids`` decode to, and where each token's characters end in it.

    Decoded as the env decodes (one incremental decoder, token by token): token ``t`` covers the
    characters ``ends[t - 1]:ends[t]`` (``0:ends[0]`` for the first), possibly none; what the decoder
    still holds at the end (see :meth:`~textgym.models.tokenizer.IncrementalDecoder.flush`) joins the
    last token.
    """
    decoder = tokenizer.incremental_decoder()
    pieces = [decoder.push(token) for token in ids]
    if pieces:
        pieces[-1] += decoder.flush()
    return "".join(pieces), np.cumsum([len(piece) for piece in pieces], dtype=np.int64)


def spread_over_tokens(offsets: np.ndarray, attention: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each policy token's share of the reward-model tokens' attention (not normalised).

    Args:
        offsets: ``[T, 2]`` the reward-model tokens' character spans, relative to the continuation's
            start (negative: in the prompt; an empty span: a special token).
        attention: ``[T]`` each reward-model token's attention weight.
        ends: ``[n]`` where each policy token's characters end in the continuation (from :func:`policy_token_ends`).

    A reward-model token's weight is spread evenly over its characters; the characters outside the
    continuation drop theirs; a policy token gets the weight of its characters.
    """
    length = int(ends[-1]) if len(ends) else 0
    per_character = np.zeros(length, dtype=np.float64)
    for (begin, end), weight in zip(offsets.tolist(), attention.tolist()):
        if end <= begin:
            continue
        low, high = max(begin, 0), min(end, length)
        if high > low:
            per_character[low:high] += weight / (end - begin)
    cumulative = np.concatenate([[0.0], np.cumsum(per_character)])
    token_starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return cumulative[ends] - cumulative[token_starts]


def scoring_attention(reward_model: RewardModel, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each text: its reward-model tokens' character spans ``[T, 2]`` and the last layer's attention from the
    scoring position to each of them, averaged over heads (``[T]``, float64; padding left out).

    The texts are tokenised as :meth:`RewardModel.score` tokenises them (special tokens added), ``batch_size``
    texts per forward of an eager-attention copy of the classifier (:func:`eager_model`).
    """
    model = eager_model(reward_model.model)
    device = next(model.parameters()).device
    results = []
    for begin in range(0, len(texts), reward_model.batch_size):
        chunk = list(texts[begin : begin + reward_model.batch_size])
        batch = reward_model.tokenizer(chunk, padding=True, return_offsets_mapping=True, return_tensors="pt")
        offsets = batch.pop("offset_mapping")
        batch = {key: value.to(device) for key, value in batch.items()}
        output = model(**batch, output_attentions=True)
        if not output.attentions:
            raise RuntimeError(
                f"reward model {reward_model.name!r} returned no attentions (its attention implementation "
                f"is {model.config._attn_implementation!r}, not 'eager')"
            )
        rows = torch.arange(len(chunk), device=device)
        query = scoring_positions(model, batch["input_ids"])
        # [rows, heads, T, T] -> the scoring position's row, averaged over heads: [rows, T]
        attention = output.attentions[-1][rows, :, query, :].mean(1).double().cpu()
        real = batch["attention_mask"].bool().cpu()
        for i in range(len(chunk)):
            results.append((offsets[i][real[i]].numpy(), attention[i][real[i]].numpy()))
    return results


def scoring_positions(model: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """The position whose hidden state the classification head reads, per row.

    A decoder classifier (a linear head named ``score``: GPT-2, Llama, Mistral, ...) reads the
    rightmost token that is not the pad token, found as ``transformers`` finds it; an encoder one
    (BERT, RoBERTa, DistilBERT, ...: a head named ``classifier``) reads position 0 (``[CLS]``).
    """
    rows, width = input_ids.shape
    if not isinstance(getattr(model, "score", None), torch.nn.Linear):
        return torch.zeros(rows, dtype=torch.long, device=input_ids.device)
    pad = model.config.pad_token_id
    if pad is None:  # transformers reads the last column then
        return torch.full((rows,), width - 1, dtype=torch.long, device=input_ids.device)
    positions = torch.arange(width, device=input_ids.device)
    return (positions * (input_ids != pad)).argmax(-1)


def eager_model(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` itself if its attention is eager, else a copy with eager attention (made once per model).

    Only eager attention returns the attention weights (``sdpa`` returns none). The copy leaves the
    env's classifier as it was loaded; it doubles the classifier's memory.
    """
    if getattr(model.config, "_attn_implementation", "eager") == "eager":
        return model
    eager = _EAGER_COPIES.get(model)
    if eager is None:
        eager = copy.deepcopy(model)
        eager.set_attn_implementation("eager")
        eager.eval().requires_grad_(False)
        _EAGER_COPIES[model] = eager
    return eager


# -- one entry point -----------------------------------------------------------------------------------------


def credited_rewards(credit: str, env, env_rewards: torch.Tensor, response_ids: torch.Tensor,
                     response_mask: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """The per-token rewards ``credit`` says: the env's own, :func:`uniform_credit` or :func:`attention_credit`."""
    if credit != "attention":  # attention_credit checks its own case
        check_credit(credit, *task_of(env))
    if credit == "env":
        return env_rewards
    if credit == "uniform":
        return uniform_credit(env_rewards, response_mask)
    return attention_credit(env, env_rewards, response_ids, response_mask, beta=beta)
