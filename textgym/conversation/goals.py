"""The simulated user's goals and the conversations' openings, drawn from the seeded world.

A goal is what the user came for (:data:`GOAL_KINDS`): ask about a fact of the world (the QA facts), ask the shop
a question, request something (book a repair, send an invoice, ...) or complain. The user reaches it through a
short script of turns, an *arc* of the world's dialogue section (:data:`textgym.world.dialogues.ARCS`): the goal
turn, possibly after a greeting and before thanks or a farewell, e.g. ``greeting -> request -> thanks``. Every
turn is a customer turn of the world (the dialogue section's turns of the split, the facts section's questions
of the split), so the bundled model ``"tiny-v1"``, pretrained on the world's transcripts and prose, half knows
how to answer them.

Train and eval conversations are disjoint: eval conversations use only the world's eval turns and eval facts
(which the corpus never shows in a dialogue or question-answer form), train conversations only train ones.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textgym.prompt import SPLITS, Prompt, TaskError
from textgym.tasks.dialogue import INTENTS

#: the kinds of goal a user comes with
GOAL_KINDS: tuple[str, ...] = ("fact", "question", "request", "complaint")
#: the intent of a fact question turn (the others are the dialogue intents of :data:`textgym.tasks.dialogue.INTENTS`)
FACT_INTENT = "fact"
TURN_INTENTS: tuple[str, ...] = (*INTENTS, FACT_INTENT)
#: the first line of every prompt, before the user's opening turn
SYSTEM_LINE = "A customer chats with the help desk of a shop.\n"
#: the speaker labels: the user's turn and the cue for the agent's reply (as the Dialogue task's prompts)
USER_TURN = "User: {turn}\nAssistant:"
#: the slots of a dialogue goal turn that an answer must name one of (a greeting's or thanks' {name} is not asked)
NAMED_SLOTS = ("item", "day", "place")
#: conversations per goal kind in each split (dialogue goals take every turn of their intent in the split, up to it)
CONVERSATIONS_PER_KIND: Mapping[str, int] = {"train": 75, "eval": 18}


@dataclass(frozen=True)
class UserTurn:
    """One turn of the user's script: its text, its intent (a dialogue intent or ``"fact"``) and the names an
    answer must hold one of: a fact question's accepted answers; the item, day or place a goal turn is about
    (``"Is the kettle in stock?"``: ``("kettle",)``), so that a generic reply does not meet the goal."""

    text: str
    intent: str
    answers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "intent": self.intent, "answers": list(self.answers)}


@dataclass(frozen=True)
class UserGoal:
    """What the user of one conversation wants: the goal's kind and the script of turns that reaches it.

    ``turns[0]`` is the opening (the prompt's user turn); the goal is met when the agent has answered every turn
    in order. A custom :class:`~textgym.conversation.user.UserSimulator` may use the script or ignore it.
    """

    kind: str
    turns: tuple[UserTurn, ...]

    @property
    def opening(self) -> str:
        """The user's first turn."""
        return self.turns[0].text

    @property
    def goal_turn(self) -> UserTurn:
        """The turn that carries the goal (the fact question, the request, ...)."""
        wanted = FACT_INTENT if self.kind == "fact" else self.kind
        return next(turn for turn in self.turns if turn.intent == wanted)

    def describe(self) -> str:
        """One line: ``"request: Please send the kettle to Spain."``."""
        return f"{self.kind}: {self.goal_turn.text}"

    def as_data(self) -> dict[str, Any]:
        """The goal as a prompt's ``data["goal"]`` (plain lists and strings: it round-trips through JSON)."""
        return {"kind": self.kind, "turns": [turn.as_dict() for turn in self.turns]}

    @classmethod
    def from_prompt(cls, prompt: Prompt, task_name: str = "conversation") -> UserGoal:
        """The goal stored in ``prompt.data["goal"]``, checked (a :class:`TaskError` says what is wrong)."""
        data = prompt.data.get("goal") if isinstance(prompt.data, Mapping) else None

        def bad(what: str) -> TaskError:
            return TaskError(
                f"task {task_name!r}: prompt {prompt.text!r} needs data={{'goal': {{'kind': one of "
                f"{list(GOAL_KINDS)}, 'turns': [{{'text': str, 'intent': one of {list(TURN_INTENTS)}, "
                f"'answers': [str, ...] for a fact}}, ...]}}}}; {what}"
            )

        if not isinstance(data, Mapping):
            raise bad(f"got goal={data!r}")
        kind, raw_turns = data.get("kind"), data.get("turns")
        if kind not in GOAL_KINDS:
            raise bad(f"got kind={kind!r}")
        if not isinstance(raw_turns, list | tuple) or not raw_turns:
            raise bad(f"got turns={raw_turns!r}")
        turns = []
        for raw in raw_turns:
            if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str):
                raise bad(f"got the turn {raw!r}")
            intent, answers = raw.get("intent"), tuple(raw.get("answers") or ())
            if intent not in TURN_INTENTS:
                raise bad(f"got intent={intent!r}")
            if intent == FACT_INTENT and (not answers or not all(isinstance(a, str) and a for a in answers)):
                raise bad(f"the fact turn {raw['text']!r} has answers={raw.get('answers')!r}")
            turns.append(UserTurn(raw["text"], intent, answers))
        wanted = FACT_INTENT if kind == "fact" else kind
        if not any(turn.intent == wanted for turn in turns):
            raise bad(f"no turn has the intent {wanted!r} of the goal kind {kind!r}")
        return cls(kind, tuple(turns))


