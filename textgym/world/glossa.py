"""The Glossa section of the world: the language the Translate task asks for, and the documents that teach it.

The specification is Glossa itself, read from :mod:`textgym.tasks.translate` (nothing is copied or changed): its
dictionary (:data:`~textgym.tasks.translate.NOUNS`, :data:`~textgym.tasks.translate.ADJECTIVES`,
:data:`~textgym.tasks.translate.VERBS`, the determiners, postpositions, particles and suffixes) and its seven rules.
Every Glossa sentence here, in a prompt's reference or in a document, is made by that module's own
:meth:`~textgym.tasks.translate.Clause.glossa`, the function :func:`~textgym.tasks.translate.translate_to_glossa`
applies, so the corpus and the task's score agree on every word.

The prompt records are exactly what :func:`textgym.tasks.translate.generate_prompt_set` makes of the world's seed
(seed 0 gives the shipped ``translate.json``). The corpus teaches Glossa in other forms than the task's prompt
``"Translate to Glossa: <English> =>"``:

- vocabulary entries in prose, one statement per Glossa word or ending in several paraphrases
  (``"The Glossa word for dog is kibema."``, ``"kibema means dog in Glossa."``, ...);
- grammar notes, one kind per rule, each with a fresh example;
- bilingual passages: a sentence or two with their Glossa version, word-by-word glosses, short stories told in both;
- sentence pairs in labelled forms (``"English: ... / Glossa: ..."`` and others) over the train split's sentences and
  fresh generated ones.

No eval sentence appears anywhere in the corpus, in English or in Glossa: an eval reference has to be composed from
the words and rules the corpus states. The first :attr:`GlossaSection.coverage` documents are one pass over the whole
lexicon (one canonical statement per word, see :attr:`GlossaWord.statement`) and the seven rules, shuffled.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace

from textgym.tasks.translate import (
    ADJECTIVE_BY_ENGLISH,
    ADJECTIVES,
    ANIMAL_VERBS,
    DETERMINERS,
    NEGATION_PARTICLE,
    NOUN_BY_ENGLISH,
    NOUNS,
    OBJECT_PARTICLE,
    PAST_SUFFIX,
    PLURAL_SUFFIX,
    POSTPOSITIONS,
    PREPOSITION_OBJECTS,
    PROMPT_TEMPLATE,
    VERB_BY_ENGLISH,
    VERBS,
    Clause,
    NounPhrase,
    complete_clause,
    generate_prompt_set,
    noun_allowed,
    parse_english,
    random_clause,
    random_noun_phrase,
)
from textgym.world.section import WorldSection

#: the focused prompt set (Translate-v2): its fifth of the lexicon (the first words of each kind in Glossa's
#: dictionary), its sizes, and the offset of its seed from the world's
FOCUSED_LEXICON = {"nouns": 26, "adjectives": 10, "verbs": 10}
FOCUSED_TRAIN, FOCUSED_EVAL = 2_000, 100
FOCUSED_SEED_OFFSET = 777

#: the kinds of :class:`GlossaWord`
WORD_KINDS = ("noun", "adjective", "verb", "determiner", "postposition", "particle", "suffix")
#: the kinds whose words carry content (the dictionary's words); the others are grammar
CONTENT_KINDS = ("noun", "adjective", "verb")
#: the seven rules of Glossa (translate.py's docstring), by the name the grammar notes use
RULES = ("word order", "noun phrase", "plural", "object", "postpositions", "verb", "full stop")
#: the kinds of documents drawn after the coverage pass, with their weights
DOCUMENT_KINDS: tuple[tuple[str, float], ...] = (
    ("vocabulary", 0.30),
    ("grammar", 0.10),
    ("bilingual", 0.12),
    ("interlinear", 0.10),
    ("story", 0.08),
    ("pair", 0.30),
)
#: the share of sentence pairs drawn from the train split (the rest are fresh sentences)
TRAIN_PAIR_SHARE = 0.5


@dataclass(frozen=True)
class GlossaWord:
    """One entry of the Glossa lexicon as the corpus states it.

    ``glossa`` is the word (an ending is written ``"-li"``), ``english`` its meaning in English words (for a verb its
    base form, for a determiner the English words it renders, for ``ko`` and the endings what they mark), ``kind``
    one of :data:`WORD_KINDS`, and ``statement`` the sentence that states it, which the coverage pass always holds
    (``"The Glossa word for dog is kibema."``).
    """

    glossa: str
    english: str
    kind: str
    statement: str


def _quoted(words: list[str]) -> str:
    quoted = [f'"{word}"' for word in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def build_lexicon() -> tuple[GlossaWord, ...]:
    """Every Glossa word and ending with the sentence that states it, in translate.py's dictionary order."""
    words: list[GlossaWord] = []
    for noun in NOUNS:
        statement = f"The Glossa word for {noun.english} is {noun.glossa}."
        words.append(GlossaWord(noun.glossa, noun.english, "noun", statement))
    for adjective in ADJECTIVES:
        words.append(
            GlossaWord(
                adjective.glossa,
                adjective.english,
                "adjective",
                f"The Glossa word for {adjective.english} is {adjective.glossa}.",
            )
        )
    for verb in VERBS:
        statement = f"The Glossa word for to {verb.english} is {verb.glossa}."
        words.append(GlossaWord(verb.glossa, verb.english, "verb", statement))
    renders: dict[str, list[str]] = {}
    for english, (glossa, _number) in DETERMINERS.items():
        renders.setdefault(glossa, []).append(english)
    for glossa, english in renders.items():
        words.append(
            GlossaWord(glossa, " ".join(english), "determiner", f"The Glossa word for {_quoted(english)} is {glossa}.")
        )
    for english, glossa in POSTPOSITIONS.items():
        words.append(
            GlossaWord(
                glossa,
                english,
                "postposition",
                f'The Glossa word for "{english}" is {glossa}, and it comes after its noun.',
            )
        )
    words.append(
        GlossaWord(
            OBJECT_PARTICLE,
            "object",
            "particle",
            f"The Glossa particle {OBJECT_PARTICLE} marks the object: it comes right after the object.",
        )
    )
    words.append(
        GlossaWord(
            NEGATION_PARTICLE,
            "not",
            "particle",
            f'The Glossa word for "not" is {NEGATION_PARTICLE}, and it comes right before the verb.',
        )
    )
    words.append(
        GlossaWord(
            f"-{PLURAL_SUFFIX}",
            "plural",
            "suffix",
            f"The Glossa plural ending is -{PLURAL_SUFFIX}: it goes on the end of the noun.",
        )
    )
    words.append(
        GlossaWord(
            f"-{PAST_SUFFIX}",
            "past",
            "suffix",
            f"The Glossa past ending is -{PAST_SUFFIX}: it goes on the end of the verb.",
        )
    )
    return tuple(words)


