"""The concepts section of the world: sentences built around given words, for the Keywords task.

The specification is the Keywords task's vocabulary, read from :mod:`textgym.tasks.keywords` (nothing there is copied
or changed): its concept nouns (:data:`~textgym.tasks.keywords.CONCEPT_NOUNS`) and verbs
(:data:`~textgym.tasks.keywords.CONCEPT_VERBS`), and a small grammar over them defined here. Every noun has a kind
(person, animal, place, weather or thing: :class:`ConceptNoun`) and the phrases it can stand in (``"in the park"``,
``"under the tree"``); every verb has a frame (:class:`VerbFrame`): the nouns that fit as its object, the animals
that can be its subject, and an object of its own for when none of the given nouns fits. From any concept set the
grammar makes a subject-verb-object-place sentence in the present, past or progressive tense (:meth:`realize`),
checked under Keywords' own score so that it scores 1: every concept used, no content word repeated, at least two
words per concept, a full stop.

The prompt records are exactly what :func:`textgym.tasks.keywords.generate_prompt_set` makes of the world's seed (seed
0 gives the shipped ``keywords.json``), each with a reference sentence in ``data["reference"]``, which the task's
score never reads (it reads ``data["concepts"]`` only). The corpus teaches the skill in other forms than the task's
prompts (``"Write a sentence with: dog, park, run."``):

- concept lists with a sentence that uses them, under other labels (``"Words: dog, park, run -> The dog runs in the
  park."``, ``"A sentence using dog, park and run: ..."``), for train concept sets and fresh random ones; a small
  share (:data:`TASK_FORM_SHARE`) uses the task's own prompt wording, for train concept sets only;
- plain sentences over concept sets (one to three sentences, no list of words): train sets, fresh sets and the eval
  sets, so each eval set's words are seen together in varied sentences.

No eval concept set is ever listed (in the task's form or any other): an eval sentence has to be composed from the
prompt's list, having seen those words used together only in plain prose. The first :attr:`ConceptsSection.coverage`
documents are one pass over the eval records, each stating its reference sentence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from textgym.prompt import Prompt
from textgym.tasks.keywords import (
    PROMPT_TEMPLATES,
    KeywordsTask,
    draw_concept_words,
)
from textgym.tasks.keywords import generate_prompt_set as keywords_prompt_set
from textgym.world.section import WorldSection

#: the kinds of :class:`ConceptNoun`
NOUN_KINDS = ("person", "animal", "place", "weather", "thing")
#: the tenses :meth:`ConceptsSection.realize` writes in
TENSES = ("present", "past", "progressive")
#: the focused prompt set (Keywords-v2): its concept words (the first nouns and verbs of Keywords' lists), its
#: sizes, and the offset of its seed from the world's
FOCUSED_NOUNS, FOCUSED_VERBS = 14, 8
FOCUSED_TRAIN, FOCUSED_EVAL = 2_000, 100
FOCUSED_SEED_OFFSET = 12_345


@dataclass(frozen=True)
class ConceptNoun:
    """A concept noun of the grammar.

    Attributes:
        noun: the word, one of :data:`~textgym.tasks.keywords.CONCEPT_NOUNS`.
        kind: one of :data:`NOUN_KINDS`; persons and animals can be subjects.
        phrases: the phrases it stands in when it is neither subject nor object (``"in the park"``).
        mass: it takes ``"some"`` rather than ``"a"`` (``"some bread"``).
    """

    noun: str
    kind: str
    phrases: tuple[str, ...]
    mass: bool = False

    def object_phrases(self) -> tuple[str, ...]:
        """The noun phrases it is an object as: ``"the lamp"``, ``"a lamp"``, ``"an apple"``, ``"some bread"``."""
        if self.mass:
            return (f"the {self.noun}", f"some {self.noun}")
        article = "an" if self.noun[0] in "aeiou" else "a"
        return (f"the {self.noun}", f"{article} {self.noun}")


@dataclass(frozen=True)
class VerbFrame:
    """A concept verb of the grammar: its forms and what it combines with.

    Attributes:
        verb: the word, one of :data:`~textgym.tasks.keywords.CONCEPT_VERBS`.
        third, past, ing: its third-person present, past and ``-ing`` forms (each a form Keywords counts).
        prep: the preposition before its object (``"for"`` in ``"waits for the bus"``), ``""`` for a direct one.
        objects: the concept nouns that fit as its object when a person is the subject.
        defaults: objects of its own (no concept word) for a person subject when no given noun fits; empty when it
            can stand without one (``"runs"``).
        animals: the animal nouns that can be its subject.
        animal_objects: the concept nouns that fit as its object when an animal is the subject.
        animal_defaults: its own objects for an animal subject; empty when it stands alone then.
    """

    verb: str
    third: str
    past: str
    ing: str
    prep: str
    objects: tuple[str, ...]
    defaults: tuple[str, ...]
    animals: tuple[str, ...]
    animal_objects: tuple[str, ...]
    animal_defaults: tuple[str, ...]

    def form(self, tense: str, first: bool) -> str:
        """The verb in ``tense``; ``first``: the first verb of the sentence (it carries ``is``/``was``)."""
        if tense == "present":
            return self.third
        if tense == "past":
            return self.past
        return f"is {self.ing}" if first else self.ing


#: kind and phrases of every concept noun (``|`` separates the phrases)
_NOUN_TABLE = """
child person with a child|next to the child|with the little child
friend person with a friend|with an old friend|next to a friend
teacher person with the teacher|next to the teacher
team person with the team|for the team
dog animal with the dog|with a small dog|next to the dog
cat animal with the cat|next to the cat|with a black cat
bird animal near a bird|next to a little bird
horse animal with the horse|next to the horse|on a horse
fish animal with a fish|near the fish
park place in the park|at the park
garden place in the garden
beach place on the beach|at the beach
city place in the city
house place in the house|near the house|at the house
kitchen place in the kitchen
river place by the river|near the river
lake place by the lake|at the lake
sea place by the sea|near the sea
field place in the field|across the field
hill place on the hill|up the hill
forest place in the forest
farm place on the farm|at the farm
school place at school|near the school|after school
office place at the office|in the office
room place in the room|in the small room
market place at the market
shop place at the shop|near the shop
street place on the street|down the street
bridge place on the bridge|under the bridge|near the bridge
road place on the road|by the road
sky place under the sky|under the blue sky
bed place in bed|on the bed
sun weather in the sun|under the warm sun
rain weather in the rain
snow weather in the snow
ball thing with a ball|with the ball
tree thing under the tree|near the tree|by the old tree
car thing in the car|near the car|by the car
book thing with a book|with a good book
boat thing on the boat|in a small boat|near the boat
bread thing with some bread|with fresh bread
table thing at the table|near the table
chair thing on a chair|on the old chair
window thing by the window|near the window
door thing at the door|by the door|near the front door
flower thing among the flowers|near the flowers|with a flower
phone thing on the phone|with a phone
letter thing with a letter|with a long letter
cake thing with a cake|with a slice of cake
coffee thing with a coffee|with hot coffee
train thing on the train|near the train
bus thing on the bus|at the bus stop
bike thing on a bike|with a bike|near the bike
hat thing in a hat|in a red hat|with a hat
shoe thing in new shoes|with one shoe
bag thing with a bag|with a heavy bag
box thing with a box|near the box
cup thing with a cup|with a cup of tea
apple thing with an apple|with a red apple
picture thing near the picture|under the picture
camera thing with a camera|with a new camera
music thing to the music|with loud music
song thing with a song|to a song
key thing with the key|with a key
clock thing near the clock|under the clock|by the clock
lamp thing under the lamp|by the lamp|near the lamp
pizza thing with a pizza|with some pizza
movie thing after the movie|before the movie
ticket thing with a ticket|with the ticket
guitar thing with a guitar|with an old guitar
game thing after the game|before the game
"""
#: nouns that take "some" rather than "a"
MASS_NOUNS = frozenset({"bread", "coffee", "music"})

#: verb, prep, objects, person defaults, animals, animal objects, animal defaults (``-``: none; ``|`` separates
#: defaults; ``_`` no preposition)
_VERB_TABLE = """
run;_;-;-;dog cat horse;-;-
walk;_;dog horse;-;dog cat horse bird;-;-
play;_;ball game guitar music song;-;dog cat;ball;-
eat;_;bread cake apple fish pizza;-;dog cat horse bird fish;bread apple fish;-
drink;_;coffee;some water|a glass of milk;dog cat horse bird;-;some water
read;_;book letter;-;-;-;-
write;_;letter song book;-;-;-;-
sing;_;song;-;bird;-;-
dance;_;-;-;-;-;-
swim;_;-;-;dog horse fish;-;-
jump;_;-;-;dog cat horse fish;-;-
throw;_;ball apple hat shoe key box bag;a stone|a small stone;-;-;-
catch;_;ball fish bus train bird apple key;a frisbee;dog cat;ball fish bird;a frisbee
cook;_;fish pizza;-;-;-;-
bake;_;bread cake pizza apple;-;-;-;-
paint;_;picture door window house chair table boat box bike car;-;-;-;-
draw;_;picture tree flower horse bird dog cat house car boat sun hill;-;-;-;-
open;_;door window box bag letter book shop;the gate;-;-;-
close;_;door window box bag book shop;the curtains;-;-;-
carry;_;bag box chair table book cake child cup lamp guitar camera picture bread;a heavy basket;horse;bag box child;\
a heavy load
watch;_;movie game bird team train boat horse sky sea rain snow child;the clouds|the stars;dog cat;bird;-
climb;_;tree hill;-;cat;tree;-
ride;_;horse bike bus train boat;home;-;-;-
drive;_;car bus;to work;-;-;-
wash;_;car dog horse cup window bike apple shoe table door;the dishes;-;-;-
clean;_;room kitchen house table window car bike shoe cup office;the floor;-;-;-
build;_;house bridge boat table chair box;a sandcastle;-;-;-
fix;_;car bike lamp clock door window chair table phone camera guitar boat;the old fence;-;-;-
sit;on;chair bed hill bridge bus train boat horse;-;dog cat bird;chair bed;-
sleep;_;-;-;dog cat horse bird;-;-
buy;_;bread cake apple coffee ticket phone hat shoe bag book pizza cup lamp clock camera guitar bike car flower box;\
some fruit;-;-;-
sell;_;bread cake apple coffee ticket phone hat shoe bag book pizza cup lamp clock camera guitar bike car flower box \
house boat fish picture;fresh eggs;-;-;-
wait;for;bus train friend teacher child letter pizza;-;dog cat horse;-;-
call;_;friend teacher dog cat child team;a taxi;-;-;-
laugh;at;picture movie dog cat song letter hat;-;-;-;-
smile;at;child friend teacher dog cat picture camera;-;-;-;-
kick;_;ball door box;a tin can|an empty can;horse;ball door;a bucket
fly;_;-;a kite;bird;-;-
plant;_;tree flower;some seeds;-;-;-
pick;_;flower apple;some berries;-;-;-
"""
#: drafts :meth:`ConceptsSection.realize` tries before it gives up
DRAFTS = 400
#: irregular past tenses (the others add ``-ed``)
IRREGULAR_PAST = {
    "run": "ran", "eat": "ate", "drink": "drank", "read": "read", "write": "wrote", "sing": "sang", "swim": "swam",
    "throw": "threw", "catch": "caught", "draw": "drew", "ride": "rode", "drive": "drove", "build": "built",
    "sit": "sat", "sleep": "slept", "buy": "bought", "sell": "sold", "fly": "flew",
}
#: verbs that double their last consonant before ``-ing``
DOUBLING = frozenset({"run", "swim", "sit"})

#: subjects made of no concept word, for when no given person or animal can be one
DEFAULT_SUBJECTS = (
    "The boy", "A girl", "My sister", "My brother", "The old man", "Our neighbour", "Anna", "Tom",
    "A young woman", "The little boy",
)
#: time phrases that lengthen a sentence (no concept word in them)
TIME_PHRASES = ("on Sunday", "after lunch", "in the morning", "in the evening", "once again", "every weekend")
#: sentences of no concept word that plain documents may set around a concept sentence
FRAME_SENTENCES = (
    "It was a warm day.", "Everyone was happy.", "Nobody was in a hurry.", "That was a good day.",
    "It was quiet.", "The air was fresh.", "Later, everyone went home.", "It happens often.",
)
#: how the listed-words documents present a concept list and its sentence
LIST_FORMS = (
    "Words: {comma} -> {sentence}",
    "A sentence using {and_list}: {sentence}",
    "Concepts: {comma}. Sentence: {sentence}",
    "{plus} = {sentence}",
    "Keywords: {comma}\n{sentence}",
    "One sentence with the words {and_list}. {sentence}",
    "Can you use {and_list} in one sentence? {sentence}",
    "Put {and_list} together: {sentence}",
    "Given {comma}, a sentence: {sentence}",
)
#: listed-words documents that use the task's own prompt wording (train concept sets only)
TASK_FORM_SHARE = 0.1
#: the kinds of documents drawn after the coverage pass, with their weights
DOCUMENT_WEIGHTS = {"listed": 0.45, "listed_pair": 0.1, "plain_eval": 0.2, "plain_other": 0.25}


def _third(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _past(verb: str) -> str:
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def _ing(verb: str) -> str:
    if verb in DOUBLING:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _words(field: str) -> tuple[str, ...]:
    return () if field == "-" else tuple(field.split())


def _phrases(field: str) -> tuple[str, ...]:
    return () if field == "-" else tuple(field.split("|"))


def build_nouns() -> dict[str, ConceptNoun]:
    """Every concept noun with its kind and phrases, from the grammar's table."""
    nouns = {}
    for line in _NOUN_TABLE.strip().splitlines():
        noun, kind, phrases = line.split(" ", 2)
        nouns[noun] = ConceptNoun(noun, kind, tuple(phrases.split("|")), noun in MASS_NOUNS)
    return nouns


