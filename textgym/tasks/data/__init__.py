"""Prompt sets shipped with the package (written by ``python -m textgym.tasks.make_data``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def _load(name: str) -> dict:
    path = DATA_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"prompt set {name!r} is missing ({path}); regenerate it with: python -m textgym.tasks.make_data")
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def load_split(name: str, split: str) -> list:
    """The ``split`` list of the shipped prompt set ``name``."""
    return list(_load(name)[split])
