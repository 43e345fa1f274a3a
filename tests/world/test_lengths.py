"""The lengths section: Length's records, the grammar of sentences of every length, and documents that state lengths."""

import functools
import json
import random
import re

import pytest

from textgym.prompt import Prompt
from textgym.tasks.data import DATA_DIR
from textgym.tasks.length import MAX_WORDS, MIN_WORDS, TEMPLATES, TOPICS, LengthTask, count_words
from textgym.tasks.length import generate_prompt_set as length_prompt_set
from textgym.world.lengths import NUMBER_WORDS, LengthSection

#: documents that state a sentence's length, and where the length and the sentence are
STATED = (
    re.compile(r"^\((?P<n>\d+) words\) (?P<s>[^()]+\.)$"),
    re.compile(r"^(?P<s>[^()]+\.) \((?P<n>\d+) words\)$"),
    re.compile(r"^A sentence about .+ in (?P<n>\d+) words: (?P<s>.+)$"),
    re.compile(r"^Topic: .+\. Length: (?P<n>\d+) words\. (?P<s>.+)$"),
    re.compile(r"^\((?P<n>\d+) words, about .+\) (?P<s>.+)$"),
    re.compile(r"^Words: (?P<n>\d+)\. (?P<s>.+)$"),
    re.compile(r"^Here is an? (?P<w>[a-z]+)-word sentence about .+: (?P<s>.+)$"),
    re.compile(r"^This sentence about .+ has (?P<w>[a-z]+) words: (?P<s>.+)$"),
    re.compile(r"^(?P<w>[A-Z][a-z]+) words about .+: (?P<s>.+)$"),
    re.compile(r"^(?P<s>[^.]+\.) That sentence has (?P<w>[a-z]+) words\.$"),
)
NUMBERS = {word: n for n, word in NUMBER_WORDS.items()}


@functools.cache
def section(seed: int = 0) -> LengthSection:
    return LengthSection(seed)


@functools.cache
def pass_documents() -> tuple[str, ...]:
    """One coverage pass and then a good many documents of every kind."""
    s = section()
    return tuple(s.documents(random.Random(0), s.coverage + 4000))


def without_reference(records: list[dict]) -> list[dict]:
    return [{**r, "data": {k: v for k, v in r["data"].items() if k != "reference"}} for r in records]


def test_records_are_length_own_and_seed_zero_is_the_shipped_set():
    records = section().prompt_records()
    assert {split: without_reference(rs) for split, rs in records.items()} == length_prompt_set(0)
    shipped = json.loads((DATA_DIR / "length.json").read_text())
    assert without_reference(records["eval"]) == shipped["eval"]
    assert without_reference(records["train"]) == shipped["train"]
    for record in records["train"] + records["eval"]:
        assert set(record) == {"text", "data"}
        assert set(record["data"]) == {"n", "topic", "reference"}


def test_splits_are_disjoint_and_not_empty():
    records = section().prompt_records()
    assert len(records["train"]) == 200 and len(records["eval"]) == 50
    assert not {r["text"] for r in records["train"]} & {r["text"] for r in records["eval"]}


def test_the_same_seed_gives_the_same_world_and_another_seed_another():
    a, b = LengthSection(0), LengthSection(0)
    assert a.prompt_records() == b.prompt_records()
    assert a.documents(random.Random(7), 300) == b.documents(random.Random(7), 300)
    assert a.documents(random.Random(7), 300) != a.documents(random.Random(8), 300)
    assert section(1).prompt_records()["eval"] != a.prompt_records()["eval"]


def test_every_reference_scores_one_under_the_task_own_score():
    records = section().prompt_records()
    # as textgym.tasks.data.load_prompts reads a shipped record
    task = LengthTask(
        prompts={split: [Prompt(r["text"], target=r.get("target"), data=r["data"]) for r in rs]
                 for split, rs in records.items()}
    )
    for split in ("train", "eval"):
        prompts = task.prompts(split)
        assert len(prompts) == len(records[split])
        for prompt in prompts:
            assert task.score(prompt, " " + prompt.data["reference"]) == 1.0, prompt
            # the reference rides along in data; the score never reads it
            bare = Prompt(prompt.text, data={"n": prompt.data["n"], "topic": prompt.data["topic"]})
            assert task.score(bare, " " + prompt.data["reference"]) == 1.0
            assert task.score(prompt, " The sea") == task.score(bare, " The sea")


