"""The :class:`Task`: a prompt set with train and eval splits, plus one sequence score.

A task never sees tokens: it scores text. The environment turns the score into rewards
(see DESIGN: dense rewards are score differences, the sparse reward is the final score),
so every task satisfies the reward contract by construction.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from textgym.models.tokenizer import TextTokenizer

SPLITS = ("train", "eval")


class TaskError(ValueError):
    """A task is defined or used wrongly (empty prompt set, bad score value, ...)."""


@dataclass(frozen=True)
class Prompt:
    """One prompt of a task.

    Attributes:
        text: what the agent continues (the observation starts with its tokens).
        target: the reference answer, for tasks that have one (``None`` otherwise).
        data: any further task-specific fields (keywords, intent, ...).
    """

    text: str
    target: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


class Scorer:
    """The running score of one episode, updated as text is appended.

    The default recomputes ``task.score`` on the whole continuation at every step;
    a task whose score allows it returns a subclass that carries state so that one
    update costs O(1) in the length of the text.
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        self.task = task
        self.prompt = prompt

    def update(self, continuation: str, appended: str) -> float:
        """Return the score of ``continuation``, which is the previous one plus ``appended``."""
        return self.task.score(self.prompt, continuation)


class Task:
    """A text-generation task: prompts in train and eval splits, and a sequence score.

    Use it directly with your own prompts and score function::

        task = Task("shout", prompts=["Say hi:", "Say bye:"], score=lambda p, c: c.count("!") / 10)

    or subclass it and override :meth:`score` (and :meth:`scorer` for an incremental form).

    Args:
        name: short identifier used in messages and tables.
        prompts: a list of prompt strings (or :class:`Prompt`) used for both splits, or a
            mapping ``{"train": [...], "eval": [...]}``.
        score: ``score(prompt, continuation) -> float`` with ``score(prompt, "") == 0``;
            ``prompt`` is a :class:`Prompt` (its ``text`` is the prompt string).
        description: one line saying what the agent must do.
        score_range: the documented ``(low, high)`` of the score.
        max_new_tokens: the default horizon.
        model: the default model name for this task (``"tiny"`` unless it brings its own vocabulary).
    """

    name: str = "task"
    description: str = ""
    score_range: tuple[float, float] = (-math.inf, math.inf)
    max_new_tokens: int = 32
    model: str | None = "tiny"

    def __init__(
        self,
        name: str | None = None,
        prompts: Sequence[str | Prompt] | Mapping[str, Sequence[str | Prompt]] | None = None,
        score: Callable[[Prompt, str], float] | None = None,
        description: str | None = None,
        score_range: tuple[float, float] | None = None,
        max_new_tokens: int | None = None,
        model: str | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        if description is not None:
            self.description = description
        if score_range is not None:
            self.score_range = (float(score_range[0]), float(score_range[1]))
        if max_new_tokens is not None:
            self.max_new_tokens = int(max_new_tokens)
        if model is not None:
            self.model = model
        if score is not None:
            if not callable(score):
                raise TaskError(f"task {self.name!r}: score must be callable, got {type(score).__name__}")
            self._score_fn = score
        self._splits: dict[str, list[Prompt]] = {}
        if prompts is not None:
            self._splits = self._normalise_prompts(prompts)

    # -- prompts -----------------------------------------------------------------------

    def _normalise_prompts(self, prompts) -> dict[str, list[Prompt]]:
        if isinstance(prompts, Mapping):
            unknown = set(prompts) - set(SPLITS)
            if unknown:
                raise TaskError(f"task {self.name!r}: unknown split(s) {sorted(unknown)}; allowed: {list(SPLITS)}")
            raw = {split: prompts.get(split, prompts.get("train", [])) for split in SPLITS}
        elif isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
            raise TaskError(f"task {self.name!r}: prompts must be a list of strings or a dict of splits, got {type(prompts).__name__}")
        else:
            raw = {split: prompts for split in SPLITS}
        out = {}
        for split, items in raw.items():
            converted = []
            for item in items:
                if isinstance(item, str):
                    item = Prompt(item)
                if not isinstance(item, Prompt) or not isinstance(item.text, str):
                    raise TaskError(f"task {self.name!r}: each prompt must be a string or Prompt, got {type(item).__name__}")
                converted.append(item)
            out[split] = converted
        return out

    def load_prompts(self, split: str) -> list[Prompt]:
        """Build the prompts of ``split``; subclasses that ship data override this."""
        raise TaskError(f"task {self.name!r} has no prompts: pass prompts=[...] or override load_prompts()")

    def prompts(self, split: str = "train") -> list[Prompt]:
        """The prompts of ``split`` (``"train"`` or ``"eval"``), never empty."""
        if split not in SPLITS:
            raise TaskError(f"unknown split {split!r}; allowed: {list(SPLITS)}")
        if split not in self._splits:
            self._splits[split] = list(self.load_prompts(split))
        prompts = self._splits[split]
        if not prompts:
            raise TaskError(f"task {self.name!r} has an empty {split!r} prompt set; give it at least one prompt")
        return prompts

    # -- vocabulary --------------------------------------------------------------------

    def tokenizer(self) -> TextTokenizer | None:
        """The task's own vocabulary, or ``None`` to use the model's (the default)."""
        return None

    # -- scoring -----------------------------------------------------------------------

    def score(self, prompt: Prompt, continuation: str) -> float:
        """The sequence score of ``continuation`` after ``prompt``; ``score(prompt, "")`` is 0."""
        fn = getattr(self, "_score_fn", None)
        if fn is None:
            raise TaskError(f"task {self.name!r} has no score: pass score=fn or override score()")
        return fn(prompt, continuation)

    def scorer(self, prompt: Prompt) -> Scorer:
        """A :class:`Scorer` for one episode on ``prompt``."""
        return Scorer(self, prompt)

    def batch_scorer(self, tokenizer: TextTokenizer, num_envs: int, arrays, prompts: list[Prompt]):
        """A :class:`~textgym.batch_scoring.BatchScorer` for ``num_envs`` rows over the split ``prompts``.

        ``arrays`` is the env's :class:`~textgym.arrays.ArrayBackend`. The default is per-row
        and incremental; a task may return an array implementation.
        """
        from textgym.batch_scoring import TextBatchScorer

        return TextBatchScorer(self, tokenizer, num_envs, arrays, prompts)

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        """A task's own stop condition (besides EOS); ends the episode with ``terminated=True``."""
        return False

    def has_stop_condition(self) -> bool:
        """Whether :meth:`is_finished` is overridden (else no text ever ends an episode but EOS)."""
        return getattr(self.is_finished, "__func__", None) is not Task.is_finished

    def checked_score(self, value: object) -> float:
        """``value`` as a finite float, or a :class:`TaskError` naming the task."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TaskError(f"task {self.name!r}: score must return a real number, got {value!r} ({type(value).__name__})")
        value = float(value)
        if not math.isfinite(value):
            raise TaskError(f"task {self.name!r}: score returned {value}, which is not finite")
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
