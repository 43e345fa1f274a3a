"""The ``facts`` section of the world: the knowledge the QA task (``textgym/QA-v0``) asks about.

The specification is a set of facts over the QA task's own tables (read from :mod:`textgym.tasks.qa`, never
changed): the capital, continent, currency and main language of its countries, and its facts about people, dates
and science. Each fact is stated in prose by several hand-written paraphrases that vary the word order ("The
capital of France is Paris.", "Paris is the capital of France.", "France's capital city is Paris.", ...), the
first of which is its *canonical* sentence. A fact answers one question (``"What is the currency of Japan?"``) or
two (a capital also answers ``"Tokyo is the capital of which country?"``).

The facts are split, stratified by relation and seeded, into train facts and eval facts (about 80/20); a
question belongs to its fact's split, so both questions about one capital fall on the same side. The QA prompt
records are the task's ``"Q: <question> A:"`` records of those questions.

The corpus teaches them in other forms than the task's prompts (see :meth:`FactsSection.documents`):

- prose: one-sentence statements, short entries that mix 2-3 facts of one country (later sentences say "Its
  capital is ..."), or 2-3 facts of one topic (books, history, chemistry, ...), and infobox-like country cards
  (``"Country: France\\nCapital: Paris\\n..."``). Every fact, train and eval, is stated in prose.
- question-answer pairs about **train** questions only: mostly in other surface forms than the task's
  (``"Question: ...\\nAnswer: ...\\n"``, a quiz-night or classroom transcript), and in a minority of documents in
  the task's own line form ``"Q: <question> A: <answer>\\n"``. The latter is deliberate: the task scores the text
  before the first newline, and a 1.5M-parameter model does not carry an ``"Answer:"`` line over to a same-line
  ``"A:"`` on its own; seeing other questions' answers in that exact form teaches it to write a short answer and
  end the line. No eval question appears in any question-answer form (nor anywhere in the corpus), so every eval
  prompt stays new: the model must carry what prose told it over to the question.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from textgym.tasks.qa import (
    CAPITAL_OF_TEMPLATE,
    COUNTRIES,
    COUNTRY_TEMPLATES,
    GENERAL_FACTS,
    PROMPT_TEMPLATE,
    Country,
)
from textgym.world.section import WorldSection

__all__ = ["DOCUMENT_MIX", "EVAL_FRACTION", "Fact", "FactsSection", "QA_FORMS"]

#: the share of eval facts within each relation (the rest are train facts)
EVAL_FRACTION = 0.2

#: the kinds of documents drawn after the coverage pass, with their shares: prose (one sentence, a 2-3 fact entry,
#: a country card) and question-answer pairs about train questions (other forms, and the task's own line form)
DOCUMENT_MIX: tuple[tuple[str, float], ...] = (
    ("sentence", 0.22),
    ("entry", 0.30),
    ("card", 0.12),
    ("qa", 0.24),
    ("qa_prompt_form", 0.12),
)

#: question-answer surface forms other than the task's: (optional headers, one pair's template); a pair ends its line
QA_FORMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("", "Practice questions.\n"), "Question: {question}\nAnswer: {answer}\n"),
    (("", "Quiz night.\n", "Round one.\n"), "Quiz host: {question}\nPlayer: {answer}\n"),
    (("", "In class today.\n"), "Teacher: {question}\nStudent: {answer}\n"),
    (("", "Flash cards.\n"), "Card: {question}\nBack of the card: {answer}\n"),
)
#: the task's own line form, for train questions only (see the module docstring)
QA_PROMPT_FORM = PROMPT_TEMPLATE + " {answer}\n"

#: the relations, in the order the split goes through them
RELATIONS = ("capital", "continent", "currency", "language", "author", "painter", "person", "year", "symbol", "science")

# -- the general facts' prose ------------------------------------------------------------------------------------

#: who wrote a work: question -> (the work, what kind of work)
AUTHORS: dict[str, tuple[str, str]] = {
    "Who wrote Romeo and Juliet?": ("Romeo and Juliet", "play"),
    "Who wrote Hamlet?": ("Hamlet", "play"),
    "Who wrote Pride and Prejudice?": ("Pride and Prejudice", "novel"),
    "Who wrote Don Quixote?": ("Don Quixote", "novel"),
    "Who wrote War and Peace?": ("War and Peace", "novel"),
    "Who wrote On the Origin of Species?": ("On the Origin of Species", "book"),
}
AUTHOR_SENTENCES = (
    "{work} was written by {answer}.",
    "{answer} wrote {work}.",
    "The author of {work} is {answer}.",
    "{answer} is the author of the {kind} {work}.",
    "The {kind} {work} is the work of {answer}.",
    "{work}, a {kind} by {answer}, is still read today.",
)

#: who painted a work: question -> the work as a sentence names it
PAINTINGS: dict[str, str] = {
    "Who painted the Mona Lisa?": "the Mona Lisa",
    "Who painted The Starry Night?": "The Starry Night",
    "Who painted the ceiling of the Sistine Chapel?": "the ceiling of the Sistine Chapel",
}
PAINTER_SENTENCES = (
    "{work} was painted by {answer}.",
    "{answer} painted {work}.",
    "The painter of {work} was {answer}.",
    "It was {answer} who painted {work}.",
    "{work} is the work of the painter {answer}.",
)

#: when something happened: question -> (what, what it did)
EVENTS: dict[str, tuple[str, str]] = {
    "In which year did World War II end?": ("World War II", "ended"),
    "In which year did World War I begin?": ("World War I", "began"),
    "In which year did the Berlin Wall fall?": ("the Berlin Wall", "fell"),
    "In which year did Apollo 11 land on the Moon?": ("Apollo 11", "landed on the Moon"),
    "In which year did Christopher Columbus first reach the Americas?": (
        "Christopher Columbus",
        "first reached the Americas",
    ),
    "In which year did the Titanic sink?": ("the Titanic", "sank"),
    "In which year did the French Revolution begin?": ("the French Revolution", "began"),
    "In which year was the United States Declaration of Independence adopted?": (
        "the United States Declaration of Independence",
        "was adopted",
    ),
}
EVENT_SENTENCES = (
    "{event} {verb} in {answer}.",
    "In {answer}, {event} {verb}.",
    "It was in {answer} that {event} {verb}.",
    "{event} {verb} in the year {answer}.",
    "{answer} is the year when {event} {verb}.",
)

#: chemical symbols: question -> the element
ELEMENTS: dict[str, str] = {
    "What is the chemical symbol for gold?": "gold",
    "What is the chemical symbol for silver?": "silver",
    "What is the chemical symbol for iron?": "iron",
    "What is the chemical symbol for sodium?": "sodium",
    "What is the chemical symbol for copper?": "copper",
    "What is the chemical symbol for lead?": "lead",
    "What is the chemical symbol for potassium?": "potassium",
    "What is the chemical symbol for helium?": "helium",
}
SYMBOL_SENTENCES = (
    "The chemical symbol for {element} is {answer}.",
    "{answer} is the chemical symbol for {element}.",
    "{element} has the chemical symbol {answer}.",
    "In chemistry, {element} is written as {answer}.",
    "The symbol {answer} stands for {element}.",
)

#: the other general facts, written out: question -> (relation, what the sentences are about, sentences)
WRITTEN_FACTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "Who developed the theory of relativity?": (
        "person",
        "relativity",
        (
            "Albert Einstein developed the theory of relativity.",
            "The theory of relativity was developed by Albert Einstein.",
            "It was Albert Einstein who developed the theory of relativity.",
            "The physicist Albert Einstein is known for the theory of relativity.",
        ),
    ),
    "Who formulated the law of universal gravitation?": (
        "person",
        "gravitation",
        (
            "Isaac Newton formulated the law of universal gravitation.",
            "The law of universal gravitation was formulated by Isaac Newton.",
            "It was Isaac Newton who formulated the law of universal gravitation.",
            "Isaac Newton is famous for the law of universal gravitation.",
        ),
    ),
    "Who was the first person to walk on the Moon?": (
        "person",
        "Moon",
        (
            "Neil Armstrong was the first person to walk on the Moon.",
            "The first person to walk on the Moon was Neil Armstrong.",
            "Neil Armstrong became the first person to walk on the Moon.",
            "Before anyone else, Neil Armstrong walked on the Moon.",
        ),
    ),
    "Who was the first president of the United States?": (
        "person",
        "first president",
        (
            "George Washington was the first president of the United States.",
            "The first president of the United States was George Washington.",
            "George Washington served as the first president of the United States.",
            "The United States chose George Washington as its first president.",
        ),
    ),
    "Who discovered penicillin?": (
        "person",
        "penicillin",
        (
            "Alexander Fleming discovered penicillin.",
            "Penicillin was discovered by Alexander Fleming.",
            "It was Alexander Fleming who discovered penicillin.",
            "The scientist Alexander Fleming is known for discovering penicillin.",
        ),
    ),
    "Who was the first woman to win a Nobel Prize?": (
        "person",
        "Nobel Prize",
        (
            "Marie Curie was the first woman to win a Nobel Prize.",
            "The first woman to win a Nobel Prize was Marie Curie.",
            "Marie Curie became the first woman to win a Nobel Prize.",
            "No woman won a Nobel Prize before Marie Curie.",
        ),
    ),
    "Who invented the World Wide Web?": (
        "person",
        "World Wide Web",
        (
            "Tim Berners-Lee invented the World Wide Web.",
            "The World Wide Web was invented by Tim Berners-Lee.",
            "It was Tim Berners-Lee who invented the World Wide Web.",
            "The inventor of the World Wide Web is Tim Berners-Lee.",
        ),
    ),
    "What is the largest planet in the Solar System?": (
        "science",
        "Solar System",
        (
            "Jupiter is the largest planet in the Solar System.",
            "The largest planet in the Solar System is Jupiter.",
            "No planet in the Solar System is larger than Jupiter.",
            "Of all the planets in the Solar System, Jupiter is the largest.",
        ),
    ),
    "Which planet is closest to the Sun?": (
        "science",
        "Sun",
        (
            "Mercury is the planet closest to the Sun.",
            "The planet closest to the Sun is Mercury.",
            "Of all the planets, Mercury is the closest to the Sun.",
            "No planet is closer to the Sun than Mercury.",
        ),
    ),
    "Which planet is known as the Red Planet?": (
        "science",
        "Red Planet",
        (
            "Mars is known as the Red Planet.",
            "The Red Planet is Mars.",
            "People call Mars the Red Planet.",
            "Because of its colour, Mars is called the Red Planet.",
        ),
    ),
    "What is the largest ocean on Earth?": (
        "science",
        "Earth",
        (
            "The Pacific Ocean is the largest ocean on Earth.",
            "The largest ocean on Earth is the Pacific Ocean.",
            "No ocean on Earth is larger than the Pacific Ocean.",
            "Of all the oceans on Earth, the Pacific Ocean is the largest.",
        ),
    ),
    "What is the highest mountain on Earth above sea level?": (
        "science",
        "sea level",
        (
            "Mount Everest is the highest mountain on Earth above sea level.",
            "The highest mountain on Earth above sea level is Mount Everest.",
            "No mountain on Earth rises higher above sea level than Mount Everest.",
            "Measured from sea level, Mount Everest is the highest mountain on Earth.",
        ),
    ),
    "At how many degrees Celsius does water boil at sea level?": (
        "science",
        "water",
        (
            "Water boils at 100 degrees Celsius at sea level.",
            "At sea level, water boils at 100 degrees Celsius.",
            "The boiling point of water at sea level is 100 degrees Celsius.",
            "Heated at sea level, water starts to boil at 100 degrees Celsius.",
        ),
    ),
    "How many days are there in a leap year?": (
        "science",
        "leap year",
        (
            "A leap year has 366 days.",
            "There are 366 days in a leap year.",
            "Each leap year is 366 days long.",
            "A leap year lasts 366 days.",
        ),
    ),
    "How many sides does a hexagon have?": (
        "science",
        "hexagon",
        (
            "A hexagon has 6 sides.",
            "Every hexagon has 6 sides.",
            "The number of sides of a hexagon is 6.",
            "A shape with 6 sides is called a hexagon.",
        ),
    ),
    "How many legs does a spider have?": (
        "science",
        "spider",
        (
            "A spider has 8 legs.",
            "Spiders have 8 legs.",
            "Every spider walks on 8 legs.",
            "The number of legs of a spider is 8.",
        ),
    ),
    "Which gas do plants take in from the air for photosynthesis?": (
        "science",
        "photosynthesis",
        (
            "Plants take in carbon dioxide from the air for photosynthesis.",
            "For photosynthesis, plants take in carbon dioxide from the air.",
            "Carbon dioxide is the gas that plants take in from the air for photosynthesis.",
            "The gas plants take in from the air for photosynthesis is carbon dioxide.",
        ),
    ),
    "Which mineral has a hardness of 10 on the Mohs scale?": (
        "science",
        "Mohs scale",
        (
            "Diamond has a hardness of 10 on the Mohs scale.",
            "On the Mohs scale, diamond has a hardness of 10.",
            "The mineral with a hardness of 10 on the Mohs scale is diamond.",
            "Diamond is the hardest mineral, with a hardness of 10 on the Mohs scale.",
        ),
    ),
}

#: the topic that groups a general relation's facts into one entry, and the entry's possible openers
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "author": ("books", ("", "Some famous books and plays.", "From a list of great books:")),
    "painter": ("paintings", ("", "Some famous paintings.", "Notes from an art class:")),
    "person": ("famous people", ("", "Some famous people and what they did.", "From a history book:")),
    "year": ("history", ("", "Some dates from history.", "A few dates to remember:")),
    "symbol": ("chemistry", ("", "Some chemical symbols.", "From a chemistry lesson:")),
    "science": ("science", ("", "Some facts about the world.", "From a science book:")),
}

# -- the country facts' prose ------------------------------------------------------------------------------------

#: sentences stating a country fact about ``{country}`` (the first is the canonical one); ``{country_s}`` is the
#: country's possessive
COUNTRY_SENTENCES: dict[str, tuple[str, ...]] = {
    "capital": (
        "The capital of {country} is {answer}.",
        "{answer} is the capital of {country}.",
        "{country_s} capital city is {answer}.",
        "The capital city of {country} is {answer}.",
        "{country} has {answer} as its capital.",
        "The city of {answer} is the capital of {country}.",
        "{answer}, the capital of {country}, is one of its best known cities.",
    ),
    "continent": (
        "{country} is a country in {answer}.",
        "{country} lies in {answer}.",
        "{country} is one of the countries of {answer}.",
        "{country} is located in {answer}.",
        "{answer} is the continent where {country} lies.",
    ),
    "currency": (
        "The currency of {country} is the {answer}.",
        "{country} uses the {answer} as its currency.",
        "In {country}, people pay with the {answer}.",
        "{country_s} currency is the {answer}.",
        "The {answer} is the currency of {country}.",
        "Shops in {country} take payment in the {answer}.",
    ),
    "language": (
        "The main language of {country} is {answer}.",
        "Most people in {country} speak {answer}.",
        "{answer} is the main language of {country}.",
        "In {country}, people mainly speak {answer}.",
        "{country_s} main language is {answer}.",
        "{answer} is the language mainly spoken in {country}.",
    ),
}
#: sentences stating a country fact after the country was named (in an entry's later sentences)
COUNTRY_FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "capital": ("Its capital is {answer}.", "Its capital city is {answer}.", "{answer} is its capital."),
    "continent": ("It lies in {answer}.", "It is a country in {answer}.", "The country is located in {answer}."),
    "currency": ("Its currency is the {answer}.", "People there pay with the {answer}.", "Its money is the {answer}."),
    "language": (
        "Most people there speak {answer}.",
        "Its main language is {answer}.",
        "People there mainly speak {answer}.",
    ),
}
#: a country card's line label for each relation
CARD_LABELS = {"capital": "Capital", "continent": "Continent", "currency": "Currency", "language": "Main language"}


@dataclass(frozen=True)
class Fact:
    """One fact of the world: the questions it answers and the sentences that state it."""

    #: unique name, e.g. ``"France/capital"`` or ``"Who wrote Hamlet?"``
    key: str
    #: one of :data:`RELATIONS`
    relation: str
    #: what an entry groups it under: the country's name for a country fact, else its topic (``"history"``)
    entity: str
    #: a name every statement of the fact contains (the country, the work, the event, ...)
    subject: str
    #: the answer as the prose states it (the reference answer of the fact's first question)
    answer: str
    #: ``(question, accepted answers)`` pairs it answers (a capital also answers the reverse question)
    questions: tuple[tuple[str, tuple[str, ...]], ...]
    #: full sentences that state it; the first is the canonical sentence
    sentences: tuple[str, ...]
    #: sentences that state it once the entity was named ("Its capital is Paris."); empty for general facts
    follow_ups: tuple[str, ...] = ()
    #: a country card's line (``"Capital: Paris"``), or ``""`` for general facts
    card_line: str = ""

    @property
    def canonical(self) -> str:
        """The sentence the coverage pass states the fact with (its :meth:`FactsSection.evidence`)."""
        return self.sentences[0]


def _capitalise(text: str) -> str:
    """``text`` with its first letter upper-case (sentences may start with "the Netherlands")."""
    return text[:1].upper() + text[1:]


def _possessive(name: str) -> str:
    """``"France's"``, ``"the Netherlands'"``."""
    return name + ("'" if name.endswith("s") else "'s")


def _country_facts(country: Country) -> list[Fact]:
    """The facts of ``country`` that the QA tables give (no fact where qa.py leaves ``None``)."""
    facts = []
    for relation, template in COUNTRY_TEMPLATES.items():
        answers = getattr(country, relation)
        if answers is None:
            continue
        questions = [(template.format(country=country.name), answers)]
        if relation == "capital":
            questions.append((CAPITAL_OF_TEMPLATE.format(capital=answers[0]), country.names))
        fields = {"country": country.name, "country_s": _possessive(country.name), "answer": answers[0]}
        facts.append(
            Fact(
                key=f"{country.names[0]}/{relation}",
                relation=relation,
                entity=country.names[0],
                subject=country.names[0],
                answer=answers[0],
                questions=tuple(questions),
                sentences=tuple(_capitalise(t.format(**fields)) for t in COUNTRY_SENTENCES[relation]),
                follow_ups=tuple(t.format(answer=answers[0]) for t in COUNTRY_FOLLOW_UPS[relation]),
                card_line=f"{CARD_LABELS[relation]}: {answers[0]}",
            )
        )
    return facts


def _general_fact(question: str, answers: tuple[str, ...]) -> Fact:
    """The fact that answers one of qa.py's general questions, with its sentences from the tables above."""
    answer = answers[0]
    if question in AUTHORS:
        work, kind = AUTHORS[question]
        relation, subject = "author", work
        sentences = [t.format(work=work, kind=kind, answer=answer) for t in AUTHOR_SENTENCES]
    elif question in PAINTINGS:
        work = PAINTINGS[question]
        relation, subject = "painter", work.removeprefix("the ")
        sentences = [t.format(work=work, answer=answer) for t in PAINTER_SENTENCES]
    elif question in EVENTS:
        event, verb = EVENTS[question]
        relation, subject = "year", event.removeprefix("the ")
        sentences = [t.format(event=event, verb=verb, answer=answer) for t in EVENT_SENTENCES]
    elif question in ELEMENTS:
        element = ELEMENTS[question]
        relation, subject = "symbol", element
        sentences = [t.format(element=element, answer=answer) for t in SYMBOL_SENTENCES]
    elif question in WRITTEN_FACTS:
        relation, subject, written = WRITTEN_FACTS[question]
        sentences = list(written)
    else:
        raise ValueError(
            f"facts section: qa.py's general question {question!r} has no prose here; add it to one of AUTHORS, "
            f"PAINTINGS, EVENTS, ELEMENTS or WRITTEN_FACTS in textgym/world/facts.py"
        )
    return Fact(
        key=question,
        relation=relation,
        entity=TOPICS[relation][0],
        subject=subject,
        answer=answer,
        questions=((question, answers),),
        sentences=tuple(_capitalise(s) for s in sentences),
    )