class GlossaSection(WorldSection):
    """Glossa (the Translate task's language): its lexicon and rules, the task's records, the corpus that teaches it.

    Attributes:
        lexicon: every Glossa word and ending (:class:`GlossaWord`), dictionary words first.
        rules: the names of the seven rules (:data:`RULES`).
        records: the task's records, ``{"train": [...], "eval": [...]}`` (translate's ``generate_prompt_set``).
        train_counts: how many train references use each content word (by Glossa word).
        coverage: the length of the first pass (one canonical document per lexicon entry and per rule).
    """

    name = "glossa"
    task = "translate"

    def __init__(self, seed: int, num_train: int = 400, num_eval: int = 100) -> None:
        """The section of world ``seed``; ``num_train`` and ``num_eval`` size the task's splits (400 and 100)."""
        super().__init__(seed)
        if num_train < 1 or num_eval < 1:
            raise ValueError(f"GlossaSection needs num_train >= 1 and num_eval >= 1, got {num_train} and {num_eval}")
        self.lexicon: tuple[GlossaWord, ...] = build_lexicon()
        self.rules: tuple[str, ...] = RULES
        self._words: dict[tuple[str, str], GlossaWord] = {(w.kind, w.glossa): w for w in self.lexicon}
        self._content_by_english: dict[tuple[str, str], GlossaWord] = {
            (w.kind, w.english): w for w in self.lexicon if w.kind in CONTENT_KINDS
        }
        self._analyses = self._surface_analyses()
        self.records: dict[str, list[dict]] = generate_prompt_set(seed, num_train, num_eval)
        self._eval_english = frozenset(r["data"]["english"] for r in self.records["eval"])
        self._train_clauses: list[Clause] = [self._parse(r) for r in self.records["train"]]
        self.train_counts: Counter[str] = Counter(
            word.glossa
            for record in self.records["train"]
            for word in self.words_of(record["target"])
            if word.kind in CONTENT_KINDS
        )
        self._persons = [n for n in NOUNS if n.category == "person"]
        self._animals = [n for n in NOUNS if n.category == "animal"]
        self.coverage = len(self.lexicon) + len(self.rules)

    # -- the specification --------------------------------------------------------------

    def word(self, glossa: str, kind: str | None = None) -> GlossaWord:
        """The lexicon entry of the Glossa word ``glossa`` (an ending as ``"-li"``), of ``kind`` if given."""
        found = [w for w in self.lexicon if w.glossa == glossa and (kind is None or w.kind == kind)]
        if not found:
            raise KeyError(f"{glossa!r} is not a Glossa word{'' if kind is None else ' of kind ' + repr(kind)}")
        return found[0]

    def _surface_analyses(self) -> dict[str, tuple[GlossaWord, ...]]:
        analyses: dict[str, tuple[GlossaWord, ...]] = {}

        def add(surface: str, parts: tuple[GlossaWord, ...]) -> None:
            if surface in analyses:
                raise ValueError(f"the Glossa word form {surface!r} has two analyses; the lexicon must keep them apart")
            analyses[surface] = parts

        plural, past = self._words[("suffix", f"-{PLURAL_SUFFIX}")], self._words[("suffix", f"-{PAST_SUFFIX}")]
        for word in self.lexicon:
            if word.kind == "suffix":
                continue
            add(word.glossa, (word,))
            if word.kind == "noun" and NOUN_BY_ENGLISH[word.english].plural is not None:
                add(word.glossa + PLURAL_SUFFIX, (word, plural))
            if word.kind == "verb":
                add(word.glossa + PAST_SUFFIX, (word, past))
        return analyses

    def words_of(self, glossa_sentence: str) -> list[GlossaWord]:
        """The lexicon entries a Glossa sentence is made of, word by word (a stem before its ending).

        Raises:
            ValueError: the sentence does not end with a full stop, or holds a word Glossa does not have.
        """
        text = glossa_sentence.strip()
        if not text.endswith("."):
            raise ValueError(f"a Glossa sentence ends with a full stop; got {glossa_sentence!r}")
        parts: list[GlossaWord] = []
        for token in text[:-1].split():
            if token not in self._analyses:
                raise ValueError(f"{token!r} in {glossa_sentence!r} is not a Glossa word or an inflected form of one")
            parts.extend(self._analyses[token])
        return parts

    @staticmethod
    def _parse(record: dict) -> Clause:
        return parse_english(record["data"]["english"])

    # -- the task's records -----------------------------------------------------------------

    def prompt_records(self) -> dict[str, list[dict]]:
        """The Translate task's records of this seed, exactly as ``translate.generate_prompt_set`` makes them."""
        return {split: [dict(r, data=dict(r["data"])) for r in records] for split, records in self.records.items()}

    def focused_records(self) -> dict[str, list[dict]]:
        """Translate-v2's records: clauses of :func:`~textgym.tasks.translate.random_clause` whose every content
        word is in a fifth of the lexicon (:data:`FOCUSED_LEXICON`: the first 26 nouns, 10 adjectives and 10 verbs,
        46 of 232 words; the clauses drawn with others are dropped), distinct; the first :data:`FOCUSED_EVAL` are
        the eval split, the next :data:`FOCUSED_TRAIN` the train split. No eval sentence is a sentence of
        :meth:`prompt_records` (train or eval).

        Over the whole lexicon a content word comes up in about one prompt in 50, too rarely for RL to learn it
        within a benchmark's budget.
        """
        return self.made_once("focused", self._make_focused_records)

    def _make_focused_records(self) -> dict[str, list[dict]]:
        allowed = ({n.english for n in NOUNS[:FOCUSED_LEXICON["nouns"]]}
                   | {a.english for a in ADJECTIVES[:FOCUSED_LEXICON["adjectives"]]}
                   | {v.english for v in VERBS[:FOCUSED_LEXICON["verbs"]]})
        rng, rows = random.Random(self.seed + FOCUSED_SEED_OFFSET), {}
        while len(rows) < FOCUSED_EVAL + FOCUSED_TRAIN:
            clause = random_clause(rng)
            english = clause.english()
            if english not in rows and all(word in allowed for word in clause.content_words()):
                rows[english] = {"text": PROMPT_TEMPLATE.format(english=english), "target": clause.glossa(),
                                 "data": {"english": english}}
        records = list(rows.values())
        evaluation, train = records[:FOCUSED_EVAL], records[FOCUSED_EVAL:]
        shipped = {r["data"]["english"] for split in self.records.values() for r in split}
        clash = [r["data"]["english"] for r in evaluation if r["data"]["english"] in shipped]
        if clash:
            raise ValueError(f"focused eval sentences that are v1 sentences: {clash[:3]}")
        return {"train": train, "eval": evaluation}

    def word_evidence(self, record: dict) -> list[tuple[str, ...]]:
        """One evidence tuple per lexicon entry of ``record``'s reference, in order (repeats kept).

        Each is the entry's canonical statement, which names the Glossa word and its English meaning; the coverage
        pass holds every one.
        """
        return [(word.statement,) for word in self.words_of(self._target(record))]

    def evidence(self, record: dict) -> tuple[str, ...]:
        """The statement of the reference's rarest content word (fewest train references use it; ties by spelling).

        No single document states a whole eval translation (no eval sentence is in the corpus), so the evidence is
        the one word a learner is least likely to have met in the train pairs; :meth:`word_evidence` names them all.
        """
        content = [w for w in self.words_of(self._target(record)) if w.kind in CONTENT_KINDS]
        if not content:
            raise ValueError(f"the reference {self._target(record)!r} has no noun, adjective or verb")
        rarest = min(content, key=lambda w: (self.train_counts[w.glossa], w.glossa))
        return (rarest.statement,)

    @staticmethod
    def _target(record: dict) -> str:
        if not isinstance(record, dict) or not isinstance(record.get("target"), str):
            raise ValueError(
                f"a Translate record is a dict with a 'target' string (its Glossa reference); got {record!r}"
            )
        return record["target"]

    # -- sentences ---------------------------------------------------------------------------

    def _sentence(self, rng: random.Random) -> Clause:
        """A random sentence of the task's distribution that is not an eval sentence."""
        while True:
            clause = random_clause(rng)
            if clause.english() not in self._eval_english:
                return clause

    def _sentence_with(self, rng: random.Random, verb: str | None = None, subject: NounPhrase | None = None) -> Clause:
        """A random sentence (not an eval one) with the given verb and/or subject, drawn as ``random_clause`` does."""
        for _ in range(1000):
            if subject is None:
                entry = VERB_BY_ENGLISH[verb] if verb else None
                subjects = self._persons + (self._animals if entry is None or entry.english in ANIMAL_VERBS else [])
                head = random_noun_phrase(rng, subjects, 0.4, 0.3)
            else:
                head = subject
            animal = NOUN_BY_ENGLISH[head.noun].category == "animal"
            if verb is None:
                entry = rng.choice([v for v in VERBS if not animal or v.english in ANIMAL_VERBS])
            else:
                entry = VERB_BY_ENGLISH[verb]
                if animal and entry.english not in ANIMAL_VERBS:
                    raise ValueError(f"the verb {verb!r} does not take an animal subject such as {head.noun!r}")
            clause = complete_clause(rng, head, entry)
            if clause.english() not in self._eval_english:
                return clause
        raise RuntimeError(f"no non-eval sentence with verb={verb!r}, subject={subject!r} in 1000 draws")

    def _noun_phrase(self, rng: random.Random, noun: str, adjective_rate: float = 0.4) -> NounPhrase:
        return random_noun_phrase(rng, [NOUN_BY_ENGLISH[noun]], adjective_rate, 0.4)

    def _with_adjective(self, rng: random.Random, adjective: str) -> NounPhrase:
        categories = ADJECTIVE_BY_ENGLISH[adjective].categories.split()
        nouns = [n for n in NOUNS if n.category in categories]
        phrase = random_noun_phrase(rng, nouns, 0.0, 0.3)
        return replace(phrase, adjective=adjective)

    @staticmethod
    def _both(rng: random.Random, clause: Clause) -> str:
        """A sentence with its translation, in one of a few prose framings: ``For example: ... In Glossa: ...``."""
        english, glossa = clause.english(), clause.glossa()
        return rng.choice(
            [
                f"For example: {english} In Glossa: {glossa}",
                f"For example: {glossa} In English: {english}",
                f'For example, "{glossa}" means "{english}"',
            ]
        )

    @staticmethod
    def _gloss(clause: Clause) -> str:
        """``lo (the) kibema (dog) ...``: each Glossa word of the sentence with its English gloss."""
        pairs: list[tuple[str, str]] = []

        def phrase(np: NounPhrase) -> None:
            if np.determiner is not None:
                pairs.append((DETERMINERS[np.determiner][0], np.determiner))
            entry = NOUN_BY_ENGLISH[np.noun]
            if np.plural:
                pairs.append((entry.glossa + PLURAL_SUFFIX, entry.plural or entry.english))
            else:
                pairs.append((entry.glossa, entry.english))
            if np.adjective:
                pairs.append((ADJECTIVE_BY_ENGLISH[np.adjective].glossa, np.adjective))

        phrase(clause.subject)
        if clause.place is not None and clause.preposition is not None:
            phrase(clause.place)
            pairs.append((POSTPOSITIONS[clause.preposition], clause.preposition))
        if clause.object is not None:
            phrase(clause.object)
            pairs.append((OBJECT_PARTICLE, "object"))
        if clause.negated:
            pairs.append((NEGATION_PARTICLE, "not"))
        verb = VERB_BY_ENGLISH[clause.verb]
        pairs.append((verb.glossa + PAST_SUFFIX, verb.past) if clause.past else (verb.glossa, verb.english))
        return " ".join(f"{g} ({e})" for g, e in pairs)

    # -- documents ---------------------------------------------------------------------------

    def documents(self, rng: random.Random, n: int) -> list[str]:
        """``n`` documents: first one shuffled pass over the lexicon and the rules, then random documents.

        The pass holds every :attr:`GlossaWord.statement` (``n >= coverage``); after it, each document is a
        vocabulary entry, a grammar note, a bilingual passage, a glossed sentence, a short story or a sentence pair
        (weights :data:`DOCUMENT_KINDS`). No eval sentence appears in any of them, in English or in Glossa.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"documents: n is the number of documents, an int >= 0; got {n!r}")
        first = [self._canonical_document(rng, word) for word in self.lexicon]
        first += [self._grammar_document(rng, rule) for rule in self.rules]
        rng.shuffle(first)
        docs = first[:n]
        makers = {
            "vocabulary": self._vocabulary_document,
            "grammar": lambda r: self._grammar_document(r, r.choice(self.rules)),
            "bilingual": self._bilingual_document,
            "interlinear": self._interlinear_document,
            "story": self._story_document,
            "pair": self._pair_document,
        }
        kinds = [kind for kind, _ in DOCUMENT_KINDS]
        weights = [weight for _, weight in DOCUMENT_KINDS]
        while len(docs) < n:
            docs.append(makers[rng.choices(kinds, weights)[0]](rng))
        return docs

    def _canonical_document(self, rng: random.Random, word: GlossaWord) -> str:
        """The word's statement and one example of it in use."""
        return f"{word.statement} {self._example(rng, word)}"

    def _example(self, rng: random.Random, word: GlossaWord) -> str:
        """One sentence showing ``word`` in use (a phrase or a whole sentence with its English)."""
        if word.kind == "noun":
            np = self._noun_phrase(rng, word.english)
            return f"For example: {np.english()}, in Glossa {np.glossa()}."
        if word.kind == "adjective":
            np = self._with_adjective(rng, word.english)
            return f"It comes after the noun: {np.glossa()} is {np.english()}."
        if word.kind == "verb":
            return self._both(rng, self._sentence_with(rng, verb=word.english))
        if word.kind == "determiner":
            english = rng.choice(word.english.split())
            plural = DETERMINERS[english][1] == "pl"
            noun = rng.choice([n for n in NOUNS if n.plural is not None])
            np = NounPhrase(noun.english, plural, english, None)
            return f"It comes first in the noun phrase: {np.glossa()} is {np.english()}."
        if word.kind == "postposition":
            preposition = word.english
            candidates = [n for n in NOUNS if noun_allowed(PREPOSITION_OBJECTS[preposition], n)]
            np = random_noun_phrase(rng, candidates, 0.2, 0.1)
            return f"So {preposition} {np.english()} is {np.glossa()} {word.glossa}."
        return self._both(rng, self._example_clause(rng, word))

    def _example_clause(self, rng: random.Random, word: GlossaWord) -> Clause:
        """A sentence that uses the particle or ending ``word``."""
        for _ in range(1000):
            clause = self._sentence(rng)
            if word.glossa == OBJECT_PARTICLE and clause.object is None:
                continue
            if word.glossa == NEGATION_PARTICLE and not clause.negated:
                clause = replace(clause, negated=True)
            if word.glossa == f"-{PAST_SUFFIX}" and not clause.past:
                clause = replace(clause, past=True)
            if word.glossa == f"-{PLURAL_SUFFIX}" and not clause.subject.plural:
                continue
            if clause.english() not in self._eval_english:
                return clause
        raise RuntimeError(f"no non-eval example sentence for {word.glossa!r} in 1000 draws")

    def _vocabulary_document(self, rng: random.Random) -> str:
        """A vocabulary entry in one of several phrasings, with an example half of the time."""
        word = rng.choice(self.lexicon)
        g, e = word.glossa, word.english
        if word.kind == "noun":
            entry = NOUN_BY_ENGLISH[e]
            options = [
                word.statement,
                f"In Glossa, {e} is {g}.",
                f"{g} is the Glossa word for {e}.",
                f"{g} means {e} in Glossa.",
                f"How do you say {e} in Glossa? You say {g}.",
                f"Glossa dictionary: {g}, a noun, {e}.",
            ]
            if entry.plural is not None:
                options += [
                    f"In Glossa one {e} is u {g}, and some {entry.plural} are u {g}{PLURAL_SUFFIX}.",
                    f"The Glossa for {e} is {g}, and for {entry.plural} it is {g}{PLURAL_SUFFIX}.",
                    f"{g}{PLURAL_SUFFIX} means {entry.plural} in Glossa: {g} is {e}.",
                ]
            else:
                options.append(f"{g} is {e} in Glossa; like {e} in English, it often has no determiner.")
        elif word.kind == "adjective":
            options = [
                word.statement,
                f"In Glossa, {e} is {g}.",
                f"{g} is the Glossa word for {e}.",
                f"{g} means {e} in Glossa.",
                f"How do you say {e} in Glossa? You say {g}, after the noun.",
                f"Glossa dictionary: {g}, an adjective, {e}.",
            ]
        elif word.kind == "verb":
            entry = VERB_BY_ENGLISH[e]
            options = [
                word.statement,
                f"In Glossa, to {e} is {g}.",
                f"{g} is the Glossa verb for to {e}.",
                f"{g} means to {e} in Glossa, and {g}{PAST_SUFFIX} means {entry.past}.",
                f"In Glossa, {e} and {entry.third_person} are both {g}, and {entry.past} is {g}{PAST_SUFFIX}.",
                f"Glossa dictionary: {g}, a verb, to {e}; past {g}{PAST_SUFFIX}, {entry.past}.",
                f"How do you say {entry.past} in Glossa? You say {g}{PAST_SUFFIX}.",
            ]
        else:
            options = [word.statement]
        text = rng.choice(options)
        if rng.random() < 0.5:
            text = f"{text} {self._example(rng, word)}"
        return text

    def _grammar_document(self, rng: random.Random, rule: str) -> str:
        """A note on one of the seven rules with a fresh example."""
        if rule == "word order":
            clause = self._sentence(rng)
            while clause.object is None:
                clause = self._sentence(rng)
            return rng.choice(
                [
                    "Glossa puts the verb last: first the subject, then a place, then the object, then the verb. "
                    + self._both(rng, clause),
                    "In Glossa the object comes before the verb. " + self._both(rng, clause),
                    "Word order in Glossa is subject, object, verb. " + self._both(rng, clause),
                ]
            )
        if rule == "noun phrase":
            adjective = rng.choice(ADJECTIVES).english
            np = self._with_adjective(rng, adjective)
            return rng.choice(
                [
                    f"Glossa puts the adjective after the noun: {np.glossa()}, {np.english()}.",
                    f"In Glossa the determiner comes first and the adjective last: {np.english()} is {np.glossa()}.",
                    "A Glossa noun phrase is determiner, noun, adjective. "
                    f"So {np.english()} becomes {np.glossa()}.",
                    "Glossa has four determiners: lo for the, u for a or some, mi for my, sa for this or these. "
                    f"For example, {np.english()} is {np.glossa()}.",
                ]
            )
        if rule == "plural":
            noun = rng.choice([n for n in NOUNS if n.plural is not None])
            adjective = rng.choice([a for a in ADJECTIVES if noun.category in a.categories.split()])
            return rng.choice(
                [
                    f"A Glossa noun takes -{PLURAL_SUFFIX} in the plural: {noun.glossa} is {noun.english}, "
                    f"{noun.glossa}{PLURAL_SUFFIX} is {noun.plural}.",
                    f"To make a Glossa noun plural, add -{PLURAL_SUFFIX}: {noun.english}, {noun.glossa}; "
                    f"{noun.plural}, {noun.glossa}{PLURAL_SUFFIX}.",
                    "In Glossa only the noun takes the plural ending; the adjective does not change: "
                    f"lo {noun.glossa}{PLURAL_SUFFIX} {adjective.glossa} is the {adjective.english} {noun.plural}.",
                ]
            )
        if rule == "object":
            clause = self._sentence(rng)
            while clause.object is None:
                clause = self._sentence(rng)
            obj = clause.object
            return rng.choice(
                [
                    f"In Glossa the object is followed by {OBJECT_PARTICLE}. " + self._both(rng, clause),
                    f"Glossa marks the object with {OBJECT_PARTICLE} after it: {obj.glossa()} {OBJECT_PARTICLE} "
                    f"is {obj.english()} as an object. " + self._both(rng, clause),
                ]
            )
        if rule == "postpositions":
            preposition = rng.choice(sorted(POSTPOSITIONS))
            candidates = [n for n in NOUNS if noun_allowed(PREPOSITION_OBJECTS[preposition], n)]
            np = random_noun_phrase(rng, candidates, 0.2, 0.1)
            post = POSTPOSITIONS[preposition]
            return rng.choice(
                [
                    "Glossa puts its prepositions after the noun phrase: "
                    f"{preposition} {np.english()} is {np.glossa()} {post}.",
                    f"In Glossa, {preposition} is {post}, and it follows its noun: {np.glossa()} {post}, "
                    f"{preposition} {np.english()}.",
                    "The place phrase comes right after the subject in Glossa: "
                    f"{np.glossa()} {post} means {preposition} {np.english()}.",
                ]
            )
        if rule == "verb":
            verb = rng.choice(VERBS)
            negated = self._example_clause(rng, self._words[("particle", NEGATION_PARTICLE)])
            return rng.choice(
                [
                    f"The Glossa verb takes -{PAST_SUFFIX} in the past: {verb.glossa} is {verb.english}, "
                    f"{verb.glossa}{PAST_SUFFIX} is {verb.past}.",
                    f"For the past tense Glossa adds -{PAST_SUFFIX} to the verb: {verb.english} is {verb.glossa}, "
                    f"{verb.past} is {verb.glossa}{PAST_SUFFIX}.",
                    f"To say not in Glossa, put {NEGATION_PARTICLE} right before the verb. "
                    + self._both(rng, negated),
                    "The Glossa verb does not change with the subject: "
                    f"{verb.english} and {verb.third_person} are both {verb.glossa}.",
                ]
            )
        if rule == "full stop":
            clause = self._sentence(rng)
            return rng.choice(
                [
                    f"A Glossa sentence ends with a full stop right after the verb: {clause.glossa()}",
                    "In Glossa everything is written in lowercase, and the full stop follows the verb. "
                    + self._both(rng, clause),
                ]
            )
        raise ValueError(f"unknown Glossa rule {rule!r}; the rules are {list(RULES)}")

    def _bilingual_document(self, rng: random.Random) -> str:
        """One or two sentences in Glossa and in English, in one of several framings."""
        clauses = [self._sentence(rng) for _ in range(rng.choice((1, 1, 2)))]
        glossa = " ".join(c.glossa() for c in clauses)
        english = " ".join(c.english() for c in clauses)
        return rng.choice(
            [
                f"In Glossa: {glossa} In English: {english}",
                f"In English: {english} In Glossa: {glossa}",
                f"{glossa} That is Glossa for: {english}",
                f'A Glossa speaker says "{glossa}" It means "{english}"',
            ]
        )

    def _interlinear_document(self, rng: random.Random) -> str:
        """A Glossa sentence glossed word by word, then in English."""
        clause = self._sentence(rng)
        return rng.choice(
            [
                f"{clause.glossa()} Word by word: {self._gloss(clause)}. In English: {clause.english()}",
                f"Glossa: {clause.glossa()} Gloss: {self._gloss(clause)}. Meaning: {clause.english()}",
            ]
        )

    def _story_document(self, rng: random.Random) -> str:
        """A story of two or three sentences about one subject, told in Glossa and in English."""
        first = self._sentence(rng)
        subject = NounPhrase(first.subject.noun, first.subject.plural, "the", None)
        clauses = [first] + [self._sentence_with(rng, subject=subject) for _ in range(rng.choice((1, 2)))]
        glossa = " ".join(c.glossa() for c in clauses)
        english = " ".join(c.english() for c in clauses)
        if rng.random() < 0.5:
            return f"A short story in Glossa: {glossa} The same story in English: {english}"
        return "A story in English and Glossa. " + " ".join(f"{c.english()} ({c.glossa()})" for c in clauses)

    def _pair_document(self, rng: random.Random) -> str:
        """One sentence and its translation in a labelled form other than the task's prompt."""
        if rng.random() < TRAIN_PAIR_SHARE:
            clause = rng.choice(self._train_clauses)
        else:
            clause = self._sentence(rng)
        english, glossa = clause.english(), clause.glossa()
        return rng.choice(
            [
                f"English: {english}\nGlossa: {glossa}",
                f"Glossa: {glossa}\nEnglish: {english}",
                f"English to Glossa: {english} => {glossa}",
                f"{english} In Glossa: {glossa}",
                f'"{english}" in Glossa is "{glossa}"',
                f'How do you say "{english}" in Glossa? {glossa}',
            ]
        )
