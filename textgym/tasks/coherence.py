"""Coherence: continue a story or a review fluently, on topic, without repeating yourself.

The score has three parts, each computable offline and deterministic:

- coherence: the share of the continuation's content words that belong to the prompt's
  topic (the prompt's own content words and the topic's keyword list);
- grammaticality: how predictable the continuation's tokens are to a frozen judge LM
  (the bundled ``"tiny"`` model) that reads the prompt first;
- repetition: the share of word trigrams that repeat an earlier trigram.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping

import numpy as np
import torch

from textgym.batch_scoring import TextBatchScorer
from textgym.models.kv_cache import cache_keyword, output_cache
from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

#: word n-grams counted by the repetition penalty
REPETITION_N = 3
#: the frozen LM that judges grammaticality, and where it runs
JUDGE_MODEL, JUDGE_DEVICE = "tiny", "cpu"
#: prompts whose key/value cache the judge keeps
PROMPT_CACHE_SIZE = 1024

# Function words, and generic words that fit any topic (neither on nor off topic).
STOPWORDS = frozenset(
    """
    a an the and or but nor so yet if then than because as while when where which who whom whose what that this these
    those
    there here of in on at to from by with without for about into onto over under after before during since until up
    down out
    off through again further once above below between among around near across along behind beside
    i me my mine myself we us our ours ourselves you your yours yourself he him his himself she her hers herself it its
    itself
    they them their theirs themselves one ones someone something anyone anything everyone everything nobody nothing
    am is are was were be been being have has had having do does did doing done will would shall should can could may
    might
    must ought get gets got getting go goes went gone going come comes came make makes made take took give gave say said
    not no yes all any both each few more most other some such only own same too very just also even still already ever
    never
    always often sometimes really quite rather almost enough much many lot lots bit little well how why whether
    i'm i've i'd i'll you're you've we're we've they're they've he's she's it's that's there's what's let's
    don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't couldn't shouldn't haven't hasn't hadn't
    good great nice fine bad terrible awful okay ok best better worse worst new old first last next like liked love
    loved
    thing things way time times day days year years people person kind sort part lot really pretty
    want wanted think thought know knew see saw seen look looked feel felt seem seemed find found try tried keep kept
    let put
    """.split()
)

def normalise(word: str) -> str:
    """A crude stem so that ``rooms`` meets ``room``: drop ``'s``, then a plural ``s`` (not ``ss``) on words of 4+
    letters."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


#: topic -> keywords, stored as :func:`normalise` leaves them
TOPIC_KEYWORDS: dict[str, frozenset[str]] = {
    name: frozenset(normalise(word) for word in keyword_text.split())
    for name, keyword_text in {
        "restaurant": "food dish dishes menu meal dinner lunch breakfast taste tasted tasty flavor flavour sauce "
        "waiter waitress staff service table kitchen chef cook cooked portion plate restaurant place order ordered "
        "drink wine beer dessert fresh spicy salty sweet delicious hot cold bill price cheap expensive soup pasta "
        "pizza curry salad steak fish noodle bread rice cheese meat chicken vegetable garlic cream cake coffee tea eat "
        "ate eating hungry starter course booked",
        "film": "film movie story plot actor actress acting scene script director screen cinema watch watched watching "
        "camera cast performance role dialogue audience minute hour sequel comedy thriller drama documentary horror "
        "ending music soundtrack character twist laugh laughed funny scary boring effect special theater theatre "
        "ticket popcorn seat trailer series episode animation animated lead hero villain",
        "hotel": "hotel room bed staff stay stayed night view bathroom shower clean dirty lobby desk reception check "
        "checked location beach town towel service booking booked price quiet noise noisy floor window balcony pool "
        "breakfast wifi guest manager key door lift elevator suite comfortable pillow sheet minibar holiday trip "
        "travel luggage",
        "product": "product bought buy buying price money quality work worked working use used using battery screen "
        "button box delivery delivered arrived broke broken design brand cheap expensive return returned warranty "
        "order ordered device cable charger charge plug power setting instruction manual plastic metal handle lid "
        "sound noise light weight size blender toaster kettle laptop phone camera backpack vacuum cleaner coffee maker "
        "headphone speaker keyboard",
        "book": "book novel story chapter author writer writing written write read reading page character plot ending "
        "word library series cover memoir biography poem poetry mystery fantasy cookbook recipe narrator prose style "
        "reader sentence paragraph twist hero heroine sequel publisher shelf bookshop review",
        "beach": "beach sand sea wave water sun sunny shore swim swam swimming shell towel boat sunset sky wind warm "
        "salt umbrella ice cream surf surfing bucket rock crab seagull coast tide",
        "market": "market stall vendor fruit vegetable bread cheese price bought buy sold sell basket apple orange "
        "tomato flower crowd busy shopping bag coin money farmer fresh fish honey egg",
        "park": "park tree grass bench dog walk walked path bird pond duck picnic playground swing ball kite flower "
        "leaves lawn gate fountain squirrel jog jogging",
        "station": "station train platform ticket travel journey passenger delayed delay late luggage suitcase rail "
        "track carriage seat conductor timetable arrived departure arrival wait waited waiting clock",
        "library": "library book shelf shelves quiet read reading librarian desk study studied page story novel author "
        "chapter borrow borrowed card table silence",
        "farm": "farm cow animal chicken horse barn field tractor egg farmer pig sheep goat hay milk crop fence mud "
        "harvest apple",
        "forest": "forest tree path leaves leaf bird walk walked wood river branch moss mushroom deer fox trail shadow "
        "hike hiking camp owl",
        "lake": "lake water boat fish fishing swim swam shore duck dock row rowing reed wave island pier cold splash",
        "bakery": "bakery bread cake baker smell smelled fresh oven pastry pastries croissant coffee flour sugar "
        "cookie muffin pie warm sweet loaf butter counter",
        "school": "school teacher class classroom friend lesson homework student bell desk test exam book pencil "
        "playground lunch learn learned study",
    }.items()
}

