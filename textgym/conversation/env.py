"""``ConversationEnv`` (``textgym/Conversation-v0``): a multi-turn conversation with a simulated user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from textgym.conversation.goals import USER_TURN, UserGoal
from textgym.conversation.score import ScoreTally, TurnJudge
from textgym.conversation.task import DEFAULT_MAX_TURNS, ConversationSetup, ConversationTask, build_conversation_setup
from textgym.conversation.user import USER_END_REASONS, UserSimulator, WorldUser
from textgym.envs.textgen import EpisodeFinishedError, check_action
from textgym.prompt import Prompt

#: the ways a conversation ends (``info["end_reason"]``; ``""`` before its last step)
END_REASONS = ("eos", "goal_met", "patience", "max_turns", "max_new_tokens")
RENDER_MODES = ("ansi", "human")


USER_STATE = ("done", "end_reason", "progress")


def check_user(user: object) -> UserSimulator:
    """``user`` if it has the methods of :class:`UserSimulator`, else a ``TypeError`` naming the missing ones.

    Its state (``done``, ``end_reason``, ``progress``) may be set by ``reset()``: it is checked after each reset.
    """
    missing = [name for name in ("reset", "reply") if not callable(getattr(user, name, None))]
    if missing:
        raise TypeError(
            f"user must be a UserSimulator (methods reset(seed, goal) and reply(agent_turn) -> str, and after reset "
            f"done, end_reason and progress); {type(user).__name__} lacks the method(s) {missing}"
        )
    return user  # type: ignore[return-value]


def check_user_state(user: object) -> None:
    """A ``TypeError`` if ``user`` lacks ``done``, ``end_reason`` or ``progress`` (after its reset)."""
    missing = [name for name in USER_STATE if not hasattr(user, name)]
    if missing:
        raise TypeError(
            f"user simulator {type(user).__name__} has no {missing} after reset(); a UserSimulator has done (bool), "
            f"end_reason (str) and progress (a number in [0, 1])"
        )


def newline_tokens(tokenizer) -> np.ndarray:
    """``table[id]``: whether token ``id``'s text contains a newline (such a token ends an agent turn)."""
    return np.array(["\n" in tokenizer.decode([i]) for i in range(tokenizer.vocab_size)], dtype=bool)


