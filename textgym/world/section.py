"""One section of the world: the part of the specification that one task tests and the corpus teaches.

A section is built from a seed and gives both sides of its knowledge:

- the task's prompt set (:meth:`WorldSection.prompt_records`): train and eval records in the format the task
  reads (``{"text": ..., "target": ..., "data": {...}}``);
- the pretraining documents that teach it (:meth:`WorldSection.documents`), in other forms than the task's
  prompts: the eval split's answers are stated there as knowledge, never in the task's prompt format.

:meth:`WorldSection.evidence` names, for an eval record, the strings one corpus document must hold together for
that record's answer to count as stated; the world's tests check it for every eval record.
"""

from __future__ import annotations

import copy
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

#: what sections made once, by (section name, world seed, what): it depends on nothing else
_MADE: dict[tuple[str, int, str], Any] = {}


class WorldSection(ABC):
    """The part of the world one task draws on (see the module docstring).

    Subclasses set :attr:`name` and :attr:`task`, build their specification in ``__init__`` from the seed alone,
    and set :attr:`coverage`.
    """

    #: the section's name, e.g. ``"facts"``
    name: ClassVar[str]
    #: the task whose prompt set it makes (a key of ``textgym.tasks.TASKS``), e.g. ``"qa"``
    task: ClassVar[str]

    def __init__(self, seed: int) -> None:
        self.seed = seed
        #: the smallest ``n`` for which ``documents(rng, n)`` states every eval answer, whatever ``rng``
        self.coverage: int = 0

    @abstractmethod
    def prompt_records(self) -> dict[str, list[dict]]:
        """``{"train": [...], "eval": [...]}``: the task's records, disjoint by ``text``, the same for the same seed."""

    @abstractmethod
    def documents(self, rng: random.Random, n: int) -> list[str]:
        """``n`` pretraining documents drawn with ``rng``; for ``n >= coverage`` they state every eval answer."""

    @abstractmethod
    def evidence(self, record: dict) -> tuple[str, ...]:
        """Strings that one corpus document must all contain for ``record``'s answer to count as stated."""

    def made_once(self, what: str, make: Callable[[], Any]) -> Any:
        """A copy of ``make()``, made once per section name and world seed (for what takes seconds to make)."""
        key = (self.name, self.seed, what)
        if key not in _MADE:
            _MADE[key] = make()
        return copy.deepcopy(_MADE[key])
