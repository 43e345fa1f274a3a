"""Load a Hugging Face sequence classifier as a reward model, and score texts with it in batches.

A reward model is any ``AutoModelForSequenceClassification`` checkpoint: bundled
(``"tiny-sentiment"``), a Hugging Face name (``"lvwerra/distilbert-imdb"``), or a local
folder. It brings its own tokenizer, unrelated to the policy's. :class:`RewardModel` turns
its logits into one number per text: one label's logit, probability or log-probability.
:meth:`RewardModel.score` reads whole texts; a decoder classifier can also be read
incrementally, as texts grow (:meth:`RewardModel.incremental_scores`, see
:mod:`textgym.models.incremental_reward`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from textgym.devices import resolve_device
from textgym.models.loader import ModelNotFoundError, _from_pretrained, model_context_length

#: how the chosen label's logit becomes the score
TRANSFORMS = ("logit", "prob", "logprob")


class RewardModelError(ValueError):
    """A reward model cannot be used as asked (not a classifier, unknown label, bad output...)."""


def _check_is_classifier(name: str, config) -> None:
    """Refuse a checkpoint whose architecture is not a sequence classifier (a causal LM, say)."""
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(arch.endswith("ForSequenceClassification") for arch in architectures):
        raise RewardModelError(
            f"reward model {name!r} is a {', '.join(architectures)}, not a sequence classifier; a reward model must be "
            f"an AutoModelForSequenceClassification checkpoint (an architecture ending in 'ForSequenceClassification')"
        )


@functools.lru_cache(maxsize=8)
def _load(name: str, device: torch.device, trust_remote_code: bool):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = _from_pretrained(AutoConfig, name, trust_remote_code=trust_remote_code)
    _check_is_classifier(name, config)
    try:
        model, loading = _from_pretrained(
            AutoModelForSequenceClassification, name, trust_remote_code=trust_remote_code, output_loading_info=True
        )
    except ValueError as error:  # a config with no sequence-classification class
        if isinstance(error, ModelNotFoundError):
            raise
        raise RewardModelError(f"reward model {name!r} cannot be loaded as a sequence classifier: {error}") from None
    missing = list(loading.get("missing_keys", []))
    if missing:
        raise RewardModelError(
            f"reward model {name!r} has no trained classification head (missing weights: "
            f"{', '.join(sorted(missing)[:4])}); a reward model must be a sequence classifier checkpoint, not a base "
            f"or causal LM"
        )
    tokenizer = _from_pretrained(AutoTokenizer, name, trust_remote_code=trust_remote_code)
    if getattr(tokenizer, "pad_token_id", None) is None:  # e.g. GPT-2's tokenizer: pad with EOS, as TRL does
        if tokenizer.eos_token is None:
            raise RewardModelError(
                f"reward model {name!r}: its tokenizer has neither a pad nor an EOS token to pad batches with"
            )
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:  # decoder classifiers find each row's last token through it
        model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.padding_side = "right"  # absolute positions start at 0 in every row, as for one text alone
    model.to(device).eval().requires_grad_(False)
    return model, tokenizer


@dataclass
class RewardModel:
    """A frozen sequence classifier and its tokenizer, giving one score per text.

    Attributes:
        name: what was passed to :func:`load_reward_model`.
        model, tokenizer: the ``transformers`` classifier and its own tokenizer.
        label_index: the logit used (0 for a single-logit regression head).
        transform: ``"logit"``, ``"prob"`` or ``"logprob"`` of that label.
        batch_size: the most texts in one forward.
        max_length: the most reward-model tokens a text may take (at most the model's
            context): :meth:`score` truncates a longer text to it, or refuses it with
            ``truncate=False`` (the envs' way).
    """

    name: str
    model: torch.nn.Module
    tokenizer: object
    label_index: int
    transform: str
    batch_size: int
    max_length: int

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def num_labels(self) -> int:
        return int(self.model.config.num_labels)

    def score_range(self) -> tuple[float, float]:
        """The range of the transformed output."""
        return {"logit": (-math.inf, math.inf), "prob": (0.0, 1.0), "logprob": (-math.inf, 0.0)}[self.transform]

    @torch.inference_mode()
    def score(self, texts: Sequence[str], truncate: bool = True) -> np.ndarray:
        """The score of every text (float64), ``batch_size`` texts per forward.

        Args:
            texts: what the classifier reads.
            truncate: cut a text longer than :attr:`max_length` reward-model tokens to its
                first ``max_length`` (what the classifier's pipeline does); ``False``: a
                :class:`RewardModelError` that names the lengths instead (the envs' choice:
                an episode's score never reads a truncated text).
        """
        out = np.empty(len(texts), dtype=np.float64)
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start : start + self.batch_size])
            if truncate:
                batch = self.tokenizer(
                    chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                )
            else:
                batch = self.tokenizer(chunk, padding=True, return_tensors="pt")
                lengths = batch["attention_mask"].sum(dim=1)
                if int(lengths.max()) > self.max_length:
                    index = int(lengths.argmax())
                    self.raise_too_long(int(lengths[index]), chunk[index])
            batch = {key: value.to(self.device) for key, value in batch.items()}
            logits = self.model(**batch).logits.double()
            out[start : start + len(chunk)] = self.scores_from_logits(logits).cpu().numpy()
        self.check_finite(out, texts)
        return out

    def raise_too_long(self, length: int, text: str) -> None:
        """The error for a text of ``length`` reward-model tokens, more than :attr:`max_length`."""
        shown = text if len(text) <= 80 else text[:40] + " ... " + text[-35:]
        raise RewardModelError(
            f"reward model {self.name!r} reads at most {self.max_length} tokens, but the text {shown!r} takes {length} "
            f"of its tokens; textgym never scores a truncated text: lower max_new_tokens, shorten the prompts, or use "
            f"a reward model with a longer context"
        )

    def check_finite(self, scores: np.ndarray, texts: Sequence[str]) -> None:
        """A :class:`RewardModelError` naming the first text whose score is not finite."""
        bad = np.flatnonzero(~np.isfinite(scores))
        if len(bad):
            index = int(bad[0])
            raise RewardModelError(
                f"reward model {self.name!r} output {scores[index]} (not finite) for the text {texts[index]!r}"
            )

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How many reward-model tokens each text takes (special tokens included), untruncated."""
        return [len(ids) for ids in self.tokenizer(list(texts))["input_ids"]] if texts else []

    def decoder_problem(self) -> str | None:
        """Why this model cannot be scored incrementally (``None``: it can); see
        :func:`textgym.models.incremental_reward.decoder_classifier_problem`."""
        from textgym.models.incremental_reward import decoder_classifier_problem

        return decoder_classifier_problem(self.model, self.tokenizer)

    def incremental_scores(self, num_rows: int):
        """An :class:`~textgym.models.incremental_reward.IncrementalScores` of ``num_rows`` growing texts."""
        from textgym.models.incremental_reward import IncrementalScores

        return IncrementalScores(self, num_rows)

    def scores_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The score of every row of ``logits`` (``[rows, labels]``): the chosen label's output, transformed."""
        if logits.shape[-1] == 1:  # a regression / single-logit head: sigmoid is its probability
            x = logits[:, 0]
            if self.transform == "prob":
                return torch.sigmoid(x)
            return torch.nn.functional.logsigmoid(x) if self.transform == "logprob" else x
        if self.transform == "prob":
            return torch.softmax(logits, dim=-1)[:, self.label_index]
        if self.transform == "logprob":
            return torch.log_softmax(logits, dim=-1)[:, self.label_index]
        return logits[:, self.label_index]


def resolve_label(name: str, config, label: int | str | None) -> int:
    """The logit index of ``label`` (a name from the config's ``id2label``, or an index), or a clear error."""
    num_labels = int(config.num_labels)
    id2label = {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}
    names = [id2label.get(i, str(i)) for i in range(num_labels)]
    allowed = f"its labels are {', '.join(f'{i} ({n!r})' for i, n in enumerate(names))}"
    if label is None:
        if num_labels == 1:
            return 0
        raise RewardModelError(f"reward model {name!r} has {num_labels} labels; pass label= one of them: {allowed}")
    if isinstance(label, bool):
        raise RewardModelError(f"label={label!r} is not a label name or index; {allowed}")
    if isinstance(label, (int, np.integer)):
        if not 0 <= int(label) < num_labels:
            raise RewardModelError(f"reward model {name!r} has no label {label}; {allowed}")
        return int(label)
    if isinstance(label, str):
        for i, n in enumerate(names):
            if n == label:
                return i
        folded = [i for i, n in enumerate(names) if n.lower() == label.lower()]
        if len(folded) == 1:
            return folded[0]
        raise RewardModelError(f"reward model {name!r} has no label {label!r}; {allowed}")
    raise RewardModelError(f"label must be a label name, an index or None, got {type(label).__name__}; {allowed}")


def load_reward_model(
    name: str,
    label: int | str | None = None,
    transform: str = "logit",
    device: str | torch.device = "auto",
    batch_size: int = 64,
    max_length: int | None = None,
    trust_remote_code: bool = False,
) -> RewardModel:
    """Load a sequence classifier as a frozen reward model (shared per name, device and ``trust_remote_code``).

    Args:
        name: ``"tiny-sentiment"`` (bundled), a Hugging Face name, or a local folder.
        label: the label whose logit is the score: its name (``"positive"``) or index. A
            single-logit head needs none.
        transform: ``"logit"`` (the raw logit), ``"prob"`` (its softmax probability; sigmoid
            for a single logit) or ``"logprob"``.
        device: where the classifier runs (``"auto"``: CUDA when there is one).
        batch_size: the most texts in one forward.
        max_length: the most reward-model tokens a text may take (default: the model's context;
            see :class:`RewardModel`).
        trust_remote_code: run code shipped with a hub model; off unless you ask.

    Raises:
        RewardModelError: the checkpoint is not a sequence classifier, or ``label`` /
            ``transform`` is not one it has.
        ModelNotFoundError: the model is not bundled, local or obtainable.
    """
    if transform not in TRANSFORMS:
        raise RewardModelError(f"unknown transform {transform!r}; allowed: {list(TRANSFORMS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise RewardModelError(f"batch_size must be a positive integer, got {batch_size!r}")
    model, tokenizer = _load(name, resolve_device(device), bool(trust_remote_code))
    label_index = resolve_label(name, model.config, label)
    context = model_context_length(model.config)
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < context:
        context = tokenizer_limit
    if max_length is None:
        max_length = context
    elif isinstance(max_length, bool) or not isinstance(max_length, int) or not 0 < max_length <= context:
        raise RewardModelError(
            f"max_length must be a positive integer at most the context of {name!r} ({context}), got {max_length!r}"
        )
    return RewardModel(name, model, tokenizer, label_index, transform, int(batch_size), int(max_length))
