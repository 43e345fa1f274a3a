"""Dialogue: reply to a customer's turn in a way that fits its intent and stays polite."""

from __future__ import annotations

import itertools
import random
import re
from collections import deque

from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

PROMPT_TEMPLATE = "User: {turn}\nAssistant:"
END_OF_REPLY = "\n"
FIT_WEIGHT, POLITENESS_WEIGHT, RUDENESS_PENALTY = 0.5, 0.5, 1.0

#: intent -> cue phrases of a reply that fits it
INTENT_CUES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "hello",
        "hi",
        "hey",
        "good morning",
        "good afternoon",
        "good evening",
        "welcome",
        "nice to meet you",
        "how can i help",
        "how may i help",
        "what can i do for you",
    ),
    "question": (
        "yes",
        "no",
        "sure",
        "certainly",
        "of course",
        "it is",
        "it's",
        "it costs",
        "it takes",
        "you can",
        "we do",
        "we are",
        "we open",
        "we close",
        "usually",
        "about",
        "around",
        "because",
        "the answer is",
    ),
    "complaint": (
        "sorry",
        "apologize",
        "apologise",
        "apologies",
        "apology",
        "fix",
        "refund",
        "replace",
        "replacement",
        "make it right",
        "look into",
        "understand your frustration",
    ),
    "thanks": (
        "you're welcome",
        "welcome",
        "glad",
        "happy to help",
        "my pleasure",
        "anytime",
        "no problem",
        "no worries",
    ),
    "farewell": (
        "goodbye",
        "bye",
        "see you",
        "take care",
        "have a great day",
        "have a nice day",
        "good night",
        "until next time",
    ),
    "request": (
        "sure",
        "of course",
        "certainly",
        "right away",
        "i will",
        "i'll",
        "let me",
        "i can",
        "here is",
        "here's",
        "done",
        "no problem",
    ),
}
#: cue phrases of a polite reply, whatever the intent
POLITENESS_CUES: tuple[str, ...] = (
    "please", "thank", "thanks", "thank you", "happy to", "glad", "appreciate", "my pleasure", "kindly", "gladly",
)
#: words and phrases of a rude reply
RUDE_CUES: tuple[str, ...] = (
    "stupid", "idiot", "idiots", "dumb", "shut up", "go away", "whatever", "useless", "ridiculous", "nonsense",
    "moron", "loser", "annoying", "hate", "not my problem", "deal with it",
)
INTENTS: tuple[str, ...] = tuple(INTENT_CUES)
WORD_PATTERN = re.compile(r"[a-z0-9']+")


def reply_words(text: str) -> list[str]:
    """The words of a reply: runs of ``a-z``, digits and apostrophes after lowercasing (curly ``’`` -> ``'``)."""
    words = (clean_word(w) for w in WORD_PATTERN.findall(text.replace("\u2019", "'").lower()))
    return [w for w in words if w]


def clean_word(raw: str) -> str:
    """A word run without apostrophes at its edges (quotes are not part of a word)."""
    return raw.strip("'")