class Conversation:
    """One conversation's state and its transition: what :class:`ConversationEnv` and every row of
    :class:`~textgym.conversation.vector.ConversationVectorEnv` step (the same code, so the same MDP).

    Args:
        setup: the checked setup (tokenizer, budget, prompts, reward mode, ``max_turns``).
        user: the user simulator of this conversation.
        newline: :func:`newline_tokens` of the setup's tokenizer.
    """

    def __init__(self, setup: ConversationSetup, user: UserSimulator, newline: np.ndarray) -> None:
        self.setup, self.user, self.newline = setup, user, newline
        self.tokenizer = setup.tokenizer
        length = setup.obs_length
        self.input_ids = np.full(length, self.tokenizer.pad_token_id, dtype=np.int64)
        self.attention_mask = np.zeros(length, dtype=np.int64)
        self.agent_mask = np.zeros(length, dtype=np.int64)
        self.started = False
        self.done = True
        self.prompt_index = -1
        self.prompt: Prompt | None = None
        self.position = self.prompt_length = self.num_generated = self.turn = 0
        self.text, self.score, self.end_reason, self.goal_text = "", 0.0, "", ""
        self.agent_turn_ended = False
        #: the instant reward of each agent token of the episode (for rendering)
        self.rewards: list[float] = []

    def reset(self, prompt_index: int, user_seed: int) -> None:
        """Start the conversation of prompt ``prompt_index``; ``user_seed`` seeds the user."""
        setup = self.setup
        prompt, ids = setup.prompts[prompt_index], setup.prompt_ids[prompt_index]
        goal: UserGoal = setup.task.goal(prompt)
        self.prompt_index, self.prompt, self.goal_text = prompt_index, prompt, goal.kind
        self.input_ids.fill(self.tokenizer.pad_token_id)
        self.attention_mask.fill(0)
        self.agent_mask.fill(0)
        self.input_ids[: len(ids)] = ids
        self.attention_mask[: len(ids)] = 1
        self.position = self.prompt_length = len(ids)
        self.num_generated = self.turn = 0
        self.text, self.end_reason = "", ""
        self.decoder = self.tokenizer.incremental_decoder()
        self.tally = ScoreTally()
        self.judge: TurnJudge | None = None  # the turn being written
        self.turn_start = 0  # where it starts in ``text``
        self.score = self.turn_score = 0.0  # the running score; the score at the last turn's end
        self.agent_turn_ended = False
        self.rewards = []
        self.user.reset(int(user_seed), goal)
        check_user_state(self.user)
        self.started, self.done = True, False

    def step(self, action: object) -> float:
        """Append the agent's token (and, at the end of its turn, the user's reply); return the step's reward."""
        if self.done:
            what = "before reset()" if not self.started else "after the episode ended"
            raise EpisodeFinishedError(f"step() called {what}; call reset() to start a new episode")
        token = check_action(action, self.tokenizer.vocab_size)
        setup = self.setup
        self.input_ids[self.position] = token
        self.attention_mask[self.position] = self.agent_mask[self.position] = 1
        self.position += 1
        self.num_generated += 1
        if self.judge is None:  # the first token of a new agent turn
            self.turn += 1
            self.judge, self.turn_start = TurnJudge(), len(self.text)
        previous = self.score if self.num_generated > 1 else 0.0  # the potential before the first token is 0
        eos = token == self.tokenizer.eos_token_id
        ended = eos or bool(self.newline[token])
        if not eos:
            appended = self.decoder.push(token)
            if appended:
                self.text += appended
                self.judge.push(appended.split("\n", 1)[0])
        end_reason = ""
        if ended:
            self.tally.add(self.judge.verdict())
            self.judge = None
            end_reason = self._user_turn(self.text[self.turn_start :].split("\n", 1)[0], eos)
        elif self.position - self.prompt_length >= setup.max_new_tokens:
            end_reason = "max_new_tokens"
        if end_reason:
            self.text += self.decoder.flush()
            self.end_reason, self.done = end_reason, True
        self.agent_turn_ended = ended
        self.score = self.tally.score(None if self.judge is None else self.judge.verdict())
        if setup.reward_mode == "dense":
            reward = self.score - previous
        elif setup.reward_mode == "turn":
            reward = 0.0
            if ended or self.done:  # the last step closes the last turn, finished or not
                reward, self.turn_score = self.score - self.turn_score, self.score
        else:
            reward = self.score if self.done else 0.0
        self.rewards.append(reward)
        return reward

    def _user_turn(self, agent_turn: str, eos: bool) -> str:
        """The user's answer to a finished agent turn: the end reason if the conversation ends, else ``""`` (and
        the user's reply appended)."""
        user = self.user
        reply = user.reply(agent_turn)
        if not isinstance(reply, str):
            raise TypeError(
                f"user simulator {type(user).__name__}.reply() returned {type(reply).__name__} ({reply!r}); "
                f"allowed: a str, the user's next turn"
            )
        progress = user.progress
        if isinstance(progress, bool) or not isinstance(progress, int | float) or not 0.0 <= progress <= 1.0:
            raise ValueError(
                f"user simulator {type(user).__name__}.progress is {progress!r}; allowed: a number in [0, 1]"
            )
        self.tally.progress = float(progress)
        if user.done:
            reason = user.end_reason
            if reason not in USER_END_REASONS:
                raise ValueError(
                    f"user simulator {type(user).__name__} is done with end_reason={reason!r}; "
                    f"allowed: {list(USER_END_REASONS)}"
                )
            return reason
        if eos:
            return "eos"
        if self.turn >= self.setup.max_turns:
            return "max_turns"
        ids = self.tokenizer.encode(USER_TURN.format(turn=reply))
        end = self.position + len(ids)
        if end - self.prompt_length >= self.setup.max_new_tokens:  # no room for an agent token after the user's turn
            return "max_new_tokens"
        self.input_ids[self.position : end] = ids
        self.attention_mask[self.position : end] = 1
        self.position = end
        for token in ids:
            self.text += self.decoder.push(token)
        return ""

    def observation(self) -> dict[str, np.ndarray]:
        return {
            "input_ids": self.input_ids.copy(),
            "attention_mask": self.attention_mask.copy(),
            "agent_mask": self.agent_mask.copy(),
        }

    def info(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.text if self.prompt is not None else "",
            "text": self.text,
            "score": self.score,
            "turn": self.turn,
            "user_goal": self.goal_text,
            "end_reason": self.end_reason,
            "agent_turn_ended": self.agent_turn_ended,
            "prompt_index": self.prompt_index,
            "num_generated": self.num_generated,
            "length": self.position,
        }

    def render_text(self) -> str:
        """The prompt and the conversation so far, with the score."""
        if not self.started:
            return "(no episode: call reset())"
        status = f"done: {self.end_reason}" if self.done else "running"
        return (
            f"{self.prompt.text}{self.text}\n"
            f"[goal {self.goal_text}; turn {self.turn}/{self.setup.max_turns}; "
            f"{self.position - self.prompt_length}/{self.setup.max_new_tokens} tokens; "
            f"score {self.score:+.4f} ({status})]"
        )


