"""The Glossa section: the Translate task's records and the corpus that teaches Glossa without giving eval answers."""

import functools
import json
import random
import re

import pytest

from textgym import Prompt
from textgym.tasks.data import DATA_DIR
from textgym.tasks.translate import TranslateTask, generate_prompt_set, random_clause, translate_to_glossa
from textgym.world.glossa import CONTENT_KINDS, GlossaSection
from textgym.world.section import WorldSection


@functools.cache
def section(seed: int = 0) -> GlossaSection:
    return GlossaSection(seed)


@functools.cache
def coverage_documents(seed: int = 0, rng_seed: int = 0) -> tuple[str, ...]:
    world = section(seed)
    return tuple(world.documents(random.Random(rng_seed), world.coverage))


@functools.cache
def corpus(seed: int = 0, rng_seed: int = 0, extra: int = 3000) -> tuple[str, ...]:
    world = section(seed)
    return tuple(world.documents(random.Random(rng_seed), world.coverage + extra))


def test_is_a_world_section_for_translate():
    world = section()
    assert isinstance(world, WorldSection)
    assert (world.name, world.task) == ("glossa", "translate")
    assert world.coverage == len(world.lexicon) + len(world.rules) == len(coverage_documents())


def test_records_are_translates_own_prompt_sets():
    shipped = json.loads((DATA_DIR / "translate.json").read_text())
    assert section(0).prompt_records() == shipped
    assert section(7).prompt_records() == generate_prompt_set(7)
    assert section(7).prompt_records() != section(0).prompt_records()
    for record in section(0).prompt_records()["train"][:20]:
        assert set(record) == {"text", "target", "data"}
        assert record["text"] == f"Translate to Glossa: {record['data']['english']} =>"


def test_splits_are_disjoint_and_not_empty():
    records = section().prompt_records()
    assert len(records["train"]) == 400 and len(records["eval"]) == 100
    train = {r["text"] for r in records["train"]}
    assert train.isdisjoint(r["text"] for r in records["eval"])
    assert {r["data"]["english"] for r in records["train"]}.isdisjoint(r["data"]["english"] for r in records["eval"])


def test_prompt_records_are_copies():
    world = GlossaSection(3, num_train=5, num_eval=5)
    world.prompt_records()["eval"][0]["target"] = "changed."
    assert world.prompt_records()["eval"][0]["target"] != "changed."


def test_deterministic():
    one, two = GlossaSection(5, 50, 20), GlossaSection(5, 50, 20)
    assert one.prompt_records() == two.prompt_records()
    n = one.coverage + 300
    assert one.documents(random.Random(4), n) == two.documents(random.Random(4), n)
    assert one.documents(random.Random(4), n) != one.documents(random.Random(5), n)


def test_every_eval_target_scores_one_under_translates_score():
    # the records as the task reads them (what textgym.tasks.data.load_prompts makes of translate.json)
    records = section().prompt_records()
    given = {
        split: [Prompt(r["text"], target=r["target"], data=r["data"]) for r in rows] for split, rows in records.items()
    }
    task = TranslateTask(prompts=given)
    prompts = task.prompts("eval")
    assert len(prompts) == 100
    for prompt in prompts:
        assert prompt.target == translate_to_glossa(prompt.data["english"])
        assert task.score(prompt, prompt.target) == 1.0
        assert task.score(prompt, "the dog eats bread.") < 0.5


@pytest.mark.parametrize("rng_seed", [0, 123])
def test_every_eval_record_has_its_evidence_in_the_coverage_pass(rng_seed):
    world = section()
    docs = coverage_documents(0, rng_seed)
    for record in world.prompt_records()["eval"]:
        evidence = world.evidence(record)
        assert evidence and all(isinstance(s, str) and s for s in evidence)
        assert any(all(s in doc for s in evidence) for doc in docs), (record, evidence)


def test_every_word_of_every_eval_reference_is_stated_with_its_meaning():
    world = section()
    docs = coverage_documents()
    for record in world.prompt_records()["eval"]:
        words = world.words_of(record["target"])
        # the entries rebuild the reference, token by token: nothing in it is left unexplained
        rebuilt: list[str] = []
        for word in words:
            if word.kind == "suffix":
                rebuilt[-1] += word.glossa.lstrip("-")
            else:
                rebuilt.append(word.glossa)
        assert " ".join(rebuilt) + "." == record["target"]
        for word, evidence in zip(words, world.word_evidence(record), strict=True):
            (statement,) = evidence
            assert word.glossa in statement
            assert all(english in statement for english in word.english.split())
            assert any(statement in doc for doc in docs), statement


