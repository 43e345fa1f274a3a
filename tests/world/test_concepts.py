"""The concepts section: Keywords' records, the grammar that writes sentences from concepts, and its documents."""

import functools
import json
import random
import re

import pytest

from textgym.prompt import Prompt
from textgym.tasks.data import DATA_DIR
from textgym.tasks.keywords import CONCEPT_NOUNS, CONCEPT_VERBS, PROMPT_TEMPLATES, KeywordsTask, word_forms
from textgym.tasks.keywords import generate_prompt_set as keywords_prompt_set
from textgym.world.concepts import NOUN_KINDS, TIME_PHRASES, ConceptsSection, build_nouns, build_verbs

#: a run of words joined as a list of words is
LIST_RUN = re.compile(r"\b[a-z]+(?:(?:, | \+ | and )[a-z]+)+")


@functools.cache
def section(seed: int = 0) -> ConceptsSection:
    return ConceptsSection(seed)


@functools.cache
def pass_documents() -> tuple[str, ...]:
    """One coverage pass and then a good many documents of every kind."""
    s = section()
    return tuple(s.documents(random.Random(0), s.coverage + 4000))


def without_reference(records: list[dict]) -> list[dict]:
    return [{**r, "data": {k: v for k, v in r["data"].items() if k != "reference"}} for r in records]


def test_records_are_keywords_own_and_seed_zero_is_the_shipped_set():
    records = section().prompt_records()
    assert {split: without_reference(rs) for split, rs in records.items()} == keywords_prompt_set(0)
    shipped = json.loads((DATA_DIR / "keywords.json").read_text())
    assert without_reference(records["eval"]) == shipped["eval"]
    assert without_reference(records["train"]) == shipped["train"]
    for record in records["train"] + records["eval"]:
        assert set(record) == {"text", "data"}
        assert set(record["data"]) == {"concepts", "reference"}


def test_splits_are_disjoint_and_not_empty():
    records = section().prompt_records()
    assert len(records["train"]) == 400 and len(records["eval"]) == 100
    train_texts = {r["text"] for r in records["train"]}
    assert not train_texts & {r["text"] for r in records["eval"]}
    assert not {frozenset(c) for c in section().train_sets} & {frozenset(c) for c in section().eval_sets}


def test_the_same_seed_gives_the_same_world_and_another_seed_another():
    a, b = ConceptsSection(0), ConceptsSection(0)
    assert a.prompt_records() == b.prompt_records()
    assert a.documents(random.Random(7), 300) == b.documents(random.Random(7), 300)
    assert a.documents(random.Random(7), 300) != a.documents(random.Random(8), 300)
    assert section(1).prompt_records()["eval"] != a.prompt_records()["eval"]


def test_every_reference_scores_one_under_the_task_own_score():
    records = section().prompt_records()
    # as textgym.tasks.data.load_prompts reads a shipped record
    task = KeywordsTask(
        prompts={split: [Prompt(r["text"], target=r.get("target"), data=r["data"]) for r in rs]
                 for split, rs in records.items()}
    )
    for split in ("train", "eval"):
        prompts = task.prompts(split)
        assert len(prompts) == len(records[split])
        for prompt in prompts:
            assert task.score(prompt, " " + prompt.data["reference"]) == 1.0, prompt
            # the reference rides along in data; the score never reads it
            bare = Prompt(prompt.text, data={"concepts": prompt.data["concepts"]})
            assert task.score(bare, " " + prompt.data["reference"]) == 1.0
            assert task.score(prompt, " The.") == task.score(bare, " The.")


def test_every_eval_record_evidence_is_in_one_pass_document():
    s = section()
    docs = s.documents(random.Random(0), s.coverage)
    assert len(docs) == s.coverage == len(s.prompt_records()["eval"])
    for record in s.prompt_records()["eval"]:
        evidence = s.evidence(record)
        assert evidence == (record["data"]["reference"],)
        assert any(all(part in doc for part in evidence) for doc in docs), record
    # whatever the rng: another draw's pass states them too
    other = s.documents(random.Random(12345), s.coverage)
    for record in s.prompt_records()["eval"]:
        assert any(record["data"]["reference"] in doc for doc in other)


def test_the_evidence_uses_every_concept_of_its_record():
    s = section()
    for record in s.prompt_records()["eval"]:
        (reference,) = s.evidence(record)
        words = {w.strip(".,").lower() for w in reference.split()}
        for concept in record["data"]["concepts"]:
            assert words & word_forms(concept), (concept, reference)


def test_no_eval_prompt_and_no_eval_concept_list_appears_in_the_corpus():
    s = section()
    docs = pass_documents()
    corpus = "\n\n".join(docs)
    for record in s.prompt_records()["eval"]:
        assert record["text"] not in corpus
        concepts = record["data"]["concepts"]
        for template in PROMPT_TEMPLATES:
            assert template.format(concepts=", ".join(concepts)) not in corpus
    # an eval set is never listed, in any order or form: no run of words joined by ", ", " + " or " and " holds
    # all of one (plain sentences use its words, but never so)
    eval_keys = {frozenset(c) for c in s.eval_sets}
    for doc in docs:
        for run in LIST_RUN.finditer(doc):
            listed = set(re.split(r", | \+ | and ", run.group(0)))
            assert not any(key <= listed for key in eval_keys), (run.group(0), doc)


