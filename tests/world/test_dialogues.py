"""The dialogues section: Dialogue's prompt records and the customer-service transcripts that teach its skill."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from textgym.task import Prompt
from textgym.tasks.dialogue import INTENTS, DialogueTask, generate_prompt_set
from textgym.world.dialogues import (
    NARRATORS,
    QUALITIES,
    SPEAKERS,
    DialogueSection,
    ReplyForm,
    Turn,
)
from textgym.world.section import WorldSection

SEED = 0
LABELLED = re.compile(r"^(\w+): (.*)$")
NARRATED = re.compile(r'^(?:An?|The) (\w+) said, "(.*)" The (\w+) (\w+), "(.*)"$')


@pytest.fixture(scope="module")
def section() -> DialogueSection:
    return DialogueSection(SEED)


@pytest.fixture(scope="module")
def docs(section: DialogueSection) -> list[str]:
    return section.documents(random.Random(0), section.coverage)


@pytest.fixture(scope="module")
def many_docs(section: DialogueSection) -> list[str]:
    return section.documents(random.Random(0), 4000)


@pytest.fixture(scope="module")
def task(section: DialogueSection) -> DialogueTask:
    """The task on the section's records, read as the shipped set is read (textgym.tasks.data.load_prompts)."""
    records = section.prompt_records()
    return DialogueTask(
        prompts={
            split: [Prompt(r["text"], target=r.get("target"), data=r.get("data", {})) for r in rows]
            for split, rows in records.items()
        }
    )


