"""Every task's shipped prompt set: at least 200 train and 50 eval prompts, disjoint, reproduced by its seeded
generator."""

import importlib
import json

import pytest

from textgym.tasks import TASKS, make_task
from textgym.tasks.data import DATA_DIR
from textgym.tasks.make_data import GENERATORS
from textgym.tasks.versions import version_of

#: shipped tasks that read another task's prompt set
SHARED_PROMPTS = {"sentiment-rm": "sentiment"}


def test_every_task_ships_a_prompt_set():
    v0 = {name for name, (task_class, _) in TASKS.items() if version_of(task_class) == 0}
    assert set(GENERATORS) | set(SHARED_PROMPTS) == v0
    assert set(SHARED_PROMPTS.values()) <= set(GENERATORS)


def test_every_v1_task_reads_the_worlds_prompt_set_or_its_v0_one():
    """The world makes the v1 prompt sets of the tasks it teaches; Sentiment, Coherence and SentimentRM keep the
    v0 reviews and stories (the world's corpus keeps those too)."""
    from textgym.world import World

    world_tasks = {section.task for section in World(0).sections.values()}
    for name, (task_class, _) in TASKS.items():
        if version_of(task_class) != 1:
            continue
        base = name.removesuffix("-v1")
        expected = f"v1/{base}" if base in world_tasks else SHARED_PROMPTS.get(base, base)
        for split in ("train", "eval"):
            records = json.loads((DATA_DIR / f"{expected}.json").read_text())[split]
            assert [p.text for p in make_task(name).prompts(split)] == [
                r if isinstance(r, str) else r["text"] for r in records
            ], (name, split)


def test_every_v2_task_reads_the_worlds_focused_set_or_its_v1_one():
    """Keywords-v2 and Translate-v2 read the world's focused sets (data/v2), written from the world's seed; the
    other v2 tasks read what their v1 versions read."""
    from textgym.tasks.versions import FOCUSED_PROMPT_SETS
    from textgym.world import World

    world = World(0)
    focused = {"keywords": world.sections["concepts"], "translate": world.sections["glossa"]}
    v2 = [name for name, (task_class, _) in TASKS.items() if version_of(task_class) == 2]
    assert sorted(v2) == sorted(f"{t}-v2" for t in ("sentiment", "keywords", "coherence", "translate", "qa",
                                                    "dialogue", "length"))
    for name in v2:
        base = name.removesuffix("-v2")
        for split in ("train", "eval"):
            texts = [p.text for p in make_task(name).prompts(split)]
            if base in focused:
                shipped = json.loads((DATA_DIR / f"{FOCUSED_PROMPT_SETS}/{base}.json").read_text())
                assert shipped == focused[base].focused_records()
                assert texts == [r["text"] for r in shipped[split]]
                assert texts != [p.text for p in make_task(f"{base}-v1").prompts(split)]
            else:
                assert texts == [p.text for p in make_task(f"{base}-v1").prompts(split)], (name, split)


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
