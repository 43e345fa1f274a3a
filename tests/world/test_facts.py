"""The world's ``facts`` section: the QA task's prompt records and the corpus documents that teach their facts."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from textgym.task import Prompt
from textgym.tasks.qa import PROMPT_TEMPLATE, QATask, all_questions
from textgym.world.facts import QA_FORMS, FactsSection
from textgym.world.section import WorldSection


@pytest.fixture(scope="module")
def section() -> FactsSection:
    return FactsSection(0)


@pytest.fixture(scope="module")
def coverage_docs(section: FactsSection) -> list[str]:
    return section.documents(random.Random(0), section.coverage)


@pytest.fixture(scope="module")
def many_docs(section: FactsSection) -> list[tuple[str, tuple[str, ...]]]:
    """A corpus-sized draw (the world gives the section about 25k documents)."""
    return section.annotated_documents(random.Random(1), 25_000)


def _prompts(records: list[dict]) -> list[Prompt]:
    return [Prompt(r["text"], target=r["target"], data=r["data"]) for r in records]


def test_is_a_world_section(section: FactsSection) -> None:
    assert isinstance(section, WorldSection)
    assert (section.name, section.task, section.seed) == ("facts", "qa", 0)
    assert section.coverage == len(section.facts)


def test_same_seed_same_records_and_documents() -> None:
    a, b = FactsSection(7), FactsSection(7)
    assert a.prompt_records() == b.prompt_records()
    assert a.documents(random.Random(3), 800) == b.documents(random.Random(3), 800)
    assert FactsSection(8).prompt_records()["eval"] != a.prompt_records()["eval"]
    assert a.documents(random.Random(4), 800) != a.documents(random.Random(3), 800)


def test_prompt_records_returns_copies(section: FactsSection) -> None:
    records = section.prompt_records()
    records["eval"][0]["data"]["answers"].append("anything")
    assert section.prompt_records()["eval"][0]["data"]["answers"] != records["eval"][0]["data"]["answers"]


def test_records_have_the_shape_qa_reads(section: FactsSection) -> None:
    for record in section.prompt_records()["train"] + section.prompt_records()["eval"]:
        assert set(record) == {"text", "target", "data"} and set(record["data"]) == {"question", "answers"}
        assert record["text"] == PROMPT_TEMPLATE.format(question=record["data"]["question"])
        assert record["target"] == record["data"]["answers"][0]


def test_splits_disjoint_non_empty_and_cover_qa_questions(section: FactsSection) -> None:
    records = section.prompt_records()
    train = {r["text"] for r in records["train"]}
    evals = {r["text"] for r in records["eval"]}
    assert train and evals and not train & evals
    assert len(train) == len(records["train"]) and len(evals) == len(records["eval"])
    assert {r["data"]["question"] for r in records["train"] + records["eval"]} == {q for q, _ in all_questions()}
    assert 0.15 < len(evals) / (len(train) + len(evals)) < 0.25
    # both questions about one capital fall on the same side
    for fact in section.facts:
        texts = {PROMPT_TEMPLATE.format(question=q) for q, _ in fact.questions}
        assert texts <= train or texts <= evals


def test_every_eval_target_scores_one_under_qa(section: FactsSection) -> None:
    records = section.prompt_records()
    task = QATask(prompts={split: _prompts(records[split]) for split in ("train", "eval")})
    prompts = task.prompts("eval")
    assert len(prompts) == len(records["eval"])
    for prompt in prompts:
        assert task.score(prompt, f" {prompt.target}\n") == 1.0
        for answer in prompt.data["answers"]:
            assert task.score(prompt, f" {answer}\n") == 1.0
    capital = next(p for p in prompts if p.data["question"].startswith("What is the capital of"))
    assert task.score(capital, " Atlantis\n") == 0.0


def test_eval_evidence_is_stated_in_the_coverage_pass(section: FactsSection, coverage_docs: list[str]) -> None:
    for record in section.prompt_records()["eval"]:
        evidence = section.evidence(record)
        assert record["target"].lower() in " ".join(evidence).lower()
        assert any(all(part in doc for part in evidence) for doc in coverage_docs), record


def test_no_eval_question_in_the_corpus(
    section: FactsSection, coverage_docs: list[str], many_docs: list[tuple[str, tuple[str, ...]]]
) -> None:
    corpus = "\x00".join(coverage_docs + [doc for doc, _ in many_docs])
    for record in section.prompt_records()["eval"]:
        assert record["text"] not in corpus
        assert record["data"]["question"] not in corpus


def test_every_fact_is_stated_once_in_the_coverage_pass(section: FactsSection) -> None:
    annotated = section.annotated_documents(random.Random(5), section.coverage)
    first = Counter(keys[0] for _, keys in annotated)
    assert set(first) == {fact.key for fact in section.facts} and set(first.values()) == {1}
    assert [doc for doc, _ in annotated] == section.documents(random.Random(5), section.coverage)


def test_annotations_are_honest(section: FactsSection, many_docs: list[tuple[str, tuple[str, ...]]]) -> None:
    """Each document contains the subject and the answer of every fact it is said to state."""
    facts = {fact.key: fact for fact in section.facts}
    for doc, keys in many_docs[:5000]:
        for key in keys:
            assert facts[key].subject.lower() in doc.lower() and facts[key].answer.lower() in doc.lower(), (doc, key)


def test_each_fact_is_seen_often_at_corpus_size(
    section: FactsSection, many_docs: list[tuple[str, tuple[str, ...]]]
) -> None:
    exposures = Counter(key for _, keys in many_docs for key in keys)
    assert min(exposures[fact.key] for fact in section.facts) >= 50


def test_question_answer_documents(section: FactsSection, many_docs: list[tuple[str, tuple[str, ...]]]) -> None:
    """About a third are question-answer pairs about train questions; a minority are in the task's own form."""
    train = {q: answers[0] for q, answers in section.train_questions}
    qa_docs = [doc for doc, keys in many_docs if not keys]
    assert 0.3 < len(qa_docs) / len(many_docs) < 0.42
    prompt_form = [doc for doc in qa_docs if doc.startswith("Q: ")]
    assert 0.25 < len(prompt_form) / len(qa_docs) < 0.45
    asked: Counter = Counter()
    for doc in prompt_form:
        for line in doc.splitlines():
            question, answer = line.removeprefix("Q: ").split(" A: ")
            assert train[question] == answer
            asked[question] += 1
    labels = [
        (template.split("{question}")[0], template.split("\n")[1].split("{answer}")[0]) for _, template in QA_FORMS
    ]
    for doc in qa_docs:
        assert doc.endswith("\n")
        if doc in prompt_form:
            continue
        for q_label, a_label in labels:
            if q_label in doc:
                lines = [line for line in doc.splitlines() if line.startswith((q_label, a_label))]
                for q_line, a_line in zip(lines[::2], lines[1::2], strict=True):
                    question = q_line.removeprefix(q_label)
                    assert train[question] == a_line.removeprefix(a_label)
                    asked[question] += 1
                break
        else:
            raise AssertionError(f"no question-answer form in {doc!r}")
    assert set(asked) == set(train)


