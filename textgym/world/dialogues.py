"""The dialogues section: customer-service exchanges, for the Dialogue task (``textgym/Dialogue-v0``).

The specification is six intents (those of :mod:`textgym.tasks.dialogue`), the customer turns of each intent and the
agent's reply forms for each intent, in four qualities:

- ``polite_fit``: fits the intent (holds one of its cues in :data:`~textgym.tasks.dialogue.INTENT_CUES`) and is
  polite (holds a :data:`~textgym.tasks.dialogue.POLITENESS_CUES` phrase): the task scores it 1;
- ``curt``: fits the intent but holds no politeness cue (0.5);
- ``off_intent``: polite, but holds no cue of the intent (0.5);
- ``rude``: holds a :data:`~textgym.tasks.dialogue.RUDE_CUES` word (0.5 - 1 or 0 - 1).

The task's prompt records are exactly those of :func:`textgym.tasks.dialogue.generate_prompt_set` (the user turns
of its :data:`~textgym.tasks.dialogue.TURN_TEMPLATES`; no ``target``: the task scores the reply lexically).

The corpus is transcripts of short conversations (1 to 3 exchanges) under other speaker labels than the task's
``"User: ...\\nAssistant:"`` (:data:`SPEAKERS`: ``"Customer: ...\\nAgent: ...\\n"``, ``"Guest: ...\\nClerk: ...\\n"``,
...; the labels ``User`` and ``Assistant`` each occur, never as a pair), or narrated on one line
(``A guest said, "Hello!" The clerk answered, "Hi, welcome! How can I help?"``). Every reply ends with a newline.
Most replies are ``polite_fit``; a share (:data:`REPLY_MIX`) are curt, off-intent or rude, so the model learns the
skill only in part. The customer turns are the task's turns and those of extra templates (:data:`EXTRA_TEMPLATES`),
less every eval turn: an eval turn never occurs in the corpus, in any form.

The answer to a dialogue prompt is a skill, not a fact, so an eval record's evidence is a taught exchange: a customer
turn of the same template as the eval turn (another filling; a turn of the same intent for a template without
slots) answered by a reply that the task scores 1 on the eval record (:meth:`DialogueSection.evidence`).
"""

from __future__ import annotations

import itertools
import random
import string
from dataclasses import dataclass
from typing import ClassVar

from textgym.tasks.dialogue import INTENTS, SLOTS, TURN_TEMPLATES, generate_prompt_set
from textgym.world.section import WorldSection

#: the reply qualities, in the order of :data:`REPLY_MIX`
QUALITIES: tuple[str, ...] = ("polite_fit", "curt", "off_intent", "rude")
#: default share of each reply quality in the corpus
REPLY_MIX: dict[str, float] = {"polite_fit": 0.6, "curt": 0.15, "off_intent": 0.15, "rude": 0.1}

#: (customer label, agent label) of the transcripts; never the task's ("User", "Assistant")
SPEAKERS: tuple[tuple[str, str], ...] = (
    ("Customer", "Agent"),
    ("Guest", "Clerk"),
    ("Caller", "Operator"),
    ("Client", "Assistant"),
    ("User", "Support"),
    ("Shopper", "Staff"),
    ("Customer", "Assistant"),
    ("User", "Agent"),
)
#: (customer role, agent role, verb of the agent) of the narrated exchanges
NARRATORS: tuple[tuple[str, str, str], ...] = (
    ("customer", "agent", "replied"),
    ("guest", "clerk", "answered"),
    ("caller", "operator", "said"),
    ("client", "assistant", "replied"),
    ("shopper", "helper", "answered"),
)
#: share of the documents narrated on one line per exchange instead of a labelled transcript
NARRATED_SHARE = 0.15

