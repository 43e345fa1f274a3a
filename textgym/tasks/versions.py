"""Task versions: a change that changes an id's results bumps its version (Gymnasium's convention).

- **v0**: the tasks as first shipped, with the bundled model ``"tiny"``, pretrained on generated reviews and
  stories only (and, for SentimentRM, the classifier ``"tiny-sentiment"``). Unchanged, so recorded results
  reproduce.
- **v1**: the language tasks of the seeded world (:mod:`textgym.world`): their prompt sets come from the world,
  and their model is ``"tiny-v1"``, pretrained on the world's corpus, which states the facts, Glossa, dialogues,
  concept sentences and stated lengths that the tasks ask for (in other forms than the tasks' prompts). SentimentRM
  scores with ``"tiny-sentiment-v1"``, the classifier trained on ``"tiny-v1"``. Copy, Reverse and Arithmetic
  have their own symbol vocabularies and stay at v0.
- **v2**: the seven language tasks with ``"tiny-v2"``, ``"tiny-v1"`` after a further stage of pretraining on the
  same world (:mod:`textgym.models.train_skills`) that teaches the concept-sentence and Glossa skills ``"tiny-v1"``
  left unlearnt; Coherence judges with ``"tiny-v2"``. Keywords and Translate read the world's *focused* prompt
  sets (a fifth of their vocabularies, 2,000 train and 100 eval prompts), over which RL meets each word often
  enough to learn it within a benchmark's budget; the other five keep their v1 prompt sets. SentimentRM stays at
  v1 (its classifier is trained on ``"tiny-v1"``).

Task names carry versions the same way: ``task="qa-v2"``; a bare name (``task="qa"``) is ``"qa-v0"``, so that
``textgym/TextGenEnv-v0`` keeps its results.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping

from textgym.task import Prompt, Task
from textgym.tasks.data import load_prompts

#: the bundled models of the world's tasks (v1)
WORLD_MODEL = "tiny-v1"
WORLD_REWARD_MODEL = "tiny-sentiment-v1"
#: the folder (under ``textgym/tasks/data``) of the world's prompt sets
WORLD_PROMPT_SETS = "v1"

WORLD_HISTORY = (
    "the seeded world: prompts from textgym.world and the bundled model ``\"tiny-v1\"``, pretrained on the "
    "world's corpus (results differ from v0)."
)


#: the bundled model of the v2 language tasks, and the folder of the v2 prompt sets (the focused ones)
SKILLS_MODEL = "tiny-v2"
FOCUSED_PROMPT_SETS = "v2"

_SKILLS_STAGE = (
    "the bundled model ``\"tiny-v2\"`` (``\"tiny-v1\"`` after a further stage on the world's concept sentences "
    "and Glossa, textgym.models.train_skills)"
)
SKILLS_HISTORY = _SKILLS_STAGE + "; results differ from v1."
FOCUSED_HISTORY = _SKILLS_STAGE + (
    ", and the world's focused prompt set over a fifth of the task's vocabulary (2,000 train, 100 eval prompts), "
    "so that each word comes up often enough for RL to learn it; results differ from v1."
)


def version_of(task: Task | type[Task]) -> int:
    """A task's version (0 unless its class says otherwise)."""
    return getattr(task, "version", 0)


def _versioned_doc(
    doc: str, version: int, old_model: str, model: str, history: str, changes: Mapping[str, str]
) -> str:
    """``doc`` for the next version: its ids and model names updated (the *Version History* kept as it was),
    ``changes`` made (each old text must be there), and one more *Version History* line."""
    body, marker, past = doc.partition("## Version History")
    body = re.sub(r"(textgym/\w+)-v\d+", rf"\1-v{version}", body)
    body = body.replace(f'model="{old_model}"', f'model="{model}"').replace(f'``"{old_model}"``', f'``"{model}"``')
    doc = body + marker + past
    for old, new in changes.items():
        if old not in doc:
            raise ValueError(f"the docstring has no {old!r} to change")
        doc = doc.replace(old, new)
    line = textwrap.fill(f"- v{version}: {history}", width=110, initial_indent="    ", subsequent_indent="      ")
    return doc.rstrip() + f"\n{line}\n    "


def next_version(
    base: type[Task],
    version: int,
    model: str,
    prompt_set: str | None,
    history: str = WORLD_HISTORY,
    doc_changes: Mapping[str, str] | None = None,
    **attributes: object,
) -> type[Task]:
    """A subclass of ``base`` at ``version``: its default model, its shipped prompt set, its docstring.

    Its name is ``base.__name__`` (without a version suffix) ``+ "V" + version``; the caller binds it under that
    name in :mod:`textgym.tasks`.

    Args:
        base: the task class of the previous version.
        version: the new version number.
        model: the new default model.
        prompt_set: the shipped prompt set it reads (a name under ``textgym/tasks/data``), or ``None`` to keep
            ``base``'s.
        history: the *Version History* line.
        doc_changes: other texts of the docstring that the new version changes (old text -> new text).
        attributes: further class attributes that change (e.g. a judge's model).
    """
    namespace: dict[str, object] = {
        "version": version,
        "model": model,
        "__doc__": _versioned_doc(base.__doc__ or "", version, getattr(base, "model", "tiny"), model, history,
                                  doc_changes or {}),
        # where the registry binds it (textgym.tasks.NAME), so that pickle finds the class by name
        "__module__": "textgym.tasks",
        **attributes,
    }
    if prompt_set is not None:
        namespace["load_prompts"] = _shipped_prompts(prompt_set)
    return type(re.sub(r"V\d+$", "", base.__name__) + f"V{version}", (base,), namespace)


def _shipped_prompts(name: str) -> Callable[[Task, str], list[Prompt]]:
    def load(self: Task, split: str) -> list[Prompt]:
        return load_prompts(name, split)

    load.__doc__ = f"The shipped prompt set ``{name}``."
    return load