def test_documents_are_short(many_docs: list[tuple[str, tuple[str, ...]]]) -> None:
    assert max(len(doc.split()) for doc, _ in many_docs) < 60
    assert all(doc.strip() for doc, _ in many_docs)


def test_hand_checked_examples(section: FactsSection) -> None:
    facts = {fact.key: fact for fact in section.facts}
    france = facts["France/capital"]
    assert france.canonical == "The capital of France is Paris."
    assert "Paris is the capital of France." in france.sentences
    assert "France's capital city is Paris." in france.sentences
    assert france.questions == (
        ("What is the capital of France?", ("Paris",)),
        ("Paris is the capital of which country?", ("France",)),
    )
    assert "The Netherlands' capital city is Amsterdam." in facts["Netherlands/capital"].sentences
    assert facts["Netherlands/continent"].canonical == "The Netherlands is a country in Europe."
    assert facts["Japan/currency"].card_line == "Currency: yen"
    assert "Its currency is the yen." in facts["Japan/currency"].follow_ups
    assert facts["Who wrote Hamlet?"].canonical == "Hamlet was written by William Shakespeare."
    assert facts["In which year did the Berlin Wall fall?"].sentences[1] == "In 1989, the Berlin Wall fell."
    assert facts["What is the chemical symbol for gold?"].sentences[2] == "Gold has the chemical symbol Au."
    assert "Switzerland/capital" not in facts and "Switzerland/currency" in facts  # qa.py gives no capital
    reverse = next(
        r
        for r in section.prompt_records()["train"] + section.prompt_records()["eval"]
        if r["data"]["question"] == "Paris is the capital of which country?"
    )
    assert reverse["data"]["answers"] == ["France"]
    assert section.evidence(reverse) == ("The capital of France is Paris.",)


def test_small_and_bad_requests(section: FactsSection) -> None:
    assert section.documents(random.Random(0), 0) == []
    assert len(section.documents(random.Random(0), 10)) == 10
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        section.documents(random.Random(0), -1)
    with pytest.raises(ValueError, match="data.question is one of its questions"):
        section.evidence({"text": "Q: What is the capital of Atlantis? A:", "data": {"question": "Atlantis?"}})
    with pytest.raises(TypeError, match="seed must be an int"):
        FactsSection("0")  # type: ignore[arg-type]
