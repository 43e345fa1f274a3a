"""Next-token distributions of a frozen reference LM for a batch of textgym observations.

:class:`ReferenceLM` runs one forward over each row's whole observation per call. Its
:meth:`~ReferenceLM.incremental` view, :class:`IncrementalReference`, gives the same logits for a
batch whose rows grow by one token per call (the observations of a batched env stepped once per
call) with a key/value cache: each call feeds only the new tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textgym.models.kv_cache import cache_keyword, output_cache
from textgym.models.loader import load_frozen


def _as_batch(values, device: torch.device) -> torch.Tensor:
    """A ``[N, L]`` long tensor on ``device`` from a numpy array or tensor of any leading shape."""
    tensor = torch.as_tensor(values if isinstance(values, torch.Tensor) else np.asarray(values), device=device)
    return tensor.long().reshape(-1, tensor.shape[-1])


class _NextTokenDistributions:
    """``top_k`` and ``top_p_mask`` over the ``logits`` of a subclass."""

    def logits(self, input_ids, attention_mask) -> torch.Tensor:
        """``[N, vocab_size]`` float32 logits of the token after each row's last real token."""
        raise NotImplementedError

    def top_k(self, input_ids, attention_mask, k: int) -> torch.Tensor:
        """``[N, k]`` token ids, most likely first."""
        return torch.topk(self.logits(input_ids, attention_mask), k, dim=-1).indices

    def top_p_mask(self, input_ids, attention_mask, p: float) -> torch.Tensor:
        """``[N, vocab_size]`` bool: the smallest set of most likely tokens whose probability reaches ``p``."""
        probs = torch.softmax(self.logits(input_ids, attention_mask), dim=-1)
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the tokens ranked above
        keep_sorted = before < p
        keep_sorted[:, 0] = True
        mask = torch.zeros_like(keep_sorted)
        mask.scatter_(1, order, keep_sorted)
        return mask


class ReferenceLM(_NextTokenDistributions):
    """Next-token logits of a frozen causal LM for right-padded ``input_ids``/``attention_mask`` batches.

    Used to restrict the action space to likely tokens (top-k actions, top-p masks as in
    NLPO). One forward pass over the batch per call; :meth:`incremental` gives a cached view for
    a batch stepped token by token.
    """

    def __init__(self, model_name: str, device: str | torch.device = "cpu") -> None:
        self.lm = load_frozen(model_name, device)
        self.device = self.lm.device
        self.vocab_size = self.lm.tokenizer.vocab_size

    @torch.no_grad()
    def logits(self, input_ids, attention_mask) -> torch.Tensor:
        """``[N, vocab_size]`` float32 logits of the token after each row's last real token."""
        ids, mask = _as_batch(input_ids, self.device), _as_batch(attention_mask, self.device)
        length = int(mask.sum(1).max())
        ids, mask = ids[:, :length], mask[:, :length]
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        logits = self.lm.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        last = (mask.sum(1) - 1).clamp(min=0)
        return logits[torch.arange(len(ids), device=self.device), last, : self.vocab_size].float()

    def incremental(self) -> IncrementalReference:
        """A new key/value-cached view of this LM (its own cache) for a batch stepped token by token."""
        return IncrementalReference(self)


