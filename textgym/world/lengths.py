"""The lengths section of the world: sentences whose length is stated, for the Length task.

The specification is the Length task's topics, read from :mod:`textgym.tasks.length`
(:data:`~textgym.tasks.length.TOPICS`, nothing there copied or changed), and a grammar defined here that can write a
sentence of any length from :data:`~textgym.tasks.length.MIN_WORDS` to :data:`~textgym.tasks.length.MAX_WORDS` about
each of them (:class:`TopicGrammar`): an optional opener (``"I think"``), a subject (``"The blue sea"``), a
predicate (``"rolls onto the sand"``) and an optional time phrase (``"every summer"``), every combination of which
makes sense; a few whole sentences fill the lengths the combinations miss. Words are counted by the task's own
:func:`~textgym.tasks.length.count_words`.

The prompt records are exactly what :func:`textgym.tasks.length.generate_prompt_set` makes of the world's seed (seed 0
gives the shipped ``length.json``), each with a reference sentence of the asked length about the asked topic in
``data["reference"]``, which the task's score never reads (it reads ``data["n"]`` only). The corpus states sentences'
lengths in other forms than the task's prompts (``"Write a sentence of exactly 6 words about the sea:"``):

- ``"(6 words) The sea is calm this morning."``, ``"Here is a six-word sentence about the sea: ..."``,
  ``"Topic: the sea. Length: 6 words. ..."`` and other labels, over every topic and length;
- counting exercises (``"The(1) sea(2) shines(3). That makes three words."``);
- several lengths on one topic in one document, so lengths are seen side by side;
- a small share (:data:`DOCUMENT_WEIGHTS` ``"task_form"``) in the task's own prompt wording, for train records only.

No eval prompt's text appears in the corpus. The first :attr:`LengthSection.coverage` documents are one pass over the
eval records' (topic, length) pairs, each stating the record's reference with its topic and its length.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import product

from textgym.tasks.length import MAX_WORDS, MIN_WORDS, TOPICS, count_words
from textgym.tasks.length import generate_prompt_set as length_prompt_set
from textgym.world.section import WorldSection

#: openers any sentence may start with (``""``: none); the subject after one is lowercased
OPENERS = ("", "Honestly,", "I think", "In my opinion,", "Everyone says that")
#: the number words of the lengths
NUMBER_WORDS = {
    3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven",
    12: "twelve",
}


@dataclass(frozen=True)
class TopicGrammar:
    """What the grammar says about one topic: every subject goes with every predicate and every tail.

    Attributes:
        topic: one of :data:`~textgym.tasks.length.TOPICS`.
        subjects: noun phrases that name it (``"The blue sea"``), capitalised.
        predicates: what they do or are (``"rolls onto the sand"``).
        tails: time or manner phrases that may end the sentence (``"every summer"``).
        extras: whole sentences about it, for the short lengths the combinations miss.
    """

    topic: str
    subjects: tuple[str, ...]
    predicates: tuple[str, ...]
    tails: tuple[str, ...]
    extras: tuple[str, ...] = ()

    def sentences(self) -> list[str]:
        """Every sentence of the grammar about the topic, ended by a full stop."""
        out = [extra for extra in self.extras]
        for opener, subject, predicate, tail in product(OPENERS, self.subjects, self.predicates, ("", *self.tails)):
            head = f"{opener} {subject[0].lower()}{subject[1:]}" if opener else subject
            out.append(" ".join(part for part in (head, predicate, tail) if part) + ".")
        return out


#: topic; subjects; predicates; tails; extras (``|`` separates the phrases of a field)
_TOPIC_TABLE = """
the sea; The sea|The blue sea|The cold grey sea; shines|is calm|looks deep and blue|rolls onto the sand|\
sparkles under the bright sun|crashes loudly against the old rocks; today|at dawn|this morning|every summer;
a rainy day; A rainy day|A cold rainy day|A long rainy day; drags|feels slow|keeps everyone inside|\
is good for reading|makes the streets shine|fills the garden with small puddles; again|in autumn|in our town|\
every single time; Rain falls softly.
your favourite food; My favourite food|My favourite meal|The food I love most; is pasta|is warm soup|\
tastes like home|is rice with beans|is pizza with lots of cheese|is a big bowl of noodles; by far|for sure|in winter;\
 I love pasta.|Pizza is my favourite.