REVIEW_OPENINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # topic: (templates with {subject}, subjects)
    "restaurant": (
        (
            "The {subject} at this little restaurant was",
            "We ordered the {subject} for dinner, and",
            "I had heard a lot about the {subject} here, so",
            "Our waiter recommended the {subject}, which",
        ),
        ("pasta", "soup", "curry", "pizza", "burger", "salad", "steak", "fish", "noodles", "dessert", "bread", "lamb"),
    ),
    "film": (
        (
            "The {subject} we watched last night",
            "I went to see the new {subject} with my sister, and",
            "The ending of this {subject}",
            "The lead actor in this {subject}",
        ),
        ("film", "movie", "documentary", "thriller", "comedy", "sequel", "animated film", "horror movie"),
    ),
    "hotel": (
        (
            "The {subject} at this hotel was",
            "When we checked in, the {subject}",
            "We stayed three nights, and the {subject}",
        ),
        ("room", "bed", "breakfast", "pool", "lobby", "view", "bathroom", "front desk", "wifi", "location"),
    ),
    "product": (
        (
            "I bought this {subject} last week and",
            "The {subject} arrived yesterday, and",
            "After a month of using this {subject},",
        ),
        (
            "blender",
            "toaster",
            "kettle",
            "laptop",
            "phone",
            "camera",
            "backpack",
            "vacuum cleaner",
            "coffee maker",
            "pair of headphones",
        ),
    ),
    "book": (
        (
            "The first chapter of this {subject}",
            "I finished reading the {subject} on the train, and",
            "The author of this {subject}",
        ),
        ("novel", "book", "memoir", "cookbook", "mystery", "biography", "poetry collection", "fantasy series"),
    ),
}

STORY_TEMPLATES = (
    "On Saturday morning, {name} walked to the {place} and",
    "{name} had never been to the {place} before, so",
    "{name} went to the {place} for the first time, and",
)
STORY_NAMES = ("Maria", "Tom", "Anna", "Sam", "Lucy", "Ben", "Nora", "Leo")
STORY_PLACES = ("beach", "market", "park", "station", "library", "farm", "forest", "lake", "bakery", "school")
PROMPTS_PER_TOPIC, EVAL_PER_TOPIC = 20, 4


# -- words -----------------------------------------------------------------------------------


def is_word_character(ch: str) -> bool:
    """Letters, digits and the apostrophe of ``don't`` make words; everything else separates them."""
    return ch.isalnum() or ch == "'"


def words(text: str) -> list[str]:
    """The lowercased words of ``text``: runs of word characters, apostrophes stripped from the ends."""
    out = []
    for is_word, run in itertools.groupby(text, is_word_character):
        if is_word:
            word = "".join(run).strip("'").lower()
            if word:
                out.append(word)
    return out


def is_content_word(word: str) -> bool:
    """Not a function word nor a generic one (``likes`` counts as ``like``), nor a number."""
    return word not in STOPWORDS and normalise(word) not in STOPWORDS and not word.isdigit()


