"""The token vocabulary an environment speaks: encode, decode, and decode incrementally.

Every environment talks to a :class:`TextTokenizer`, a thin wrapper around a fast
``tokenizers.Tokenizer`` (the backend of every Hugging Face fast tokenizer), so that the
bundled model, a Hugging Face model and a task's own small symbol vocabulary behave the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<pad>"


class IncrementalDecoder:
    """Decodes one token at a time; each step costs O(1) in the length of the text.

    Wraps ``tokenizers.decoders.DecodeStream``, which holds back tokens that end inside a
    multi-byte character (a byte-level BPE token may carry the first bytes of a character
    and the next token the rest) until the character is complete, so that the chunks it
    returns never end in a half character. At the end of a sequence :meth:`flush` returns
    what the held tokens decode to (``"\ufffd"`` for an incomplete character, as
    :meth:`TextTokenizer.decode` gives), so that the concatenated chunks plus the flushed
    rest equal the decoded sequence.

    A decoder pickles (``DecodeStream`` does not): it keeps the ids it was fed, and
    unpickling rebuilds the stream by replaying them, so that a copy returns from
    :meth:`push` and :meth:`flush` exactly what the original would.
    """

    __slots__ = ("_backend", "_stream", "_context", "_held", "_fed")

    def __init__(self, backend: Tokenizer) -> None:
        self._backend = backend
        self._stream = decoders.DecodeStream(skip_special_tokens=True)
        # the stream's own window, mirrored (it exposes none): the tokens of the last chunk,
        # which fix how the held ones decode after them, and the tokens pushed since
        self._context: list[int] = []
        self._held: list[int] = []
        # every id pushed, in order: what rebuilds the stream on unpickling
        self._fed: list[int] = []

    def push(self, token_id: int) -> str:
        """Feed one token id; return the text it completes (may be ``""``)."""
        token_id = int(token_id)
        chunk = self._stream.step(self._backend, token_id)
        self._fed.append(token_id)
        self._held.append(token_id)
        if chunk:
            self._context, self._held = self._held, []
            return chunk
        return ""

    def flush(self) -> str:
        """End the sequence: the text of the held tokens (``""`` if none), as a full decode gives it.

        Costs O(held tokens). Call it once, when the sequence ends; the decoder is done after it.
        """
        if not self._held:
            return ""
        decode = self._backend.decode
        window = self._context + self._held
        prefix = decode(self._context, skip_special_tokens=True)
        text = decode(window, skip_special_tokens=True)
        self._context, self._held = window, []
        return text[len(prefix):]

    def __getstate__(self) -> dict[str, Any]:
        """The backend and the ids fed so far (the stream is rebuilt from them), plus the mirrored window."""
        return {
            "backend": self._backend,
            "fed": list(self._fed),
            "context": list(self._context),
            "held": list(self._held),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the stream by replaying the fed ids through a fresh one (O(ids fed))."""
        self._backend = backend = state["backend"]
        self._stream = stream = decoders.DecodeStream(skip_special_tokens=True)
        self._fed = list(state["fed"])
        for token_id in self._fed:
            stream.step(backend, token_id)
        self._context, self._held = list(state["context"]), list(state["held"])


class TextTokenizer:
    """A vocabulary with an end-of-sequence token and a padding token.

    Args:
        backend: the fast ``tokenizers.Tokenizer`` that does the work.
        eos_token_id: the token whose action ends an episode.
        pad_token_id: the token that right-pads observations (may equal ``eos_token_id``).
        name: a short name for messages.
    """

    def __init__(self, backend: Tokenizer, eos_token_id: int, pad_token_id: int, name: str = "tokenizer") -> None:
        self.backend = backend
        self.vocab_size = int(backend.get_vocab_size(with_added_tokens=True))
        for what, token_id in (("eos_token_id", eos_token_id), ("pad_token_id", pad_token_id)):
            if not 0 <= int(token_id) < self.vocab_size:
                raise ValueError(f"{name}: {what}={token_id} is outside the vocabulary [0, {self.vocab_size})")
        self.eos_token_id = int(eos_token_id)
        self.pad_token_id = int(pad_token_id)
        self.name = name
        #: True when every non-special token is exactly one character (symbol vocabularies),
        #: so positions in the text equal positions in the token sequence.
        self.single_character_tokens = False
        self._code_points: np.ndarray | None = None  # one-character vocabularies: id -> code point (0: special)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens added."""
        return self.backend.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, special tokens skipped."""
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=True)

    def decode_spans(self, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
        """Text of ``ids[i, starts[i]:ends[i]]`` for every row ``i`` of the 2-D array ``ids``, special tokens skipped.

        Row by row (``decode_batch``'s thread pool costs more than it saves on short texts),
        except for a vocabulary of one-character tokens: there the ids map to code points in one
        array lookup, and each row is a slice of its string.
        """
        if self.single_character_tokens and len(ids):
            return self._decode_characters(ids, starts, ends)
        decode = self.backend.decode
        return [
            decode(row[start:end], skip_special_tokens=True)
            for row, start, end in zip(ids.tolist(), starts.tolist(), ends.tolist())
        ]

    def _decode_characters(self, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
        if self._code_points is None:
            characters = [self.backend.decode([i], skip_special_tokens=True) for i in range(self.vocab_size)]
            self._code_points = np.array([ord(c) if c else 0 for c in characters], dtype=np.uint32)  # 0: special
        # every row as one string of code points (one array lookup and a view), then sliced; a row's
        # trailing zeros are dropped by the conversion and inner ones (special tokens) by replace
        codes = self._code_points.take(ids)
        rows = codes.view(f"<U{codes.shape[1]}").reshape(-1).tolist()
        return [row[start:end].replace("\0", "") for row, start, end in zip(rows, starts.tolist(), ends.tolist())]

    def token_string(self, token_id: int) -> str:
        """Readable form of one token (its decoded text, or its name if special)."""
        text = self.backend.decode([int(token_id)], skip_special_tokens=False)
        return text if text else str(self.backend.id_to_token(int(token_id)))

    def incremental_decoder(self) -> IncrementalDecoder:
        """A fresh :class:`IncrementalDecoder` for one episode."""
        return IncrementalDecoder(self.backend)

    def __repr__(self) -> str:
        return (
            f"TextTokenizer({self.name!r}, vocab_size={self.vocab_size}, eos={self.eos_token_id}, "
            f"pad={self.pad_token_id})"
        )


def symbol_tokenizer(symbols: str, name: str = "symbols") -> TextTokenizer:
    """A character-level vocabulary: ``<|endoftext|>`` (id 0), ``<pad>`` (id 1), then one id per symbol.

    Used by algorithmic tasks that bring their own small vocabulary, so that the action
    space is ``Discrete(len(symbols) + 2)`` instead of a language model's vocabulary.
    Text containing a character outside ``symbols`` cannot be encoded and raises.
    """
    if len(set(symbols)) != len(symbols) or not symbols:
        raise ValueError(f"{name}: symbols must be distinct and non-empty, got {symbols!r}")
    vocab = {EOS_TOKEN: 0, PAD_TOKEN: 1}
    for ch in symbols:
        vocab[ch] = len(vocab)
    backend = Tokenizer(models.WordLevel(vocab, unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens([EOS_TOKEN, PAD_TOKEN])
    tokenizer = TextTokenizer(backend, eos_token_id=0, pad_token_id=1, name=name)
    tokenizer.single_character_tokens = True
    return tokenizer
