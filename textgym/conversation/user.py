"""The simulated user: the :class:`UserSimulator` protocol and the world's user, :class:`WorldUser`.

The environment calls a user simulator in this order, once per episode:

1. ``reset(seed, goal)`` when the episode starts: ``seed`` (an int drawn from the env's seeded generator) and the
   episode's :class:`~textgym.conversation.goals.UserGoal` (its ``opening`` is the user turn already in the prompt);
2. ``reply(agent_turn)`` each time an agent turn ends (at its newline or EOS), with the turn's text (before the
   newline); it returns the user's next turn as a string (no speaker label: the env adds ``"User: "`` and the cue
   for the agent's next turn). Then the env reads ``done`` (whether the user ends the conversation), ``end_reason``
   (why: ``"goal_met"`` or ``"patience"``) and ``progress`` (how much of its goal the agent has reached, in
   ``[0, 1]``: the score's goal term).

A user that never says ``done`` is stopped at the env's ``max_turns`` (``end_reason="max_turns"``). A reply must
depend only on the seed, the goal and the agent's turns so far, so that episodes reproduce; a user must pickle
(the env pickles mid-conversation).
"""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable

from textgym.conversation.goals import FACT_INTENT, UserGoal, UserTurn
from textgym.tasks.dialogue import INTENT_PHRASES, RUDE_PHRASES, reply_words
from textgym.tasks.qa import answer_tokens

#: the reasons a user may give for ending a conversation
USER_END_REASONS: tuple[str, ...] = ("goal_met", "patience")


@runtime_checkable
class UserSimulator(Protocol):
    """The other speaker of a conversation (see the module docstring for the order of calls)."""

    def reset(self, seed: int, goal: UserGoal) -> None:
        """Start a conversation about ``goal``; ``seed`` fixes any choice the user makes."""

    def reply(self, agent_turn: str) -> str:
        """The user's answer to the agent's turn ``agent_turn`` (its text before the newline)."""

    @property
    def done(self) -> bool:
        """Whether the user ends the conversation after its last reply."""

    @property
    def end_reason(self) -> str:
        """Why the user ended it: ``"goal_met"`` or ``"patience"`` (``""`` while it goes on)."""

    @property
    def progress(self) -> float:
        """The share of the goal reached so far, in ``[0, 1]``."""


def turn_fits(turn: UserTurn, agent_turn: str) -> bool:
    """Whether ``agent_turn`` answers the user's ``turn``.

    A fact question: one of its accepted answers occurs in the reply. A dialogue turn: the reply holds a cue phrase
    of the turn's intent (:data:`textgym.tasks.dialogue.INTENT_CUES`, e.g. a complaint: ``"sorry"``, ``"refund"``,
    ``"fix"``) and, if the turn has ``answers`` (the item, day or place of a goal turn), names one of them. Names
    are compared as the QA task compares answers (case, accents, punctuation and articles dropped).
    """
    if turn.intent != FACT_INTENT and not INTENT_PHRASES[turn.intent].found_in(reply_words(agent_turn)):
        return False
    if not turn.answers:
        return True
    reply = answer_tokens(agent_turn)
    for answer in turn.answers:
        gold = answer_tokens(answer)
        if gold and any(reply[i : i + len(gold)] == gold for i in range(len(reply) - len(gold) + 1)):
            return True
    return False


#: what the world user says, by situation (``{turn}``: the turn it asks next or again)
NUDGES = ("That does not answer me. {turn}", "Sorry, I meant this: {turn}", "Hmm, let me ask again. {turn}")
TERSE = ("{turn}", "Again: {turn}", "{turn} Please just answer.")
ANNOYED = ("No need to be rude. {turn}", "That was rude. {turn}", "Excuse me? {turn}")
CLOSINGS = ("Great, thank you!", "Perfect, thanks. Bye!", "That is all I needed, thanks.")
GIVE_UPS = ("Forget it. Bye.", "This is not helping. Goodbye.", "I give up, bye.")


class WorldUser:
    """The world's customer: follows its goal's script of turns and ends once the goal is met or patience runs out.

    Each agent turn is judged against the user's current turn (:func:`turn_fits`):

    - it fits: the user moves on to its next turn (``progress`` = turns answered / turns in the script); after the
      last one the goal is met and the user ends the conversation (``end_reason="goal_met"``);
    - it does not fit: patience drops by 1 and the user asks again, with a nudge (``"That does not answer me.
      ..."``), tersely once only one try is left (``"Again: ..."``);
    - it holds a rude word (:data:`textgym.tasks.dialogue.RUDE_CUES`): patience drops by 2 (whether or not it fits)
      and the user says so (``"No need to be rude. ..."``).

    When patience reaches 0 the user gives up (``end_reason="patience"``). The wording is drawn from small phrase
    lists with a generator seeded by the episode's seed and the turn number, so a reply depends only on the seed,
    the goal and the agent's turns.

    Args:
        patience: how many unhelpful turns the user takes (a rude one counts twice); a positive int.
    """

    def __init__(self, patience: int = 3) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience <= 0:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        self.patience = patience
        self.goal: UserGoal | None = None
        self.seed = 0
        self.answered = 0
        self.patience_left = patience
        self.replies = 0
        self._done = False
        self._end_reason = ""

    def reset(self, seed: int, goal: UserGoal) -> None:
        self.goal, self.seed = goal, int(seed)
        self.answered, self.patience_left, self.replies = 0, self.patience, 0
        self._done, self._end_reason = False, ""

    def reply(self, agent_turn: str) -> str:
        if self.goal is None:
            raise RuntimeError("WorldUser.reply() called before reset()")
        if self._done:
            raise RuntimeError("WorldUser.reply() called after the user ended the conversation; reset() it")
        rng = random.Random(f"{self.seed}-{self.replies}")
        self.replies += 1
        turns = self.goal.turns
        rude = RUDE_PHRASES.found_in(reply_words(agent_turn))
        fits = turn_fits(turns[self.answered], agent_turn)
        if fits:
            self.answered += 1
        self.patience_left -= 2 if rude else (0 if fits else 1)
        if self.answered == len(turns):
            self._done, self._end_reason = True, "goal_met"
            return rng.choice(CLOSINGS)
        if self.patience_left <= 0:
            self._done, self._end_reason = True, "patience"
            return rng.choice(GIVE_UPS)
        turn = turns[self.answered].text
        if rude:
            return rng.choice(ANNOYED).format(turn=turn)
        if fits:
            return turn
        return rng.choice(TERSE if self.patience_left == 1 else NUDGES).format(turn=turn)

    @property
    def done(self) -> bool:
        return self._done

    @property
    def end_reason(self) -> str:
        return self._end_reason

    @property
    def progress(self) -> float:
        return self.answered / len(self.goal.turns) if self.goal is not None else 0.0
