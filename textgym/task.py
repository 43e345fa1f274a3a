"""The :class:`Task`: a prompt set with train and eval splits, plus one sequence score.

A task never sees tokens: it scores text. The environment turns the score into rewards
(see docs/design.md, section 2: dense rewards are score differences, the sparse reward is
the final score), so every task satisfies the reward contract by construction.

This module owns :class:`Task` and :class:`Scorer` (the running score of one episode, and the
contract by which both environments call it). :class:`Prompt`, :data:`SPLITS`,
:class:`TaskError` and :func:`require_target` live in :mod:`textgym.prompt` and are
re-exported here, where users import them from.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeAlias

from textgym.batch_scoring import BatchScorer, TextBatchScorer
from textgym.models.tokenizer import TextTokenizer
from textgym.prompt import SPLITS, Prompt, TaskError, require_target
from textgym.prompt_sources import (
    PromptOrigin,
    PromptSet,
    dataset_dict_prompts,
    dataset_kind,
    dataset_prompts,
    prompt_set,
)

if TYPE_CHECKING:
    import os

    from textgym.arrays import ArrayBackend

__all__ = [
    "SPLITS",
    "PromptsLike",
    "Prompt",
    "Scorer",
    "ScoreRangeWarning",
    "Task",
    "TaskError",
    "require_target",
]

#: what ``Task(prompts=...)`` accepts: a list of strings or :class:`Prompt` (both splits), a
#: path to a ``.jsonl``, ``.csv`` or ``.txt`` file, a ``datasets.Dataset`` or ``DatasetDict``,
#: or a dict ``{"train": ..., "eval": ...}`` of lists, paths or datasets
#: (see :mod:`textgym.prompt_sources`)
PromptsLike: TypeAlias = "Sequence[str | Prompt] | str | os.PathLike[str] | Mapping[str, Any] | PromptSet | Any"


class ScoreRangeWarning(UserWarning):
    """A task's score left its declared ``score_range`` (warned once per task object)."""


