"""Keywords: write one sentence that uses every given concept word (CommonGen-style)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence

from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

#: concept nouns the prompts draw from
CONCEPT_NOUNS: tuple[str, ...] = tuple(
    """dog cat ball park tree car house book river boat bread table chair window door garden flower bird
    horse child friend teacher road city beach sun rain snow phone letter cake coffee kitchen train bus bike
    hat shoe bag box cup apple fish field hill lake sea sky music song picture camera market shop street
    bridge forest farm school office bed room key clock lamp pizza movie ticket guitar team game""".split()
)
#: concept verbs the prompts draw from
CONCEPT_VERBS: tuple[str, ...] = tuple(
    """run walk play eat drink read write sing dance swim jump throw catch cook bake paint draw open close
    carry watch climb ride drive wash clean build fix sit sleep buy sell wait call laugh smile kick fly
    plant pick""".split()
)
#: irregular forms of the vocabulary, besides the regular ones of :func:`word_forms`
IRREGULAR_FORMS: dict[str, tuple[str, ...]] = {
    "child": ("children",),
    "run": ("ran",),
    "eat": ("ate", "eaten"),
    "drink": ("drank", "drunk"),
    "write": ("wrote", "written"),
    "sing": ("sang", "sung"),
    "swim": ("swam", "swum"),
    "throw": ("threw", "thrown"),
    "catch": ("caught",),
    "draw": ("drew", "drawn"),
    "ride": ("rode", "ridden"),
    "drive": ("drove", "driven"),
    "build": ("built",),
    "sit": ("sat",),
    "sleep": ("slept",),
    "buy": ("bought",),
    "sell": ("sold",),
    "fly": ("flew", "flown"),
}
#: function words that may repeat without counting as repetition
STOPWORDS = frozenset(
    """the and but for nor yet with from into onto over under near after before then than that this these
    those there here his her hers its our ours their theirs your yours him she they them you was were are
    has had have been being does did not very all some any one two three who whom whose which what when
    where why how also too just out off about again while because until each every other such only own
    same can could will would should may might must shall upon""".split()
)
PROMPT_TEMPLATES = (
    "Write a sentence with: {concepts}.",
    "Use these words in one sentence: {concepts}.",
    "Make a sentence from the words: {concepts}.",
)
SENTENCE_END = ".!?"
VOWELS = "aeiou"
COVERAGE_WEIGHT, FLUENCY_WEIGHT = 0.8, 0.2
#: a sentence earns the full length part of fluency from this many words per concept
WORDS_PER_CONCEPT = 2
ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
WORD_PATTERN = re.compile("[A-Za-z]+")


def word_forms(word: str) -> frozenset[str]:
    """``word`` and its simple inflections: the ones a concept matches.

    ``+s``, ``+es``, ``+ed``, ``+ing``; after a final ``e``: ``+d`` and ``-e+ing``; after a
    consonant and ``y``: ``-y+ies``, ``-y+ied``; a short word ending consonant-vowel-consonant
    doubles its last consonant before ``-ed``/``-ing`` (``run`` -> ``running``); plus the
    irregular forms of :data:`IRREGULAR_FORMS`.
    """
    forms = {word, word + "s", word + "es", word + "ed", word + "ing"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    if len(word) >= 2 and word.endswith("y") and word[-2] not in VOWELS:
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) >= 3 and word[-1] not in VOWELS + "wxy" and word[-2] in VOWELS and word[-3] not in VOWELS:
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    forms |= set(IRREGULAR_FORMS.get(word, ()))
    return frozenset(forms)


def is_content_word(word: str) -> bool:
    """Words of three letters or more that are not function words: the ones that must not repeat."""
    return len(word) >= 3 and word not in STOPWORDS


def keywords_score(
    covered: int, num_concepts: int, num_words: int, num_content: int, num_distinct_content: int, ended: bool
) -> float:
    """``0.8 * coverage + 0.2 * fluency`` from the counts of one sentence (see :class:`KeywordsTask`)."""
    coverage = covered / num_concepts
    if num_words == 0:
        return COVERAGE_WEIGHT * coverage
    distinct = num_distinct_content / num_content if num_content else 1.0
    length = min(1.0, num_words / (WORDS_PER_CONCEPT * num_concepts))
    fluency = (distinct + length + float(ended)) / 3.0
    return COVERAGE_WEIGHT * coverage + FLUENCY_WEIGHT * fluency


def prompt_concepts(prompt: Prompt, task_name: str = "keywords") -> list[str]:
    """The prompt's concept words (``prompt.data["concepts"]``), checked."""
    concepts = prompt.data.get("concepts")
    if (
        not isinstance(concepts, (list, tuple))
        or not concepts
        or not all(isinstance(c, str) and c.isalpha() for c in concepts)
    ):
        raise TaskError(
            f"task {task_name!r}: prompt {prompt.text!r} needs data={{'concepts': [word, ...]}} of letters only, "
            f"got {concepts!r}"
        )
    return [c.lower() for c in concepts]


