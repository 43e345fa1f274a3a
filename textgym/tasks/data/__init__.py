"""Prompt sets shipped with the package (written by ``python -m textgym.tasks.make_data``).

Each file ``<name>.json`` holds ``{"train": [...], "eval": [...]}``; a record is a prompt
string, or a dict with ``text`` and optionally ``target`` and ``data``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from textgym.task import Prompt

DATA_DIR = Path(__file__).resolve().parent


@functools.cache
def _load(name: str) -> dict:
    path = DATA_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"prompt set {name!r} is missing ({path}); regenerate it with: python -m textgym.tasks.make_data"
        )
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def load_split(name: str, split: str) -> list:
    """The raw ``split`` records of the shipped prompt set ``name``."""
    return list(_load(name)[split])


def load_prompts(name: str, split: str) -> list[Prompt]:
    """The ``split`` of the shipped prompt set ``name`` as :class:`~textgym.task.Prompt` objects."""
    prompts = []
    for record in _load(name)[split]:
        if isinstance(record, str):
            prompts.append(Prompt(record))
        else:
            prompts.append(Prompt(record["text"], target=record.get("target"), data=record.get("data", {})))
    return prompts
