"""Every task's shipped prompt set: at least 200 train and 50 eval prompts, disjoint, reproduced by its seeded generator."""

import importlib
import json

import pytest

from textgym.tasks import TASKS, make_task
from textgym.tasks.data import DATA_DIR
from textgym.tasks.make_data import GENERATORS


def test_every_task_ships_a_prompt_set():
    assert set(GENERATORS) == set(TASKS)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shipped_file_is_reproduced_by_its_seeded_generator(name):
    shipped = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(importlib.import_module(GENERATORS[name]).generate_prompt_set(0)))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_default_task_uses_the_shipped_prompts_with_disjoint_splits(name):
    task = make_task(name)
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert len(train) >= 200 and len(evaluation) >= 50
    assert not {p.text for p in train} & {p.text for p in evaluation}
    shipped = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    texts = [r if isinstance(r, str) else r["text"] for r in shipped["train"]]
    assert [p.text for p in train] == texts