a small dog; The puppy|The small dog|Our little dog|A small brown dog; barks|sleeps a lot|chases the ball|\
wags its short tail|loves long walks in the park|jumps up to greet every visitor; all day|every morning|again|\
after dinner;
the city at night; The city at night|Our city at night|The old city at night; glows|never sleeps|\
is full of lights|hums with traffic and music|looks like a sky of stars|feels calm after the busy day; again|\
in summer|every weekend; City lights glow.|The city lights glow.
a long train journey; The journey|The long train ride|A long train journey; continues|feels endless|\
passes many green fields|gives me time to read|takes us across the whole country|\
goes through hills and quiet villages; today|every summer|once again;
an old book; The old book|An old book|This old dusty book; crumbles|smells sweet|has yellow pages|sits by my bed|\
tells a story of brave sailors|is full of notes and drawings; even now|to this day|after all these years;\
 Old books crumble.
morning coffee; Morning coffee|My morning coffee|A cup of morning coffee; helps|smells wonderful|wakes me up|\
tastes best with milk|is the best part of my day|gives me energy for hard work; as always|without fail|every day;
a summer garden; The summer garden|A summer garden|Our garden in summer; blooms|smells sweet|is full of bees|\
glows with bright flowers|is the best place to relax|hums with birds and buzzing insects; every year|in July|\
all day long; Summer gardens bloom.|The garden blooms.
a busy market; The busy market|A busy market|The crowded market; bustles|is loud|smells of spices|sells fresh fruit|\
is full of happy people|has stalls of every colour|buzzes with voices and bright colours; every morning|\
on Saturdays|all day; Markets are loud.
the mountains; The mountains|The tall mountains|The mountains near our village; shine|look huge|\
are covered in snow|rise above the green valley|are quiet and full of secrets|turn pink and gold at sunset; in winter|\
every evening|today;
a birthday party; The birthday party|My birthday party|A birthday party; ended|was fun|had a big cake|\
ended with music|was full of balloons|made everyone laugh and sing; last year|on Sunday|yesterday; The party ended.
a new phone; My new phone|The new phone|This new phone; works|is very fast|takes great photos|has a huge screen|\
fits easily in my pocket|keeps its battery for two days; so far|most of the time|every single day;\
 The phone works.
the school bus; The school bus|The yellow school bus|Our old school bus; arrives|is late|stops here|comes at eight|\
is full of noisy children|waits at the end of our road; every morning|again|on rainy days; The bus arrives.
a quiet library; The library|The quiet library|Our town library; is calm|helps me think|smells of paper|\
has a reading room|is my favourite place to study|is full of old maps and books; every afternoon|after school|\
on weekdays; Libraries feel calm.
winter snow; Winter snow|The winter snow|The first snow of winter; falls|melts slowly|covers the whole town|\
crunches under our boots|makes everything soft and white|turns the park into a white field; every year|at night|\
in January;
a football match; The football match|The big football match|Our football match; ended|was exciting|\
ended in a draw|drew a huge crowd|went into extra time|kept everyone on their feet; last night|on Saturday|\
yesterday; Our team won.|The match was exciting.
a small kitchen; My tiny kitchen|Our small kitchen|The small kitchen; shines|is cosy|smells of bread|\
has one bright window|is full of pots and pans|fits only two people at once; in winter|every morning|\
at dinner time; The kitchen shines.
a hotel room; The hotel room|Our hotel room|The small hotel room; sparkled|was clean|had a big bed|looked over the sea|\
smelled of fresh flowers|was quiet and very comfortable|had a balcony with a lovely view; last summer|in Rome|\
on our trip; The room sparkled.
a film you liked; That film|My favourite film|The film I liked; was funny|made me cry|had a great ending|\
was full of clever jokes|told the story of a brave girl|kept me on the edge of my seat; last week|at the cinema|\
last winter; What a film.|I loved that film.
the moon; The moon|The full moon|The bright silver moon; glows|rises slowly|shines on the lake|\
lights up the whole sky|hangs low over the hills|looks like a big white coin; tonight|at midnight|every night;
a walk in the forest; A forest walk|Walking in the forest|A walk in the forest; helps|feels good|clears my head|\
smells of pine and rain|is the best way to relax|makes me forget all my worries; on Sundays|after work|in autumn;\
 Forest walks relax.