def test_eval_sets_are_used_together_many_times_in_plain_sentences():
    s = section()
    docs = pass_documents()
    plain_eval = 0
    for doc in docs[s.coverage:]:
        words = {w.strip(".,").lower() for w in doc.split()}
        for concepts in s.eval_sets:
            if all(words & word_forms(c) for c in concepts):
                plain_eval += 1
                break
    # DOCUMENT_WEIGHTS gives eval sets about a fifth of the documents after the pass
    assert 0.12 * 4000 < plain_eval < 0.35 * 4000


def test_the_corpus_has_every_kind_of_document_and_short_ones():
    docs = pass_documents()
    assert any(d.startswith("Words: ") and " -> " in d for d in docs)
    assert any(d.startswith("A sentence using ") for d in docs)
    assert any(any(d.startswith(t.split("{")[0]) for t in PROMPT_TEMPLATES) for d in docs)
    assert any("\n" in d for d in docs)
    assert max(len(d.split()) for d in docs) < 70


def test_task_form_documents_list_train_sets_only():
    s = section()
    train = {frozenset(c) for c in s.train_sets}
    starts = tuple(t.split("{")[0] for t in PROMPT_TEMPLATES)
    found = 0
    for doc in pass_documents():
        for line in doc.split("\n"):
            if line.startswith(starts):
                listed = line.split(": ", 1)[1].split(".", 1)[0].split(", ")
                assert frozenset(listed) in train, line
                found += 1
    assert found > 20


def test_grammar_tables_cover_the_task_vocabulary():
    nouns, verbs = build_nouns(), build_verbs()
    assert set(nouns) == set(CONCEPT_NOUNS)
    assert set(verbs) == set(CONCEPT_VERBS)
    for noun in nouns.values():
        assert noun.kind in NOUN_KINDS and noun.phrases
        for phrase in noun.phrases:
            assert noun.noun in phrase.split() or noun.noun + "s" in phrase.split(), phrase
    for frame in verbs.values():
        for form in (frame.third, frame.past, frame.ing):
            assert form in word_forms(frame.verb), (frame.verb, form)
        assert set(frame.objects + frame.animal_objects) <= set(nouns)
        assert all(nouns[a].kind == "animal" for a in frame.animals)
    # the grammar's own words never stand for a concept (so they cannot repeat one)
    every_form = set().union(*(word_forms(w) for w in CONCEPT_NOUNS + CONCEPT_VERBS))
    own_words = {w for p in TIME_PHRASES for w in p.lower().split()}
    own_words |= {w for f in verbs.values() for d in f.defaults + f.animal_defaults for w in d.split()}
    assert not own_words & every_form


def test_hand_checked_forms_and_sentences():
    verbs = build_verbs()
    assert (verbs["run"].third, verbs["run"].past, verbs["run"].ing) == ("runs", "ran", "running")
    assert (verbs["carry"].third, verbs["carry"].past) == ("carries", "carried")
    assert (verbs["watch"].third, verbs["dance"].ing, verbs["swim"].ing) == ("watches", "dancing", "swimming")
    assert verbs["wait"].prep == "for" and verbs["sit"].prep == "on"
    s = section()
    sentence = s.realize(("dog", "park", "run"), random.Random(3))
    assert "park" in sentence and {"runs", "ran", "running"} & set(sentence.rstrip(".").split())
    assert sentence[0].isupper() and sentence.endswith(".") and sentence.count(".") == 1
    assert s.sentence_score(("dog", "park", "run"), sentence) == 1.0
    assert s.sentence_score(("dog", "park", "run"), "The dog sleeps.") < 0.6


def test_realize_scores_one_on_many_fresh_sets():
    s = section()
    rng = random.Random(11)
    eval_keys = {frozenset(c) for c in s.eval_sets}
    for _ in range(500):
        concepts = s.fresh_set(rng)
        assert frozenset(concepts) not in eval_keys
        assert 3 <= len(concepts) <= 4
        assert s.sentence_score(concepts, s.realize(concepts, rng)) == 1.0


def test_bad_input_says_what_was_wrong():
    s = section()
    with pytest.raises(ValueError, match="not concept words"):
        s.realize(("dog", "spaceship", "run"), random.Random(0))
    with pytest.raises(ValueError, match="document count"):
        s.documents(random.Random(0), -1)
    with pytest.raises(ValueError, match="not one of this section's eval records"):
        s.evidence({"text": "x", "data": {"concepts": ["dog"]}})
    assert s.documents(random.Random(0), 0) == []
    assert len(s.documents(random.Random(0), 10)) == 10