#: customer turn templates of the corpus only, beyond the task's (same slots as :data:`SLOTS`)
EXTRA_TEMPLATES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Good day!",
        "Hello, is anyone there?",
        "Hi, {name} speaking.",
        "Hey there, I need some help with my {item}.",
        "Morning! This is {name}.",
    ),
    "question": (
        "When will my {item} arrive?",
        "Do you have the {item} in black?",
        "Is the shop open late on {day}?",
        "How heavy is the {item}?",
        "Do you deliver on {day}?",
    ),
    "complaint": (
        "The {item} you sent is the wrong size.",
        "My {item} was missing a part.",
        "I am still waiting for a reply about my {item}.",
        "The {item} was scratched when it arrived on {day}.",
        "Your driver was rude to me on {day}.",
    ),
    "thanks": (
        "Thanks for your help today!",
        "Thank you, {name}, that was very kind.",
        "Thanks, the {item} is great.",
        "Thank you for calling me back on {day}.",
        "Thanks for the advice about the {item}.",
    ),
    "farewell": (
        "See you later!",
        "Good night!",
        "Bye, {name}!",
        "I am off now, goodbye.",
        "Talk soon, bye!",
    ),
    "request": (
        "Could you email me the receipt for the {item}?",
        "Please update my phone number.",
        "Can you ship the {item} on {day}?",
        "Could you check the status of my {item}?",
        "Please send a new {item} to {place}.",
    ),
}

#: the openings of a yes/no question (a reply form's keywords: it answers only turns that contain one)
YES_NO: tuple[str, ...] = ("Do ", "Does ", "Is ", "Are ", "Can ")

