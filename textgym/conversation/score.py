"""The conversation-level score: goal completion, politeness and brevity, in ``[-0.7, 1]``.

With ``progress`` the share of the user's goal the agent has reached (the user simulator says it; the world user
counts the turns of its script answered in order, so it is 1 exactly when the goal is met), ``n`` the agent turns
begun, ``polite`` and ``rude`` the numbers of them that hold a politeness cue and no rude word, and a rude word
(the Dialogue task's lexicons, :data:`textgym.tasks.dialogue.POLITENESS_CUES` and ``RUDE_CUES``), and ``excess``
the words the agent wrote beyond :data:`WORD_ALLOWANCE` in each turn, summed over the turns::

    score = 0.7 * progress + 0.3 * polite / n - 0.5 * rude / n - 0.2 * min(1, excess / 40)

(the shares are 0 before the first turn). The top, 1, is a conversation that meets the goal with polite turns of
at most 20 words each; the bottom, -0.7, one whose every turn is rude and long-winded.

The turn being written counts as it stands (its unfinished last word too), so the score runs token by token:
dense rewards are its differences. The user judges a turn only when it ends, so ``progress`` moves only there.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from textgym.tasks.dialogue import POLITENESS_PHRASES, RUDE_PHRASES, clean_word, is_word_character

GOAL_WEIGHT, POLITENESS_WEIGHT, RUDENESS_PENALTY, VERBOSITY_PENALTY = 0.7, 0.3, 0.5, 0.2
#: words an agent turn may hold before brevity costs
WORD_ALLOWANCE = 20
#: excess words (over all turns) that cost the whole verbosity penalty
VERBOSITY_SCALE = 40
SCORE_RANGE = (-(RUDENESS_PENALTY + VERBOSITY_PENALTY), GOAL_WEIGHT + POLITENESS_WEIGHT)


@dataclass(frozen=True)
class TurnVerdict:
    """What the score reads from one agent turn: a politeness cue, a rude word, the number of words."""

    polite: bool
    rude: bool
    words: int


class TurnJudge:
    """Reads one agent turn as its text arrives (O(appended) per update), as the Dialogue task's reply scorer does.

    Words are runs of ``a-z``, digits and apostrophes after lowercasing; the unfinished last word counts
    provisionally (:meth:`verdict`).
    """

    __slots__ = ("polite", "rude", "words", "word", "recent")

    def __init__(self) -> None:
        self.polite = False
        self.rude = False
        self.words = 0
        self.word = ""
        longest = max(POLITENESS_PHRASES.longest, RUDE_PHRASES.longest)
        self.recent: deque[str] = deque(maxlen=max(1, longest - 1))

    def push(self, appended: str) -> None:
        """Read ``appended``, the turn's next text (no newline: the turn ends before it)."""
        for ch in appended.replace("\u2019", "'").lower():
            if is_word_character(ch):
                self.word += ch
                continue
            word = clean_word(self.word)
            self.word = ""
            if word:
                self.polite, self.rude = self._found(word, self.polite, self.rude)
                self.recent.append(word)
                self.words += 1

    def _found(self, word: str, polite: bool, rude: bool) -> tuple[bool, bool]:
        recent = self.recent
        return polite or POLITENESS_PHRASES.ends_at(recent, word), rude or RUDE_PHRASES.ends_at(recent, word)

    def verdict(self) -> TurnVerdict:
        """The turn as it stands, its unfinished last word included."""
        word = clean_word(self.word)
        if not word:
            return TurnVerdict(self.polite, self.rude, self.words)
        polite, rude = self._found(word, self.polite, self.rude)
        return TurnVerdict(polite, rude, self.words + 1)


def judge_turn(text: str) -> TurnVerdict:
    """The verdict on a whole turn ``text`` (its text before any newline)."""
    judge = TurnJudge()
    judge.push(text.split("\n", 1)[0])
    return judge.verdict()


@dataclass
class ScoreTally:
    """The finished agent turns' totals, and the goal progress the user reported."""

    turns: int = 0
    polite: int = 0
    rude: int = 0
    excess_words: int = 0
    progress: float = 0.0

    def add(self, verdict: TurnVerdict) -> None:
        """Count a finished turn."""
        self.turns += 1
        self.polite += verdict.polite and not verdict.rude
        self.rude += verdict.rude
        self.excess_words += max(0, verdict.words - WORD_ALLOWANCE)

    def score(self, current: TurnVerdict | None = None) -> float:
        """The conversation's score, with the turn being written (``current``) counted as it stands."""
        turns, polite, rude, excess = self.turns, self.polite, self.rude, self.excess_words
        if current is not None:
            turns += 1
            polite += current.polite and not current.rude
            rude += current.rude
            excess += max(0, current.words - WORD_ALLOWANCE)
        return conversation_score(self.progress, polite, rude, turns, excess)


def conversation_score(progress: float, polite: int, rude: int, turns: int, excess_words: int) -> float:
    """``0.7 * progress + 0.3 * polite / turns - 0.5 * rude / turns - 0.2 * min(1, excess_words / 40)``."""
    shares = (POLITENESS_WEIGHT * polite - RUDENESS_PENALTY * rude) / turns if turns else 0.0
    return GOAL_WEIGHT * progress + shares - VERBOSITY_PENALTY * min(1.0, excess_words / VERBOSITY_SCALE)
