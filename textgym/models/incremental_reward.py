"""Score growing texts with a decoder classifier, each reward-model token through the model once.

A *decoder classifier* (``GPT2ForSequenceClassification``, ``LlamaForSequenceClassification``,
Mistral, Qwen, OPT, ...) is a causal transformer whose linear head ``score`` reads the hidden
state of the last token that is not padding. Appending text to what it read leaves the
transformer states of every earlier token unchanged, so they can be kept in a key/value cache,
and the score of the longer text is the head applied to the states of the appended tokens alone.

:class:`IncrementalClassifier` keeps such a cache for every row of a batch (the rows of the
batched env, or the one row of a single env). Rows hold texts of different lengths, grow at
different times and start again independently; each row's keys and values sit at its own
columns ``0 .. n_row - 1`` of one ``[rows, heads, capacity, head_dim]`` buffer per layer, and a
forward writes each row's new tokens at its own next columns, with explicit position ids and a
4-D attention mask that lets each new token see its own row's earlier tokens and nothing else.
One forward serves every row that has new tokens; rows that have none ride along as padding.
A row that starts again (or whose text lost every token it had) is fed in a forward of its own
rows only (it needs no past), whose keys and values are then copied into its columns.

Retokenising: the reward model reads the decoded text with its own tokenizer, not the policy's
tokens. At each update the row's new text is tokenised (for byte-level BPE tokenizers of the
GPT-2 kind, only its tail after a point where no later text can change the tokens, see
:class:`TailTokenizer`), compared with the ids fed so far, the row cut back to their longest
common prefix (a byte-pair merge across the old end rewrites the last tokens: ``" wa"`` then
``" water"``), and the rest fed. The score is the head's output at the last non-padding id,
exactly where the model's own forward reads it (``RewardModel.score``).

Which models: see :func:`decoder_classifier_problem`.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence

import numpy as np
import torch
from transformers.cache_utils import Cache, CacheLayerMixin

from textgym.models.kv_cache import cache_keyword

#: a short text read by the probe of :func:`decoder_classifier_problem`
PROBE_TEXT = "The soup was cold, but the staff were kind and the bread was lovely."
#: how far the probe's token-by-token logits may stray from the model's own (relative to the logits' scale)
PROBE_TOLERANCE = 1e-3
#: attention implementations that take a custom 4-D mask (additive for eager, boolean for sdpa)
MASKABLE_ATTENTION = ("eager", "sdpa")

_problems: weakref.WeakKeyDictionary[torch.nn.Module, str | None] = weakref.WeakKeyDictionary()


class RowStore:
    """Keys, values and head outputs of ``num_rows`` rows, each row at its own columns ``0 .. lengths[row] - 1``.

    Buffers are allocated at the first forward (their head count and size come from the
    model) and grow by doubling; columns past a row's length hold stale or padding entries
    that no mask lets any real token see.
    """

    def __init__(self, num_rows: int, num_layers: int, device: torch.device, capacity: int = 64) -> None:
        self.num_rows = num_rows
        self.device = device
        self.capacity = max(int(capacity), 1)
        self.lengths = np.zeros(num_rows, dtype=np.int64)
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers
        self.logits: torch.Tensor | None = None
        #: the columns and attended width of the forward under way (see :class:`RowCacheLayer`)
        self.columns: torch.Tensor | None = None
        self.width = 0
        self.cache = Cache(layers=[RowCacheLayer(self, index) for index in range(num_layers)])

    def reserve(self, width: int) -> None:
        """Make room for ``width`` columns in every row."""
        if width > self.capacity:
            self.capacity = max(width, 2 * self.capacity)

    def grown(self, tensor: torch.Tensor | None, like: torch.Tensor, dim: int) -> torch.Tensor:
        """``tensor`` with ``capacity`` entries along ``dim`` (a zero buffer shaped after ``like`` if there is none)."""
        if tensor is not None and tensor.shape[dim] >= self.capacity:
            return tensor
        shape = list(like.shape)
        shape[0], shape[dim] = self.num_rows, self.capacity
        fresh = torch.zeros(shape, dtype=like.dtype, device=like.device)
        if tensor is not None:
            fresh.narrow(dim, 0, tensor.shape[dim]).copy_(tensor)
        return fresh

    def write_logits(self, logits: torch.Tensor) -> None:
        """Keep the head's output ``[rows, k, labels]`` of the forward under way at its columns."""
        self.logits = self.grown(self.logits, logits, 1)
        self.logits[torch.arange(self.num_rows, device=logits.device)[:, None], self.columns] = logits

    def gather(self, rows: torch.Tensor, lengths: np.ndarray, capacity: int) -> RowStore:
        """A store of the rows ``rows`` of this one (their first ``lengths.max()`` columns copied), room for
        ``capacity``."""
        store = RowStore(len(rows), len(self.keys), self.device, capacity=capacity)
        width = int(lengths.max())
        store.lengths[:] = lengths
        for layer, (keys, values) in enumerate(zip(self.keys, self.values)):
            store.keys[layer] = store.grown(None, keys, 2)
            store.values[layer] = store.grown(None, values, 2)
            store.keys[layer][:, :, :width] = keys[rows, :, :width]
            store.values[layer][:, :, :width] = values[rows, :, :width]
        store.logits = store.grown(None, self.logits, 1)
        store.logits[:, :width] = self.logits[rows, :width]
        return store

    def copy_rows_from(self, other: RowStore, rows: torch.Tensor, width: int) -> None:
        """Copy the first ``width`` columns of every row of ``other`` into the rows ``rows`` of this store."""
        self.reserve(width)
        for layer, (keys, values) in enumerate(zip(other.keys, other.values)):
            self.keys[layer] = self.grown(self.keys[layer], keys, 2)
            self.values[layer] = self.grown(self.values[layer], values, 2)
            self.keys[layer][rows, :, :width] = keys[:, :, :width]
            self.values[layer][rows, :, :width] = values[:, :, :width]
        self.logits = self.grown(self.logits, other.logits, 1)
        self.logits[rows, :width] = other.logits[:, :width]