def build_facts() -> tuple[Fact, ...]:
    """Every fact of the QA tables (countries first, in qa.py's order, then the general facts)."""
    facts: list[Fact] = []
    for country in COUNTRIES:
        facts.extend(_country_facts(country))
    general = [(question, tuple(answers.split("|"))) for question, answers in GENERAL_FACTS]
    facts.extend(_general_fact(question, answers) for question, answers in general)
    written = set(AUTHORS) | set(PAINTINGS) | set(EVENTS) | set(ELEMENTS) | set(WRITTEN_FACTS)
    unused = sorted(written - {question for question, _ in general})
    if unused:
        raise ValueError(f"facts section: prose for questions qa.py does not ask: {unused}")
    return tuple(facts)


class FactsSection(WorldSection):
    """The facts the QA task asks about, its prompt records, and the documents that teach them.

    Attributes (all derived from the seed):
        facts: every :class:`Fact`, train and eval.
        train_facts, eval_facts: the split (about ``1 - EVAL_FRACTION`` / ``EVAL_FRACTION`` of each relation).
        records: the QA prompt records, ``{"train": [...], "eval": [...]}`` (see :meth:`prompt_records`).
        coverage: the number of facts; the first ``coverage`` documents state each fact once.
    """

    name = "facts"
    task = "qa"

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"facts section: seed must be an int, got {type(seed).__name__} {seed!r}")
        super().__init__(seed)
        rng = random.Random(seed)
        self.facts: tuple[Fact, ...] = build_facts()
        eval_keys: set[str] = set()
        for relation in RELATIONS:
            keys = [fact.key for fact in self.facts if fact.relation == relation]
            rng.shuffle(keys)
            eval_keys.update(keys[: max(1, round(len(keys) * EVAL_FRACTION))])
        self.eval_facts: tuple[Fact, ...] = tuple(f for f in self.facts if f.key in eval_keys)
        self.train_facts: tuple[Fact, ...] = tuple(f for f in self.facts if f.key not in eval_keys)
        self._fact_of: dict[str, Fact] = {q: fact for fact in self.facts for q, _ in fact.questions}
        self._by_entity: dict[str, list[Fact]] = {}
        for fact in self.facts:
            self._by_entity.setdefault(fact.entity, []).append(fact)
        self.train_questions: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            pair for fact in self.train_facts for pair in fact.questions
        )
        self.records: dict[str, list[dict]] = {}
        for split, facts in (("train", self.train_facts), ("eval", self.eval_facts)):
            records = [_record(question, answers) for fact in facts for question, answers in fact.questions]
            rng.shuffle(records)
            self.records[split] = records
        self.coverage = len(self.facts)

    # -- the contract ---------------------------------------------------------------------------------------------

    def prompt_records(self) -> dict[str, list[dict]]:
        """The QA task's records (``"Q: <question> A:"``, target, ``data.question``, ``data.answers``) by split."""
        return {split: [_copy_record(r) for r in records] for split, records in self.records.items()}

    def documents(self, rng: random.Random, n: int) -> list[str]:
        """``n`` documents: one statement of every fact (shuffled), then documents drawn from :data:`DOCUMENT_MIX`.

        See :meth:`annotated_documents`, which also names the facts each document states.
        """
        return [text for text, _ in self.annotated_documents(rng, n)]

    def evidence(self, record: dict) -> tuple[str, ...]:
        """The canonical sentence of the fact that answers ``record``'s question (it contains the answer)."""
        question = record.get("data", {}).get("question") if isinstance(record, dict) else None
        if question not in self._fact_of:
            raise ValueError(
                f"facts section: evidence needs a record of this section's prompt set (a dict whose "
                f"data.question is one of its questions), got {record!r}"
            )
        return (self._fact_of[question].canonical,)

    # -- documents ------------------------------------------------------------------------------------------------

    def annotated_documents(self, rng: random.Random, n: int) -> list[tuple[str, tuple[str, ...]]]:
        """``n`` documents, each with the keys of the facts it states in prose (none for question-answer pairs).

        The first ``min(n, coverage)`` are the coverage pass: every fact's canonical sentence, in an order shuffled
        with ``rng``, sometimes followed by another fact of the same country or topic. The rest are drawn from
        :data:`DOCUMENT_MIX`.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"facts section: n must be an int >= 0 (the number of documents), got {n!r}")
        order = list(self.facts)
        rng.shuffle(order)
        documents = [self._coverage_document(rng, fact) for fact in order[:n]]
        kinds = [kind for kind, _ in DOCUMENT_MIX]
        weights = [weight for _, weight in DOCUMENT_MIX]
        makers = {
            "sentence": self._sentence_document,
            "entry": self._entry_document,
            "card": self._card_document,
            "qa": self._qa_document,
            "qa_prompt_form": self._qa_prompt_form_document,
        }
        while len(documents) < n:
            documents.append(makers[rng.choices(kinds, weights)[0]](rng))
        return documents

    def _coverage_document(self, rng: random.Random, fact: Fact) -> tuple[str, tuple[str, ...]]:
        others = [other for other in self._by_entity[fact.entity] if other is not fact]
        if others and rng.random() < 0.5:
            other = rng.choice(others)
            second = rng.choice(other.follow_ups or other.sentences)
            return f"{fact.canonical} {second}", (fact.key, other.key)
        return fact.canonical, (fact.key,)

    def _sentence_document(self, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        fact = rng.choice(self.facts)
        return rng.choice(fact.sentences), (fact.key,)

    def _entry_document(self, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        """2-3 facts of one country (later sentences refer to it as "it") or of one topic."""
        fact = rng.choice(self.facts)
        others = [other for other in self._by_entity[fact.entity] if other is not fact]
        chosen = [fact, *rng.sample(others, min(len(others), rng.choice((1, 2, 2))))]
        rng.shuffle(chosen)
        sentences = [rng.choice(chosen[0].sentences)]
        for other in chosen[1:]:
            pool = other.follow_ups if other.follow_ups and rng.random() < 0.6 else other.sentences
            sentences.append(rng.choice(pool))
        if not fact.follow_ups:  # a topic's entry may open with a heading
            opener = rng.choice(TOPICS[fact.relation][1])
            if opener:
                sentences.insert(0, opener)
        return " ".join(sentences), tuple(f.key for f in chosen)

    def _card_document(self, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        """An infobox-like card of one country: ``"Country: France\\nCapital: Paris\\n..."`` (2-4 of its facts)."""
        fact = rng.choice([f for f in self.facts if f.card_line])
        facts = list(self._by_entity[fact.entity])
        chosen = rng.sample(facts, rng.randint(min(2, len(facts)), len(facts)))
        if fact not in chosen:
            chosen[0] = fact
        lines = [f"Country: {fact.entity}", *(f.card_line for f in chosen)]
        return "\n".join(lines) + "\n", tuple(f.key for f in chosen)

    def _qa_pairs(self, rng: random.Random) -> list[tuple[str, str]]:
        pairs = rng.sample(self.train_questions, rng.choice((1, 2, 2, 3)))
        return [(question, answers[0]) for question, answers in pairs]

    def _qa_document(self, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        """1-3 train questions with their answers, in one of :data:`QA_FORMS`."""
        headers, template = rng.choice(QA_FORMS)
        body = "".join(template.format(question=q, answer=a) for q, a in self._qa_pairs(rng))
        return rng.choice(headers) + body, ()

    def _qa_prompt_form_document(self, rng: random.Random) -> tuple[str, tuple[str, ...]]:
        """1-3 train questions with their answers in the task's own line form, ``"Q: ... A: <answer>\\n"``."""
        return "".join(QA_PROMPT_FORM.format(question=q, answer=a) for q, a in self._qa_pairs(rng)), ()


def _record(question: str, answers: tuple[str, ...]) -> dict:
    """A QA prompt record, as :func:`textgym.tasks.qa.generate_prompt_set` makes them."""
    return {
        "text": PROMPT_TEMPLATE.format(question=question),
        "target": answers[0],
        "data": {"question": question, "answers": list(answers)},
    }


def _copy_record(record: dict) -> dict:
    return {**record, "data": {**record["data"], "answers": list(record["data"]["answers"])}}