#: intent -> quality -> reply forms. A form may name the slots of the turn it answers ({item}, {day}, ...) and
#: answers only turns that have them; a form ``(keywords, template)`` answers only turns that contain one of the
#: keywords (case-sensitive), e.g. ``(("How much",), "It costs about forty dollars. ...")``.
REPLY_FORMS: dict[str, dict[str, tuple[str | tuple[tuple[str, ...], str], ...]]] = {
    "greeting": {
        "polite_fit": (
            "Hello and welcome! Please tell me how I can help.",
            "Hi {name}, nice to meet you! I'm glad you called.",
            "Hello! Thank you for reaching out. How may I help you?",
            "Good morning, and welcome! I am glad to help.",
            "Hi there! Thanks for stopping by. What can I do for you?",
            "Hello {name}! Glad to hear from you. How can I help?",
            "Welcome! Please tell me what you need.",
            "Hi! I'm happy to help with your {item}.",
            "Good afternoon! Thank you for calling. How may I help you?",
            "Hey, welcome back! What can I do for you? I'm glad to help.",
        ),
        "curt": (
            "Hi. What do you want?",
            "Hello. Go on.",
            "Hey. What is it?",
            "Hi. Next.",
        ),
        "off_intent": (
            "Thank you for your patience, your ticket is open.",
            "Please hold the line for a moment.",
            "I appreciate your message, we will reply by email.",
            "Thanks, the store closes at six.",
        ),
        "rude": (
            "Ugh, what now? You are so annoying.",
            "Whatever. Go away, we are busy.",
            "Hi. Another useless call, I bet.",
            "Not my problem, ask someone else.",
        ),
    },
    "question": {
        "polite_fit": (
            "Thanks for asking! The answer is on our website.",
            (YES_NO, "Yes, of course! Thank you for asking."),
            (YES_NO, "No, I'm afraid not, but thank you for asking."),
            (YES_NO, "Good question! Usually yes, and I'm glad to check for you."),
            (YES_NO, "The answer is yes, and I'm happy to explain more."),
            (YES_NO, "Certainly! Thanks for asking."),
            (("ship to", "shipping to"), "Yes, we ship to {place}. Thank you for asking!"),
            (("in stock",), "Yes, the {item} is in stock. Thanks for asking!"),
            (("What time",), "We open at nine on {day}. Thanks for asking!"),
            (("How much",), "It costs about forty dollars. Thank you for asking!"),
            (("How long",), "It takes about five days to reach {place}. Thank you for your patience."),
            (("What colours",), "Usually black, blue and red. Thanks for asking!"),
            (("When will",), "It should arrive in about three days. Thank you for waiting!"),
            (("How heavy",), "It is about two kilos. Thanks for asking!"),
        ),
        "curt": (
            (YES_NO, "Yes."),
            (YES_NO, "No."),
            (YES_NO, "Usually, yes."),
            (("What time",), "We open at nine."),
            (("How much",), "It costs forty."),
            (("How long",), "It takes a week."),
            (("What colours",), "Usually black."),
            (("When will",), "In about three days."),
            (("How heavy",), "About two kilos."),
        ),
        "off_intent": (
            "Thank you for your message, please hold.",
            "Hello, glad to hear from you.",
            "Thanks for waiting, have a nice day.",
            "I appreciate your patience, my colleague will call.",
        ),
        "rude": (
            "That is a stupid question.",
            "Read the website, idiot.",
            "Whatever, find out yourself.",
            "Obviously. Dumb question.",
        ),
    },
    "complaint": {
        "polite_fit": (
            "I'm so sorry about your {item}. We will replace it, thank you.",
            "Sorry for the trouble! Please send a photo and we will fix it.",
            "I apologize. We will refund you today, thank you for your patience.",
            "I understand your frustration. Please let me look into it.",
            "Our apologies! I will gladly arrange a refund for the {item}.",
            "So sorry to hear that. We will make it right, please bear with us.",
            "Sorry about that! I'm happy to send a replacement {item}.",
            "I am very sorry. Thank you for your patience while we fix this.",
        ),
        "curt": (
            "Sorry. We will look into it.",
            "Send it back for a refund.",
            "We will replace it.",
            "Okay. Refund issued.",
        ),
        "off_intent": (
            "Thank you for shopping with us!",
            "Glad to hear from you, have a nice day.",
            "Thanks! Please rate our service.",
            "We appreciate your feedback, thanks for writing.",
        ),
        "rude": (
            "Not my problem. Deal with it.",
            "Stop whining, that's ridiculous.",
            "Sorry, but that is nonsense.",
            "You probably broke it yourself, idiot.",
        ),
    },
    "thanks": {
        "polite_fit": (
            "You're welcome! Glad I could help.",
            "My pleasure, thank you for your kind words!",
            (("was great",), "You're welcome! I'm glad {name} could help."),
            "No problem at all, and thank you for your patience.",
            "Anytime! I'm glad your {item} is sorted.",
            "Happy to help! Thanks for choosing us.",
            "No worries, it was my pleasure.",
            "You're very welcome, and thanks for writing to us!",
        ),
        "curt": (
            "Welcome.",
            "No problem.",
            "Anytime.",
            "Yep, no worries.",
        ),
        "off_intent": (
            "Please fill in our survey.",
            "Thanks. Please tell me your order number.",
            "We appreciate it. Please rate our service online.",
            "Thank you, please hold for a moment.",
        ),
        "rude": (
            "Whatever. Anything else?",
            "Yeah yeah, now go away.",
            "Finally. You were so annoying.",
            "No problem, now stop being annoying.",
        ),
    },
    "farewell": {
        "polite_fit": (
            "Goodbye, and thank you for calling!",
            "Thanks for stopping by. Have a great day!",
            "Take care, and thank you for your patience!",
            "See you on {day}! Thanks again.",
            "Bye for now, and please come back anytime.",
            (("say hi",), "I will, thank you! Goodbye."),
            "Glad we could help. Take care!",
            "It was my pleasure. Until next time!",
        ),
        "curt": (
            "Bye.",
            "Okay, bye.",
            "See you.",
            "Goodbye then.",
        ),
        "off_intent": (
            "Thank you, please hold the line.",
            "Thanks, your ticket number is five.",
            "Please check your email for the receipt.",
            "We appreciate your order.",
        ),
        "rude": (
            "Finally. Go away.",
            "Bye, and stop being annoying.",
            "Whatever.",
            "Good riddance, loser.",
        ),
    },
    "request": {
        "polite_fit": (
            "Sure, I'll do that right away. Thank you!",
            (("send the",), "Of course! I will send the {item} to {place} today, thanks."),
            "Certainly, happy to. Let me handle it now.",
            (("call me back",), "Gladly! I will call you back on {day}."),
            (("invoice",), "No problem, here is the invoice for your {item}. Thank you!"),
            "Sure thing, please give me a minute.",
            "Of course, I can do that. Thanks for letting me know.",
            "Done! Thank you for your patience.",
        ),
        "curt": (
            "Fine, done.",
            "Okay, I'll do it.",
            "Right away.",
            "Sure.",
        ),
        "off_intent": (
            "Thank you for your message, have a nice day.",
            "Hello! Glad to hear from you.",
            "Thanks, we appreciate your business.",
            "Please check our website for more.",
        ),
        "rude": (
            "Do it yourself, I'm busy. Deal with it.",
            "That request is ridiculous.",
            "Ugh, fine, whatever.",
            "No. Shut up.",
        ),
    },
}

