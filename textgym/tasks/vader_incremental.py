"""VADER's compound score: of a whole text, and of a growing text updated in (amortised) constant time per append.

This module owns textgym's use of VADER: :func:`vader` (the shared analyser), :func:`vader_compound`
(the compound of a whole text: the score of :class:`~textgym.tasks.sentiment.SentimentTask`, which
re-exports both) and its incremental form. :class:`IncrementalVader` returns, after every
:meth:`~IncrementalVader.append`, exactly the value that
``round(SentimentIntensityAnalyzer().polarity_scores(text)["compound"], 4)`` (through
:func:`vader_compound`) returns for the whole text so far.
It reproduces ``polarity_scores`` of vaderSentiment 3.3.x step by step:

1. **Emoji replacement** is per character, and depends only on whether the previous
   character was a space (``prev_space``): carried across appends.
2. **Words** are the whitespace-separated runs of the emoji-free text, each passed through
   ``SentiText._strip_punc_if_word``. A word is *complete* once whitespace follows it;
   only the last run (the *partial* word) can still change.
3. **Per-word valence.** Word ``i``'s valence depends on words ``i-3 .. i+2`` only (look-backs
   for boosters, negations, "least", idioms; look-aheads for "no", "kind of" and special
   idioms, plus whether words ``i+1`` and ``i+2`` exist) and on the global flag
   ``is_cap_diff``. So with ``m`` complete words, words ``0 .. m-3`` are *frozen*: their
   valences are computed once (per value of the flag) and cached. Each append recomputes
   only the tail (the last two complete words and the partial word, or more when one
   append brings several words) with VADER's own ``sentiment_valence``, called on the
   window ``words[i-3 : i+3]`` rather than on the whole list (its helpers lower-case the
   list they are given, so a whole-list call would cost O(length)).
4. **``is_cap_diff``** (some but not all words ALL CAPS) comes from running counts. When it
   flips, the valences under the new value are needed for every word: the first time a
   flag value is seen, its cache is built from scratch (a full recomputation, O(words));
   afterwards the cache of each flag value is only extended, by the words frozen since
   it was last used. Each word is thus computed at most once per flag value: the flip
   costs are amortised O(1) per word (in practice the flag settles after the first few
   words).
5. **``_but_check``** (the first "but" halves the valences before it and multiplies those
   after it by 1.5) is reproduced with its quirk: for each position ``k`` in order it
   rescales ``sentiments[sentiments.index(sentiments[k])]``, i.e. the *first* current
   element equal to the value at ``k``, which can be an earlier (already rescaled)
   element. Step ``k`` only reads positions ``<= k``, so the processed frozen prefix is
   carried, with an index ``value -> positions`` that finds ``list.index`` in O(1); the
   tail steps run on a small overlay each append. Before a frozen "but" exists every
   frozen step uses the factor 0.5 (the first "but", if any, comes later).
6. **Score**: ``sum`` of the processed list (one C-level pass over a list of floats, the
   same call VADER makes, so the float result is bit-for-bit the same whatever the
   Python version's ``sum``), punctuation emphasis from running counts of ``!`` and ``?``
   (through VADER's own ``_amplify_ep``/``_amplify_qm``), ``normalize``, ``round(., 4)``.

Cost of one append: O(len(appended)) for emojis and splitting, a handful of
``sentiment_valence`` calls, and two C-level passes (list copy and ``sum``) over the word
valences: the per-append cost is flat in the text length up to those passes.

If ``update`` is given a continuation that is not the previous one plus ``appended``,
the state is rebuilt from the whole continuation (a full recomputation).
"""

from __future__ import annotations

import bisect
import functools
import string
from types import SimpleNamespace

from vaderSentiment import vaderSentiment as _vs

from textgym.task import Prompt, Scorer, Task

__all__ = ["IncrementalVader", "VaderScorer", "vader", "vader_compound"]

_PUNCTUATION = string.punctuation
_BOOSTERS = _vs.BOOSTER_DICT
_FAR = 1 << 62  # "no 'but' among the complete words"