a bakery; The bakery|The little bakery|Our local bakery; opens|smells wonderful|sells warm bread|\
is always busy at dawn|has the best cakes in town|fills the street with sweet smells; every day|on weekends|\
all year round;
your best friend; My friend|My best friend|My closest friend; laughs|is kind|loves music|lives across the street|\
always makes me smile|helps me with my homework; every day|at school|all the time;
a thunderstorm; The thunderstorm|A loud thunderstorm|The summer thunderstorm; rumbled|shook the windows|\
woke everyone up|lit the sky with lightning|knocked down an old tree|kept the dog awake for hours; last night|\
yesterday|on Sunday;
a lazy cat; The lazy cat|Our lazy cat|A fat lazy cat; sleeps|yawns a lot|ignores the mice|lies in the warm sun|\
stretches out by the fire|sleeps on the sofa for hours; all day|every afternoon|again; The cat yawns.
the beach; The beach|The sandy beach|The beach near our house; sparkles|is warm|looks perfect|is full of shells|\
stretches for miles|has soft white sand and blue water; in summer|today|at sunset;
a bicycle ride; A bicycle ride|My bicycle ride|The bicycle ride; is fun|feels like flying|takes us along the river|\
is the best way to explore|ends at the old bridge|keeps me fit and happy; every weekend|on Sundays|in spring;\
 Cycling is fun.|The ride was fun.
an airport; The airport|The busy airport|The new airport; hums|is huge|never sleeps|is full of travellers|\
has long lines at security|feels like a small city; in summer|every holiday|today;
a museum; The museum|The old museum|The city museum; reopens|is quiet|has old paintings|shows dinosaur bones|\
is full of ancient treasures|tells the history of our town; today|this week|this year;
a pizza; The pizza|This pizza|A hot pizza; sizzled|was delicious|smelled amazing|had extra cheese|\
came straight from the oven|had tomatoes and fresh basil; last night|at dinner|on Friday;
a river; The river|The wide river|The river near our town; flows|sparkles|is cold and clear|runs past our house|\
carries leaves down to the sea|bends gently around the old mill; in spring|all year|today;
a farm; The farm|The old farm|The farm on the hill; thrives|is busy|has many cows|smells of fresh hay|\
wakes up very early|grows corn and sweet potatoes; every day|in summer|all year;
a concert; The concert|The rock concert|The concert in the park; ended|was loud|was amazing|started very late|\
had a great drummer|ended with fireworks over the stage; last night|on Friday|yesterday;
a new job; My job|My new job|This new job; starts|is exciting|pays well|keeps me busy|has friendly colleagues|\
is close to my house; so far|this month|already;
a pair of shoes; These shoes|My new shoes|My new running shoes; shine|fit well|are very comfortable|\
feel soft and light|look great with jeans|help me run faster; today|every day|on long walks;
a restaurant; The restaurant|The small restaurant|The restaurant on the corner; glows|is busy|serves fresh fish|\
has a lovely garden|makes the best soup in town|is full of candles and music; tonight|on weekends|every evening;
the weekend; The weekend|This weekend|The long weekend; ended|flew by|was relaxing|was full of sunshine|\
gave us time to rest|ended with a family picnic; again|for once;
a family dinner; The family dinner|Our family dinner|Our big family dinner; ended|was loud|lasted hours|\
had roast chicken|brought everyone together|ended with apple pie and tea; last night|on Sunday|yesterday;\
 Dinner was lovely.