#: conversation arcs: the intents of the customer's turns, in order, by number of exchanges
ARCS: dict[int, tuple[tuple[str, ...], ...]] = {
    1: tuple((intent,) for intent in INTENTS),
    2: (
        ("greeting", "question"),
        ("greeting", "complaint"),
        ("greeting", "request"),
        ("question", "thanks"),
        ("complaint", "thanks"),
        ("request", "thanks"),
        ("question", "farewell"),
        ("request", "farewell"),
        ("thanks", "farewell"),
    ),
    3: (
        ("greeting", "question", "thanks"),
        ("greeting", "complaint", "farewell"),
        ("greeting", "request", "thanks"),
        ("question", "thanks", "farewell"),
        ("complaint", "thanks", "farewell"),
        ("request", "thanks", "farewell"),
        ("greeting", "question", "farewell"),
    ),
}
#: weight of each number of exchanges in a document
EXCHANGE_COUNTS: dict[int, float] = {1: 0.5, 2: 0.3, 3: 0.2}


@dataclass(frozen=True)
class Turn:
    """One customer turn: its text, intent, template and slot values (``(("item", "kettle"),)``)."""

    text: str
    intent: str
    template: str
    slots: tuple[tuple[str, str], ...]

    def slot(self, name: str) -> str | None:
        """The value of slot ``name`` in this turn, or ``None``."""
        return dict(self.slots).get(name)


@dataclass(frozen=True)
class ReplyForm:
    """One agent reply form: its template, intent, quality, the slots it names and the keywords it answers.

    ``keywords`` empty: it answers any turn of its intent that has its slots.
    """

    template: str
    intent: str
    quality: str
    slots: frozenset[str]
    keywords: tuple[str, ...] = ()

    def fits(self, turn: Turn) -> bool:
        """Whether this form answers ``turn``: ``turn`` has every slot it names and one of its keywords (if any)."""
        if not self.slots <= {name for name, _ in turn.slots}:
            return False
        return not self.keywords or any(keyword in turn.text for keyword in self.keywords)

    def fill(self, turn: Turn) -> str:
        """The reply to ``turn``: this form with ``turn``'s slot values."""
        return self.template.format(**dict(turn.slots))


@dataclass(frozen=True)
class Exchange:
    """A customer turn and the agent's reply to it."""

    turn: Turn
    reply: str
    quality: str