@functools.lru_cache(maxsize=1)
def vader() -> _vs.SentimentIntensityAnalyzer:
    """The shared VADER analyser (its lexicon ships with ``vaderSentiment``)."""
    return _vs.SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound sentiment of ``text`` in ``[-1, 1]``; 0 for empty text."""
    if not text.strip():
        return 0.0
    return float(vader().polarity_scores(text)["compound"])


def _strip_punc_if_word(token: str) -> str:
    # SentiText._strip_punc_if_word, without the class lookup
    stripped = token.strip(_PUNCTUATION)
    if len(stripped) <= 2:
        return token
    return stripped


def _factor(si: int, bi: int) -> float | None:
    """The ``_but_check`` factor for the element at ``si``: ``None`` means unchanged."""
    if si < bi:
        return 0.5
    if si > bi:
        return 1.5
    return None


_AMPLIFIERS: dict[tuple[type, int, int], float] = {}


def _amplifier(analyzer: _vs.SentimentIntensityAnalyzer, exclaims: int, questions: int) -> float:
    """``polarity_scores``' punctuation emphasis for ``exclaims`` ``!`` and ``questions`` ``?`` (each at most 4).

    Computed once per analyser class and counts.
    """
    key = (type(analyzer), exclaims, questions)
    value = _AMPLIFIERS.get(key)
    if value is None:
        value = _AMPLIFIERS[key] = analyzer._amplify_ep("!" * exclaims) + analyzer._amplify_qm("?" * questions)
    return value


class _FlagCache:
    """Frozen-prefix state for one value of ``is_cap_diff``.

    ``vals``: raw valences of the frozen words (no "but" anywhere: used as they are).
    ``proc``: the frozen prefix after ``_but_check``'s steps ``0 .. len-1``, assuming a
    "but" exists (the first complete "but" when it is frozen, else one after the prefix).
    ``where``: value -> ascending positions ``j`` with ``proc[j] == value`` (dict keys
    compare numerically, like ``list.index``).
    """

    __slots__ = ("flag", "vals", "proc", "where")

    def __init__(self, flag: bool) -> None:
        self.flag = flag
        self.vals: list = []
        self.proc: list = []
        self.where: dict = {}

    def push(self, s, first_but: int) -> None:
        """Freeze one more word of raw valence ``s``; ``first_but`` as in IncrementalVader."""
        k = len(self.vals)
        self.vals.append(s)
        proc, where = self.proc, self.where
        positions = where.get(s)
        si = positions[0] if positions else k
        f = _factor(si, first_but)
        new = s if f is None else s * f
        if si == k:
            proc.append(new)
            where.setdefault(new, []).append(k)
            return
        # an earlier element equal to s is rescaled; position k keeps s
        if f is not None:
            proc[si] = new
            if new != s:
                positions.pop(0)
                if not positions:
                    del where[s]
                bisect.insort(where.setdefault(new, []), si)
        proc.append(s)
        where.setdefault(s, []).append(k)


class IncrementalVader:
    """VADER compound of a text that grows by appends; see the module docstring.

    >>> iv = IncrementalVader()
    >>> [iv.append(t) for t in (" really", " great", ".")]
    [0.0, 0.659, 0.659]
    """

    def __init__(self, analyzer: _vs.SentimentIntensityAnalyzer | None = None) -> None:
        if analyzer is None:
            analyzer = vader()
        self.analyzer = analyzer
        self._lexicon = analyzer.lexicon
        self._emojis = analyzer.emojis
        self.reset()

    # -- state -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the text: back to the empty string."""
        self.length = 0  # characters of raw text seen
        self._any_text = False  # some non-whitespace raw character seen
        self._prev_space = True  # emoji replacement state
        self._words: list[str] = []  # complete words (stripped)
        self._partial = ""  # raw characters of the last, unfinished run
        self._caps = 0  # complete words that are ALL CAPS
        self._first_but = _FAR  # index of the first complete word "but"
        self._exclaims = 0
        self._questions = 0
        self._caches: dict[bool, _FlagCache] = {}
        self.full_recomputations = 0  # times a flag cache was built from scratch
        self.score = 0.0

    # -- words -------------------------------------------------------------------------

    def _replace_emojis(self, text: str) -> str:
        if text.isascii():  # no emoji is ASCII: only the space state moves
            self._prev_space = text[-1] == " "
            return text
        emojis = self._emojis
        prev_space = self._prev_space
        out = []
        for ch in text:
            description = emojis.get(ch)
            if description is not None:
                if not prev_space:
                    out.append(" ")
                out.append(description)
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        self._prev_space = prev_space
        return "".join(out)

    def _push_words(self, text: str) -> None:
        run = self._partial + text
        parts = run.split()
        if run and not run[-1].isspace() and parts:
            self._partial = parts.pop()
        else:
            self._partial = ""
        words = self._words
        for raw in parts:
            word = _strip_punc_if_word(raw)
            if word.isupper():
                self._caps += 1
            if self._first_but == _FAR and word.lower() == "but":
                self._first_but = len(words)
            words.append(word)

    # -- valences ----------------------------------------------------------------------

    def _valence(self, window: list[str], j: int, flag: bool):
        """Raw valence of ``window[j]`` as ``polarity_scores`` computes it.

        ``window`` holds the word's neighbours ``i-3 .. i+2`` (as many as exist).
        """
        item = window[j]
        lower = item.lower()
        if lower in _BOOSTERS or lower not in self._lexicon:  # sentiment_valence gives 0 to a word off the lexicon
            return 0
        if j < len(window) - 1 and lower == "kind" and window[j + 1].lower() == "of":
            return 0
        sentitext = SimpleNamespace(is_cap_diff=flag, words_and_emoticons=window)
        return self.analyzer.sentiment_valence(0, sentitext, item, j, [])[-1]

    def _cache(self, flag: bool, frozen: int) -> _FlagCache:
        cache = self._caches.get(flag)
        if cache is None:
            cache = self._caches[flag] = _FlagCache(flag)
            if frozen > 0:
                self.full_recomputations += 1
        words, first_but = self._words, self._first_but
        for i in range(len(cache.vals), frozen):
            lo = i - 3 if i > 3 else 0
            cache.push(self._valence(words[lo : i + 3], i - lo, flag), first_but)
        return cache

    # -- score -------------------------------------------------------------------------

    def append(self, text: str) -> float:
        """Append ``text``; return the compound score of the whole text so far."""
        if not text:
            return self.score
        self.length += len(text)
        if not self._any_text and not text.isspace():
            self._any_text = True
        text = self._replace_emojis(text)
        self._exclaims += text.count("!")
        self._questions += text.count("?")
        self._push_words(text)
        self.score = self._compute() if self._any_text else 0.0
        return self.score

    def _compute(self) -> float:
        words = self._words
        m = len(words)
        partial = _strip_punc_if_word(self._partial) if self._partial else None
        n = m + (partial is not None)
        if n == 0:
            return 0.0
        caps = self._caps + (partial is not None and partial.isupper())
        flag = 0 < n - caps < n  # allcap_differential
        frozen = m - 2 if m > 2 else 0
        cache = self._caches.get(flag)
        if cache is None or len(cache.vals) < frozen:
            cache = self._cache(flag, frozen)

        # the tail: words frozen .. n-1, with up to three words of context before
        base = frozen - 3 if frozen > 3 else 0
        local = words[base:]
        if partial is not None:
            local.append(partial)
        tail = []
        for i in range(frozen, n):
            lo = i - 3 if i - 3 > base else base
            tail.append(self._valence(local[lo - base : i - base + 3], i - lo, flag))

        bi = self._first_but
        if bi == _FAR and partial is not None and partial.lower() == "but":
            bi = n - 1
        if bi == _FAR:
            sentiments = cache.vals + tail
        else:
            sentiments = self._but_tail(cache, frozen, tail, bi)

        sum_s = float(sum(sentiments))
        if sum_s == 0:  # no emphasis is added to 0, and normalize and round keep it as it is (its sign too)
            return sum_s
        amplifier = _amplifier(self.analyzer, min(self._exclaims, 4), min(self._questions, 4))
        if sum_s > 0:
            sum_s += amplifier
        elif sum_s < 0:
            sum_s -= amplifier
        return float(round(_vs.normalize(sum_s), 4))

    @staticmethod
    def _but_tail(cache: _FlagCache, frozen: int, tail: list, bi: int) -> list:
        """``_but_check`` steps ``frozen .. n-1`` on top of the carried frozen prefix."""
        proc, where = cache.proc, cache.where
        changed: dict[int, object] = {}  # frozen positions rescaled by a tail step
        current = list(tail)  # tail positions, as rescaled so far
        for t, s in enumerate(tail):
            si = None
            for j in where.get(s, ()):
                if j not in changed:
                    si = j
                    break
            for j, value in changed.items():
                if value == s and (si is None or j < si):
                    si = j
            if si is None:
                si = frozen + next(u for u in range(t + 1) if current[u] == s)
            f = _factor(si, bi)
            if f is None:
                continue
            if si < frozen:
                changed[si] = s * f
            else:
                current[si - frozen] = s * f
        sentiments = proc + current
        for j, value in changed.items():
            sentiments[j] = value
        return sentiments


class VaderScorer(Scorer):
    """The :class:`~textgym.task.Scorer` of :class:`~textgym.tasks.sentiment.SentimentTask`.

    Carries an :class:`IncrementalVader`; its score equals ``task.score(prompt, continuation)``
    exactly. A continuation that is not the previous one plus ``appended`` (the scorer
    reused out of order) is rescored from scratch.
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.vader = IncrementalVader()

    def update(self, continuation: str, appended: str) -> float:
        vader = self.vader
        if len(continuation) != vader.length + len(appended) or not continuation.endswith(appended):
            vader.reset()
            return vader.append(continuation)
        return vader.append(appended)