def is_word_character(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("0" <= ch <= "9") or ch == "'"


class PhraseSet:
    """Cue phrases indexed by their last word, to test the phrases ending at each new word."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.by_last_word: dict[str, list[tuple[str, ...]]] = {}
        for phrase in phrases:
            words = tuple(reply_words(phrase))
            self.by_last_word.setdefault(words[-1], []).append(words)
        self.longest = max(len(w) for ws in self.by_last_word.values() for w in ws)

    def ends_at(self, recent: list[str] | tuple[str, ...] | deque, word: str) -> bool:
        """Whether a phrase ends with ``word`` preceded by the words ``recent`` (oldest first)."""
        for phrase in self.by_last_word.get(word, ()):
            head = phrase[:-1]
            if len(head) <= len(recent) and tuple(itertools.islice(recent, len(recent) - len(head), None)) == head:
                return True
        return False

    def found_in(self, words: list[str]) -> bool:
        return any(self.ends_at(words[max(0, i - self.longest + 1) : i], word) for i, word in enumerate(words))


def dialogue_score(fits: bool, polite: bool, rude: bool) -> float:
    """``0.5 * fit + 0.5 * politeness - 1.0 * rudeness`` (each 0 or 1): range ``[-1, 1]``."""
    return FIT_WEIGHT * fits + POLITENESS_WEIGHT * polite - RUDENESS_PENALTY * rude


def prompt_intent(prompt: Prompt, task_name: str = "dialogue") -> str:
    intent = prompt.data.get("intent")
    if intent not in INTENT_CUES:
        raise TaskError(
            f"task {task_name!r}: prompt {prompt.text!r} needs data={{'intent': one of {list(INTENTS)}}}, "
            f"got {intent!r}"
        )
    return intent


#: one PhraseSet per lexicon, built once
INTENT_PHRASES = {intent: PhraseSet(cues) for intent, cues in INTENT_CUES.items()}
POLITENESS_PHRASES = PhraseSet(POLITENESS_CUES)
RUDE_PHRASES = PhraseSet(RUDE_CUES)


class ReplyScorer(Scorer):
    """Keeps the last few completed words and which cues were found: an update costs O(len(appended)).

    The unfinished last word is counted provisionally, as :meth:`DialogueTask.score`
    does with the end of the text.
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.lexicons = (INTENT_PHRASES[prompt_intent(prompt, task.name)], POLITENESS_PHRASES, RUDE_PHRASES)
        self.found = [False, False, False]
        longest = max(lexicon.longest for lexicon in self.lexicons)
        self.recent: deque[str] = deque(maxlen=max(1, longest - 1))
        self.word = ""  # the unfinished last word run
        self.stopped = False

    def _check(self, word: str, found: list[bool]) -> None:
        for index, lexicon in enumerate(self.lexicons):
            if not found[index] and lexicon.ends_at(self.recent, word):
                found[index] = True

    def update(self, continuation: str, appended: str) -> float:
        for ch in appended.replace("\u2019", "'").lower():
            if self.stopped:
                break
            if is_word_character(ch):
                self.word += ch
                continue
            word = clean_word(self.word)
            if word:
                self._check(word, self.found)
                self.recent.append(word)
            self.word = ""
            self.stopped = ch == END_OF_REPLY
        found = list(self.found)
        word = clean_word(self.word)
        if word:
            self._check(word, found)
        return dialogue_score(*found)


class DialogueTask(Task):
    """Reply to a customer's turn so that the reply fits its intent and is polite.

    ## Description
    The prompt is one user turn of a customer-service chat and the cue for the reply,
    e.g. ``"User: Thanks a lot for fixing my order!\\nAssistant:"``; the user's intent
    (``greeting``, ``question``, ``complaint``, ``thanks``, ``farewell`` or ``request``) is
    in ``prompt.data["intent"]``. The agent writes the reply and ends it with a newline
    (or EOS). A lexical judge scores the reply: a stand-in for a learned reward model,
    and as easy to game with keyword lists.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score, on the reply: the continuation before its first newline, lowercased, as words
    (runs of ``a-z``, digits and apostrophes). ``fit``, ``polite`` and ``rude`` are 1 when
    the reply contains, as whole words, a phrase of the intent's cue list
    (:data:`INTENT_CUES`, e.g. thanks: ``"you're welcome"``, ``"glad"``, ``"happy to
    help"``; complaint: ``"sorry"``, ``"apologize"``, ``"fix"``), of
    :data:`POLITENESS_CUES` (``"please"``, ``"thank you"``, ``"happy to"``, ``"glad"``, ...)
    and of :data:`RUDE_CUES` (``"stupid"``, ``"shut up"``, ...), else 0:
    ``score = 0.5 * fit + 0.5 * polite - 1.0 * rude``. Range ``[-1, 1]``; 1 for a reply
    with an intent cue and a politeness cue and no rude word; ``score("") = 0``. The
    last word counts as written even if the next token would extend it.

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. For the thanks prompt above, writing
      ``" You're"``, ``" welcome"``, ``","``, ``" glad"``, ``" to help!"``, ``"\\n"``
      gives scores ``0, 0.5, 0.5, 1, 1, 1``, so the tokens of each piece earn
      ``0, +0.5, 0, +0.5, 0, 0`` (1 in total); a further ``" whatever"`` would have cost
      ``-1``.
    - sparse: 0 at every step and ``score`` at the last one (the newline): ``1``.

    ## Starting State
    A user turn drawn uniformly from the split (300 train, 72 eval; 50 and 12 per
    intent; disjoint) with the environment's seeded RNG.

    ## Episode End
    - Termination: the continuation contains a newline, or the agent emits EOS, or ``max_new_tokens`` tokens
      generated (default 24): the horizon is part of the task, so it terminates too (``info["end_reason"]``
      says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Dialogue-v0", model="tiny", reward_mode="dense", max_new_tokens=24, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "dialogue"
    description = "reply to the user's turn in a way that fits its intent, politely, then end the line"
    score_range = (-1.0, 1.0)
    max_new_tokens = 24
    model = "tiny"

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`); each needs an ``intent`` field (one of the intents
                above).
        """
        super().__init__(prompts=prompts)

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs ``data["intent"]``, one of :data:`INTENTS`."""
        prompt_intent(prompt, self.name)

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("dialogue", split)

    def score(self, prompt: Prompt, continuation: str) -> float:
        words = reply_words(continuation.split(END_OF_REPLY, 1)[0])
        intent = prompt_intent(prompt, self.name)
        return dialogue_score(
            INTENT_PHRASES[intent].found_in(words), POLITENESS_PHRASES.found_in(words), RUDE_PHRASES.found_in(words)
        )

    def scorer(self, prompt: Prompt) -> Scorer:
        return ReplyScorer(self, prompt)

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        return END_OF_REPLY in continuation


# -- user turns ------------------------------------------------------------------------------

ITEMS = (
    "order", "package", "laptop", "phone", "jacket", "pair of shoes", "coffee machine", "headphones", "book",
    "table lamp", "backpack", "bike", "camera", "desk chair", "watch", "blender", "kettle", "printer",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PLACES = ("Canada", "Spain", "Japan", "Brazil", "my office", "a post office box", "Ireland", "Mexico")
NAMES = ("Sam", "Alex", "Maria", "Tom", "Priya", "Jonas", "Lena", "Omar")

#: intent -> user turn templates (slots: {item}, {day}, {place}, {name})
TURN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Hello!",
        "Hi there!",
        "Hey, good morning!",
        "Good afternoon!",
        "Good evening, anyone there?",
        "Hi, my name is {name}.",
        "Hello, this is {name}.",
        "Hey! {name} here.",
        "Hi, I just got my {item}.",
        "Hello, I have a question about my {item}.",
        "Good morning, I am {name}.",
        "Hi, is this the help desk?",
    ),
    "question": (
        "What time do you open on {day}?",
        "Do you ship to {place}?",
        "How much does the {item} cost?",
        "Is the {item} in stock?",
        "How long does delivery to {place} take?",
        "Can I pay for the {item} in cash?",
        "Does the {item} come with a warranty?",
        "Are you open on {day}?",
        "Can I return the {item} after a month?",
        "What colours does the {item} come in?",
        "Is shipping to {place} free?",
    ),
    "complaint": (
        "My {item} arrived broken.",
        "The {item} stopped working after a day!",
        "I have waited two weeks for my {item}.",
        "You sent me the wrong {item}.",
        "The {item} I got on {day} is damaged.",
        "Nobody answered my emails about the {item}.",
        "I was charged twice for the {item}!",
        "The {item} is much smaller than in the pictures.",
        "My {item} never arrived in {place}.",
        "The delivery driver left my {item} in the rain.",
    ),
    "thanks": (
        "Thanks a lot for fixing my {item}!",
        "Thank you for the quick reply.",
        "Thanks, the {item} arrived on {day}.",
        "Thank you so much for your help, {name} was great.",
        "Many thanks for the refund on the {item}.",
        "Thanks for sending the {item} to {place} so fast!",
        "I really appreciate your help with the {item}.",
        "Thank you, the new {item} works perfectly.",
        "Thanks for your patience!",
    ),
    "farewell": (
        "Goodbye!",
        "Bye for now.",
        "That is all, bye!",
        "See you on {day}.",
        "I have to go now, goodbye.",
        "OK, talk to you later. Bye!",
        "That solved it for my {item}, goodbye.",
        "Have a nice {day}, bye!",
        "I will pick up the {item} on {day}, see you then.",
        "Bye, and say hi to {name}!",
    ),
    "request": (
        "Could you send me the invoice for the {item}?",
        "Please change my delivery address to {place}.",
        "Can you cancel my order for the {item}?",
        "Please send the {item} to {place}.",
        "Could you call me back on {day}?",
        "I would like to change the colour of my {item}.",
        "Can you add gift wrapping to the {item}?",
        "Please book a repair for my {item} on {day}.",
        "Could you put {name} in copy of the emails?",
        "Please hold the {item} for me until {day}.",
    ),
}
SLOTS = {"item": ITEMS, "day": DAYS, "place": PLACES, "name": NAMES}


def user_turns(intent: str, seed: int) -> list[str]:
    """Distinct user turns of ``intent``, spread evenly over its templates (seeded).

    Each template's fillings are shuffled, then the turns are taken round-robin over
    the templates, so the first ``n`` turns cover the templates evenly.
    """
    rng = random.Random(f"{seed}-{intent}")
    groups = []
    for template in TURN_TEMPLATES[intent]:
        slots = [name for name in SLOTS if "{" + name + "}" in template]
        group = [
            template.format(**dict(zip(slots, values)))
            for values in itertools.product(*(SLOTS[name] for name in slots))
        ]
        rng.shuffle(group)
        groups.append(group)
    turns: dict[str, None] = {}
    for row in itertools.zip_longest(*groups):
        for turn in row:
            if turn is not None:
                turns.setdefault(turn, None)
    return list(turns)


def generate_prompt_set(seed: int = 0, train_per_intent: int = 50, eval_per_intent: int = 12) -> dict[str, list[dict]]:
    """``train_per_intent`` train and ``eval_per_intent`` eval user turns per intent, disjoint (seeded).

    Per intent, the first turns of :func:`user_turns` are shuffled and split.
    """
    train, evaluation = [], []
    for intent in INTENTS:
        turns = user_turns(intent, seed)[: train_per_intent + eval_per_intent]
        if len(turns) < train_per_intent + eval_per_intent:
            wanted = train_per_intent + eval_per_intent
            raise TaskError(
                f"intent {intent!r} makes only {len(turns)} distinct user turns, fewer than the {wanted} asked for"
            )
        random.Random(f"{seed}-{intent}-split").shuffle(turns)
        records = [{"text": PROMPT_TEMPLATE.format(turn=turn), "data": {"intent": intent}} for turn in turns]
        evaluation += records[:eval_per_intent]
        train += records[eval_per_intent:]
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(evaluation)
    return {"train": train, "eval": evaluation}