def template_slots(template: str) -> list[str]:
    """The slot names of ``template``, in :data:`SLOTS` order; an unknown slot is an error."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    unknown = names - set(SLOTS)
    if unknown:
        raise ValueError(f"template {template!r} names unknown slots {sorted(unknown)}; allowed: {list(SLOTS)}")
    return [name for name in SLOTS if name in names]


def template_turns(intent: str, template: str) -> list[Turn]:
    """Every filling of ``template`` (a turn template of ``intent``), in :data:`SLOTS` product order."""
    names = template_slots(template)
    turns = []
    for values in itertools.product(*(SLOTS[name] for name in names)):
        slots = tuple(zip(names, values))
        turns.append(Turn(template.format(**dict(slots)), intent, template, slots))
    return turns


def reply_forms() -> dict[str, dict[str, tuple[ReplyForm, ...]]]:
    """:data:`REPLY_FORMS` as :class:`ReplyForm` objects: intent -> quality -> forms."""
    forms: dict[str, dict[str, tuple[ReplyForm, ...]]] = {}
    for intent in INTENTS:
        forms[intent] = {}
        for quality in QUALITIES:
            made = []
            for entry in REPLY_FORMS[intent][quality]:
                keywords, template = entry if isinstance(entry, tuple) else ((), entry)
                made.append(ReplyForm(template, intent, quality, frozenset(template_slots(template)), keywords))
            forms[intent][quality] = tuple(made)
    return forms


class DialogueSection(WorldSection):
    """Customer-service dialogue: the Dialogue task's records and the transcripts that teach its skill.

    Attributes (the specification, built from the seed):
        records: the task's ``{"train": [...], "eval": [...]}`` records (:func:`generate_prompt_set` of the seed).
        reply_forms: intent -> quality -> :class:`ReplyForm` (from :data:`REPLY_FORMS`).
        turns: intent -> the customer turns the corpus uses (the task's and :data:`EXTRA_TEMPLATES`' fillings, less
            the eval turns).
        eval_turns: eval record text -> its :class:`Turn`.
        taught: eval record text -> the :class:`Exchange` the corpus teaches for it (a sibling turn and a
            ``polite_fit`` reply).
        reply_mix: the share of each reply quality in the corpus.
    """

    name: ClassVar[str] = "dialogues"
    task: ClassVar[str] = "dialogue"

    def __init__(
        self,
        seed: int,
        train_per_intent: int = 50,
        eval_per_intent: int = 12,
        reply_mix: dict[str, float] | None = None,
    ) -> None:
        """The section of ``seed``.

        Args:
            seed: the world's seed.
            train_per_intent: train records per intent (the task's default 50).
            eval_per_intent: eval records per intent (the task's default 12).
            reply_mix: share of each quality of :data:`QUALITIES` in the corpus (default :data:`REPLY_MIX`):
                non-negative, ``polite_fit`` positive; normalised to sum 1.
        """
        super().__init__(seed)
        self.reply_mix = self._check_mix(REPLY_MIX if reply_mix is None else reply_mix)
        self.records = generate_prompt_set(seed, train_per_intent, eval_per_intent)
        self.reply_forms = reply_forms()

        by_text: dict[str, Turn] = {}
        for intent in INTENTS:
            for template in TURN_TEMPLATES[intent] + EXTRA_TEMPLATES[intent]:
                for turn in template_turns(intent, template):
                    by_text.setdefault(turn.text, turn)
        self.eval_turns: dict[str, Turn] = {}
        for record in self.records["eval"]:
            turn = by_text[record["text"].removeprefix("User: ").removesuffix("\nAssistant:")]
            if turn.intent != record["data"]["intent"]:
                raise ValueError(f"eval turn {turn.text!r} is a {turn.intent} turn, its record says otherwise")
            self.eval_turns[record["text"]] = turn
        eval_texts = {turn.text for turn in self.eval_turns.values()}
        self.turns: dict[str, tuple[Turn, ...]] = {
            intent: tuple(t for t in by_text.values() if t.intent == intent and t.text not in eval_texts)
            for intent in INTENTS
        }
        self._turns_by_item: dict[tuple[str, str | None], tuple[Turn, ...]] = {}
        for intent, turns in self.turns.items():
            for item in (*SLOTS["item"], None):
                self._turns_by_item[(intent, item)] = tuple(t for t in turns if t.slot("item") in (item, None))

        rng = random.Random(f"{seed}-dialogues-taught")
        self.taught: dict[str, Exchange] = {}
        for record in self.records["eval"]:
            turn = self.eval_turns[record["text"]]
            siblings = [t for t in self.turns[turn.intent] if t.template == turn.template]
            sibling = rng.choice(siblings or list(self.turns[turn.intent]))
            self.taught[record["text"]] = Exchange(sibling, self._reply(rng, sibling, "polite_fit"), "polite_fit")
        self._reference = {
            text: self._reply(random.Random(f"{seed}-dialogues-reference-{text}"), turn, "polite_fit")
            for text, turn in self.eval_turns.items()
        }
        self.coverage = len(self.taught)

    @staticmethod
    def _check_mix(mix: dict[str, float]) -> dict[str, float]:
        if set(mix) != set(QUALITIES):
            raise ValueError(f"reply_mix needs exactly the qualities {list(QUALITIES)}, got {sorted(mix)}")
        if any(not isinstance(w, int | float) or w < 0 for w in mix.values()) or mix["polite_fit"] <= 0:
            raise ValueError(f"reply_mix weights must be non-negative numbers with polite_fit > 0, got {mix}")
        total = sum(mix.values())
        return {quality: mix[quality] / total for quality in QUALITIES}

    def _reply(self, rng: random.Random, turn: Turn, quality: str) -> str:
        forms = [form for form in self.reply_forms[turn.intent][quality] if form.fits(turn)]
        return rng.choice(forms).fill(turn)

    # -- the task's side -------------------------------------------------------------------

    def prompt_records(self) -> dict[str, list[dict]]:
        """The task's records, as :func:`textgym.tasks.dialogue.generate_prompt_set` makes them for the seed."""
        return {split: [dict(r, data=dict(r["data"])) for r in records] for split, records in self.records.items()}

    def reference_reply(self, record: dict) -> str:
        """A polite reply that fits the intent of eval ``record`` (the task scores it 1), ending with a newline."""
        return self._reference[self._eval_text(record)] + "\n"

    def _eval_text(self, record: dict) -> str:
        text = record.get("text") if isinstance(record, dict) else None
        if text not in self.eval_turns:
            raise ValueError(f"not an eval record of the dialogue section (seed {self.seed}): {record!r}")
        return text

    # -- the corpus' side ------------------------------------------------------------------

    def documents(self, rng: random.Random, n: int) -> list[str]:
        """``n`` transcripts drawn with ``rng``.

        The first ``min(n, coverage)`` hold, in a shuffled order, each eval record's taught exchange (among 0 to 2
        random ones) as a labelled transcript; the rest are random conversations, narrated in a share
        :data:`NARRATED_SHARE`.
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"documents: n must be a non-negative int, got {n!r}")
        taught = list(self.taught.values())
        rng.shuffle(taught)
        docs = []
        for exchange in taught[:n]:
            exchanges = self._conversation(rng, first=exchange.turn)
            exchanges[0] = exchange
            docs.append(self._transcript(rng, exchanges))
        while len(docs) < n:
            exchanges = self._conversation(rng)
            narrated = rng.random() < NARRATED_SHARE
            docs.append(self._narration(rng, exchanges) if narrated else self._transcript(rng, exchanges))
        return docs

    def _conversation(self, rng: random.Random, first: Turn | None = None) -> list[Exchange]:
        """The exchanges of one conversation; with ``first``, an arc that opens with ``first``'s intent."""
        counts = list(EXCHANGE_COUNTS)
        arc = rng.choice(ARCS[rng.choices(counts, weights=[EXCHANGE_COUNTS[c] for c in counts])[0]])
        if first is not None:
            arc = rng.choice([a for arcs in ARCS.values() for a in arcs if a[0] == first.intent])
        qualities = list(self.reply_mix)
        weights = [self.reply_mix[q] for q in qualities]
        exchanges: list[Exchange] = []
        item: str | None = None
        for index, intent in enumerate(arc):
            if index == 0 and first is not None:
                turn = first
            elif item is None:
                turn = rng.choice(self.turns[intent])
            else:
                turn = rng.choice(self._turns_by_item[(intent, item)])
            item = item or turn.slot("item")
            quality = rng.choices(qualities, weights=weights)[0]
            exchanges.append(Exchange(turn, self._reply(rng, turn, quality), quality))
        return exchanges

    @staticmethod
    def _transcript(rng: random.Random, exchanges: list[Exchange]) -> str:
        customer, agent = rng.choice(SPEAKERS)
        return "".join(f"{customer}: {e.turn.text}\n{agent}: {e.reply}\n" for e in exchanges)

    @staticmethod
    def _narration(rng: random.Random, exchanges: list[Exchange]) -> str:
        customer, agent, verb = rng.choice(NARRATORS)
        article = "An" if customer[0] in "aeiou" else "A"
        lines = []
        for index, e in enumerate(exchanges):
            who = f"{article} {customer}" if index == 0 else f"The {customer}"
            lines.append(f'{who} said, "{e.turn.text}" The {agent} {verb}, "{e.reply}"\n')
        return "".join(lines)

    def evidence(self, record: dict) -> tuple[str, ...]:
        """The taught exchange of eval ``record``: ``(sibling customer turn, polite fitting reply)``.

        The turn is of the eval turn's template (another filling) or, for a template without slots, of its intent;
        the reply scores 1 on ``record`` under the task's score. A transcript holds the two on consecutive lines.
        """
        exchange = self.taught[self._eval_text(record)]
        return (exchange.turn.text, exchange.reply)