class RowCacheLayer(CacheLayerMixin):
    """One layer of a :class:`RowStore` as a ``transformers`` cache layer: each row's new keys and values at its own
    columns."""

    is_sliding = False
    is_compileable = False
    is_croppable = False

    def __init__(self, store: RowStore, index: int) -> None:
        super().__init__()
        self.store, self.index = store, index

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        store, index = self.store, self.index
        keys = store.keys[index] = store.grown(store.keys[index], key_states, 2)
        values = store.values[index] = store.grown(store.values[index], value_states, 2)
        rows = torch.arange(store.num_rows, device=keys.device)[:, None]
        keys[rows, :, store.columns] = key_states.transpose(1, 2)
        values[rows, :, store.columns] = value_states.transpose(1, 2)
        self.keys, self.values = keys, values
        return keys[:, :, : store.width], values[:, :, : store.width]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.store.width, 0

    def get_seq_length(self) -> int:
        return int(self.store.lengths.max()) if self.store.num_rows else 0

    def get_max_length(self) -> int:
        return -1


class IncrementalClassifier:
    """The head outputs of ``num_rows`` growing token sequences of a decoder classifier, fed only the tokens they add.

    Args:
        model: a decoder sequence classifier (see :func:`decoder_classifier_problem`).
        num_rows: rows (one per episode running at once).
        pad_token_id: the id the model's own forward skips when it looks for the last token
            (``config.pad_token_id``); ``None``: the last token.
        max_positions: the model's context (position ids past it do not exist).

    Attributes:
        ids: the ids each row holds (fed and cached).
        tokens_fed: real (non-padding) tokens fed to the model so far, all rows together.
        forwards: model forwards so far.
    """

    def __init__(self, model: torch.nn.Module, num_rows: int, pad_token_id: int | None, max_positions: int) -> None:
        self.model = model
        self.base = model.base_model
        self.head = model.score
        self.num_rows = num_rows
        self.pad_token_id = pad_token_id
        self.max_positions = max_positions
        self.device = next(model.parameters()).device
        self.num_layers = int(model.config.num_hidden_layers)
        self._cache_keyword = cache_keyword(self.base)
        self._additive_mask = getattr(model.config, "_attn_implementation", None) != "sdpa"  # sdpa takes a boolean one
        self.store = RowStore(num_rows, self.num_layers, self.device)
        self.ids: list[list[int]] = [[] for _ in range(num_rows)]
        self._last = np.zeros(num_rows, dtype=np.int64)  # the position the head reads, per row
        self.tokens_fed = 0
        self.forwards = 0

    def reset_rows(self, rows: Sequence[int]) -> None:
        """Forget what ``rows`` hold (no model call: their columns are reused)."""
        for row in rows:
            self.ids[row] = []
            self.store.lengths[row] = 0

    @torch.no_grad()
    def set_ids(self, rows: Sequence[int], targets: Sequence[Sequence[int]]) -> torch.Tensor:
        """Make every row of ``rows`` hold ``targets[i]`` and return the head's output at its last token,
        ``[len(rows), labels]``.

        Each row keeps the longest common prefix of what it holds and its target and is fed
        the rest. Rows that keep something are fed in one forward over all rows, up to the
        number of tokens most of them need (one, for the same tokenizer as the policy's); the
        few that need more get the rest in a forward of their own rows (their caches gathered
        and written back). Rows that keep nothing are fed in a forward of their own rows, which
        needs no past. A row with an empty target reads position 0 of nothing: its output is
        undefined (the caller scores it otherwise).
        """
        continuing: list[tuple[int, list[int]]] = []
        fresh: list[tuple[int, list[int]]] = []
        for row, target in zip(rows, targets):
            target = list(target)
            held = self.ids[row]
            if target[: len(held)] == held:
                common = len(held)
            else:
                common = 0
                for old, new in zip(held, target):
                    if old != new:
                        break
                    common += 1
            self.ids[row] = target
            self.store.lengths[row] = common
            rest = target[common:]
            if rest:
                (continuing if common else fresh).append((row, rest))
            self._last[row] = self._last_position(target)
        if continuing:
            sizes = sorted(len(rest) for _, rest in continuing)
            k = sizes[(len(sizes) * 4) // 5]  # what 80% of these rows need at most
            longer = [(row, rest[k:]) for row, rest in continuing if len(rest) > k]
            # a second forward costs its own overhead: worth it when it spares two padding tokens a row
            if (self.num_rows - len(longer)) * (sizes[-1] - k) < 2 * self.num_rows:
                k, longer = sizes[-1], []
            self._forward_rows([row for row, _ in continuing], [rest[:k] for _, rest in continuing])
            if longer:
                self._forward_rows([row for row, _ in longer], [rest for _, rest in longer])
        if fresh:
            fresh_rows = [row for row, _ in fresh]
            store = RowStore(len(fresh), self.num_layers, self.device, capacity=max(len(rest) for _, rest in fresh))
            self._forward(store, [rest for _, rest in fresh])
            self.store.copy_rows_from(store, torch.as_tensor(fresh_rows, device=self.device), int(store.lengths.max()))
            self.store.lengths[fresh_rows] = store.lengths
        if self.store.logits is None:  # nothing fed yet: every target was empty
            return torch.full((len(rows), self.head.out_features), float("nan"), device=self.device)
        index = torch.as_tensor(list(rows), device=self.device)
        return self.store.logits[index, torch.as_tensor(self._last[list(rows)], device=self.device)]

    def _forward_rows(self, rows: list[int], feeds: list[list[int]]) -> None:
        """Feed ``feeds[i]`` to row ``rows[i]`` after what it holds: over all rows (the others padding) when these are
        more than a quarter of them, else over their own rows, gathered into a store of their own and written back."""
        if 4 * len(rows) > self.num_rows:
            padded: list[list[int]] = [[] for _ in range(self.num_rows)]
            for row, feed in zip(rows, feeds):
                padded[row] = feed
            self._forward(self.store, padded)
            return
        index = torch.as_tensor(rows, device=self.device)
        before = self.store.lengths[rows]
        store = self.store.gather(index, before, capacity=int(before.max()) + max(len(feed) for feed in feeds))
        self._forward(store, feeds)
        self.store.copy_rows_from(store, index, int(store.lengths.max()))
        self.store.lengths[rows] = store.lengths

    def _last_position(self, ids: list[int]) -> int:
        """Where the model's own forward reads a row: its last id that is not the pad id (0 if all are)."""
        if self.pad_token_id is None:
            return max(len(ids) - 1, 0)
        for position in range(len(ids) - 1, -1, -1):
            if ids[position] != self.pad_token_id:
                return position
        return 0

    def _forward(self, store: RowStore, feeds: list[list[int]]) -> None:
        """Feed ``feeds[row]`` to every row of ``store`` after the ids it holds, in one forward."""
        k = max(len(feed) for feed in feeds)
        lengths = store.lengths
        width = int(lengths.max()) + k
        store.reserve(width)
        host_ids = np.full((store.num_rows, k), self.pad_token_id or 0, dtype=np.int64)
        for row, feed in enumerate(feeds):
            host_ids[row, : len(feed)] = feed
        device = self.device
        columns = torch.as_tensor(lengths, device=device)[:, None] + torch.arange(k, device=device)[None, :]
        # a padding slot may sit past the context: any position does for it, as no real token sees it
        positions = columns.clamp(max=self.max_positions - 1)
        # row r's token at column c sees columns <= c of row r: its own past, and this forward's tokens before it
        allowed = (torch.arange(width, device=device)[None, None, :] <= columns[:, :, None])[:, None]
        if self._additive_mask:  # eager attention adds the mask to the scores
            dtype = self.head.weight.dtype
            mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(~allowed, torch.finfo(dtype).min)
        else:
            mask = allowed
        store.columns, store.width = columns, width
        output = self.base(
            input_ids=torch.as_tensor(host_ids, device=device), attention_mask=mask, position_ids=positions,
            use_cache=True, **{self._cache_keyword: store.cache},
        )
        store.write_logits(self.head(output.last_hidden_state))
        fed = np.fromiter((len(feed) for feed in feeds), dtype=np.int64, count=store.num_rows)
        store.lengths += fed
        store.columns = None
        self.tokens_fed += int(fed.sum())
        self.forwards += 1


def decoder_classifier_problem(model: torch.nn.Module, tokenizer) -> str | None:
    """Why ``model`` cannot be scored incrementally, or ``None`` when it can (cached per model).

    The rule: a model is a decoder classifier, read token by token with a key/value cache,
    when

    1. its config is neither an encoder-decoder nor marked ``is_causal=False``, it uses no
       sliding-window attention, and its attention implementation is ``"eager"`` or
       ``"sdpa"`` (those take a custom 4-D mask);
    2. its head is a ``torch.nn.Linear`` named ``score`` from the hidden states to the labels,
       over ``model.base_model``: the layout of every ``transformers`` decoder classifier
       (GPT-2, GPT-Neo, GPT-J, OPT, BLOOM, Falcon, Llama, Mistral, Qwen, Gemma, Phi, ...),
       whose head reads the last token; encoder classifiers (BERT, RoBERTa, DeBERTa,
       DistilBERT, ELECTRA, ...) call theirs ``classifier`` and read the first;
    3. a probe agrees: :data:`PROBE_TEXT`, fed in chunks of 1, 2 and 3 tokens through the cache,
       gives at every chunk end the model's own logits of that prefix read whole, with every
       input its tokenizer makes (within :data:`PROBE_TOLERANCE` of their scale). This is what
       catches bidirectional attention, a head that reads another position, or inputs such as
       token types that the cached read does not pass, whatever the layout says.
    """
    if model in _problems:
        return _problems[model]
    problem = _layout_problem(model)
    if problem is None:
        problem = _probe_problem(model, tokenizer)
    _problems[model] = problem
    return problem


def _layout_problem(model: torch.nn.Module) -> str | None:
    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        return "it is an encoder-decoder model"
    if getattr(config, "is_causal", True) is False:
        return "its config says is_causal=False (bidirectional attention)"
    if getattr(config, "sliding_window", None) is not None and getattr(config, "use_sliding_window", True) is not False:
        return "it uses sliding-window attention"
    attention = getattr(config, "_attn_implementation", None) or "eager"
    if attention not in MASKABLE_ATTENTION:
        return (f"its attention implementation is {attention!r} (incremental scoring needs one of "
                f"{list(MASKABLE_ATTENTION)})")
    head = getattr(model, "score", None)
    if not isinstance(head, torch.nn.Linear) or head.out_features != int(config.num_labels):
        kind = type(model).__name__
        return (
            f"{kind} has no linear head named 'score' over its last token (the head of decoder classifiers such as "
            f"GPT2ForSequenceClassification and LlamaForSequenceClassification); encoder classifiers (BERT-like) read "
            f"the whole text at once"
        )
    if getattr(model, "base_model", model) is model or not isinstance(getattr(config, "num_hidden_layers", None), int):
        return "its transformer (base_model) or its layer count cannot be found"
    return None


def _probe_problem(model: torch.nn.Module, tokenizer) -> str | None:
    # the model's own read gets what RewardModel.score gives it: every input the tokenizer makes (token types included)
    inputs = tokenizer(PROBE_TEXT, return_tensors="pt")
    ids = inputs["input_ids"][0].tolist()
    if len(ids) < 4:
        return "its tokenizer gives too few tokens to probe"
    pad = model.config.pad_token_id
    engine = IncrementalClassifier(model, 1, pad, 1 << 30)
    ends, end, size = [], 0, 1
    while end < len(ids):
        end = min(end + size, len(ids))
        ends.append(end)
        size = size % 3 + 1
    try:
        with torch.no_grad():
            for end in ends:
                mine = engine.set_ids([0], [ids[:end]])[0].double()
                prefix = {key: value[:, :end].to(engine.device) for key, value in inputs.items()}
                theirs = model(**prefix).logits[0].double()
                scale = 1.0 + float(theirs.abs().max())
                if float((mine - theirs).abs().max()) > PROBE_TOLERANCE * scale:
                    return (
                        f"its score of a text read token by token with a key/value cache differs from its score of the "
                        f"text read whole (by {float((mine - theirs).abs().max()):.3g}): its attention is not causal, "
                        f"or its head does not read the last token"
                    )
    except Exception as error:  # a model whose forward takes no explicit positions, 4-D mask or cache layer
        return f"reading it token by token with a key/value cache failed ({type(error).__name__}: {error})"
    return None


class IncrementalScores:
    """The reward model's scores of ``num_rows`` growing texts, each row fed only the reward-model tokens its text adds.

    Args:
        reward_model: a :class:`~textgym.models.reward_models.RewardModel` whose model is a
            decoder classifier (:func:`decoder_classifier_problem` gives ``None``).
        num_rows: rows.

    A text of more than ``reward_model.max_length`` tokens is a
    :class:`~textgym.models.reward_models.RewardModelError` (never truncated). A text that
    tokenises to nothing at all (no special token, empty text) has no last token: it is scored
    by ``reward_model.score``.
    """

    def __init__(self, reward_model, num_rows: int) -> None:
        from textgym.models.loader import model_context_length

        self.reward_model = reward_model
        model = reward_model.model
        self.classifier = IncrementalClassifier(
            model, num_rows, model.config.pad_token_id, model_context_length(model.config)
        )
        self.tokenizer = RowTokenizer.for_tokenizer(reward_model.tokenizer, num_rows)

    @property
    def tokens_fed(self) -> int:
        """Reward-model tokens fed to the model so far (all rows; padding not counted)."""
        return self.classifier.tokens_fed

    def reset_rows(self, rows: Sequence[int]) -> None:
        """Start ``rows`` again from nothing."""
        rows = list(rows)
        self.classifier.reset_rows(rows)
        self.tokenizer.reset_rows(rows)

    def scores(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
        """The score (float64) of ``texts[i]``, the text row ``rows[i]`` now holds (its previous one plus what was
        appended)."""
        rows, texts = list(rows), list(texts)
        targets = self.tokenizer.encode(rows, texts)
        limit = self.reward_model.max_length
        for target, text in zip(targets, texts):
            if len(target) > limit:
                self.reward_model.raise_too_long(len(target), text)
        out = np.empty(len(rows), dtype=np.float64)
        kept = [i for i, target in enumerate(targets) if target]
        if kept:
            logits = self.classifier.set_ids([rows[i] for i in kept], [targets[i] for i in kept])
            out[kept] = self.reward_model.scores_from_logits(logits.double()).cpu().numpy()
        empty = [i for i, target in enumerate(targets) if not target]
        if empty:
            self.classifier.reset_rows([rows[i] for i in empty])
            out[empty] = self.reward_model.score([texts[i] for i in empty], truncate=False)
        self.reward_model.check_finite(out, texts)
        return out


class RowTokenizer:
    """The reward-model token ids of each row's whole text: the tokenizer's own encoding of it, every time."""

    def __init__(self, tokenizer, num_rows: int) -> None:
        self.tokenizer = tokenizer
        self.num_rows = num_rows

    @staticmethod
    def for_tokenizer(tokenizer, num_rows: int) -> RowTokenizer:
        """The fastest exact form for ``tokenizer``: :class:`TailTokenizer` where it applies, else this class."""
        if TailTokenizer.applies_to(tokenizer):
            return TailTokenizer(tokenizer, num_rows)
        return RowTokenizer(tokenizer, num_rows)

    def reset_rows(self, rows: Sequence[int]) -> None:
        pass

    def encode(self, rows: Sequence[int], texts: Sequence[str]) -> list[list[int]]:
        """The ids (special tokens included) of ``texts[i]``, the text of row ``rows[i]``."""
        return [list(ids) for ids in self.tokenizer(list(texts))["input_ids"]] if texts else []


class TailTokenizer(RowTokenizer):
    """The same ids as :class:`RowTokenizer`, tokenising only each row's text after its last safe point.

    For a byte-level BPE tokenizer of the GPT-2 kind (``ByteLevel`` pre-tokenizer with the
    GPT-2 split pattern, no normalizer, special tokens only around the text), a space at
    index ``c`` with a non-space character on each side is a *safe point*: the split pattern
    ends the piece holding ``text[c - 1]`` at ``c`` (no alternative of the pattern spans a
    space after a non-space character) and starts the next piece at ``c`` from the
    characters at and after it alone, and byte-pair merges never cross pieces. So the ids of
    ``text`` are those of ``text[:c]`` followed by those of ``text[c:]``, whatever is later
    appended. Each row keeps the ids of its text up to its last safe point and tokenises
    only the rest, a word or so: O(1) in the length of the text.
    """

    def __init__(self, tokenizer, num_rows: int) -> None:
        super().__init__(tokenizer, num_rows)
        setup = _tail_setup(tokenizer)
        if setup is None:
            raise ValueError(
                f"{type(tokenizer).__name__} is not a byte-level BPE tokenizer of the GPT-2 kind; use RowTokenizer"
            )
        self.backend, self.prefix, self.suffix = setup
        self._anchor = [0] * num_rows  # each row's safe point
        self._anchor_check = [""] * num_rows  # its text up to the safe point and the two characters there
        self._anchor_ids: list[list[int]] = [
            [] for _ in range(num_rows)
        ]  # the ids (no special tokens) before the safe point

    @staticmethod
    def applies_to(tokenizer) -> bool:
        """Whether ``tokenizer``'s ids of a text are, provably, those of its pieces between safe points."""
        return _tail_setup(tokenizer) is not None

    def reset_rows(self, rows: Sequence[int]) -> None:
        for row in rows:
            self._anchor[row], self._anchor_check[row], self._anchor_ids[row] = 0, "", []

    def encode(self, rows: Sequence[int], texts: Sequence[str]) -> list[list[int]]:
        tails = []
        for row, text in zip(rows, texts):
            if not text.startswith(self._anchor_check[row]):  # not a continuation of the row's text: start over
                self._anchor[row], self._anchor_check[row], self._anchor_ids[row] = 0, "", []
            tails.append(text[self._anchor[row] :])
        encodings = self.backend.encode_batch(tails, add_special_tokens=False) if tails else []
        out = []
        for row, text, encoding in zip(rows, texts, encodings):
            anchor, tail_ids = self._anchor[row], encoding.ids
            out.append(self.prefix + self._anchor_ids[row] + tail_ids + self.suffix)
            safe = _last_safe_point(text, anchor)
            if safe > anchor:
                cut = safe - anchor  # the tail's tokens that start before the safe point lie wholly before it
                count = sum(1 for start, _ in encoding.offsets if start < cut)
                self._anchor_ids[row] = self._anchor_ids[row] + tail_ids[:count]
                self._anchor[row], self._anchor_check[row] = safe, text[: safe + 2]
        return out


#: tokenizer -> what a TailTokenizer of it needs (None: it does not apply), worked out once per tokenizer object
_tail_setups: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tail_setup(tokenizer) -> tuple[object, list[int], list[int]] | None:
    """``(backend, prefix, suffix)`` for a :class:`TailTokenizer` of ``tokenizer``, or ``None`` where it does not apply.

    ``backend`` is a copy of the tokenizer's backend with padding and truncation off, shared by
    every TailTokenizer of it: the Hugging Face tokenizer sets padding and truncation on its own
    backend for each call (a padded batch leaves padding on), and the tails must be encoded
    exactly as they are. ``prefix`` and ``suffix`` are the special ids around every text.
    Worked out once per tokenizer object (the check parses the tokenizer's whole definition).
    """
    try:
        return _tail_setups[tokenizer]
    except KeyError:
        pass
    except TypeError:  # not weakly referable: work it out every time
        return _work_out_tail_setup(tokenizer)
    setup = _tail_setups[tokenizer] = _work_out_tail_setup(tokenizer)
    return setup


def _work_out_tail_setup(tokenizer) -> tuple[object, list[int], list[int]] | None:
    import json

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        spec = json.loads(backend.to_str())
    except Exception:  # a backend that does not serialise
        return None
    pre = spec.get("pre_tokenizer") or {}
    if spec.get("normalizer") is not None or (spec.get("model") or {}).get("type") != "BPE":
        return None
    if pre.get("type") != "ByteLevel" or not pre.get("use_regex", True):
        return None
    for token in spec.get("added_tokens") or []:
        content = token.get("content", "")
        if (
            token.get("lstrip")
            or token.get("rstrip")
            or token.get("single_word")
            or any(ch.isspace() for ch in content)
        ):
            return None
    backend = copy.deepcopy(backend)
    backend.no_padding()
    backend.no_truncation()
    frame = _special_frame(tokenizer, backend)
    return None if frame is None else (backend, *frame)


def _last_safe_point(text: str, start: int) -> int:
    """The last index ``c > start`` of a space with a non-space character on each side, or ``start`` if none."""
    end = len(text) - 1
    while True:
        c = text.rfind(" ", start + 1, end)
        if c < 0:
            return start
        if not text[c - 1].isspace() and not text[c + 1].isspace():
            return c
        end = c


def _special_frame(tokenizer, backend) -> tuple[list[int], list[int]] | None:
    """The special ids ``tokenizer`` puts before and after every text (``None`` if not a fixed frame around the ids
    ``backend``, its backend with padding and truncation off, gives)."""
    frames = set()
    for text in ("a", "The soup was cold, but kind.", " x  y\n"):
        whole = list(tokenizer(text)["input_ids"])
        bare = backend.encode(text, add_special_tokens=False).ids
        if not bare:
            return None
        for start in range(len(whole) - len(bare) + 1):
            if whole[start : start + len(bare)] == bare:
                frames.add((tuple(whole[:start]), tuple(whole[start + len(bare) :])))
                break
        else:
            return None
    if len(frames) != 1:
        return None
    prefix, suffix = frames.pop()
    return list(prefix), list(suffix)