an old friend; An old friend|My old friend|An old school friend; called|visited me|wrote me a letter|\
came to dinner|brought me some flowers|surprised me at the station; yesterday|last week|on Monday;\
 Old friends visited.
"""

#: how a stated-length document presents a sentence (``{n}`` digits, ``{w}`` the number word, ``{W}`` capitalised,
#: ``{a}`` its article)
STATED_FORMS = (
    "({n} words) {s}",
    "{s} ({n} words)",
    "Here is {a} {w}-word sentence about {topic}: {s}",
    "A sentence about {topic} in {n} words: {s}",
    "{W} words about {topic}: {s}",
    "Topic: {topic}. Length: {n} words. {s}",
    "This sentence about {topic} has {w} words: {s}",
    "{s} That sentence has {w} words.",
    "Words: {n}. {s}",
)
#: the forms of the coverage pass: each names the topic and the length in digits (what :meth:`evidence` looks for)
COVERAGE_FORMS = (
    "A sentence about {topic} in {n} words: {s}",
    "Topic: {topic}. Length: {n} words. {s}",
    "({n} words, about {topic}) {s}",
)
#: the kinds of documents drawn after the coverage pass, with their weights
DOCUMENT_WEIGHTS = {"stated": 0.6, "several": 0.2, "counted": 0.1, "task_form": 0.1}


def build_grammar() -> dict[str, TopicGrammar]:
    """Every topic's :class:`TopicGrammar`, from the grammar's table."""
    grammar = {}
    for line in _TOPIC_TABLE.replace("\\\n", "").strip().splitlines():
        topic, subjects, predicates, tails, extras = (field.strip() for field in line.split(";"))
        grammar[topic] = TopicGrammar(
            topic=topic,
            subjects=tuple(subjects.split("|")),
            predicates=tuple(predicates.split("|")),
            tails=tuple(tails.split("|")),
            extras=tuple(extras.split("|")) if extras else (),
        )
    return grammar


class LengthSection(WorldSection):
    """Topics, sentences of every length about each, and the Length task's records (see the module docstring).

    Attributes:
        grammar: every topic's :class:`TopicGrammar`, by topic.
        sentences: ``sentences[topic][n]``: every sentence of the grammar about ``topic`` with ``n`` words
            (``MIN_WORDS <= n <= MAX_WORDS``), sorted.
        records: the task's ``{"train": [...], "eval": [...]}`` records, each with ``data["reference"]``.
        coverage: the length of the first pass (one document per eval (topic, length) pair).
    """

    name = "lengths"
    task = "length"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.grammar = build_grammar()
        missing = sorted(set(TOPICS) - set(self.grammar))
        if missing:
            raise ValueError(f"the lengths grammar has no sentences for the Length task's topics {missing}")
        self.sentences: dict[str, dict[int, tuple[str, ...]]] = {}
        for topic in TOPICS:
            by_length: dict[int, list[str]] = {n: [] for n in range(MIN_WORDS, MAX_WORDS + 1)}
            for sentence in self.grammar[topic].sentences():
                words = count_words(sentence)
                if words in by_length:
                    by_length[words].append(sentence)
            self.sentences[topic] = {n: tuple(sorted(set(found))) for n, found in by_length.items()}
        self.records: dict[str, list[dict]] = {}
        for split, records in length_prompt_set(seed).items():
            self.records[split] = [
                {**record, "data": {**record["data"], "reference": self.reference(record["data"]["topic"],
                                                                                  record["data"]["n"])}}
                for record in records
            ]
        self._eval_pairs = sorted({(r["data"]["topic"], r["data"]["n"]) for r in self.records["eval"]})
        self.coverage = len(self._eval_pairs)

    def sentence(self, topic: str, n: int, rng: random.Random) -> str:
        """A sentence of exactly ``n`` words about ``topic``, ended by a full stop, drawn with ``rng``."""
        if topic not in self.sentences:
            raise ValueError(f"topic {topic!r} is not one of the Length task's topics: {', '.join(TOPICS)}")
        if n not in self.sentences[topic]:
            raise ValueError(f"n must be a word count from {MIN_WORDS} to {MAX_WORDS}, got {n!r}")
        return rng.choice(self.sentences[topic][n])

    def reference(self, topic: str, n: int) -> str:
        """The reference sentence of ``n`` words about ``topic``: the same for the same seed."""
        return self.sentence(topic, n, random.Random(f"{self.name}-{self.seed}-reference-{topic}-{n}"))

    # -- the section's contract --------------------------------------------------------------------------------------

    def prompt_records(self) -> dict[str, list[dict]]:
        """Length's ``generate_prompt_set(seed)`` records, each with ``data["reference"]``: a sentence scoring 1."""
        return {split: [dict(record, data=dict(record["data"])) for record in records]
                for split, records in self.records.items()}

    def evidence(self, record: dict) -> tuple[str, ...]:
        """The record's length stated in digits, its topic and its reference sentence, which the pass holds."""
        data = record.get("data", {})
        topic, n = data.get("topic"), data.get("n")
        if (topic, n) not in self._eval_pairs:
            raise ValueError(f"record {record.get('text')!r} is not one of this section's eval records")
        return (f"{n} words", topic, self.reference(topic, n))

    def documents(self, rng: random.Random, n: int) -> list[str]:
        """``n`` documents: a pass over the eval (topic, length) pairs (shuffled), then documents of every kind.

        After the pass each document is, by :data:`DOCUMENT_WEIGHTS`: one sentence with its length stated, two or
        three sentences of different lengths on one topic, a counting exercise, or a train record's prompt in the
        task's own wording with a sentence that answers it.
        """
        if n < 0:
            raise ValueError(f"n must be a document count >= 0, got {n}")
        order = list(self._eval_pairs)
        rng.shuffle(order)
        docs = [
            rng.choice(COVERAGE_FORMS).format(topic=topic, n=words, s=self.reference(topic, words))
            for topic, words in order[:n]
        ]
        kinds, weights = zip(*DOCUMENT_WEIGHTS.items())
        lengths = range(MIN_WORDS, MAX_WORDS + 1)
        while len(docs) < n:
            kind = rng.choices(kinds, weights)[0]
            topic = rng.choice(TOPICS)
            if kind == "stated":
                words = rng.choice(lengths)
                docs.append(self._stated(rng, topic, words, rng.choice(STATED_FORMS)))
            elif kind == "several":
                chosen = rng.sample(lengths, rng.choice((2, 3)))
                lines = [f"({words} words) {self.sentence(topic, words, rng)}" for words in chosen]
                docs.append(f"About {topic}:\n" + "\n".join(lines))
            elif kind == "counted":
                docs.append(self._counted(self.sentence(topic, rng.choice(lengths), rng)))
            else:
                record = rng.choice(self.records["train"])
                data = record["data"]
                docs.append(f"{record['text']} {self.sentence(data['topic'], data['n'], rng)}")
        return docs

    # -- documents ---------------------------------------------------------------------------------------------------

    def _stated(self, rng: random.Random, topic: str, words: int, form: str) -> str:
        number = NUMBER_WORDS[words]
        return form.format(
            n=words, w=number, W=number.capitalize(), a="an" if number[0] == "e" else "a", topic=topic,
            s=self.sentence(topic, words, rng),
        )

    @staticmethod
    def _counted(sentence: str) -> str:
        """``"The(1) sea(2) shines(3). That makes three words."``"""
        chunks = sentence[:-1].split()
        counted = " ".join(f"{chunk}({index})" for index, chunk in enumerate(chunks, start=1))
        return f"{counted}. That makes {NUMBER_WORDS[len(chunks)]} words."