class ConceptMatcher:
    """Which concepts a word form stands for: one dictionary lookup per word."""

    def __init__(self, concepts: list[str]) -> None:
        self.num_concepts = len(concepts)
        self.concepts_of_form: dict[str, list[int]] = {}
        for index, concept in enumerate(concepts):
            for form in word_forms(concept):
                self.concepts_of_form.setdefault(form, []).append(index)

    def concepts(self, word: str) -> list[int]:
        return self.concepts_of_form.get(word, [])


class KeywordsScorer(Scorer):
    """Counts completed words as characters arrive and evaluates the unfinished last word.

    A word is complete once a non-letter follows it; the unfinished last word is counted
    provisionally (as :meth:`KeywordsTask.score` does with the end of the text), so an
    update costs O(len(appended) + length of the unfinished word).
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.matcher = ConceptMatcher(prompt_concepts(prompt, task.name))
        self.covered: set[int] = set()
        self.content_counts: Counter = Counter()
        self.num_words = 0
        self.num_content = 0
        self.word = ""  # the unfinished last word, lowercase
        self.ended = False

    def _complete_word(self) -> None:
        if not self.word:
            return
        self.num_words += 1
        self.covered.update(self.matcher.concepts(self.word))
        if is_content_word(self.word):
            self.num_content += 1
            self.content_counts[self.word] += 1
        self.word = ""

    def update(self, continuation: str, appended: str) -> float:
        for ch in appended:
            if self.ended:
                break
            if ch in ASCII_LETTERS:
                self.word += ch.lower()
                continue
            self._complete_word()
            if ch in SENTENCE_END:
                self.ended = True
        covered, num_words, num_content, distinct = (
            len(self.covered),
            self.num_words,
            self.num_content,
            len(self.content_counts),
        )
        if self.word:
            num_words += 1
            covered = len(self.covered.union(self.matcher.concepts(self.word)))
            if is_content_word(self.word):
                num_content += 1
                distinct += self.word not in self.content_counts
        return keywords_score(covered, self.matcher.num_concepts, num_words, num_content, distinct, self.ended)


class KeywordsTask(Task):
    """Write one sentence that uses every concept word of the prompt.

    ## Description
    CommonGen-style constrained generation: the prompt lists 3 or 4 common nouns and
    verbs, e.g. ``"Write a sentence with: dog, park, run."``, and the agent writes one
    sentence that uses all of them (``" The dog runs in the park."``), ended by ``.``,
    ``!`` or ``?``. Inflected forms count: ``dogs``, ``runs``, ``running``, ``ran``.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score, on the sentence: the continuation up to its first ``.``, ``!`` or ``?`` (all of
    it while none is written). Words are runs of the letters ``a-z`` (case-insensitive);
    the last word counts as written even if the next token would extend it.

    ``score = 0.8 * coverage + 0.2 * fluency`` with

    - ``coverage`` = the fraction of the ``k`` concepts of which some word is a form
      (:func:`word_forms`: the word, ``+s``/``+es``/``+d``/``+ed``/``+ing`` with the usual
      spelling changes, and listed irregular forms);
    - ``fluency = (distinct + length + ended) / 3``, and 0 when there is no word:
      ``distinct`` = distinct content words / content words (content words: 3 letters or
      more and not a function word; 1 when there is none), ``length = min(1, words / (2k))``,
      ``ended`` = 1 once the sentence-ending mark is written, else 0.

    Range ``[0, 1]``; 1 exactly for a sentence of at least ``2k`` words that uses every
    concept, repeats no content word and ends with ``.``, ``!`` or ``?``; ``score("") = 0``.

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. With the concepts ``dog, park, run``,
      writing ``" The"``, ``" dog"``, ``" runs"``, ``" in"``, ``" the"``, ``" park"``, ``"."``
      gives scores ``0.0778, 0.3556, 0.6333, 0.6444, 0.6556, 0.9333, 1`` (e.g. after
      ``" The"``: ``0.2 * (1 + 1/6 + 0) / 3 = 7/90``), so rewards
      ``+0.0778, +0.2778, +0.2778, +0.0111, +0.0111, +0.2778, +0.0667``, summing to 1.
    - sparse: 0 at every step and ``score`` at the last one: ``0, 0, 0, 0, 0, 0, 1``.

    ## Starting State
    A prompt drawn uniformly from the split (400 train, 100 eval; disjoint, every concept
    set distinct) with the environment's seeded RNG.

    ## Episode End
    - Termination: the continuation contains ``.``, ``!`` or ``?``, or the agent emits EOS, or ``max_new_tokens``
      tokens generated (default 32): the horizon is part of the task, so it terminates too (``info["end_reason"]``
      says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Keywords-v0", model="tiny", reward_mode="dense", max_new_tokens=32, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "keywords"
    description = "write one sentence that uses every listed concept word, ended by a full stop"
    score_range = (0.0, 1.0)
    max_new_tokens = 32
    model = "tiny"

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`); each needs a ``concepts`` field: a list of words.
        """
        super().__init__(prompts=prompts)

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs ``data["concepts"]``: a non-empty list of words (letters only)."""
        prompt_concepts(prompt, self.name)

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("keywords", split)

    def score(self, prompt: Prompt, continuation: str) -> float:
        concepts = prompt_concepts(prompt, self.name)
        matcher = ConceptMatcher(concepts)
        end = next((i for i, ch in enumerate(continuation) if ch in SENTENCE_END), None)
        sentence = continuation if end is None else continuation[:end]
        words = [w.lower() for w in WORD_PATTERN.findall(sentence)]
        covered = {index for word in words for index in matcher.concepts(word)}
        content = [w for w in words if is_content_word(w)]
        return keywords_score(len(covered), len(concepts), len(words), len(content), len(set(content)), end is not None)

    def scorer(self, prompt: Prompt) -> Scorer:
        return KeywordsScorer(self, prompt)

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        return any(ch in SENTENCE_END for ch in continuation)


def draw_concept_words(
    rng: random.Random, nouns: Sequence[str] = CONCEPT_NOUNS, verbs: Sequence[str] = CONCEPT_VERBS
) -> list[str] | None:
    """3 or 4 concept words from ``nouns`` and ``verbs`` (by default the task's), one or two of them verbs, nouns
    first (unshuffled); ``None`` when two share a form."""
    size = rng.choice((3, 4))
    count = 2 if size == 4 and rng.random() < 0.4 else 1
    words = rng.sample(nouns, size - count) + rng.sample(verbs, count)
    forms = [word_forms(w) for w in words]
    if any(forms[i] & forms[j] for i in range(size) for j in range(i + 1, size)):
        return None
    return words


def concept_sets(count: int, seed: int) -> list[tuple[str, ...]]:
    """``count`` distinct concept sets of 3 or 4 words, each with one or two verbs (seeded)."""
    rng = random.Random(seed)
    chosen: dict[frozenset[str], tuple[str, ...]] = {}
    while len(chosen) < count:
        words = draw_concept_words(rng)
        if words is None:
            continue
        rng.shuffle(words)
        chosen.setdefault(frozenset(words), tuple(words))
    return list(chosen.values())


def generate_prompt_set(seed: int = 0, num_train: int = 400, num_eval: int = 100) -> dict[str, list[dict]]:
    """``num_train`` train and ``num_eval`` eval prompts with distinct concept sets, disjoint (seeded)."""
    rng = random.Random(seed + 1)
    records = []
    for concepts in concept_sets(num_train + num_eval, seed):
        text = rng.choice(PROMPT_TEMPLATES).format(concepts=", ".join(concepts))
        records.append({"text": text, "data": {"concepts": list(concepts)}})
    return {"train": records[:num_train], "eval": records[num_train:]}
