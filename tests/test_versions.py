"""Task versions: v0 ids unchanged, v1 ids on the world's prompt sets and models, names that carry versions."""

from __future__ import annotations

import gymnasium as gym
import pytest

import textgym
from textgym.task import TaskError
from textgym.tasks import TASKS, make_task
from textgym.tasks.data import load_split
from textgym.tasks.versions import WORLD_MODEL, WORLD_REWARD_MODEL, version_of

LANGUAGE_TASKS = ("sentiment", "keywords", "coherence", "translate", "qa", "dialogue", "length", "sentiment-rm")
SYMBOL_TASKS = ("copy", "reverse", "arithmetic")
#: the v1 tasks whose prompt set the world makes (the others keep the v0 prompts: reviews and stories)
WORLD_PROMPT_SETS = ("keywords", "translate", "qa", "dialogue", "length")


def env_id_of(name: str) -> str:
    return TASKS[name][1]


@pytest.mark.parametrize("name", LANGUAGE_TASKS)
def test_every_language_task_has_a_v1_id_and_keeps_its_v0_id(name):
    v0, v1 = TASKS[name], TASKS[f"{name}-v1"]
    assert v0[1].endswith("-v0") and v1[1] == v0[1][:-1] + "1"
    assert version_of(v0[0]) == 0 and version_of(v1[0]) == 1
    assert v1[1] in textgym.env_ids() and v0[1] in textgym.env_ids()


@pytest.mark.parametrize("name", SYMBOL_TASKS)
def test_the_symbol_tasks_stay_at_v0(name):
    assert f"{name}-v1" not in TASKS
    assert version_of(TASKS[name][0]) == 0


@pytest.mark.parametrize("name", LANGUAGE_TASKS)
def test_v0_keeps_the_first_model_and_v1_takes_the_worlds(name):
    assert make_task(name).model == "tiny"
    assert make_task(f"{name}-v1").model == WORLD_MODEL


def test_the_v1_judge_and_classifier_are_the_worlds():
    assert make_task("coherence").judge_model == "tiny" and make_task("coherence-v1").judge_model == WORLD_MODEL
    assert make_task("sentiment-rm").classifier == "tiny-sentiment"
    assert make_task("sentiment-rm-v1").classifier == WORLD_REWARD_MODEL


@pytest.mark.parametrize("name", WORLD_PROMPT_SETS)
def test_v1_prompts_are_the_worlds_and_v0_prompts_are_the_first_ones(name):
    v0, v1 = make_task(name), make_task(f"{name}-v1")
    for split in ("train", "eval"):
        assert [p.text for p in v0.prompts(split)] == [r["text"] for r in load_split(name, split)]
        assert [p.text for p in v1.prompts(split)] == [r["text"] for r in load_split(f"v1/{name}", split)]


def test_the_world_makes_the_shipped_v1_prompt_sets():
    from textgym.world import World

    world = World(seed=0)
    for name in WORLD_PROMPT_SETS:
        records = world.prompt_records(name)
        for split in ("train", "eval"):
            assert load_split(f"v1/{name}", split) == records[split], (name, split)


def test_a_bare_name_is_v0_and_a_name_may_carry_its_version():
    assert type(make_task("qa")) is type(make_task("qa-v0")) is TASKS["qa"][0]
    assert type(make_task("qa-v1")) is TASKS["qa-v1"][0]
    generic = gym.make("textgym/TextGenEnv-v0", task="qa-v1")
    assert generic.unwrapped.setup.model == WORLD_MODEL
    assert [p.text for p in generic.unwrapped.task.prompts("eval")] == [
        p.text for p in gym.make("textgym/QA-v1").unwrapped.task.prompts("eval")
    ]
    assert gym.make("textgym/TextGenEnv-v0", task="qa").unwrapped.setup.model == "tiny"


def test_an_unknown_version_names_the_registered_tasks():
    with pytest.raises(TaskError, match=r"unknown task 'qa-v7'; registered tasks: .*qa-v1"):
        make_task("qa-v7")


@pytest.mark.parametrize("name", LANGUAGE_TASKS)
def test_the_v1_docstring_names_its_id_its_model_and_its_history(name):
    doc = TASKS[f"{name}-v1"][0].__doc__
    assert env_id_of(f"{name}-v1") in doc
    assert "-v0\"" not in doc and "- v0: " in doc and "- v1: " in doc
    assert f'"{WORLD_MODEL}"' in doc


def test_the_versions_of_the_shipped_ids_match_their_names():
    for name, (task_class, env_id) in TASKS.items():
        assert env_id.endswith(f"-v{version_of(task_class)}"), (name, env_id)


@pytest.mark.parametrize("name", LANGUAGE_TASKS)
def test_a_v1_task_pickles_by_name(name):
    import pickle

    import textgym.tasks

    task_class = TASKS[f"{name}-v1"][0]
    assert getattr(textgym.tasks, task_class.__name__) is task_class
    assert pickle.loads(pickle.dumps(task_class)) is task_class
