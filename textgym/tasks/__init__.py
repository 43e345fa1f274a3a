"""The registry of shipped tasks: name -> :class:`~textgym.task.Task` class, and its environment id."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from textgym.task import Task, TaskError
from textgym.tasks.arithmetic import ArithmeticTask
from textgym.tasks.coherence import CoherenceTask
from textgym.tasks.copy import CopyTask
from textgym.tasks.dialogue import DialogueTask
from textgym.tasks.keywords import KeywordsTask
from textgym.tasks.length import LengthTask
from textgym.tasks.qa import QATask
from textgym.tasks.reverse import ReverseTask
from textgym.tasks.reward_model import RewardModelTask, SentimentRMTask
from textgym.tasks.sentiment import SentimentTask
from textgym.tasks.translate import TranslateTask

#: task name -> (Task class, environment id)
TASKS: dict[str, tuple[type[Task], str]] = {}

#: task names without an id of their own, configured through ``task_kwargs`` (``task="reward-model"``)
CONFIGURABLE_TASKS: dict[str, type[Task]] = {RewardModelTask.name: RewardModelTask}


def register_task(task_class: type[Task], env_id: str) -> None:
    """Add a task class under ``task_class.name`` with its environment id (e.g. ``textgym/Copy-v0``)."""
    TASKS[task_class.name] = (task_class, env_id)


register_task(SentimentTask, "textgym/Sentiment-v0")
register_task(KeywordsTask, "textgym/Keywords-v0")
register_task(CoherenceTask, "textgym/Coherence-v0")
register_task(TranslateTask, "textgym/Translate-v0")
register_task(QATask, "textgym/QA-v0")
register_task(DialogueTask, "textgym/Dialogue-v0")
register_task(CopyTask, "textgym/Copy-v0")
register_task(ReverseTask, "textgym/Reverse-v0")
register_task(ArithmeticTask, "textgym/Arithmetic-v0")
register_task(LengthTask, "textgym/Length-v0")
register_task(SentimentRMTask, "textgym/SentimentRM-v0")


def task_names() -> list[str]:
    return list(TASKS)


def make_task(task: str | Task, task_kwargs: Mapping[str, Any] | None = None) -> Task:
    """A :class:`Task` from a registered name (with its keyword arguments) or a ``Task`` object."""
    if isinstance(task, Task):
        if task_kwargs:
            raise TaskError(
                f"task_kwargs {dict(task_kwargs)} cannot be applied to the Task object {task.name!r}; "
                "configure the object itself"
            )
        return task
    if not isinstance(task, str) or (task not in TASKS and task not in CONFIGURABLE_TASKS):
        names = ", ".join([*TASKS, *CONFIGURABLE_TASKS])
        raise TaskError(f"unknown task {task!r}; registered tasks: {names} (or pass a textgym.Task object)")
    task_class = TASKS[task][0] if task in TASKS else CONFIGURABLE_TASKS[task]
    kwargs = dict(task_kwargs or {})
    allowed = [p for p in inspect.signature(task_class.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TaskError(f"unknown task_kwargs {unknown} for task {task!r}; allowed: {allowed or 'none'}")
    parameters = inspect.signature(task_class.__init__).parameters
    missing = [
        name
        for name, p in parameters.items()
        if name != "self" and p.default is inspect.Parameter.empty and name not in kwargs
    ]
    if missing:
        raise TaskError(f"task {task!r} needs task_kwargs {missing}; allowed: {allowed}")
    return task_class(**kwargs)


__all__ = [
    "CONFIGURABLE_TASKS",
    "TASKS",
    "ArithmeticTask",
    "CoherenceTask",
    "CopyTask",
    "DialogueTask",
    "KeywordsTask",
    "LengthTask",
    "QATask",
    "ReverseTask",
    "RewardModelTask",
    "SentimentRMTask",
    "SentimentTask",
    "TranslateTask",
    "make_task",
    "register_task",
    "task_names",
]