def topic_words(prompt: Prompt) -> frozenset[str]:
    """What counts as on topic: the prompt's content words plus ``data["keywords"]`` or its topic's keywords."""
    own = {normalise(w) for w in words(prompt.text) if is_content_word(w)}
    keywords: Iterable[str] = prompt.data.get("keywords") or TOPIC_KEYWORDS.get(prompt.data.get("topic", ""), ())
    return frozenset(own | {normalise(w.lower()) for w in keywords})


def coherence_of(continuation_words: list[str], on_topic: frozenset[str]) -> float:
    """Share of the content words that are on topic; 0 without content words."""
    content = [normalise(w) for w in continuation_words if is_content_word(w)]
    return sum(w in on_topic for w in content) / len(content) if content else 0.0


def repetition_of(continuation_words: list[str], n: int = REPETITION_N) -> float:
    """Share of word n-grams that repeat an earlier one: ``(count - distinct) / count``; 0 without n-grams."""
    grams = [tuple(continuation_words[i : i + n]) for i in range(len(continuation_words) - n + 1)]
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


def token_confidence(log_prob: float, vocab_size: int) -> float:
    """``max(0, 1 - NLL / log V)``: 1 for a token the judge is sure of, 0 for one no likelier than a uniform guess."""
    return max(0.0, 1.0 + log_prob / math.log(vocab_size))


def grammaticality_of(confidence_sum: float, num_tokens: int) -> float:
    """The mean token confidence; 0 without tokens."""
    return confidence_sum / num_tokens if num_tokens else 0.0


def coherence_score(coherence: float, grammaticality: float, repetition: float) -> float:
    """``0.5 * coherence + 0.5 * grammaticality - repetition``, in ``[-1, 1]``."""
    return 0.5 * coherence + 0.5 * grammaticality - repetition


# -- the judge ---------------------------------------------------------------------------------

KeyValues = list[tuple[torch.Tensor, torch.Tensor]]


def _key_values(cache) -> KeyValues:
    """Per-layer (keys, values) tensors of a transformers cache object (transformers >= 5: a ``Cache`` of layers)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def _cache_from(key_values: KeyValues):
    """A fresh ``DynamicCache`` holding ``key_values`` (the tensors themselves are never modified)."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=key_values)


