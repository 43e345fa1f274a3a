"""Length: write one sentence of exactly N words, ended by a full stop."""

from __future__ import annotations

import random

from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

MIN_WORDS, MAX_WORDS = 3, 12
FULL_STOP = "."
#: share of the closeness a sentence earns before its full stop is written
UNFINISHED_FACTOR = 0.5

TOPICS = (
    "the sea", "a rainy day", "your favourite food", "a small dog", "the city at night",
    "a long train journey", "an old book", "morning coffee", "a summer garden", "a busy market",
    "the mountains", "a birthday party", "a new phone", "the school bus", "a quiet library",
    "winter snow", "a football match", "a small kitchen", "a hotel room", "a film you liked",
    "the moon", "a walk in the forest", "a bakery", "your best friend", "a thunderstorm",
    "a lazy cat", "the beach", "a bicycle ride", "an airport", "a museum",
    "a pizza", "a river", "a farm", "a concert", "a new job",
    "a pair of shoes", "a restaurant", "the weekend", "a family dinner", "an old friend",
)

TEMPLATES = (
    "Write a sentence of exactly {n} words about {topic}:",
    "In exactly {n} words, write one sentence about {topic}:",
    "Describe {topic} in one sentence of exactly {n} words:",
    "Write one sentence about {topic} that is exactly {n} words long:",
)


def length_score(words: int, target_words: int, has_full_stop: bool, tolerance: float = 1.0) -> float:
    """``max(0, 1 - |words - N| / (tolerance * N))``, halved while the sentence has no full stop.

    ``tolerance`` is the miss, as a share of ``N``, at which the closeness reaches 0 (v0: 1, v1: 0.5).
    """
    closeness = max(0.0, 1.0 - abs(words - target_words) / (tolerance * target_words))
    return closeness if has_full_stop else UNFINISHED_FACTOR * closeness


def count_words(text: str) -> int:
    """Whitespace-separated chunks that hold at least one letter or digit (``"-"`` is no word)."""
    return sum(1 for chunk in text.split() if any(ch.isalnum() for ch in chunk))


def target_words(prompt: Prompt, task_name: str = "length") -> int:
    """The prompt's word count ``N`` (``prompt.data["n"]``), checked."""
    n = prompt.data.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TaskError(f"task {task_name!r}: prompt {prompt.text!r} needs data={{'n': positive int}}, got {n!r}")
    return n


class WordCountScorer(Scorer):
    """Counts words as characters arrive and stops at the first full stop: O(len(appended)) per update."""

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.target_words = target_words(prompt, task.name)
        self.words = 0
        self.in_chunk = False  # the last character was not whitespace
        self.chunk_counted = False  # the current chunk already holds a letter or digit
        self.stopped = False

    def update(self, continuation: str, appended: str) -> float:
        for ch in appended:
            if self.stopped:
                break
            if ch == FULL_STOP:
                self.stopped = True
            elif ch.isspace():
                self.in_chunk = self.chunk_counted = False
            else:
                self.in_chunk = True
                if not self.chunk_counted and ch.isalnum():
                    self.words += 1
                    self.chunk_counted = True
        return length_score(self.words, self.target_words, self.stopped, self.task.tolerance)


class LengthTask(Task):
    """Write one sentence of exactly N words.

    ## Description
    The prompt asks for a sentence of a given length about a topic, e.g.
    ``"Write a sentence of exactly 6 words about the sea:"`` (``N = 6``, ``3 <= N <= 12``).
    The agent writes the sentence and ends it with a full stop, which ends the episode.
    Counting words while writing is a planning problem: the right moment to stop
    depends on everything written so far.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score, on the text before the first full stop ``"."``: ``closeness = max(0, 1 - |words - N| / N)``
    where ``words`` counts whitespace-separated chunks holding a letter or digit; the
    score is ``closeness`` once the full stop is written and ``0.5 * closeness`` before
    (or if the episode ends without one). Range ``[0, 1]``, 1 exactly for N words and a
    full stop; ``score("") = 0``.

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. With ``N = 4``, writing ``" The"``,
      ``" sea"``, ``" is"``, ``" calm"``, ``"."`` gives scores ``0.125, 0.25, 0.375, 0.5, 1``,
      so rewards ``+0.125, +0.125, +0.125, +0.125, +0.5``, summing to 1. A fifth word
      before the stop would have given ``0.5 * 0.75 = 0.375``: reward ``-0.125``.
    - sparse: 0 at every step and ``score`` at the last one: ``0, 0, 0, 0, 1``.

    ## Starting State
    A prompt drawn uniformly from the split (200 train, 50 eval, disjoint; every N from
    3 to 12 equally often) with the environment's seeded RNG.

    ## Episode End
    - Termination: the continuation contains a full stop, or the agent emits EOS, or ``max_new_tokens`` tokens
      generated (default 32): the horizon is part of the task, so it terminates too (``info["end_reason"]`` says
      which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Length-v0", model="tiny", reward_mode="dense", max_new_tokens=32, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "length"
    description = "write one sentence of exactly the asked number of words, ended by a full stop"
    score_range = (0.0, 1.0)
    max_new_tokens = 32
    model = "tiny"
    #: the miss, as a share of N, at which the closeness reaches 0
    tolerance = 1.0

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`); each needs an ``n`` field: the word count, a
                positive int.
        """
        super().__init__(prompts=prompts)

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs ``data["n"]``: the word count asked for, a positive int."""
        target_words(prompt, self.name)

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("length", split)

    def score(self, prompt: Prompt, continuation: str) -> float:
        sentence, full_stop, _ = continuation.partition(FULL_STOP)
        return length_score(count_words(sentence), target_words(prompt, self.name), bool(full_stop), self.tolerance)

    def scorer(self, prompt: Prompt) -> Scorer:
        return WordCountScorer(self, prompt)

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        return FULL_STOP in continuation


def generate_prompt_set(seed: int = 0) -> dict[str, list[dict]]:
    """200 train and 50 eval prompts, disjoint; each N in 3..12 gets 20 train and 5 eval (seeded)."""
    rng = random.Random(seed)
    train, evaluation = [], []
    for n in range(MIN_WORDS, MAX_WORDS + 1):
        pairs = rng.sample([(template, topic) for template in TEMPLATES for topic in TOPICS], 25)
        records = [
            {"text": template.format(n=n, topic=topic), "data": {"n": n, "topic": topic}} for template, topic in pairs
        ]
        train += records[:20]
        evaluation += records[20:]
    rng.shuffle(train)
    rng.shuffle(evaluation)
    return {"train": train, "eval": evaluation}