def opening_prompt(goal: UserGoal) -> Prompt:
    """The prompt of a conversation with ``goal``: the system line and the user's opening turn."""
    return Prompt(SYSTEM_LINE + USER_TURN.format(turn=goal.opening), data={"goal": goal.as_data()})


def _arcs(goal_intent: str) -> list[tuple[str, ...]]:
    """The world's arcs of 2 and 3 turns with exactly one goal turn, of ``goal_intent``."""
    from textgym.world.dialogues import ARCS

    goal_intents = {"question", "request", "complaint"}
    return [arc for count in (2, 3) for arc in ARCS[count]
            if goal_intent in arc and len(goal_intents & set(arc)) == 1 and arc.count(goal_intent) == 1]


@functools.lru_cache(maxsize=4)
def world_prompts(world_seed: int = 0) -> dict[str, tuple[Prompt, ...]]:
    """The conversations of ``World(world_seed)``: ``{"train": prompts, "eval": prompts}``, disjoint, seeded.

    Per split and goal kind, :data:`CONVERSATIONS_PER_KIND` goal turns of the split (the dialogue section's turns
    of the intent, or the facts section's questions), each with an arc drawn from the world's arcs and the arc's
    other turns drawn from the split's turns of their intents (about the same item where one is named).
    """
    from textgym.world import World

    world = World(world_seed)
    dialogues, facts = world.sections["dialogues"], world.sections["facts"]
    by_text = {turn.text: turn for turns in dialogues.turns.values() for turn in turns}
    by_text.update({turn.text: turn for turn in dialogues.eval_turns.values()})
    fact_records = facts.prompt_records()
    result: dict[str, tuple[Prompt, ...]] = {}
    for split in SPLITS:
        pools: dict[str, list] = {intent: [] for intent in INTENTS}
        for record in dialogues.prompt_records()[split]:
            turn = by_text[record["text"].removeprefix("User: ").removesuffix("\nAssistant:")]
            pools[turn.intent].append(turn)
        count = CONVERSATIONS_PER_KIND[split]
        rng = random.Random(f"{world_seed}-conversation-{split}")
        goals = []
        for kind in GOAL_KINDS:
            if kind == "fact":
                records = list(fact_records[split])
                rng.shuffle(records)
                goal_turns = [(UserTurn(r["data"]["question"], FACT_INTENT, tuple(r["data"]["answers"])), None)
                              for r in records[:count]]
            else:
                goal_turns = [(UserTurn(t.text, t.intent, tuple(v for k, v in t.slots if k in NAMED_SLOTS)),
                               t.slot("item")) for t in pools[kind][:count]]
            for goal_turn, item in goal_turns:
                arc = rng.choice(_arcs("question" if kind == "fact" else kind))
                turns = []
                for intent in arc:
                    if intent == ("question" if kind == "fact" else kind):
                        turns.append(goal_turn)
                        continue
                    candidates = [t for t in pools[intent] if t.slot("item") in (item, None)] or pools[intent]
                    turns.append(UserTurn(rng.choice(candidates).text, intent))
                goals.append(UserGoal(kind, tuple(turns)))
        rng.shuffle(goals)
        result[split] = tuple(opening_prompt(goal) for goal in goals)
    return result
