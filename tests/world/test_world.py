"""The world as a whole: one seed makes the corpus and every language task's prompt set, and they agree.

- every eval answer is stated in the corpus (each eval record's evidence is in one document);
- no eval prompt, in the task's own format, appears in the corpus;
- the same seed gives the same corpus and the same records.
"""

from __future__ import annotations

import functools

import pytest

from textgym.world import CORPUS_SHARES, SECTIONS, World

#: a corpus as large as the smallest that covers every section, plus the reviews and stories at their share
DOCS = 20_000


@functools.cache
def world() -> World:
    return World(seed=0)


@functools.cache
def corpus() -> tuple[str, ...]:
    return tuple(world().documents(DOCS, draw_seed=0))


def test_the_shares_name_every_section_and_sum_to_one():
    assert set(CORPUS_SHARES) == {"stories_and_reviews", *SECTIONS}
    assert sum(CORPUS_SHARES.values()) == pytest.approx(1.0)


def test_every_section_gets_its_share_and_at_least_its_coverage():
    counts = world().document_counts(DOCS)
    for name, section in world().sections.items():
        assert counts[name] >= section.coverage
        assert counts[name] >= round(DOCS * CORPUS_SHARES[name])
    assert len(corpus()) == sum(counts.values())


@pytest.mark.parametrize("name", list(SECTIONS))
def test_every_eval_answer_is_stated_in_the_corpus(name):
    section = world().sections[name]
    for record in section.prompt_records()["eval"]:
        evidence = section.evidence(record)
        assert evidence and all(evidence), record
        assert any(all(part in doc for part in evidence) for doc in corpus()), (record["text"], evidence)


@pytest.mark.parametrize("name", list(SECTIONS))
def test_no_eval_prompt_in_the_task_format_appears_in_the_corpus(name):
    prompts = [record["text"] for record in world().sections[name].prompt_records()["eval"]]
    text = "\x00".join(corpus())
    leaked = [prompt for prompt in prompts if prompt in text]
    assert not leaked, leaked[:5]


@pytest.mark.parametrize("name", list(SECTIONS))
def test_splits_are_disjoint_and_the_task_exists(name):
    from textgym.tasks import TASKS

    section = world().sections[name]
    assert section.task in TASKS
    records = section.prompt_records()
    train, evaluation = {r["text"] for r in records["train"]}, {r["text"] for r in records["eval"]}
    assert train and evaluation and not train & evaluation


def test_the_same_seed_gives_the_same_world_and_another_seed_another_corpus():
    again = World(seed=0)
    assert again.documents(3_000, draw_seed=5) == world().documents(3_000, draw_seed=5)
    for name in SECTIONS:
        assert again.sections[name].prompt_records() == world().sections[name].prompt_records()
    assert world().documents(3_000, draw_seed=6) != world().documents(3_000, draw_seed=5)


def test_an_unknown_task_names_the_tasks_the_world_makes():
    with pytest.raises(KeyError, match="no world section makes task 'sentiment'; tasks with one: "):
        world().section_for("sentiment")
