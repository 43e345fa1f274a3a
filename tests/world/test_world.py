"""The world as a whole: one seed makes the corpus and every language task's prompt set, and they agree.

- every eval answer is stated in the corpus (each eval record's evidence is in one document);
- no eval prompt, in the task's own format, appears in the corpus;
- the same seed gives the same corpus and the same records;
- the focused sets of Keywords-v2 and Translate-v2 keep the same rules against the corpus and the skills stage's
  documents (:mod:`textgym.models.train_skills`).
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


@functools.cache
def stage_corpus() -> tuple[str, ...]:
    """The skills stage's section documents (the part of tiny-v2's stage that is not a replay of the corpus)."""
    from textgym.models.train_skills import SKILL_SECTIONS, stage_documents

    return tuple(stage_documents(SKILL_SECTIONS))


@pytest.mark.parametrize("name", ["concepts", "glossa"])
def test_no_focused_eval_prompt_in_the_task_format_appears_in_the_corpus_or_the_stage(name):
    """The task's form only: a short focused sentence ("the neighbor drank.") may occur inside a passage, as
    knowledge, since the stage's fresh sentences exclude the v1 eval sentences only."""
    prompts = [r["text"] for r in world().sections[name].focused_records()["eval"]]
    text = "\x00".join(corpus() + stage_corpus())
    leaked = [prompt for prompt in prompts if prompt in text]
    assert not leaked, leaked[:5]


def test_every_focused_eval_answer_is_taught():
    """Translate-v2: each eval reference's rarest word is stated (its evidence); Keywords-v2: each concept word is
    listed with a sentence that uses it in the stage's documents, many times."""
    glossa = world().sections["glossa"]
    for record in glossa.focused_records()["eval"]:
        (statement,) = glossa.evidence(record)
        assert any(statement in doc for doc in corpus()), record["text"]
    words = {w for r in world().sections["concepts"].focused_records()["eval"] for w in r["data"]["concepts"]}
    assert len(words) == 22
    for word in words:
        uses = sum(f" {word}" in doc for doc in stage_corpus())
        assert uses >= 100, (word, uses)


def test_focused_sets_are_disjoint_distinct_and_over_a_fifth_of_the_vocabulary():
    from textgym.prompt import Prompt
    from textgym.tasks import make_task
    from textgym.tasks.keywords import CONCEPT_NOUNS, CONCEPT_VERBS
    from textgym.tasks.translate import ADJECTIVES, NOUNS, VERBS, parse_english

    for name in ("concepts", "glossa"):
        records = world().sections[name].focused_records()
        train, evaluation = [r["text"] for r in records["train"]], [r["text"] for r in records["eval"]]
        assert (len(train), len(evaluation)) == (2_000, 100)
        assert len(set(train)) == len(train) and not set(train) & set(evaluation)
    sets = [r["data"]["concepts"] for split in world().sections["concepts"].focused_records().values() for r in split]
    assert set().union(*sets) == set(CONCEPT_NOUNS[:14]) | set(CONCEPT_VERBS[:8])
    for concepts in sets:  # shaped like the task's own: 3 or 4 words, one or two verbs
        assert len(concepts) in (3, 4) and 1 <= sum(w in CONCEPT_VERBS for w in concepts) <= 2
    allowed = ({n.english for n in NOUNS[:26]} | {a.english for a in ADJECTIVES[:10]} | {v.english for v in VERBS[:10]})
    task = make_task("translate-v2")
    for record in world().sections["glossa"].focused_records()["eval"]:
        assert set(parse_english(record["data"]["english"]).content_words()) <= allowed
        prompt = Prompt(record["text"], target=record["target"])
        assert task.score(prompt, " " + record["target"]) == 1.0