class LanguageJudge:
    """Log-likelihoods of continuations under a frozen causal LM that reads the prompt first.

    The context is ``<|endoftext|>`` (the document separator the bundled model was trained
    with) followed by the prompt's tokens; the key/value cache of every prompt is computed
    once and kept (up to ``PROMPT_CACHE_SIZE`` prompts), so scoring a continuation runs the
    model on the continuation's tokens only.
    """

    def __init__(self, model_name: str = JUDGE_MODEL, device: str = JUDGE_DEVICE) -> None:
        from textgym.models import load_frozen

        lm = load_frozen(model_name, device)
        self.model, self.tokenizer, self.device = lm.model, lm.tokenizer, lm.device
        self.vocab_size = int(self.model.config.vocab_size)
        self.max_positions = lm.context_length
        self._cache_keyword = cache_keyword(self.model)
        self._prompt_states: OrderedDict[str, tuple[list[int], KeyValues]] = OrderedDict()
        self._bare_tokenizer = _BareTokenizer(
            self.tokenizer
        )  # one object: RowTokenizer works its setup out once per tokenizer

    def context_ids(self, prompt_text: str) -> list[int]:
        """``<|endoftext|>`` and the prompt's tokens, the oldest dropped beyond half the model's context."""
        ids = [self.tokenizer.eos_token_id] + self.tokenizer.encode(prompt_text)
        return ids[-(self.max_positions // 2) :]

    def continuation_ids(self, context_length: int, continuation: str) -> list[int]:
        """The continuation's tokens that fit in the model's context after the prompt."""
        return self.fitting(context_length, self.tokenizer.encode(continuation))

    def fitting(self, context_length: int, ids: list[int]) -> list[int]:
        """The first of the continuation's ``ids`` that fit in the model's context after ``context_length`` ones."""
        return ids[: self.max_positions - context_length]

    def row_tokenizer(self, num_rows: int):
        """A :class:`~textgym.models.incremental_reward.RowTokenizer` of the judge's tokenizer for ``num_rows`` growing
        texts: the ids :meth:`TextTokenizer.encode` gives, re-tokenising only each text's tail where that is exact."""
        from textgym.models.incremental_reward import RowTokenizer

        return RowTokenizer.for_tokenizer(self._bare_tokenizer, num_rows)

    @torch.no_grad()
    def forward(
        self, ids: list[int], key_values: KeyValues | None, use_cache: bool = True
    ) -> tuple[torch.Tensor, KeyValues]:
        """Log-probabilities (float64, one row per input token) and the grown key/value cache (``[]`` without
        ``use_cache``)."""
        inputs = torch.tensor([ids], dtype=torch.int64, device=self.device)
        kwargs = {self._cache_keyword: _cache_from(key_values)} if key_values else {}
        output = self.model(input_ids=inputs, use_cache=use_cache, **kwargs)
        log_probs = torch.log_softmax(output.logits[0].double(), dim=-1)
        if not use_cache:
            return log_probs, []
        return log_probs, _key_values(output_cache(output))

    def prompt_state(self, prompt_text: str) -> tuple[list[int], KeyValues]:
        """The context ids and the key/value cache of all of them but the last (cached per prompt)."""
        state = self._prompt_states.get(prompt_text)
        if state is None:
            context = self.context_ids(prompt_text)
            key_values = self.forward(context[:-1], None)[1] if len(context) > 1 else []
            state = self._prompt_states[prompt_text] = (context, key_values)
            if len(self._prompt_states) > PROMPT_CACHE_SIZE:
                self._prompt_states.popitem(last=False)
        else:
            self._prompt_states.move_to_end(prompt_text)
        return state

    def token_log_probs(self, prompt_text: str, continuation: str) -> list[float]:
        """``log p(token | prompt, previous tokens)`` of every continuation token, in one pass without caches."""
        context = self.context_ids(prompt_text)
        ids = self.continuation_ids(len(context), continuation)
        if not ids:
            return []
        log_probs = self.forward(context + ids[:-1], None, use_cache=False)[0][len(context) - 1 :]
        return log_probs.gather(1, torch.tensor(ids, device=self.device).unsqueeze(1)).squeeze(1).tolist()


class _BareTokenizer:
    """A :class:`~textgym.models.tokenizer.TextTokenizer` called as a Hugging Face tokenizer is (no special tokens
    added), for :class:`~textgym.models.incremental_reward.RowTokenizer`."""

    def __init__(self, tokenizer) -> None:
        self.backend_tokenizer = tokenizer.backend

    def __call__(self, texts):
        if isinstance(texts, str):
            return {"input_ids": self.backend_tokenizer.encode(texts, add_special_tokens=False).ids}
        return {
            "input_ids": [
                encoding.ids for encoding in self.backend_tokenizer.encode_batch(list(texts), add_special_tokens=False)
            ]
        }


@functools.lru_cache(maxsize=4)
def shared_judge(model_name: str = JUDGE_MODEL, device: str = JUDGE_DEVICE) -> LanguageJudge:
    """One :class:`LanguageJudge` per model and device, shared by every task and scorer."""
    return LanguageJudge(model_name, device)


class IncrementalLikelihood:
    """The token confidences of a growing continuation, recomputing only what changed.

    The text is re-tokenised at each update (a byte-pair merge can rewrite the last token,
    e.g. ``" wa"`` then ``" water"``); tokens up to the first change keep their
    log-probabilities and key/value entries, and the model runs on the rest, so appending
    text costs the new tokens' forward pass (attending over the sequence) plus the
    tokenisation of the text.

    Invariant: ``self.key_values`` holds every token of context + continuation but the last.
    """

    def __init__(self, judge: LanguageJudge, prompt_text: str) -> None:
        self.judge = judge
        self.context, self.key_values = judge.prompt_state(prompt_text)
        self.ids: list[int] = []
        #: running sums of the token confidences: ``prefix_sums[i]`` is the sum over the first ``i`` tokens
        self.prefix_sums: list[float] = [0.0]

    def update(self, continuation: str) -> tuple[float, int]:
        """The summed :func:`token_confidence` of ``continuation``'s tokens and their count."""
        new_ids = self.judge.continuation_ids(len(self.context), continuation)
        common = 0
        for old, new in zip(self.ids, new_ids):
            if old != new:
                break
            common += 1
        keep = len(self.context) + common - 1
        key_values = [(k[..., :keep, :], v[..., :keep, :]) for k, v in self.key_values] if keep else None
        if len(new_ids) > common:
            previous_token = new_ids[common - 1] if common else self.context[-1]
            step_ids = [previous_token] + new_ids[common:-1]
            log_probs, key_values = self.judge.forward(step_ids, key_values)
            targets = torch.tensor(new_ids[common:], device=log_probs.device).unsqueeze(1)
            fresh = log_probs.gather(1, targets).squeeze(1).tolist()
        else:
            fresh = []
        self.key_values, self.ids = key_values, new_ids
        del self.prefix_sums[common + 1 :]
        for log_prob in fresh:
            self.prefix_sums.append(self.prefix_sums[-1] + token_confidence(log_prob, self.judge.vocab_size))
        return self.prefix_sums[-1], len(self.ids)


class _HiddenStates(torch.nn.Module):
    """The head :class:`~textgym.models.incremental_reward.IncrementalClassifier` applies to a forward's last hidden
    states: none (they are kept as they are; the judge's LM head reads only the positions it needs)."""

    def __init__(self, lm_head: torch.nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.weight_dtype = lm_head.weight.dtype
        self.out_features = hidden_size

    @property
    def weight(self) -> torch.Tensor:  # the dtype of the attention mask
        return torch.empty(0, dtype=self.weight_dtype)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden


class _JudgeBody:
    """The judge LM seen as a decoder whose head yields hidden states, for :class:`IncrementalClassifier`."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.base_model = model.base_model
        self.config = model.config
        self.score = _HiddenStates(model.get_output_embeddings(), int(model.config.hidden_size))
        self.parameters = model.parameters


class BatchedLikelihood:
    """The token confidences of ``num_rows`` growing continuations, all rows fed in one judge forward.

    Each row holds ``<|endoftext|>`` + prompt + continuation tokens at its own columns of one
    key/value buffer per layer (:class:`~textgym.models.incremental_reward.IncrementalClassifier`,
    which feeds every row its new tokens in one forward with explicit positions and a mask that
    lets each row see only itself), and the hidden state of every token; the judge's LM head
    then reads the positions whose next token is new, for all rows at once. A row starts from
    its prompt's cached key/values (:meth:`LanguageJudge.prompt_state`), copied in, no forward.
    What it computes is :class:`IncrementalLikelihood`'s, row by row, up to float rounding of a
    padded batch (~1e-7).
    """

    def __init__(self, judge: LanguageJudge, num_rows: int) -> None:
        from textgym.models.incremental_reward import IncrementalClassifier

        self.judge = judge
        self.head = judge.model.get_output_embeddings()
        self.engine = IncrementalClassifier(_JudgeBody(judge.model), num_rows, None, judge.max_positions)
        self.row_tokenizer = judge.row_tokenizer(num_rows)  # each row's continuation ids, re-tokenising its tail only
        self.contexts: list[list[int]] = [[] for _ in range(num_rows)]
        self.ids: list[list[int]] = [[] for _ in range(num_rows)]
        self.prefix_sums: list[list[float]] = [[0.0] for _ in range(num_rows)]

    @property
    def forwards(self) -> int:
        """Judge forwards so far (all rows together)."""
        return self.engine.forwards

    def reset_row(self, row: int, prompt_text: str) -> None:
        """Start ``row`` on ``prompt_text``: its cached context key/values copied into the row's columns."""
        from textgym.models.incremental_reward import RowStore

        context, key_values = self.judge.prompt_state(prompt_text)
        engine = self.engine
        self.contexts[row], self.ids[row], self.prefix_sums[row] = context, [], [0.0]
        engine.reset_rows([row])
        self.row_tokenizer.reset_rows([row])
        held = len(context) - 1
        if held and key_values:
            one = RowStore(1, engine.num_layers, engine.device, capacity=held)
            one.keys = [k[..., :held, :] for k, _ in key_values]
            one.values = [v[..., :held, :] for _, v in key_values]
            one.logits = torch.zeros(
                (1, held, engine.head.out_features), dtype=key_values[0][0].dtype, device=engine.device
            )
            engine.store.copy_rows_from(one, torch.as_tensor([row], device=engine.device), held)
            engine.store.lengths[row] = held
            engine.ids[row] = list(context[:-1])

    @torch.no_grad()
    def update(self, rows: list[int], continuations: list[str]) -> list[tuple[float, int]]:
        """The summed token confidence of each row's continuation and its token count, the rows fed in one forward."""
        judge, engine = self.judge, self.engine
        targets, commons = [], []
        encoded = self.row_tokenizer.encode(rows, continuations)
        for row, all_ids in zip(rows, encoded):
            context = self.contexts[row]
            new_ids = judge.fitting(len(context), all_ids)
            common = 0
            for old, new in zip(self.ids[row], new_ids):
                if old != new:
                    break
                common += 1
            targets.append(context + new_ids)
            commons.append(common)
            self.ids[row] = new_ids
        if rows:
            engine.set_ids(rows, targets)
        # the hidden state at position len(context) - 1 + i predicts continuation token i
        where_rows, where_columns, wanted = [], [], []
        for row, common in zip(rows, commons):
            first = len(self.contexts[row]) - 1
            for i in range(common, len(self.ids[row])):
                where_rows.append(row)
                where_columns.append(first + i)
                wanted.append(self.ids[row][i])
        confidences: list[float] = []
        if wanted:
            device = engine.device
            hidden = engine.store.logits[
                torch.as_tensor(where_rows, device=device), torch.as_tensor(where_columns, device=device)
            ]
            log_probs = torch.log_softmax(self.head(hidden).double(), dim=-1)
            picked = log_probs.gather(1, torch.as_tensor(wanted, device=device).unsqueeze(1)).squeeze(1).tolist()
            confidences = [token_confidence(log_prob, judge.vocab_size) for log_prob in picked]
        out, at = [], 0
        for row, common in zip(rows, commons):
            sums = self.prefix_sums[row]
            del sums[common + 1 :]
            for _ in range(common, len(self.ids[row])):
                sums.append(sums[-1] + confidences[at])
                at += 1
            out.append((sums[-1], len(self.ids[row])))
        return out


# -- incremental word statistics -------------------------------------------------------------


class WordStatistics:
    """Content-word and trigram counts of a growing text, fed only the appended characters.

    Finished words (followed by a separator) are counted once; the word still being
    written is kept apart and added on the fly, so each update costs O(len(appended)).
    """

    def __init__(self, on_topic: frozenset[str], n: int = REPETITION_N) -> None:
        self.on_topic, self.n = on_topic, n
        self.content = self.on_topic_count = 0
        self.grams: Counter[tuple[str, ...]] = Counter()
        self.gram_count = 0
        self.recent: list[str] = []  # the last n - 1 finished words
        self.pending = ""  # characters of the word being written

    def feed(self, appended: str) -> None:
        for ch in appended:
            if is_word_character(ch):
                self.pending += ch
            elif self.pending:
                self._finish(self.pending)
                self.pending = ""

    def _finish(self, raw: str) -> None:
        word = raw.strip("'").lower()
        if not word:
            return
        if is_content_word(word):
            self.content += 1
            self.on_topic_count += normalise(word) in self.on_topic
        if len(self.recent) == self.n - 1:
            self.grams[(*self.recent, word)] += 1
            self.gram_count += 1
        self.recent = (self.recent + [word])[-(self.n - 1) :]

    def coherence(self) -> float:
        content, hits = self.content, self.on_topic_count
        word = self.pending.strip("'").lower()
        if word and is_content_word(word):
            content += 1
            hits += normalise(word) in self.on_topic
        return hits / content if content else 0.0

    def repetition(self) -> float:
        count, distinct = self.gram_count, len(self.grams)
        word = self.pending.strip("'").lower()
        if word and len(self.recent) == self.n - 1:
            count += 1
            distinct += (*self.recent, word) not in self.grams
        return (count - distinct) / count if count else 0.0


class CoherenceScorer(Scorer):
    """Word statistics fed the appended text; the judge's token confidences updated from the first changed token."""

    def __init__(self, task: CoherenceTask, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.statistics = WordStatistics(topic_words(prompt))
        self.likelihood: IncrementalLikelihood | None = None  # the judge loads on the first text

    def update(self, continuation: str, appended: str) -> float:
        if not continuation:
            return 0.0
        self.statistics.feed(appended)
        if self.likelihood is None:
            self.likelihood = IncrementalLikelihood(self.task.judge, self.prompt.text)
        grammaticality = grammaticality_of(*self.likelihood.update(continuation))
        return coherence_score(self.statistics.coherence(), grammaticality, self.statistics.repetition())


class CoherenceBatchScorer(TextBatchScorer):
    """The rows' word statistics fed their appended text; the judge reads every row whose text changed in one forward
    per step (:class:`BatchedLikelihood`), not one per row."""

    task: CoherenceTask

    def __init__(self, task: CoherenceTask, tokenizer, num_envs: int, arrays, prompts) -> None:
        super().__init__(task, tokenizer, num_envs, arrays, prompts)
        self._statistics: list[WordStatistics | None] = [None] * num_envs
        self._likelihood: BatchedLikelihood | None = None  # the judge loads on the first reset

    def reset_rows(self, rows, prompt_indices) -> None:
        if self._likelihood is None:
            self._likelihood = BatchedLikelihood(self.task.judge, self.num_envs)
        for row, index in zip(rows.tolist(), prompt_indices.tolist()):
            prompt = self.prompts[index]
            self._texts[row] = ""
            self._decoders[row] = self.tokenizer.incremental_decoder()
            self._prompts[row] = prompt
            self._statistics[row] = WordStatistics(topic_words(prompt))
            self._likelihood.reset_row(row, prompt.text)
            self._scores[row] = 0.0  # score("") = 0
        self._publish()

    def step(self, tokens, active):
        token_list = tokens.tolist()
        changed = []
        for row in np.flatnonzero(self.arrays.to_host(active)).tolist():
            appended = self._decoders[row].push(token_list[row])
            if appended:
                self._append(row, appended)
                changed.append(row)
        self._rescore(changed)
        self._publish()
        return self.scores

    def finish_rows(self, rows):
        changed = []
        for row in rows.tolist():
            rest = self._decoders[row].flush()
            if rest:
                self._append(row, rest)
                changed.append(row)
        if changed:
            self._rescore(changed)
            self._publish()
        return self.scores

    def _append(self, row: int, appended: str) -> None:
        self._texts[row] += appended
        self._statistics[row].feed(appended)

    def _rescore(self, rows: list[int]) -> None:
        if not rows:
            return
        parts = self._likelihood.update(rows, [self._texts[row] for row in rows])
        for row, (confidence_sum, count) in zip(rows, parts):
            statistics = self._statistics[row]
            score = coherence_score(
                statistics.coherence(), grammaticality_of(confidence_sum, count), statistics.repetition()
            )
            self._scores[row] = self.task.checked_score(score)


class CoherenceTask(Task):
    """Continue a story or a review fluently, on topic, without repeating yourself.

    ## Description
    The prompt is the opening of a review or a short story, such as
    ``"The soup at this little restaurant was"`` or
    ``"Tom had never been to the bakery before, so"``. The agent writes the continuation;
    it scores by staying on the prompt's topic, by writing text that a frozen language
    model finds natural, and loses by repeating itself.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score: ``0.5 * coherence + 0.5 * grammaticality - repetition``, in ``[-1, 1]``;
    ``score("") = 0``. On the continuation's lowercased words (runs of letters, digits
    and apostrophes):

    - ``coherence`` in ``[0, 1]``: the share of content words (not function words nor
      generic words such as "good" or "thing"; plural ``s`` dropped) that are on topic:
      among the prompt's own content words or its topic's keywords (``data["topic"]``,
      or a custom ``data["keywords"]`` list). 0 without content words.
    - ``grammaticality`` in ``[0, 1]``: the mean over the continuation's tokens of
      ``max(0, 1 - NLL / log V)``, where ``NLL = -log p(token | <|endoftext|> + prompt +
      previous tokens)`` under the frozen bundled ``"tiny"`` model (on CPU), the
      continuation re-tokenised with its tokenizer, and ``V`` = 4096 its vocabulary: a
      token scores 1 when the judge is certain of it and 0 when it is no likelier than a
      uniform guess; clipping per token keeps one absurd token from zeroing the whole
      text. (Inverse perplexity, ``exp(-mean NLL)``, would sit near 0.01-0.05 for fluent
      text and leave this part almost no weight.) 0 without tokens.
    - ``repetition`` in ``[0, 1)``: ``(count - distinct) / count`` over the word
      trigrams; ``"The cat sat on the mat. "`` said five times has 28 trigrams, 6 distinct:
      ``22/28 = 0.79``. 0 with fewer than three words.

    The word statistics update in O(len(appended)). The judge keeps each prompt's
    key/value cache and, per step, re-tokenises the text (microseconds) and runs the model
    on the tokens that changed only (usually one), attending over the O(length) sequence.
    The batched env feeds all rows whose text changed in one judge forward per step
    (:class:`CoherenceBatchScorer`), equal to the single env's per-row reads up to float
    rounding (~1e-7).

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. After ``"The soup at this little
      restaurant was"``, writing ``" cold"``, ``" and"``, ``" the"``, ``" service"``,
      ``" was"``, ``" slow"``, ``"."`` then EOS gives scores ``0.6951, 0.7785, 0.8159,
      0.7369, 0.7866, 0.6144, 0.6446, 0.6446``, so rewards ``+0.6951, +0.0834, +0.0374,
      -0.0790, +0.0497, -0.1722, +0.0301, 0``, summing to ``0.6446``. "cold" and "service"
      are restaurant keywords, "slow" is not (coherence 1, then 2/3); grammaticality
      moves token by token and ends at 0.6225; no trigram repeats. (Numbers for the
      shipped ``"tiny"`` judge.)
    - sparse: 0 at every step and the final score at the last one: ``0, ..., 0, 0.6446``.

    ## Starting State
    An opening drawn uniformly from the split (240 train, 60 eval, disjoint; 15 topics:
    restaurant, film, hotel, product and book reviews, and stories set at a beach, market,
    park, station, library, farm, forest, lake, bakery or school) with the environment's
    seeded RNG.

    ## Episode End
    - Termination: the agent emits EOS, or ``max_new_tokens`` tokens generated (default 32): the horizon is part
      of the task, so it terminates too (``info["end_reason"]`` says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Coherence-v0", model="tiny", reward_mode="dense", max_new_tokens=32, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "coherence"
    description = "continue the opening fluently and on topic, without repeating yourself"
    score_range = (-1.0, 1.0)
    max_new_tokens = 32
    model = "tiny"
    #: the frozen LM whose confidence is the grammaticality term
    judge_model = JUDGE_MODEL

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`); optional fields ``keywords`` (a list of words) and
                ``topic``.
        """
        super().__init__(prompts=prompts)

    def check_prompt(self, prompt: Prompt) -> None:
        """Optional ``data["keywords"]`` must be a list of strings, ``data["topic"]`` a string."""
        keywords, topic = prompt.data.get("keywords"), prompt.data.get("topic")
        if keywords is not None and (
            not isinstance(keywords, (list, tuple)) or not all(isinstance(w, str) for w in keywords)
        ):
            raise TaskError(
                f"task {self.name!r}: prompt {prompt.text!r}: data['keywords'] must be a list of words, got "
                f"{keywords!r}"
            )
        if topic is not None and not isinstance(topic, str):
            raise TaskError(
                f"task {self.name!r}: prompt {prompt.text!r}: data['topic'] must be a string, got {topic!r}"
            )

    @property
    def judge(self) -> LanguageJudge:
        """The frozen judge LM (loaded on first use, shared by all coherence tasks with the same judge model)."""
        return shared_judge(self.judge_model)

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("coherence", split)

    def parts(self, prompt: Prompt, continuation: str) -> dict[str, float]:
        """``coherence``, ``grammaticality``, ``repetition`` and ``score`` of ``continuation``, computed from
        scratch."""
        if not continuation:
            return {"coherence": 0.0, "grammaticality": 0.0, "repetition": 0.0, "score": 0.0}
        continuation_words = words(continuation)
        log_probs = self.judge.token_log_probs(prompt.text, continuation)
        parts = {
            "coherence": coherence_of(continuation_words, topic_words(prompt)),
            "grammaticality": grammaticality_of(
                sum(token_confidence(lp, self.judge.vocab_size) for lp in log_probs), len(log_probs)
            ),
            "repetition": repetition_of(continuation_words),
        }
        parts["score"] = coherence_score(parts["coherence"], parts["grammaticality"], parts["repetition"])
        return parts

    def score(self, prompt: Prompt, continuation: str) -> float:
        return self.parts(prompt, continuation)["score"]

    def scorer(self, prompt: Prompt) -> Scorer:
        return CoherenceScorer(self, prompt)

    def batch_scorer(self, tokenizer, num_envs: int, arrays, prompts: list[Prompt]):
        return CoherenceBatchScorer(self, tokenizer, num_envs, arrays, prompts)


def topic_prompts(topic: str) -> list[str]:
    """Every opening the templates make for ``topic``."""
    if topic in REVIEW_OPENINGS:
        templates, subjects = REVIEW_OPENINGS[topic]
        return [t.format(subject=s) for t in templates for s in subjects]
    return [t.format(name=n, place=topic) for t in STORY_TEMPLATES for n in STORY_NAMES]


def generate_prompt_set(seed: int = 0) -> dict[str, list[Mapping]]:
    """240 train and 60 eval openings, disjoint: 16 and 4 from each of the 15 topics (seeded)."""
    rng = random.Random(seed)
    train, evaluation = [], []
    for topic in list(REVIEW_OPENINGS) + list(STORY_PLACES):
        chosen = rng.sample(topic_prompts(topic), PROMPTS_PER_TOPIC)
        records = [{"text": text, "data": {"topic": topic}} for text in chosen]
        train += records[EVAL_PER_TOPIC:]
        evaluation += records[:EVAL_PER_TOPIC]
    rng.shuffle(train)
    rng.shuffle(evaluation)
    return {"train": train, "eval": evaluation}