def test_no_eval_sentence_appears_in_the_corpus_in_any_form():
    world = section()
    forbidden = [x for r in world.prompt_records()["eval"] for x in (r["text"], r["data"]["english"], r["target"])]
    pattern = re.compile("|".join(re.escape(x) for x in forbidden))
    for rng_seed in (0, 1):
        for doc in corpus(0, rng_seed):
            assert not pattern.search(doc), doc
            assert "Translate to Glossa:" not in doc


def test_train_sentences_appear_as_pairs_in_other_forms():
    world = section()
    docs = corpus()
    train = world.prompt_records()["train"]
    paired = {r["data"]["english"] for r in train for doc in docs if r["data"]["english"] in doc and r["target"] in doc}
    assert len(paired) > 100
    assert any(doc.startswith("English: ") and "\nGlossa: " in doc for doc in docs)


def test_eval_words_are_seen_often():
    world = section()
    docs = corpus()
    tokens = [set(re.findall(r"[a-z]+", doc)) for doc in docs]
    eval_words = {w for r in world.prompt_records()["eval"] for w in world.words_of(r["target"])}
    for word in eval_words:
        if word.kind not in CONTENT_KINDS:
            continue
        forms = {word.glossa, word.glossa + "li", word.glossa + "ta"}
        seen = sum(1 for found in tokens if found & forms)
        assert seen >= 10, (word, seen)


def test_documents_are_short_and_varied():
    docs = corpus()
    assert all(0 < len(doc.split()) <= 80 for doc in docs)
    starts = {doc.split()[0] for doc in docs}
    assert {"English:", "Glossa:", "In", "The", "A"} <= starts
    assert len(set(docs)) > 0.9 * len(docs)


def test_document_counts():
    world = section()
    assert world.documents(random.Random(0), 0) == []
    assert len(world.documents(random.Random(0), 10)) == 10
    assert len(world.documents(random.Random(0), world.coverage + 7)) == world.coverage + 7
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="number of documents"):
            world.documents(random.Random(0), bad)


def test_hand_checked_lexicon_and_analysis():
    world = section()
    assert world.word("kibema").statement == "The Glossa word for dog is kibema."
    assert world.word("gefu").statement == "The Glossa word for to eat is gefu."
    assert world.word("noba").english == "cook" and world.word("vabegu").english == "cook"
    assert world.word("u").statement == 'The Glossa word for "a", "an" and "some" is u.'
    assert world.word("apo").english == "near"
    words = world.words_of("lo kibemali fanani lo fina apo mi tula ko ne gefuta.")
    assert [(w.glossa, w.kind) for w in words] == [
        ("lo", "determiner"),
        ("kibema", "noun"),
        ("-li", "suffix"),
        ("fanani", "adjective"),
        ("lo", "determiner"),
        ("fina", "noun"),
        ("apo", "postposition"),
        ("mi", "determiner"),
        ("tula", "noun"),
        ("ko", "particle"),
        ("ne", "particle"),
        ("gefu", "verb"),
        ("-ta", "suffix"),
    ]
    with pytest.raises(ValueError, match="'kibe' .* is not a Glossa word"):
        world.words_of("lo kibe gefu.")
    with pytest.raises(ValueError, match="full stop"):
        world.words_of("lo kibema gefu")
    with pytest.raises(KeyError, match="not a Glossa word"):
        world.word("dog")


def test_evidence_is_the_rarest_content_word():
    world = section()
    record = {
        "text": "Translate to Glossa: the big dog eats bread. =>",
        "target": "lo kibema sedufi tula ko gefu.",
        "data": {"english": "the big dog eats bread."},
    }
    content = {"kibema", "sedufi", "tula", "gefu"}
    counts = {g: world.train_counts[g] for g in content}
    rarest = min(content, key=lambda g: (counts[g], g))
    assert world.evidence(record) == (world.word(rarest).statement,)
    for eval_record in world.prompt_records()["eval"]:
        (statement,) = world.evidence(eval_record)
        used = [w for w in world.words_of(eval_record["target"]) if w.kind in CONTENT_KINDS]
        assert statement in {w.statement for w in used}
        chosen = next(w for w in used if w.statement == statement)
        assert world.train_counts[chosen.glossa] == min(world.train_counts[w.glossa] for w in used)
    with pytest.raises(ValueError, match="'target' string"):
        world.evidence({"text": "x"})


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="num_train >= 1"):
        GlossaSection(0, num_train=0)


def test_fresh_sentences_skip_eval_sentences():
    # replay the draws that made the eval split: the draw that gave an eval sentence is skipped
    world = section()
    eval_english = {r["data"]["english"] for r in world.prompt_records()["eval"]}
    rng = random.Random(0)
    while True:
        state = rng.getstate()
        if random_clause(rng).english() in eval_english:
            break
    rng.setstate(state)
    assert world._sentence(rng).english() not in eval_english
