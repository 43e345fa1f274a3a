"""Scoring many episodes at once, for the batched environment.

A :class:`BatchScorer` holds the running scores of ``num_envs`` rows. Rows are reset
independently (a finished row starts a new episode while the others go on). The generic
:class:`TextBatchScorer` keeps, per row, an incremental decoder and the task's
:class:`~textgym.task.Scorer`, and calls that scorer exactly as ``TextGenEnv`` calls its
own (the contract in :class:`~textgym.task.Scorer`), so each step decodes only the new
token and updates the score from the carried state; tasks whose score is a function of
token ids override :meth:`textgym.task.Task.batch_scorer` with an array implementation
that scores all rows in one batched operation and decodes nothing, and tasks with an
expensive score batch their rows' reads, giving the scores of the same contract.

Arrays are those of the env's :class:`~textgym.arrays.ArrayBackend`: numpy on the
CPU, torch tensors on an accelerator (``self.xp`` is the module).

Dependencies point one way: :mod:`textgym.task` imports this module (``Task.batch_scorer``
builds a :class:`TextBatchScorer`); the task types are imported here for annotations only.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from textgym.arrays import ArrayBackend
from textgym.models.tokenizer import TextTokenizer
from textgym.prompt import Prompt

if TYPE_CHECKING:
    from textgym.task import Scorer, Task


class BatchScorer:
    """The running score of ``num_envs`` episodes of one task.

    Subclasses implement :meth:`reset_rows` and :meth:`step`; scores live in
    ``self.scores`` (float64 array of the backend), and ``step`` binds a new array to it
    (never changes the previous one in place: the env takes differences of the two).

    The env calls, at every step: :meth:`advance` (the rows' token counts), then
    :meth:`step` (the tokens), then :meth:`finish_rows` for the rows whose episode ends;
    :meth:`reset_rows` starts rows (at reset, and at each autoreset).

    Args:
        task, tokenizer: the task and the env's tokenizer.
        num_envs: rows.
        arrays: the env's array backend (numpy arrays on the CPU, tensors elsewhere).
        prompts: the split's prompts; ``reset_rows`` refers to them by index.
    """

    #: set by the env to ``task.scores_lazily(reward_mode)`` (sparse mode, a task whose score is expensive and that
    #: has no stop condition): the scorer may then leave ``scores`` at each row's start score until
    #: :meth:`finish_rows`, where it must score the ending rows' final texts; a scorer of token ids that ignores it
    #: scores every step, which gives the same scores
    lazy: bool = False

    def __init__(
        self, task: Task, tokenizer: TextTokenizer, num_envs: int, arrays: ArrayBackend, prompts: Sequence[Prompt]
    ) -> None:
        self.task, self.tokenizer, self.num_envs, self.prompts = task, tokenizer, num_envs, list(prompts)
        self.arrays = arrays
        self.scores = self.arrays.zeros(num_envs, "float64")
        #: rows whose task stop condition holds after the last step; ``None`` when the task has none
        self.finished = self.arrays.zeros(num_envs, "bool") if task.has_stop_condition() else None

    @property
    def xp(self) -> ModuleType:
        """The array module of the backend: ``numpy`` or ``torch`` (a property: a module does not pickle)."""
        return self.arrays.xp

    def reset_rows(self, rows, prompt_indices) -> None:
        """Start new episodes in ``rows`` (int64 array) on the prompts ``prompt_indices`` of the split."""
        raise NotImplementedError

    def advance(self, generated, live) -> None:
        """Called at every step, before :meth:`step`, as ``TextGenEnv`` calls :meth:`Scorer.advance`.

        Args:
            generated: every row's count of tokens generated in its episode, this step's
                included (EOS too); an int64 array of the backend.
            live: the rows that generated a token at this step (a bool array), or ``None``:
                every row (rows that wait or restart at this step are not live).

        The default ignores it: a scorer of token ids needs no counts.
        """

    def step(self, tokens, active):
        """Append ``tokens[i]`` to every row ``i`` where ``active[i]``; return the new scores.

        ``active``: the live rows whose token is not EOS (an EOS adds no text; its row ends).
        """
        raise NotImplementedError

    def finish_rows(self, rows):
        """End the episodes of ``rows`` (int64 array): score their final text; return the scores.

        The final text is the full decode of a row's generated ids. A scorer that decodes
        incrementally adds what its decoder still holds (the bytes of a character that no
        token completed); one that scores token ids holds nothing, and the default returns
        ``self.scores`` unchanged.
        """
        return self.scores

    #: whether :meth:`reset_rows` sets a row's score to 0 in place (the potential before a row's first token is 0):
    #: the env's dense reward is then ``scores - previous scores`` for every row, with no correction at a row's first
    #: step
    starts_at_zero = False

    #: whether :meth:`texts` gives the continuations (else the env decodes them from the tokens)
    keeps_text = False

    def texts(self, rows: Sequence[int] | None = None) -> list[str]:
        """The continuations of ``rows`` (all rows if ``None``), when :attr:`keeps_text`."""
        raise NotImplementedError(f"{type(self).__name__} keeps no text")


class TextBatchScorer(BatchScorer):
    """Per-row incremental decoding and each row's own :class:`~textgym.task.Scorer`, called as ``TextGenEnv`` calls it.

    Row by row, the calls of the contract in :class:`~textgym.task.Scorer`: ``update("", "")``
    at reset; at every step the row generates a token, ``advance(generated)`` and, when the
    token adds text, ``update(text, appended)`` (none in :attr:`lazy` mode), with the task's
    stop condition read on the text after it; at the episode's end ``update`` with what the
    decoder still held (``update(text, text)`` in lazy mode), then ``finish(text)``. Every
    value goes through ``task.checked_score``, as in the single env, so a row's scores are
    those of a ``TextGenEnv`` given the same prompt and actions.
    """

    keeps_text = True

    def __init__(
        self, task: Task, tokenizer: TextTokenizer, num_envs: int, arrays: ArrayBackend, prompts: Sequence[Prompt]
    ) -> None:
        super().__init__(task, tokenizer, num_envs, arrays, prompts)
        self._scores = np.zeros(num_envs, dtype=np.float64)
        self._finished = np.zeros(num_envs, dtype=bool)
        self._texts = [""] * num_envs
        self._decoders = [None] * num_envs
        self._scorers: list[Scorer | None] = [None] * num_envs
        self._prompts: list[Prompt | None] = [None] * num_envs

    def reset_rows(self, rows, prompt_indices) -> None:
        for row, index in zip(rows.tolist(), prompt_indices.tolist()):
            prompt = self.prompts[index]
            self._texts[row] = ""
            self._decoders[row] = self.tokenizer.incremental_decoder()
            scorer = self.task.scorer(prompt)
            self._scorers[row] = scorer
            self._prompts[row] = prompt
            self._scores[row] = self.task.checked_score(scorer.update("", ""))  # the empty text's score: any value
            self._finished[row] = False
        self._publish()

    def advance(self, generated, live) -> None:
        scorers = self._scorers
        counts = self.arrays.to_host(generated).tolist()
        rows = range(self.num_envs) if live is None else np.flatnonzero(self.arrays.to_host(live)).tolist()
        for row in rows:
            scorer = scorers[row]
            if scorer is not None:  # a subclass that scores its rows itself keeps no Scorer
                scorer.advance(counts[row])

    def step(self, tokens, active):
        token_list = tokens.tolist()
        lazy, checked_score = self.lazy, self.task.checked_score
        stops = self.task.is_finished if self.finished is not None else None
        for row in np.flatnonzero(self.arrays.to_host(active)).tolist():
            appended = self._decoders[row].push(token_list[row])
            if appended:
                text = self._texts[row] + appended
                self._texts[row] = text
                if not lazy:
                    self._scores[row] = checked_score(self._scorers[row].update(text, appended))
            if stops is not None:  # read at every step that writes a token, as TextGenEnv reads it
                self._finished[row] = stops(self._prompts[row], self._texts[row])
        self._publish()
        return self.scores

    def finish_rows(self, rows):
        checked_score = self.task.checked_score
        changed = False
        for row in rows.tolist():
            scorer = self._scorers[row]
            rest = self._decoders[row].flush()
            text = self._texts[row] + rest
            self._texts[row] = text
            score = None
            if self.lazy:  # the episode's only update since reset: all its text is appended
                score = checked_score(scorer.update(text, text))
            elif rest:
                score = checked_score(scorer.update(text, rest))
            final = scorer.finish(text)  # a scorer that held an earlier text's score scores the final text
            if final is not None:
                score = checked_score(final)
            if score is not None:
                self._scores[row] = score
                changed = True
        if changed:  # a new array, never the previous one changed in place: the env takes differences
            self.scores = self.arrays.from_host(self._scores.copy())
        return self.scores

    def _publish(self) -> None:
        self.scores = self.arrays.from_host(self._scores.copy())
        if self.finished is not None:
            self.finished = self.arrays.from_host(self._finished.copy())

    def texts(self, rows=None) -> list[str]:
        rows = range(self.num_envs) if rows is None else rows
        return [self._texts[row] for row in rows]