def exchanges(doc: str) -> list[tuple[str, str]]:
    """The (customer turn, reply) pairs of a transcript or a narration; fails on any other shape."""
    lines = doc.split("\n")
    assert lines[-1] == "", f"a document must end with a newline: {doc!r}"
    lines = lines[:-1]
    if all(LABELLED.match(line) for line in lines):
        labels = [LABELLED.match(line).group(1) for line in lines]
        texts = [LABELLED.match(line).group(2) for line in lines]
        assert len(lines) % 2 == 0, doc
        assert (labels[0], labels[1]) in SPEAKERS, doc
        assert labels == [labels[0], labels[1]] * (len(lines) // 2), doc
        return list(zip(texts[0::2], texts[1::2]))
    pairs = []
    for line in lines:
        match = NARRATED.match(line)
        assert match, f"neither a transcript nor a narration: {doc!r}"
        customer, turn, agent, verb, reply = match.groups()
        assert (customer, agent, verb) in NARRATORS, line
        pairs.append((turn, reply))
    return pairs


def intent_of(section: DialogueSection) -> dict[str, str]:
    return {turn.text: intent for intent, turns in section.turns.items() for turn in turns}


def test_is_a_world_section(section: DialogueSection) -> None:
    assert isinstance(section, WorldSection)
    assert (section.name, section.task) == ("dialogues", "dialogue")
    assert section.coverage == len(section.prompt_records()["eval"]) == 72


def test_same_seed_same_section_byte_for_byte() -> None:
    a, b = DialogueSection(3), DialogueSection(3)
    assert a.prompt_records() == b.prompt_records()
    assert a.documents(random.Random(5), 300) == b.documents(random.Random(5), 300)
    assert [a.evidence(r) for r in a.prompt_records()["eval"]] == [b.evidence(r) for r in b.prompt_records()["eval"]]
    c = DialogueSection(4)
    assert c.prompt_records() != a.prompt_records()
    assert a.documents(random.Random(5), 300) != a.documents(random.Random(6), 300)


def test_records_are_the_tasks_own(section: DialogueSection) -> None:
    records = section.prompt_records()
    assert records == generate_prompt_set(SEED)
    assert len(records["train"]) == 300 and len(records["eval"]) == 72
    train_texts = {r["text"] for r in records["train"]}
    eval_texts = {r["text"] for r in records["eval"]}
    assert train_texts and eval_texts and not train_texts & eval_texts
    for record in records["train"] + records["eval"]:
        assert set(record) == {"text", "data"}
        assert record["text"].startswith("User: ") and record["text"].endswith("\nAssistant:")
        assert record["data"]["intent"] in INTENTS
    assert Counter(r["data"]["intent"] for r in records["eval"]) == {intent: 12 for intent in INTENTS}
    # a copy: editing it leaves the section as it was
    records["eval"][0]["data"]["intent"] = "nonsense"
    assert section.prompt_records()["eval"][0]["data"]["intent"] in INTENTS


def test_every_eval_answer_is_taught_in_the_corpus(section: DialogueSection, docs: list[str]) -> None:
    for docs_here in (docs, section.documents(random.Random(1), section.coverage + 10)):
        for record in section.prompt_records()["eval"]:
            evidence = section.evidence(record)
            assert any(all(part in doc for part in evidence) for doc in docs_here), (record, evidence)


def test_evidence_is_a_consecutive_exchange_of_the_same_form(section: DialogueSection, docs: list[str]) -> None:
    pairs = {pair for doc in docs for pair in exchanges(doc)}
    for record in section.prompt_records()["eval"]:
        sibling, reply = section.evidence(record)
        assert (sibling, reply) in pairs, record
        turn, taught = section.eval_turns[record["text"]], section.taught[record["text"]].turn
        assert taught.intent == turn.intent == record["data"]["intent"]
        assert taught.text != turn.text
        if turn.slots:  # a template with slots has other fillings: the sibling is one of them
            assert taught.template == turn.template


def test_evidence_and_reference_replies_score_1_on_the_eval_record(
    section: DialogueSection, task: DialogueTask
) -> None:
    prompts = task.prompts("eval")
    assert [p.text for p in prompts] == [r["text"] for r in section.prompt_records()["eval"]]
    for record, prompt in zip(section.prompt_records()["eval"], prompts, strict=True):
        _, reply = section.evidence(record)
        assert task.score(prompt, reply + "\n") == 1.0, (record, reply)
        reference = section.reference_reply(record)
        assert reference.endswith("\n") and reference.count("\n") == 1
        assert task.score(prompt, reference) == 1.0, (record, reference)
        scorer = task.scorer(prompt)
        continuation, running = "", 0.0
        for piece in re.findall(r"\s*\S+", " " + reference):
            continuation += piece
            running = scorer.update(continuation, piece)
        assert running == 1.0, (record, reference)


def test_no_eval_turn_occurs_in_the_corpus(section: DialogueSection, docs: list[str], many_docs: list[str]) -> None:
    eval_turns = {turn.text for turn in section.eval_turns.values()}
    for doc in docs + many_docs:
        for record in section.prompt_records()["eval"]:
            assert record["text"] not in doc
        for turn, _ in exchanges(doc):
            assert turn not in eval_turns, (turn, doc)
        # the task's own pair of labels never frames an exchange
        assert not re.search(r"(^|\n)User: [^\n]*\nAssistant:", doc), doc


def test_documents_are_short_transcripts_with_newline_ended_replies(
    section: DialogueSection, many_docs: list[str]
) -> None:
    narrated = 0
    for doc in many_docs:
        pairs = exchanges(doc)
        assert 1 <= len(pairs) <= 3, doc
        assert len(doc.split()) < 80, doc
        narrated += doc.startswith(("A ", "An "))
    assert 0.08 < narrated / len(many_docs) < 0.25
    # both labels of the task occur (in other pairs), so the reply cue is familiar
    text = "".join(many_docs)
    assert "\nAssistant: " in text and "User: " in text
    assert len(section.documents(random.Random(0), 5)) == 5
    assert section.documents(random.Random(0), 0) == []


def test_reply_forms_have_their_quality_under_the_tasks_score(section: DialogueSection, task: DialogueTask) -> None:
    expected = {"polite_fit": 1.0, "curt": 0.5, "off_intent": 0.5}
    every_turn = [t for turns in section.turns.values() for t in turns] + list(section.eval_turns.values())
    for intent in INTENTS:
        prompt = Prompt("User: hi\nAssistant:", data={"intent": intent})
        for quality in QUALITIES:
            forms = section.reply_forms[intent][quality]
            assert forms
            for form in forms:
                answered = [t for t in every_turn if t.intent == intent and form.fits(t)]
                assert answered, f"the {quality} form {form.template!r} answers no {intent} turn"
                score = task.score(prompt, form.fill(answered[0]))
                if quality == "rude":
                    assert score < 0, form
                else:
                    assert score == expected[quality], form
    for turn in every_turn:  # every turn has a reply of every quality
        for quality in QUALITIES:
            assert any(form.fits(turn) for form in section.reply_forms[turn.intent][quality]), (turn, quality)


def test_corpus_half_teaches_the_skill_for_every_intent(
    section: DialogueSection, task: DialogueTask, many_docs: list[str]
) -> None:
    intents = intent_of(section)
    prompts = {intent: Prompt("User: hi\nAssistant:", data={"intent": intent}) for intent in INTENTS}
    scores: dict[str, list[float]] = {intent: [] for intent in INTENTS}
    for doc in many_docs:
        for turn, reply in exchanges(doc):
            scores[intents[turn]].append(task.score(prompts[intents[turn]], reply))
    for intent, got in scores.items():
        assert len(got) > 500, intent
        perfect = sum(s == 1.0 for s in got) / len(got)
        assert 0.5 < perfect < 0.72, (intent, perfect)
        assert any(s == 0.5 for s in got) and any(s < 0 for s in got), intent


def test_hand_checked_examples(section: DialogueSection) -> None:
    turn = Turn("How much does the kettle cost?", "question", "How much does the {item} cost?", (("item", "kettle"),))
    assert turn.slot("item") == "kettle" and turn.slot("day") is None
    how_much = ReplyForm("It costs about forty dollars.", "question", "polite_fit", frozenset(), ("How much",))
    assert how_much.fits(turn)
    assert not how_much.fits(Turn("Is the kettle in stock?", "question", "t", (("item", "kettle"),)))
    sorry = ReplyForm("I'm so sorry about your {item}.", "complaint", "polite_fit", frozenset({"item"}))
    broken = Turn("My kettle arrived broken.", "complaint", "My {item} arrived broken.", (("item", "kettle"),))
    assert sorry.fill(broken) == "I'm so sorry about your kettle."
    assert not sorry.fits(Turn("Your driver was rude to me on Monday.", "complaint", "t", (("day", "Monday"),)))
    doc = "Guest: Hello!\nClerk: Hi, welcome! How can I help?\nGuest: Bye!\nClerk: Take care, thank you!\n"
    assert exchanges(doc) == [("Hello!", "Hi, welcome! How can I help?"), ("Bye!", "Take care, thank you!")]
    narrated = 'A guest said, "Hello!" The clerk answered, "Hi there, welcome!"\n'
    assert exchanges(narrated) == [("Hello!", "Hi there, welcome!")]
    # the eval turns are the task's, the corpus turns include the extra templates
    assert "Good day!" in intent_of(section)


def test_bad_input_is_refused(section: DialogueSection) -> None:
    with pytest.raises(ValueError, match="not an eval record"):
        section.evidence(section.prompt_records()["train"][0])
    with pytest.raises(ValueError, match="not an eval record"):
        section.reference_reply({"text": "User: hi\nAssistant:"})
    with pytest.raises(ValueError, match="qualities"):
        DialogueSection(0, reply_mix={"polite_fit": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        DialogueSection(0, reply_mix={"polite_fit": 1.0, "curt": -1.0, "off_intent": 0.0, "rude": 0.0})
    with pytest.raises(ValueError, match="non-negative int"):
        section.documents(random.Random(0), -1)
    only_polite = DialogueSection(0, reply_mix={"polite_fit": 1.0, "curt": 0.0, "off_intent": 0.0, "rude": 0.0})
    assert only_polite.reply_mix["polite_fit"] == 1.0
