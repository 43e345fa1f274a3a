"""Every task's shipped prompt set: at least 200 train and 50 eval prompts, disjoint, reproduced by its seeded
generator."""

import importlib
import json

import pytest

from textgym.tasks import TASKS, make_task
from textgym.tasks.data import DATA_DIR
from textgym.tasks.make_data import GENERATORS

#: shipped tasks that read another task's prompt set
SHARED_PROMPTS = {"sentiment-rm": "sentiment"}


def test_every_task_ships_a_prompt_set():
    assert set(GENERATORS) | set(SHARED_PROMPTS) == set(TASKS)
    assert set(SHARED_PROMPTS.values()) <= set(GENERATORS)


@pytest.mark.parametrize("name", sorted(SHARED_PROMPTS))
def test_shared_prompt_sets_are_the_owners(name):
    from textgym.models.loader import BUNDLED_MODELS

    if not (BUNDLED_MODELS["tiny-sentiment"] / "config.json").is_file():
        pytest.skip("tiny-sentiment not built")
    for split in ("train", "eval"):
        assert make_task(name).prompts(split) == make_task(SHARED_PROMPTS[name]).prompts(split)


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
