"""One prompt of a task, the splits prompts come in, and :class:`TaskError`.

These are what a task's data is made of, and what both :mod:`textgym.task` (the task and
its score) and :mod:`textgym.prompt_sources` (reading prompts from lists, files and
datasets) build on; this module imports neither, so the dependencies point one way:
``prompt`` <- ``prompt_sources`` <- ``task``. Users import the names from
:mod:`textgym.task` (or :mod:`textgym`), which re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: the splits every task has: prompts to train on, and held-out prompts to evaluate on
SPLITS = ("train", "eval")


class TaskError(ValueError):
    """A task is defined or used wrongly (empty prompt set, a prompt that lacks a field, bad score value, ...)."""


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


def require_target(prompt: Prompt, task_name: str, meaning: str = "the reference answer") -> str:
    """``prompt.target``, or a :class:`TaskError` saying the task needs it (a ``target`` field).

    Args:
        prompt: the prompt to check.
        task_name: the task, for the message.
        meaning: what the target is to this task, for the message.
    """
    target = prompt.target
    if not isinstance(target, str) or not target:
        raise TaskError(
            f"task {task_name!r}: prompt {prompt.text!r} needs a target ({meaning}; a 'target' field), got {target!r}"
        )
    return target
