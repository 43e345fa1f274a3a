"""Scoring many episodes at once, for the batched environment.

A :class:`BatchScorer` holds the running scores of ``num_envs`` rows. Rows are reset
independently (a finished row starts a new episode while the others go on). The generic
:class:`TextBatchScorer` keeps, per row, an incremental decoder and the task's
:class:`~textgym.task.Scorer`, so each step decodes only the new token and updates the
score from the carried state; tasks whose score is a function of token ids override
:meth:`textgym.task.Task.batch_scorer` with a tensor implementation that scores all rows
in one batched operation and decodes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from textgym.models.tokenizer import TextTokenizer
from textgym.task import Prompt, Task


class BatchScorer:
    """The running score of ``num_envs`` episodes of one task.

    Subclasses implement :meth:`reset_rows` and :meth:`step`; scores live in
    ``self.scores`` (float64, on ``device``).
    """

    def __init__(self, task: Task, tokenizer: TextTokenizer, num_envs: int, device: torch.device) -> None:
        self.task, self.tokenizer, self.num_envs, self.device = task, tokenizer, num_envs, device
        self.scores = torch.zeros(num_envs, dtype=torch.float64, device=device)
        #: rows whose task stop condition holds after the last step
        self.finished = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def reset_rows(self, rows: Sequence[int], prompts: Sequence[Prompt], prompt_indices: torch.Tensor) -> None:
        """Start new episodes in ``rows`` on ``prompts`` (their indices in the split: ``prompt_indices``)."""
        raise NotImplementedError

    def step(self, tokens: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Append ``tokens[i]`` to every row ``i`` where ``active[i]``; return the new scores."""
        raise NotImplementedError

    def texts(self, rows: Sequence[int] | None = None) -> list[str] | None:
        """The continuations of ``rows`` if this scorer keeps text, else ``None`` (the env decodes them)."""
        return None


class TextBatchScorer(BatchScorer):
    """Per-row incremental decoding and the task's incremental :class:`~textgym.task.Scorer`."""

    def __init__(self, task: Task, tokenizer: TextTokenizer, num_envs: int, device: torch.device) -> None:
        super().__init__(task, tokenizer, num_envs, device)
        self._scores = np.zeros(num_envs, dtype=np.float64)
        self._finished = np.zeros(num_envs, dtype=bool)
        self._texts = [""] * num_envs
        self._decoders = [None] * num_envs
        self._scorers = [None] * num_envs
        self._prompts: list[Prompt | None] = [None] * num_envs

    def reset_rows(self, rows, prompts, prompt_indices) -> None:
        for row, prompt in zip(rows, prompts):
            self._texts[row] = ""
            self._decoders[row] = self.tokenizer.incremental_decoder()
            scorer = self.task.scorer(prompt)
            initial = self.task.checked_score(scorer.update("", ""))
            if initial != 0.0:
                raise ValueError(f"task {self.task.name!r}: score(prompt, '') must be 0, got {initial} for prompt {prompt.text!r}")
            self._scorers[row] = scorer
            self._prompts[row] = prompt
            self._scores[row] = 0.0
            self._finished[row] = False
        self._publish()

    def step(self, tokens, active) -> torch.Tensor:
        token_list = tokens.tolist()
        for row in np.flatnonzero(active.cpu().numpy()):
            appended = self._decoders[row].push(token_list[row])
            if appended:
                text = self._texts[row] + appended
                self._texts[row] = text
                self._scores[row] = self.task.checked_score(self._scorers[row].update(text, appended))
                self._finished[row] = self.task.is_finished(self._prompts[row], text)
        self._publish()
        return self.scores

    def _publish(self) -> None:
        self.scores = torch.from_numpy(self._scores.copy()).to(self.device)
        self.finished = torch.from_numpy(self._finished.copy()).to(self.device)

    def texts(self, rows=None) -> list[str]:
        rows = range(self.num_envs) if rows is None else rows
        return [self._texts[row] for row in rows]