def build_verbs() -> dict[str, VerbFrame]:
    """Every concept verb with its forms and frame, from the grammar's table."""
    verbs = {}
    for line in _VERB_TABLE.replace("\\\n", "").strip().splitlines():
        verb, prep, objects, defaults, animals, animal_objects, animal_defaults = line.split(";")
        verbs[verb] = VerbFrame(
            verb=verb,
            third=_third(verb),
            past=_past(verb),
            ing=_ing(verb),
            prep="" if prep == "_" else prep,
            objects=_words(objects),
            defaults=_phrases(defaults),
            animals=_words(animals),
            animal_objects=_words(animal_objects),
            animal_defaults=_phrases(animal_defaults),
        )
    return verbs


def _and_list(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1]


class ConceptsSection(WorldSection):
    """Concept words, a grammar that makes sentences from them, and the Keywords task's records (module docstring).

    Attributes:
        nouns: every concept noun's :class:`ConceptNoun`, by word.
        verbs: every concept verb's :class:`VerbFrame`, by word.
        records: the task's ``{"train": [...], "eval": [...]}`` records, each with ``data["reference"]``.
        train_sets, eval_sets: the concept sets of the train and eval records, in order.
        coverage: the length of the first pass (one document per eval record, stating its reference).
    """

    name = "concepts"
    task = "keywords"

    def __init__(self, seed: int, num_train: int = 400, num_eval: int = 100) -> None:
        super().__init__(seed)
        self.nouns = build_nouns()
        self.verbs = build_verbs()
        self._task = KeywordsTask()
        self.records: dict[str, list[dict]] = {}
        for split, records in keywords_prompt_set(seed, num_train, num_eval).items():
            self.records[split] = []
            for record in records:
                concepts = tuple(record["data"]["concepts"])
                rng = random.Random(f"{self.name}-{seed}-reference-{'-'.join(concepts)}")
                data = {**record["data"], "reference": self.realize(concepts, rng)}
                self.records[split].append({**record, "data": data})
        self.train_sets = tuple(tuple(r["data"]["concepts"]) for r in self.records["train"])
        self.eval_sets = tuple(tuple(r["data"]["concepts"]) for r in self.records["eval"])
        self._eval_keys: set[frozenset[str]] = {frozenset(concepts) for concepts in self.eval_sets}
        self.coverage = len(self.records["eval"])

    # -- the grammar -------------------------------------------------------------------------------------------------

    def sentence_score(self, concepts: tuple[str, ...] | list[str], sentence: str) -> float:
        """Keywords' own score of ``sentence`` as the answer to a prompt listing ``concepts``."""
        prompt = Prompt("", data={"concepts": list(concepts)})
        return self._task.score(prompt, " " + sentence)

    def realize(self, concepts: tuple[str, ...] | list[str], rng: random.Random) -> str:
        """A sentence that uses every word of ``concepts`` and scores 1 under Keywords' score, drawn with ``rng``.

        Raises:
            ValueError: a word is no concept noun or verb of the grammar, or none of :data:`DRAFTS` drafts scores 1.
        """
        unknown = [word for word in concepts if word not in self.nouns and word not in self.verbs]
        if unknown:
            raise ValueError(
                f"concepts {list(concepts)!r}: {unknown!r} are not concept words; allowed are the nouns and verbs of "
                f"textgym.tasks.keywords (CONCEPT_NOUNS, CONCEPT_VERBS)"
            )
        for attempt in range(DRAFTS):
            sentence, varied = self._draft(list(concepts), rng)
            # the first drafts must also vary their phrases' first words (not "with a bag with a hat")
            if (varied or attempt >= DRAFTS // 2) and self.sentence_score(concepts, sentence) == 1.0:
                return sentence
        raise ValueError(f"concepts {list(concepts)!r}: no sentence of the grammar uses them all in {DRAFTS} drafts")

    def _draft(self, concepts: list[str], rng: random.Random) -> tuple[str, bool]:
        """A draft sentence over ``concepts``, and whether its noun phrases all start with different words."""
        nouns = [word for word in concepts if word in self.nouns]
        verbs = [word for word in concepts if word in self.verbs]
        rng.shuffle(verbs)
        frames = [self.verbs[verb] for verb in verbs]
        candidates = [
            noun
            for noun in nouns
            if self.nouns[noun].kind == "person"
            or (self.nouns[noun].kind == "animal" and all(noun in frame.animals for frame in frames))
        ]
        subject_noun = rng.choice(candidates) if candidates and rng.random() < 0.85 else None
        animal = subject_noun is not None and self.nouns[subject_noun].kind == "animal"
        if subject_noun is None:
            subject = rng.choice(DEFAULT_SUBJECTS)
        else:
            determiners = ["The", "A"] + (["My"] if subject_noun in ("friend", "teacher", "dog", "cat") else [])
            subject = f"{rng.choice(determiners)} {subject_noun}"
        rest = [noun for noun in nouns if noun != subject_noun]
        rng.shuffle(rest)
        tense = rng.choice(TENSES)
        verb_phrases = []
        for index, frame in enumerate(frames):
            fits = [noun for noun in rest if noun in (frame.animal_objects if animal else frame.objects)]
            defaults = frame.animal_defaults if animal else frame.defaults
            phrase = frame.form(tense, index == 0)
            obj = None
            if fits and (rng.random() < 0.85 or defaults):
                noun = rng.choice(fits)
                rest.remove(noun)
                obj = rng.choice(self.nouns[noun].object_phrases())
            elif defaults:
                obj = rng.choice(defaults)
            if obj is not None:
                phrase += f" {frame.prep} {obj}" if frame.prep else f" {obj}"
            verb_phrases.append(phrase)
        # the nouns left over stand in their phrases, after the first verb or at the end
        middle, end = [], []
        for noun in rest:
            (middle if len(frames) > 1 and rng.random() < 0.4 else end).append(rng.choice(self.nouns[noun].phrases))
        leads = [phrase.split()[0] for phrase in middle + end]
        words = [subject, verb_phrases[0], *middle]
        if len(verb_phrases) > 1:
            words += [rng.choice(("and", "and then")), verb_phrases[1]]
        words += end
        sentence = " ".join(words)
        if len(sentence.split()) < 2 * len(concepts) or rng.random() < 0.15:
            sentence += " " + rng.choice(TIME_PHRASES)
        return sentence[0].upper() + sentence[1:] + ".", len(set(leads)) == len(leads)

    def focused_records(self) -> dict[str, list[dict]]:
        """Keywords-v2's records: concept sets over 22 words only (the first :data:`FOCUSED_NOUNS` nouns and
        :data:`FOCUSED_VERBS` verbs of Keywords' lists), drawn like the task's own (3 or 4 words, one or two verbs),
        distinct; the first :data:`FOCUSED_EVAL` drawn are the eval split, the next :data:`FOCUSED_TRAIN` the train
        split; each record with a reference sentence in ``data["reference"]``.

        With 111 concept words a given word comes up in about one prompt in 30, too rarely for RL to learn to use
        it within a benchmark's budget; over 22 words each comes up five times as often. No eval set is one of
        :meth:`prompt_records`' train sets (the only sets the corpus lists in the task's own wording).
        """
        return self.made_once("focused", self._make_focused_records)

    def _make_focused_records(self) -> dict[str, list[dict]]:
        from textgym.tasks.keywords import CONCEPT_NOUNS, CONCEPT_VERBS

        nouns, verbs = CONCEPT_NOUNS[:FOCUSED_NOUNS], CONCEPT_VERBS[:FOCUSED_VERBS]
        rng, seen, sets = random.Random(self.seed + FOCUSED_SEED_OFFSET), set(), []
        listed_in_task_form = {frozenset(concepts) for concepts in self.train_sets}
        while len(sets) < FOCUSED_EVAL + FOCUSED_TRAIN:
            words = draw_concept_words(rng, nouns, verbs)
            if words is None or frozenset(words) in seen:
                continue
            seen.add(frozenset(words))
            rng.shuffle(words)
            sets.append(words)
        records = []
        for words in sets:
            text = rng.choice(PROMPT_TEMPLATES).format(concepts=", ".join(words))
            reference = self.realize(words, random.Random(f"{self.name}-{self.seed}-reference-{'-'.join(words)}"))
            records.append({"text": text, "data": {"concepts": words, "reference": reference}})
        evaluation, train = records[:FOCUSED_EVAL], records[FOCUSED_EVAL:]
        leaked = [r["text"] for r in evaluation if frozenset(r["data"]["concepts"]) in listed_in_task_form]
        if leaked:
            raise ValueError(f"focused eval sets the corpus lists in the task's form: {leaked[:3]}")
        return {"train": train, "eval": evaluation}

    # -- the section's contract --------------------------------------------------------------------------------------

    def prompt_records(self) -> dict[str, list[dict]]:
        """Keywords' ``generate_prompt_set(seed)`` records, each with ``data["reference"]``: a sentence scoring 1."""
        return {split: [dict(record, data=dict(record["data"])) for record in records]
                for split, records in self.records.items()}

    def evidence(self, record: dict) -> tuple[str, ...]:
        """The record's reference sentence: the coverage pass states it, and it uses every one of the concepts."""
        reference = record.get("data", {}).get("reference")
        if not isinstance(reference, str):
            concepts = record.get("data", {}).get("concepts")
            matches = [r for r in self.records["eval"] if r["data"]["concepts"] == concepts]
            if not matches:
                raise ValueError(f"record {record.get('text')!r} is not one of this section's eval records")
            reference = matches[0]["data"]["reference"]
        return (reference,)

    def documents(self, rng: random.Random, n: int) -> list[str]:
        """``n`` documents: a pass over the eval records' references (shuffled), then documents of every kind.

        After the pass each document is, by :data:`DOCUMENT_WEIGHTS`: a concept list with its sentence (train or
        fresh set), two such, a plain sentence over an eval set, or a plain sentence over a train or fresh set.
        """
        if n < 0:
            raise ValueError(f"n must be a document count >= 0, got {n}")
        order = list(self.records["eval"])
        rng.shuffle(order)
        docs = [self._plain_document(rng, record["data"]["reference"]) for record in order[:n]]
        kinds, weights = zip(*DOCUMENT_WEIGHTS.items())
        while len(docs) < n:
            kind = rng.choices(kinds, weights)[0]
            if kind == "listed":
                docs.append(self._listed(rng))
            elif kind == "listed_pair":
                docs.append(self._listed(rng) + "\n" + self._listed(rng, task_form=False))
            elif kind == "plain_eval":
                docs.append(self._plain_document(rng, self.realize(rng.choice(self.eval_sets), rng)))
            else:
                docs.append(self._plain_document(rng, self.realize(self._listable_set(rng), rng)))
        return docs

    # -- documents ---------------------------------------------------------------------------------------------------

    def fresh_set(self, rng: random.Random) -> tuple[str, ...]:
        """A random concept set shaped like the task's (3 or 4 words, one or two verbs) that is no eval set."""
        while True:
            words = draw_concept_words(rng)
            if words is None or frozenset(words) in self._eval_keys:
                continue
            rng.shuffle(words)
            return tuple(words)

    def _listable_set(self, rng: random.Random) -> tuple[str, ...]:
        """A train set or a fresh set, half and half: the sets that may be listed."""
        return rng.choice(self.train_sets) if rng.random() < 0.5 else self.fresh_set(rng)

    def _listed(self, rng: random.Random, task_form: bool = True) -> str:
        from_train = rng.random() < 0.5
        concepts = list(rng.choice(self.train_sets) if from_train else self.fresh_set(rng))
        sentence = self.realize(concepts, rng)
        if task_form and from_train and rng.random() < TASK_FORM_SHARE:
            return rng.choice(PROMPT_TEMPLATES).format(concepts=", ".join(concepts)) + " " + sentence
        if not from_train:
            rng.shuffle(concepts)
        return rng.choice(LIST_FORMS).format(
            comma=", ".join(concepts), and_list=_and_list(concepts), plus=" + ".join(concepts), sentence=sentence
        )

    def _plain_document(self, rng: random.Random, sentence: str) -> str:
        """``sentence`` alone or with a sentence of no concept word before or after it."""
        roll = rng.random()
        if roll < 0.5:
            return sentence
        frame = rng.choice(FRAME_SENTENCES)
        return f"{frame} {sentence}" if roll < 0.75 else f"{sentence} {frame}"