def test_every_grammar_sentence_has_the_length_it_is_filed_under():
    s = section()
    task = LengthTask()
    assert set(s.sentences) == set(TOPICS)
    for topic in TOPICS:
        assert set(s.sentences[topic]) == set(range(MIN_WORDS, MAX_WORDS + 1))
        for n, sentences in s.sentences[topic].items():
            assert sentences, (topic, n)
            for sentence in sentences:
                # one full stop, at the end: the task's score reads up to the first
                assert sentence.endswith(".") and sentence.count(".") == 1 and sentence[0].isupper()
                assert count_words(sentence) == n
                assert task.score(Prompt("", data={"n": n}), " " + sentence) == 1.0


def test_every_eval_record_evidence_is_in_one_pass_document():
    s = section()
    docs = s.documents(random.Random(0), s.coverage)
    pairs = {(r["data"]["topic"], r["data"]["n"]) for r in s.prompt_records()["eval"]}
    assert len(docs) == s.coverage == len(pairs)
    for other_draw in (docs, s.documents(random.Random(999), s.coverage)):
        for record in s.prompt_records()["eval"]:
            evidence = s.evidence(record)
            n, topic, reference = record["data"]["n"], record["data"]["topic"], record["data"]["reference"]
            assert evidence == (f"{n} words", topic, reference)
            assert any(all(part in doc for part in evidence) for doc in other_draw), record


def test_no_eval_prompt_appears_in_the_corpus():
    s = section()
    corpus = "\n\n".join(pass_documents())
    for record in s.prompt_records()["eval"]:
        assert record["text"] not in corpus
    # the task's own wording appears only as train records' prompts
    train = {r["text"] for r in s.prompt_records()["train"]}
    starts = tuple(t.split("{")[0] for t in TEMPLATES)
    found = 0
    for doc in pass_documents():
        if doc.startswith(starts):
            assert doc[: doc.index(":") + 1] in train, doc
            found += 1
    assert found > 100


def test_every_stated_length_is_true():
    docs = pass_documents()
    checked = 0
    for doc in docs:
        for line in doc.split("\n"):
            for pattern in STATED:
                match = pattern.match(line)
                if match:
                    n = int(match["n"]) if "n" in match.groupdict() and match["n"] else NUMBERS[match["w"].lower()]
                    assert count_words(match["s"].split(".")[0]) == n, line
                    checked += 1
                    break
    assert checked > 0.6 * len(docs)


def test_counting_exercises_count_right():
    counted = [d for d in pass_documents() if "(1)" in d]
    assert len(counted) > 200
    for doc in counted:
        marks = [int(m) for m in re.findall(r"\((\d+)\)", doc)]
        assert marks == list(range(1, len(marks) + 1))
        assert doc.endswith(f"That makes {NUMBER_WORDS[len(marks)]} words.")


def test_every_topic_and_length_is_in_the_corpus_and_documents_are_short():
    docs = pass_documents()
    lines = "\n".join(docs)
    for topic in TOPICS:
        assert f"about {topic}" in lines
    for n in range(MIN_WORDS, MAX_WORDS + 1):
        assert f"({n} words)" in lines
    assert any(d.startswith("About ") and d.count("\n") >= 2 for d in docs)
    assert max(len(d.split()) for d in docs) < 70


def test_hand_checked_sentences():
    s = section()
    grammar = s.grammar["the sea"]
    assert "The sea shines." in grammar.sentences()
    assert "I think the blue sea rolls onto the sand every summer." in s.sentences["the sea"][11]
    assert s.sentences["a small dog"][3] == ("The puppy barks.",)
    assert "The sea is calm this morning." in s.sentences["the sea"][6]
    assert s.reference("the sea", 6) == s.reference("the sea", 6)
    assert count_words(s.reference("a museum", 12)) == 12


def test_bad_input_says_what_was_wrong():
    s = section()
    with pytest.raises(ValueError, match="not one of the Length task's topics"):
        s.sentence("the desert", 5, random.Random(0))
    with pytest.raises(ValueError, match="word count from 3 to 12"):
        s.sentence("the sea", 13, random.Random(0))
    with pytest.raises(ValueError, match="document count"):
        s.documents(random.Random(0), -1)
    with pytest.raises(ValueError, match="not one of this section's eval records"):
        s.evidence({"text": "x", "data": {"n": 99, "topic": "the sea"}})
    assert s.documents(random.Random(0), 0) == []
    assert len(s.documents(random.Random(0), 10)) == 10