class Scorer:
    """The running score of one episode, updated as text is appended.

    The default recomputes ``task.score`` on the whole continuation at every step;
    a task whose score allows it returns a subclass that carries state so that one
    update costs O(1) in the length of the text.

    The contract. ``TextGenEnv`` and every row of ``TextGenVectorEnv`` (through
    :class:`~textgym.batch_scoring.TextBatchScorer`) call one episode's scorer the same way,
    in this order:

    1. at reset: ``task.scorer(prompt)``, then ``update("", "")``, the empty text's score;
    2. at every step (EOS included): ``advance(generated)`` with the tokens generated so far,
       this step's included; then, when the token adds text (a token inside a multi-byte
       character adds none until the character completes; EOS adds none),
       ``update(text, appended)``, whose value is the step's score;
    3. at the episode's end, after that step's ``advance`` and ``update``: when the decoder
       still holds bytes of an unfinished character, ``update(text, rest)`` with the final
       text (ending in U+FFFD); then ``finish(text)`` once, whose value, unless ``None``,
       is the final score.

    In sparse mode with :meth:`Task.scores_lazily` the updates of step 2 are skipped and
    the end makes one ``update(text, text)`` (the whole text appended since reset) before
    ``finish``. A task whose batched env scores rows in one batched operation (its own
    :meth:`Task.batch_scorer`) gives the scores this contract gives, row by row.
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        self.task = task
        self.prompt = prompt

    def update(self, continuation: str, appended: str) -> float:
        """Return the score of ``continuation``, which is the previous one plus ``appended``."""
        return self.task.score(self.prompt, continuation)

    def advance(self, generated: int) -> None:
        """Called at every step, before that step's :meth:`update`, with the tokens generated so far (EOS included).

        The default ignores it; a scorer that re-scores only every few tokens counts with it.
        """

    def finish(self, continuation: str) -> float | None:
        """Called once when the episode ends, after the last :meth:`update`, with the final text.

        Return the final text's score where the last value returned was held from an earlier text
        (a scorer that re-scores only at some steps), else ``None`` (the default: the last update stands).
        """
        return None


class Task:
    """A text-generation task: prompts in train and eval splits, and a sequence score.

    Use it directly with your own prompts and score function::

        task = Task("shout", prompts=["Say hi:", "Say bye:"], score=lambda p, c: c.count("!") / 10)

    or subclass it and override :meth:`score` (and :meth:`scorer` for an incremental form).

    Args:
        name: short identifier used in messages and tables.
        prompts: a list of prompt strings (or :class:`Prompt`) used for both splits; a path
            to a ``.jsonl`` or ``.csv`` file (fields ``prompt``, optional ``target`` and
            ``split``, any others to ``Prompt.data``) or a ``.txt`` file (one prompt per
            line); a ``datasets.Dataset`` or ``DatasetDict`` (see :meth:`from_dataset`); or
            a mapping ``{"train": ..., "eval": ...}`` of any of these but a mapping. A
            missing ``"eval"`` is the ``"train"`` prompts. Read at construction; the fields a
            task's score needs are checked on first use (:meth:`prompts`), naming the
            line, row or item that lacks one. See :mod:`textgym.prompt_sources`.
        score: ``score(prompt, continuation) -> float``; any value on the empty continuation
            (the env's first instant reward carries ``score(prompt, "")``, so dense still sums to sparse);
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
    #: the score is expensive (a neural reward model): in sparse mode an env computes it only at the end of each
    #: episode (see :meth:`scores_lazily`)
    lazy_sparse: bool = False

    def __init__(
        self,
        name: str | None = None,
        prompts: PromptsLike | None = None,
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
        #: where each given prompt came from, by split (none for prompts of load_prompts)
        self._origins: dict[str, PromptOrigin] = {}
        self._checked: set[str] = set()
        if prompts is not None:
            given = prompt_set(prompts, self.name)
            self._splits = {split: list(given.prompts[split]) for split in SPLITS}
            self._origins = dict(given.origins)

    @classmethod
    def from_dataset(
        cls,
        dataset: Any,
        prompt_field: str = "prompt",
        target_field: str | None = None,
        split_map: Mapping[str, str] | None = None,
        **task_kwargs: Any,
    ) -> Self:
        """A task whose prompts are the rows of a ``datasets.Dataset`` or ``DatasetDict``.

        ``datasets`` is not imported here: any object of its ``Dataset`` or ``DatasetDict``
        classes is read row by row.

        Args:
            dataset: a ``Dataset`` (its rows serve both splits) or a ``DatasetDict``.
            prompt_field: the column holding the prompt text.
            target_field: the column holding ``Prompt.target``; ``None``: the ``"target"``
                column if there is one, else no target. Every other column goes to
                ``Prompt.data``.
            split_map: for a ``DatasetDict``, textgym split -> its split name, e.g.
                ``{"train": "train", "eval": "validation"}``. By default ``train`` is
                ``"train"`` and ``eval`` the first of ``"test"``, ``"validation"``, ``"eval"``
                that exists (else ``"train"`` too).
            **task_kwargs: the other arguments of ``cls`` (``name``, ``score``, ... for
                :class:`Task`; a shipped task's own arguments).

        Returns:
            ``cls(prompts=..., **task_kwargs)``.

        Raises:
            TaskError: not a dataset, a missing column or split, a non-string prompt.
        """
        if "prompts" in task_kwargs:
            raise TaskError(f"{cls.__name__}.from_dataset: the prompts come from the dataset; do not pass prompts= too")
        name = task_kwargs.get("name") or cls.name
        kind = dataset_kind(dataset)
        if kind == "dict":
            prompts = dataset_dict_prompts(dataset, name, prompt_field, target_field, split_map)
        elif kind == "dataset":
            if split_map is not None:
                raise TaskError(
                    f"task {name!r}: split_map applies to a DatasetDict, but a Dataset was given "
                    f"(its rows serve both splits)"
                )
            rows, origin = dataset_prompts(dataset, name, prompt_field, target_field)
            prompts = PromptSet({split: list(rows) for split in SPLITS}, {split: origin for split in SPLITS})
        else:
            raise TaskError(
                f"task {name!r}: from_dataset needs a datasets.Dataset or datasets.DatasetDict, "
                f"got {type(dataset).__name__}"
            )
        return cls(prompts=prompts, **task_kwargs)

    # -- prompts -----------------------------------------------------------------------

    def check_prompt(self, prompt: Prompt) -> None:
        """Raise :class:`TaskError` if ``prompt`` lacks a field that :meth:`score` needs.

        Called once for every prompt given as ``prompts=`` (a list, a file or a dataset),
        the first time its split is asked for; the error is completed with where the prompt
        came from. The default checks nothing; a task whose score reads ``Prompt.target``
        or ``Prompt.data`` overrides it.
        """

    def _check_given(self, split: str, prompts: list[Prompt]) -> None:
        origin = self._origins.get(split)
        if origin is None or split in self._checked:
            return
        for index, prompt in enumerate(prompts):
            try:
                self.check_prompt(prompt)
            except TaskError as error:
                fields = (
                    ["prompt"] + (["target"] if prompt.target is not None else []) + [str(key) for key in prompt.data]
                )
                raise TaskError(f"{error} (in {origin.where(index)}; fields found: {', '.join(fields)})") from None
        self._checked.add(split)

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
        self._check_given(split, prompts)
        return prompts

    # -- vocabulary --------------------------------------------------------------------

    def tokenizer(self) -> TextTokenizer | None:
        """The task's own vocabulary, or ``None`` to use the model's (the default)."""
        return None

    # -- scoring -----------------------------------------------------------------------

    def score(self, prompt: Prompt, continuation: str) -> float:
        """The sequence score of ``continuation`` after ``prompt`` (``score(prompt, "")`` may be any number)."""
        fn = getattr(self, "_score_fn", None)
        if fn is None:
            raise TaskError(f"task {self.name!r} has no score: pass score=fn or override score()")
        return fn(prompt, continuation)

    def scorer(self, prompt: Prompt) -> Scorer:
        """A :class:`Scorer` for one episode on ``prompt``."""
        return Scorer(self, prompt)

    def batch_scorer(
        self, tokenizer: TextTokenizer, num_envs: int, arrays: ArrayBackend, prompts: list[Prompt]
    ) -> BatchScorer:
        """A :class:`~textgym.batch_scoring.BatchScorer` for ``num_envs`` rows over the split ``prompts``.

        ``arrays`` is the env's :class:`~textgym.arrays.ArrayBackend`. The default,
        :class:`~textgym.batch_scoring.TextBatchScorer`, keeps one :class:`Scorer` per row and
        calls it as ``TextGenEnv`` does (see :class:`Scorer`); a task may return an array
        implementation (token-level scores) or one that batches its rows' reads, as long as
        its scores equal those of that contract.
        """
        return TextBatchScorer(self, tokenizer, num_envs, arrays, prompts)

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        """A task's own stop condition (besides EOS); ends the episode with ``terminated=True``."""
        return False

    def has_stop_condition(self) -> bool:
        """Whether :meth:`is_finished` is overridden (else no text ever ends an episode but EOS)."""
        return getattr(self.is_finished, "__func__", None) is not Task.is_finished

    def scores_lazily(self, reward_mode: str) -> bool:
        """Whether an env in ``reward_mode`` computes the score only when an episode ends.

        True in sparse mode for a task with :attr:`lazy_sparse` and no stop condition (no step
        but the last needs the score). ``info["score"]`` before the last step is then the
        last score computed: the empty text's, from the start of the episode.
        """
        return reward_mode == "sparse" and self.lazy_sparse and not self.has_stop_condition()

    def check_horizon(self, max_new_tokens: int, tokenizer: TextTokenizer) -> None:
        """Raise if episodes of ``max_new_tokens`` tokens of ``tokenizer`` can outgrow what the score can read.

        The envs call it once, at construction. The default checks nothing; a reward-model
        task compares prompt plus horizon with the classifier's context.
        """

    def checked_score(self, value: object) -> float:
        """``value`` as a finite float, or a :class:`TaskError` naming the task.

        A value outside :attr:`score_range` (beyond a rounding tolerance) is returned as it is,
        with a :class:`ScoreRangeWarning` the first time for this task object.
        """
        if type(value) is not float:  # the common case skips the (slow) abstract-class check
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TaskError(
                    f"task {self.name!r}: score must return a real number, got {value!r} ({type(value).__name__})"
                )
            value = float(value)
        if not math.isfinite(value):
            raise TaskError(f"task {self.name!r}: score returned {value}, which is not finite")
        low, high = self.score_range
        if not low - 1e-9 <= value <= high + 1e-9 and not self.__dict__.get("_warned_out_of_range", False):
            self._warned_out_of_range = True
            warnings.warn(
                f"task {self.name!r}: score {value:g} is outside its declared score_range [{low:g}, {high:g}]; "
                f"fix the score or the score_range (warned once per task)", ScoreRangeWarning, stacklevel=2,
            )
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