class ConversationEnv(gym.Env):
    """A conversation with a simulated customer: the agent writes its turns one token per step.

    ## Description
    Each episode is a customer-service chat of up to ``max_turns`` agent turns with a simulated user built from
    the seeded world (:mod:`textgym.world`). The user comes with a goal (:data:`~textgym.conversation.goals.
    GOAL_KINDS`): ask about a fact of the world (``"What is the capital of China?"``), ask the shop a question,
    request something (``"Please book a repair for my kettle on Monday."``) or complain. It follows a short script
    of turns (a greeting, the goal turn, thanks or a farewell), replies deterministically given the episode's seed
    and the agent's text (moves on when a turn is answered, asks again when not, tersely when its patience runs
    low, annoyed at rudeness) and ends the conversation once its goal is met or its patience runs out
    (:class:`~textgym.conversation.user.WorldUser`). Pass ``user=`` for your own
    :class:`~textgym.conversation.user.UserSimulator`.

    The prompt is a system line and the user's opening turn, in the speaker format of the Dialogue task:
    ``"A customer chats with the help desk of a shop.\\nUser: Hey, good morning!\\nAssistant:"``. An agent turn
    ends at a token whose text holds a newline, or at EOS (which also ends the conversation). When the
    conversation goes on, the env appends the user's reply, ``"User: <reply>\\nAssistant:"``, to the observation:
    those tokens are not actions.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the bundled ``"tiny-v1"``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64),
    agent_mask=Box(0, 1, (L,), int64))`` with ``L = max_prompt_tokens + max_conversation_tokens``: the prompt, then
    the agent's and the user's tokens in order, right-padded with the pad token. ``attention_mask`` is 1 on real
    tokens; ``agent_mask`` is 1 exactly on the tokens the agent generated (its actions), 0 on the prompt, the
    user's tokens and padding. A step adds 1 token (the agent's), plus the user's turn after it when the agent's
    turn ended and the conversation goes on.

    ## Rewards
    One conversation-level score (:mod:`textgym.conversation.score`), in ``[-0.7, 1]``::

        score = 0.7 * progress + 0.3 * polite / n - 0.5 * rude / n - 0.2 * min(1, excess / 40)

    ``progress``: the share of the user's goal reached (the world user: turns of its script answered, in order;
    1 exactly when the goal is met). ``n``: agent turns begun; ``polite``: turns with a politeness cue and no rude
    word; ``rude``: turns with a rude word (the Dialogue task's lexicons). ``excess``: words beyond 20 in each agent
    turn, summed. The turn being written counts as it stands; the user judges a turn, and ``progress`` moves, only
    when the turn ends. ``score_0 = 0``.

    - ``reward_mode="dense"``: ``r_t = score_t - score_{t-1}`` at every agent token (potential before the first
      token: 0);
    - ``reward_mode="turn"``: the score's change since the previous turn's end, at the step that ends an agent
      turn (and at the last step, which closes an unfinished turn), 0 elsewhere;
    - ``reward_mode="sparse"``: 0 before the last step, ``score_T`` at it.

    The same actions give the same return in all three modes: ``score_T``.

    Worked example (goal ``question``, script ``greeting -> question``: ``"Hey, good morning!"``, then ``"Are you
    open on Monday?"``). The agent writes ``" Hello! How can I help?\\n"``: the reply fits the greeting (``"hello"``)
    but holds no politeness cue, so ``progress = 1/2`` and the score is ``0.7 * 0.5 = 0.35``; the user appends
    ``"User: Are you open on Monday?\\nAssistant:"``. The agent writes ``" Yes, we are. Thank you for asking!\\n"``:
    it fits (``"yes"``) and is polite (``"thank you"``), so the goal is met (``progress = 1``, the user ends the
    conversation with ``end_reason="goal_met"``) and the score is ``0.7 + 0.3 * 1/2 = 0.85``. Turn rewards:
    ``0.35`` and ``0.5`` at the two newlines; dense rewards sum to 0.85 too (``+0.3 * 1/2 = 0.15`` when
    ``"Thank"``/``"thank you"`` is written, the rest at the newlines), sparse gives 0.85 at the last step.

    ## Starting State
    A conversation drawn uniformly from the split (225 train, 54 eval; disjoint: the eval conversations use
    only the world's eval dialogue turns and eval facts) with the env's seeded RNG, which then draws the user's
    seed (``reset(seed=...)`` reproduces both), or the one given by ``reset(options={"prompt_index": i})``.

    ## Episode End
    - Termination: the user ends the conversation (``end_reason="goal_met"`` or ``"patience"``), the agent emits
      EOS (``"eos"``), the ``max_turns``-th agent turn ends without the user ending it (``"max_turns"``), or the
      conversation budget of ``max_conversation_tokens`` tokens after the prompt is spent (``"max_new_tokens"``:
      the agent's token fills it, or the user's next turn would leave no room for an agent token). The horizon is
      part of the task, so it terminates too; ``info["end_reason"]`` says which (``""`` before the last step).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Info
    The same keys at ``reset()`` and every step: ``prompt`` (str: the opening), ``text`` (str: the whole
conversation after the prompt, agent
    and user turns, decoded), ``score`` (float), ``turn`` (int: agent turns begun), ``user_goal`` (str: the goal's
    kind), ``end_reason`` (str), ``agent_turn_ended`` (bool: this step ended an agent turn), ``prompt_index``
    (int), ``num_generated`` (int: agent tokens), ``length`` (int: real tokens in the observation).

    ## Arguments
    ``gym.make("textgym/Conversation-v0", model="tiny-v1", reward_mode="dense", max_turns=6,
    max_conversation_tokens=160, split="train")``:

    - ``task``: ``"conversation"`` (the world's conversations) or a
      :class:`~textgym.conversation.task.ConversationTask` (your own openings and goals).
    - ``model``: the model whose tokenizer and context the env uses (default ``"tiny-v1"``).
    - ``reward_mode``: ``"dense"``, ``"turn"`` or ``"sparse"``.
    - ``max_turns``: agent turns per conversation (default 6); refused if they cannot fit in the budget.
    - ``max_conversation_tokens``: the budget of agent and user tokens after the prompt (default 160); refused
      if the prompt plus it exceeds the model's context.
    - ``max_prompt_tokens``: prompt room in the observation (default: the longest opening of both splits).
    - ``split``: ``"train"`` or ``"eval"``.
    - ``user``: a :class:`~textgym.conversation.user.UserSimulator` (default: a fresh
      :class:`~textgym.conversation.user.WorldUser`, patience 3). A reply that is not a str raises a ``TypeError``.
    - ``render_mode``: ``"ansi"`` (``render()`` returns the conversation and the score) or ``"human"`` (prints it
      at every step).

    ## Version History
    - v0: initial version.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        task: str | ConversationTask = "conversation",
        model: str | None = None,
        reward_mode: str = "dense",
        max_turns: int = DEFAULT_MAX_TURNS,
        max_conversation_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
        split: str = "train",
        user: UserSimulator | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"unknown render_mode {render_mode!r}; allowed: {list(RENDER_MODES)} or None")
        self.setup = build_conversation_setup(
            task, model, reward_mode, max_turns, max_conversation_tokens, max_prompt_tokens, split
        )
        self.task, self.tokenizer = self.setup.task, self.setup.tokenizer
        self.reward_mode, self.max_new_tokens = self.setup.reward_mode, self.setup.max_new_tokens
        self.max_turns = self.setup.max_turns
        self.user = WorldUser() if user is None else check_user(user)
        self.render_mode = render_mode
        self.observation_space = self.setup.observation_space()
        self.action_space = self.setup.action_space()
        self.conversation = Conversation(self.setup, self.user, newline_tokens(self.tokenizer))

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None):
        super().reset(seed=seed)
        index = self.setup.prompt_index(options, self.np_random)
        self.conversation.reset(index, int(self.np_random.integers(2**31)))
        if self.render_mode == "human":
            self.render()
        return self.conversation.observation(), self.conversation.info()

    def step(self, action):
        reward = self.conversation.step(action)
        if self.render_mode == "human":
            self.render()
        return self.conversation.observation(), float(reward), self.conversation.done, False, self.conversation.info()

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human' to gym.make")
            return None
        text = self.conversation.render_text()
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None
