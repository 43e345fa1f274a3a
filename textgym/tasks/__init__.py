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
from textgym.tasks.versions import (
    FOCUSED_HISTORY,
    FOCUSED_PROMPT_SETS,
    SKILLS_HISTORY,
    SKILLS_MODEL,
    WORLD_HISTORY,
    WORLD_MODEL,
    WORLD_PROMPT_SETS,
    WORLD_REWARD_MODEL,
    next_version,
    version_of,
)

#: task name -> (Task class, environment id)
TASKS: dict[str, tuple[type[Task], str]] = {}

#: task names without an id of their own, configured through ``task_kwargs`` (``task="reward-model"``)
CONFIGURABLE_TASKS: dict[str, type[Task]] = {RewardModelTask.name: RewardModelTask}


def register_task(task_class: type[Task], env_id: str) -> None:
    """Add a task class with its environment id (e.g. ``textgym/Copy-v0``).

    Its name is ``task_class.name`` at version 0 and ``NAME-vK`` at version K (see :mod:`textgym.tasks.versions`).
    """
    version = version_of(task_class)
    TASKS[task_class.name if version == 0 else f"{task_class.name}-v{version}"] = (task_class, env_id)


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

# v1: the seeded world's language tasks and the model pretrained on its corpus (textgym.tasks.versions)
SentimentTaskV1 = next_version(SentimentTask, 1, WORLD_MODEL, None)
CoherenceTaskV1 = next_version(CoherenceTask, 1, WORLD_MODEL, None, judge_model=WORLD_MODEL)
KeywordsTaskV1 = next_version(KeywordsTask, 1, WORLD_MODEL, f"{WORLD_PROMPT_SETS}/keywords")
TranslateTaskV1 = next_version(TranslateTask, 1, WORLD_MODEL, f"{WORLD_PROMPT_SETS}/translate")
QATaskV1 = next_version(
    QATask, 1, WORLD_MODEL, f"{WORLD_PROMPT_SETS}/qa",
    doc_changes={"(310 train, 77 eval; disjoint)": "(308 train, 79 eval; disjoint, split by fact: both questions "
                 "about one capital are in one split)"},
)
DialogueTaskV1 = next_version(DialogueTask, 1, WORLD_MODEL, f"{WORLD_PROMPT_SETS}/dialogue")
LengthTaskV1 = next_version(
    LengthTask, 1, WORLD_MODEL, f"{WORLD_PROMPT_SETS}/length",
    doc_changes={"``closeness = max(0, 1 - |words - N| / N)``":
                 "``closeness = max(0, 1 - |words - N| / (N / 2))``",
                 "``0.125, 0.25, 0.375, 0.5, 1``": "``0, 0, 0.25, 0.5, 1``",
                 "``+0.125, +0.125, +0.125, +0.125, +0.5``": "``0, 0, +0.25, +0.25, +0.5``",
                 "``0.5 * 0.75 = 0.375``: reward ``-0.125``": "``0.5 * 0.5 = 0.25``: reward ``-0.25``"},
    history=WORLD_HISTORY + " The closeness reaches 0 at a miss of N / 2 words, not N: a sentence of the same "
    "few words whatever N is asked scored about two thirds of the top score with v0's closeness.",
    tolerance=0.5,
)
SentimentRMTaskV1 = next_version(
    SentimentRMTask, 1, WORLD_MODEL, None, classifier=WORLD_REWARD_MODEL,
    doc_changes={'``"tiny-sentiment"``': '``"tiny-sentiment-v1"``',
                 "(``python -m textgym.models.train_tiny_sentiment``)":
                 "(``python -m textgym.models.train_tiny_sentiment --base tiny-v1``)"},
    history="the seeded world's models: the policy ``\"tiny-v1\"`` and the classifier ``\"tiny-sentiment-v1\"`` "
    "trained on it (results differ from v0).",
)
for _task_class, _env_id in (
    (SentimentTaskV1, "textgym/Sentiment-v1"),
    (KeywordsTaskV1, "textgym/Keywords-v1"),
    (CoherenceTaskV1, "textgym/Coherence-v1"),
    (TranslateTaskV1, "textgym/Translate-v1"),
    (QATaskV1, "textgym/QA-v1"),
    (DialogueTaskV1, "textgym/Dialogue-v1"),
    (LengthTaskV1, "textgym/Length-v1"),
    (SentimentRMTaskV1, "textgym/SentimentRM-v1"),
):
    register_task(_task_class, _env_id)

# v2: the seven language tasks with the model that learnt the world's skills; Keywords and Translate on the world's
# focused prompt sets (textgym.tasks.versions)
SentimentTaskV2 = next_version(SentimentTaskV1, 2, SKILLS_MODEL, None, history=SKILLS_HISTORY)
CoherenceTaskV2 = next_version(CoherenceTaskV1, 2, SKILLS_MODEL, None, history=SKILLS_HISTORY,
                               judge_model=SKILLS_MODEL)
KeywordsTaskV2 = next_version(
    KeywordsTaskV1, 2, SKILLS_MODEL, f"{FOCUSED_PROMPT_SETS}/keywords", history=FOCUSED_HISTORY,
    doc_changes={"(400 train, 100 eval;": "(2,000 train, 100 eval, over 22 concept words;"},
)
TranslateTaskV2 = next_version(
    TranslateTaskV1, 2, SKILLS_MODEL, f"{FOCUSED_PROMPT_SETS}/translate", history=FOCUSED_HISTORY,
    doc_changes={"(400 train, 100 eval;": "(2,000 train, 100 eval, over 46 of Glossa's 232 content words;"},
)
QATaskV2 = next_version(QATaskV1, 2, SKILLS_MODEL, None, history=SKILLS_HISTORY)
DialogueTaskV2 = next_version(DialogueTaskV1, 2, SKILLS_MODEL, None, history=SKILLS_HISTORY)
LengthTaskV2 = next_version(LengthTaskV1, 2, SKILLS_MODEL, None, history=SKILLS_HISTORY)
for _task_class, _env_id in (
    (SentimentTaskV2, "textgym/Sentiment-v2"),
    (KeywordsTaskV2, "textgym/Keywords-v2"),
    (CoherenceTaskV2, "textgym/Coherence-v2"),
    (TranslateTaskV2, "textgym/Translate-v2"),
    (QATaskV2, "textgym/QA-v2"),
    (DialogueTaskV2, "textgym/Dialogue-v2"),
    (LengthTaskV2, "textgym/Length-v2"),
):
    register_task(_task_class, _env_id)


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
    if isinstance(task, str) and task.endswith("-v0") and task[:-3] in TASKS:
        task = task[:-3]  # a bare name is version 0
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
    "CoherenceTaskV1",
    "CoherenceTaskV2",
    "CopyTask",
    "DialogueTask",
    "DialogueTaskV1",
    "DialogueTaskV2",
    "KeywordsTask",
    "KeywordsTaskV1",
    "KeywordsTaskV2",
    "LengthTask",
    "LengthTaskV1",
    "LengthTaskV2",
    "QATask",
    "QATaskV1",
    "QATaskV2",
    "ReverseTask",
    "RewardModelTask",
    "SentimentRMTask",
    "SentimentRMTaskV1",
    "SentimentTask",
    "SentimentTaskV1",
    "SentimentTaskV2",
    "TranslateTask",
    "TranslateTaskV1",
    "TranslateTaskV2",
    "make_task",
    "register_task",
    "task_names",
]