def _cache_layers(cache: Any) -> list[Any] | None:
    """The layers of a key/value cache whose ``keys``/``values`` (``[B, heads, L, d]``) can be edited per row (a
    ``DynamicCache``); ``None`` for a cache of another kind."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(isinstance(getattr(layer, "keys", None), torch.Tensor)
                             and isinstance(getattr(layer, "values", None), torch.Tensor) for layer in layers):
        return None
    return list(layers)


class IncrementalReference(_NextTokenDistributions):
    """:class:`ReferenceLM`'s logits (equal to float tolerance) for a batch whose rows grow by one token per call.

    It remembers the previous call's observation (right-padded ``input_ids``/``attention_mask``) and
    the LM's key/value cache of each row's tokens (left-padded columns, with ``position_ids`` from
    the real tokens). Each row of a new call is read against the remembered one:

    - it *continues* (the remembered tokens plus one): only its new token is fed, one cached step;
    - it is *unchanged*: its remembered logits are returned (a masked column is fed for it);
    - anything else (a new episode's prompt, a reset): the row is re-encoded from its observation
      and spliced into the cache.

    When every row is new (a reset of every row, another batch shape, the first call) the whole
    batch is encoded afresh. A row's logits depend on its tokens only, so any batch gives the
    uncached logits; the cache just makes the common case (every row one token longer) cheap.
    """

    def __init__(self, reference: ReferenceLM) -> None:
        self.reference = reference
        self.model = reference.lm.model
        self.device = reference.device
        self.vocab_size = reference.vocab_size
        self.cache_arg = cache_keyword(self.model)
        self.reset()

    def reset(self) -> None:
        """Forget the cached batch: the next call encodes every row."""
        self.cache: Any = None
        self.ids: torch.Tensor | None = None  # [B, W] the previous observation (padding zeroed)
        self.obs_mask: torch.Tensor | None = None  # [B, W]
        self.mask: torch.Tensor | None = None  # [B, C] the cache's attention mask (left-padded columns)
        self.next_position: torch.Tensor | None = None  # [B] position of each row's next token
        self.last_logits: torch.Tensor | None = None  # [B, vocab_size] float32
        self.prefills = 0  # whole-batch encodings
        self.splices = 0  # rows re-encoded into the cache
        self.steps = 0  # cached steps

    @torch.no_grad()
    def logits(self, input_ids, attention_mask) -> torch.Tensor:
        """``[N, vocab_size]`` float32 logits of the token after each row's last real token."""
        obs_mask = _as_batch(attention_mask, self.device)
        ids = _as_batch(input_ids, self.device).reshape(obs_mask.shape)
        ids = torch.where(obs_mask.bool(), ids, 0)
        lengths = obs_mask.sum(1)
        columns = torch.arange(ids.shape[1], device=self.device).unsqueeze(0)
        if not (obs_mask == (columns < lengths.unsqueeze(1))).all() or not bool((lengths > 0).all()):
            self.reset()  # not right-padded, or an empty row: not a batch the cache can follow
            return self.reference.logits(ids, obs_mask)
        if (self.ids is None or self.ids.shape != ids.shape
                or self.mask.shape[1] > 2 * ids.shape[1]):  # unchanged rows left too many masked columns
            self._prefill(ids, lengths)
        else:
            old = self.obs_mask.sum(1)
            same_prefix = ((ids == self.ids) | (columns >= old.unsqueeze(1))).all(1)
            continues = same_prefix & (lengths == old + 1)
            unchanged = same_prefix & (lengths == old)
            redo = ~continues & ~unchanged
            if not bool((continues | unchanged).any()):
                self._prefill(ids, lengths)  # every row is new
            else:
                if bool(continues.any()):
                    self._step(ids, lengths, continues)
                if redo.any() and not self._splice(redo.nonzero().squeeze(1), ids, lengths):
                    self._prefill(ids, lengths)  # a cache whose rows cannot be replaced: start afresh
                self._trim()
        self.ids, self.obs_mask = ids, obs_mask
        return self.last_logits.clone()

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any = None) -> Any:
        extra = {} if cache is None else {self.cache_arg: cache}
        return self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          logits_to_keep=1, **extra)

    def _last_logits(self, output: Any) -> torch.Tensor:
        return output.logits[:, -1, : self.vocab_size].float()

    def _left_padded(self, ids: torch.Tensor, lengths: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded rows as ``width`` left-padded columns (``ids``, ``mask``)."""
        source = torch.arange(width, device=self.device).unsqueeze(0) - (width - lengths.unsqueeze(1))
        valid = source >= 0
        left = torch.where(valid, ids.gather(1, source.clamp(min=0, max=ids.shape[1] - 1)), 0)
        return left, valid.long()

    def _prefill(self, ids: torch.Tensor, lengths: torch.Tensor) -> None:
        """Encode every row from its observation: a new cache."""
        left, self.mask = self._left_padded(ids, lengths, int(lengths.max()))
        output = self._forward(left, self.mask, (self.mask.cumsum(1) - 1).clamp(min=0))
        self.cache = output_cache(output)
        self.next_position = lengths.clone()
        self.last_logits = self._last_logits(output)
        self.prefills += 1

    def _step(self, ids: torch.Tensor, lengths: torch.Tensor, continues: torch.Tensor) -> None:
        """One cached step: the continuing rows' new (last) token; a masked column for the other rows."""
        last = ids.gather(1, (lengths - 1).unsqueeze(1))
        column = continues.long().unsqueeze(1)
        self.mask = torch.cat([self.mask, column], dim=1)
        output = self._forward(last * column, self.mask, self.next_position.unsqueeze(1), self.cache)
        self.cache = output_cache(output)
        self.next_position = self.next_position + continues.long()
        self.last_logits = torch.where(continues.unsqueeze(1), self._last_logits(output), self.last_logits)
        self.steps += 1

    def _splice(self, rows: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor) -> bool:
        """Re-encode ``rows`` from their observations, left-padded to the cache's width, into the cache; ``False``
        (nothing changed) for a cache whose rows cannot be replaced."""
        layers = _cache_layers(self.cache)
        if layers is None or any(layer.keys.shape[-2] != self.mask.shape[1] for layer in layers):
            return False
        extra = int(lengths[rows].max()) - self.mask.shape[1]
        if extra > 0:  # a row longer than the cache: widen every row with masked columns on the left
            for layer in layers:
                layer.keys = torch.cat([layer.keys.new_zeros((*layer.keys.shape[:-2], extra, layer.keys.shape[-1])),
                                        layer.keys], dim=-2)
                layer.values = torch.cat(
                    [layer.values.new_zeros((*layer.values.shape[:-2], extra, layer.values.shape[-1])), layer.values],
                    dim=-2)
            self.mask = torch.cat([self.mask.new_zeros((self.mask.shape[0], extra)), self.mask], dim=1)
        # encoded as wide as the longest of them, then placed in the cache's last columns
        width, columns = int(lengths[rows].max()), self.mask.shape[1]
        row_ids, row_mask = self._left_padded(ids[rows], lengths[rows], width)
        output = self._forward(row_ids, row_mask, (row_mask.cumsum(1) - 1).clamp(min=0))
        new_layers = _cache_layers(output_cache(output))
        if new_layers is None or len(new_layers) != len(layers) or any(
                new.keys.shape[1:] != (*layer.keys.shape[1:-2], width, layer.keys.shape[-1])
                or new.values.shape[1:] != (*layer.values.shape[1:-2], width, layer.values.shape[-1])
                for layer, new in zip(layers, new_layers)):
            return False
        for layer, new in zip(layers, new_layers):
            for old, fresh in ((layer.keys, new.keys), (layer.values, new.values)):
                old[rows, ..., : columns - width, :] = 0
                old[rows, ..., columns - width:, :] = fresh.to(old.dtype)
        self.mask[rows] = torch.cat([row_mask.new_zeros((len(rows), columns - width)), row_mask], dim=1)
        self.next_position[rows] = lengths[rows]
        self.last_logits[rows] = self._last_logits(output)
        self.splices += len(rows)
        return True

    def _trim(self) -> None:
        """Drop the leading columns no row attends to (left by rows that were re-encoded shorter)."""
        used = self.mask.any(0)
        start = int(used.long().argmax())
        layers = _cache_layers(self.cache)
        if start == 0 or layers is None or any(layer.keys.shape[-2] != self.mask.shape[1] for layer in layers):
            return
        for layer in layers:
            layer.keys, layer.values = layer.keys[..., start:, :], layer.values[..., start:, :]
        self.mask = self.mask[:, start:]
