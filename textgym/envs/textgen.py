"""``TextGenEnv``: one episode of token-level text generation as a Gymnasium environment."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from textgym.envs.setup import RENDER_MODES, build_setup, check_render_mode
from textgym.rewards import step_reward
from textgym.task import Task


class EpisodeFinishedError(RuntimeError):
    """``step()`` was called after the episode ended, without ``reset()``."""


def check_action(action: object, vocab_size: int) -> int:
    """``action`` as a token id in ``[0, vocab_size)``, or a ``ValueError`` that says what is allowed."""
    if isinstance(action, np.ndarray):
        if action.shape not in ((), (1,)):
            raise ValueError(f"action must be a single token id, got an array of shape {action.shape}")
        if not np.issubdtype(action.dtype, np.integer):
            raise ValueError(
                f"action must be an integer token id, got dtype {action.dtype}; allowed: integers in [0, {vocab_size})"
            )
        action = action.reshape(()).item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral):
        raise ValueError(
            f"action must be an integer token id, got {action!r} ({type(action).__name__}); "
            f"allowed: integers in [0, {vocab_size})"
        )
    if not 0 <= action < vocab_size:
        raise ValueError(f"action {action} is out of range; allowed: integers in [0, {vocab_size})")
    return int(action)


class TextGenEnv(gym.Env):
    """Text generation as an MDP: each step appends one token chosen by the agent.

    ## Description
    The state is a task prompt plus the tokens generated so far. Each step the agent
    picks the next token id; the environment appends it, decodes the new text and
    scores the continuation with the task's sequence score. The task decides what good
    text is (see ``textgym list`` and each task's own docstring).

    ## Action Space
    ``Discrete(vocab_size)``: the next token id. The vocabulary is the model's (4096 for
    the bundled ``"tiny"``), or the task's own symbol vocabulary for algorithmic tasks.

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``
    with ``L = max_prompt_tokens + max_new_tokens``: the prompt tokens followed by the
    generated tokens, right-padded with the pad token; the mask is 1 on real tokens.

    With ``observation="input_ids"``: ``Box(0, vocab_size - 1, (L,), int64)``, the
    ``input_ids`` alone, for libraries whose networks take one array (tianshou, CleanRL,
    SB3's ``MlpPolicy``). The positions past the prompt and the generated tokens hold the
    pad token id (``env.unwrapped.tokenizer.pad_token_id``), so the mask is
    ``obs != pad_token_id`` where the pad token is no token a prompt or the agent uses. It
    can be one: the pad id may equal the EOS id (GPT-2-like models), and the agent may emit
    the pad token (it is an action like any other); the number of real tokens is then
    ``info["length"]`` (the prompt's tokens plus ``info["num_generated"]``).

    ## Rewards
    With ``score_t`` the task's score of the first ``t`` generated tokens' text:

    - ``reward_mode="dense"``: ``r_t = score_{t+1} - score_t`` at every step (instant
      reward), with the potential before the first token fixed at 0: the first reward is
      ``score_1``, so it carries the score of the empty text ``score_0`` when a task's
      score is not 0 there (a reward model scoring the prompt, say);
    - ``reward_mode="sparse"``: ``r_t = 0`` before the last step, ``r_T = score_T``, the
      task's final score: the number another library reports for the same text.

    The dense rewards of an episode sum to its sparse return. ``info["score"]`` after
    ``reset()`` is ``score_0`` (0 for every shipped rule-based task). A task that wants
    rewards relative to the empty text subtracts it in its score
    (``RewardModelTask(baseline="prompt")``), in both modes alike. In sparse mode a task
    whose score is expensive (``Task.lazy_sparse``, a reward model) and that has no stop
    condition is scored only at the last step (``Task.scores_lazily``): ``info["score"]``
    before it stays ``score_0``, the last score computed.

    ## Starting State
    A prompt drawn uniformly from the chosen split with the environment's RNG
    (``reset(seed=...)`` reproduces it), or the one given by
    ``reset(options={"prompt_index": i})``.

    ## Episode End
    The episode terminates (``terminated=True``) when the agent emits the EOS token, when
    the task's stop condition holds, or when ``max_new_tokens`` tokens have been generated.
    The horizon is part of the task: the observation shows how many tokens were generated,
    and the score is taken there, so no agent should bootstrap a value past it.
    ``info["end_reason"]`` says which: ``"eos"``, ``"stop"`` or ``"max_new_tokens"`` (``""``
    before the last step). ``truncated`` is left to outer time limits
    (``gym.make(..., max_episode_steps=k)``).

    ## Info
    One schema for the whole episode: the infos of ``reset()`` and of every step hold the
    same keys, each with a value of the same type, as libraries that store infos in arrays
    need (tianshou's replay buffers, torchrl):

    - ``text`` (str): the generated continuation, decoded;
    - ``score`` (float): the task's score of it;
    - ``prompt`` (str): the prompt text; ``prompt_index`` (int): its index in the split;
    - ``num_generated`` (int): the tokens generated; ``length`` (int): the number of real
      tokens in the observation, prompt plus generated;
    - ``end_reason`` (str): ``""`` until the episode ends, then ``"eos"``, ``"stop"`` or
      ``"max_new_tokens"`` at its last step (``""`` still at a step that an outer time
      limit truncates: the env did not end the episode).

    With ``info_text=False`` the strings ``text``, ``prompt`` and ``end_reason`` are left
    out of every info: the infos then hold the four numeric keys only, as libraries that
    turn infos into arrays need (torchrl's ``GymEnv(..., num_envs=N)``).

    At the last step ``text`` equals ``tokenizer.decode`` of the
    generated ids (special tokens such as EOS skipped). Before it, a character whose bytes
    are split over several byte-level BPE tokens appears once its last token is emitted:
    ``text`` is the decode of the generated ids up to the last one that ends on a whole
    character, and ``score`` is the score of that text. A character still incomplete when
    the episode ends decodes to U+FFFD, as ``tokenizer.decode`` gives it, and the last
    reward includes its effect on the score.

    ## Arguments
    - ``task``: a registered task name (``textgym list``) or a :class:`textgym.Task`.
    - ``model``: ``None`` (the task's default), ``"tiny"``, a Hugging Face name or a local path.
    - ``reward_mode``: ``"dense"`` or ``"sparse"``.
    - ``max_new_tokens``: horizon (default: the task's).
    - ``max_prompt_tokens``: prompt room in the observation (default: the longest prompt).
    - ``split``: ``"train"`` or ``"eval"``.
    - ``render_mode``: ``"ansi"`` (``render()`` returns the prompt, the continuation and
      the score as text), ``"human"`` (prints it at every step) or ``"rgb_array"``
      (``render()`` returns an ``(H, W, 3)`` uint8 image of a fixed size: the prompt, then
      each generated token on a colour of its instant reward, green positive, red
      negative, white 0, and the score; for ``gymnasium.wrappers.RecordVideo`` and SB3's
      ``make_vec_env``, which asks for it).
    - ``task_kwargs``: keyword arguments of a registered task (every shipped task takes
      ``prompts``: a list, a ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object).
    - ``chat_template``: ``True`` wraps each prompt in the model tokenizer's chat template
      as one user turn plus the generation prompt, and the observation starts with the
      tokens of that text; the task still scores against the original prompt
      (``info["prompt"]`` is its text). A ``ValueError`` if the tokenizer has no template
      or the task brings its own symbol vocabulary. Default ``False``.
    - ``observation``: ``"dict"`` (default: ``input_ids`` and ``attention_mask``) or
      ``"input_ids"`` (a plain ``Box`` of the token ids; see *Observation Space*).
    - ``info_text``: ``False`` leaves the strings ``text``, ``prompt`` and ``end_reason``
      out of the infos (see *Info*). Default ``True``.

    ## Version History
    - v0: initial version. Added since, the MDP unchanged: ``render_mode="rgb_array"``, the
      ``observation`` and ``info_text`` arguments, ``info["length"]``, ``info["end_reason"]``
      at every step (``""`` before the last).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}
    observation_space: gym.spaces.Dict | gym.spaces.Box

    def __init__(
        self,
        task: str | Task = "sentiment",
        model: str | None = None,
        reward_mode: str = "dense",
        max_new_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
        split: str = "train",
        render_mode: str | None = None,
        task_kwargs: Mapping[str, Any] | None = None,
        chat_template: bool = False,
        observation: str = "dict",
        info_text: bool = True,
    ) -> None:
        check_render_mode(render_mode)
        self.setup = build_setup(
            task, model, reward_mode, max_new_tokens, max_prompt_tokens, split, task_kwargs,
            chat_template=chat_template, observation=observation, info_text=info_text,
        )
        self.task = self.setup.task
        self.tokenizer = self.setup.tokenizer
        self.reward_mode = self.setup.reward_mode
        #: sparse mode and an expensive score: the score is computed at the end of an episode only
        self._lazy = self.task.scores_lazily(self.reward_mode)
        self.max_new_tokens = self.setup.max_new_tokens
        self.render_mode = render_mode
        self.observation_space = self.setup.observation_space()
        self.action_space = self.setup.action_space()

        length = self.setup.obs_length
        self._input_ids = np.full(length, self.tokenizer.pad_token_id, dtype=np.int64)
        self._attention_mask = np.zeros(length, dtype=np.int64)
        #: the instant reward of each generated token of the current episode (for rgb_array frames)
        self._rewards = np.zeros(self.max_new_tokens, dtype=np.float64)
        self._prompt_length = 0
        self._episode_started = False
        self._done = True
        self._prompt_index = -1
        self._num_generated = 0
        self._position = 0
        self._text = ""
        self._score = 0.0
        #: ``info["end_reason"]``: ``""`` while the episode runs, then ``"eos"``, ``"stop"`` or ``"max_new_tokens"``
        self._end_reason = ""

    # -- Gymnasium API -------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None):
        super().reset(seed=seed)
        index = self.setup.prompt_index(options, self.np_random)
        prompt, ids = self.setup.prompts[index], self.setup.prompt_ids[index]
        self._prompt_index = index
        self._prompt = prompt
        self._input_ids.fill(self.tokenizer.pad_token_id)
        self._attention_mask.fill(0)
        self._input_ids[: len(ids)] = ids
        self._attention_mask[: len(ids)] = 1
        self._position = self._prompt_length = len(ids)
        self._num_generated = 0
        self._text = ""
        self._end_reason = ""
        self._decoder = self.tokenizer.incremental_decoder()
        self._scorer = self.task.scorer(prompt)
        # the score of the empty text (any value: a reward model's score of the prompt alone, say);
        # the potential before the first token is 0, so the first instant reward carries it
        self._score = self.task.checked_score(self._scorer.update("", ""))
        self._done = False
        self._episode_started = True
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action):
        if self._done:
            what = "before reset()" if not self._episode_started else "after the episode ended"
            raise EpisodeFinishedError(f"step() called {what}; call reset() to start a new episode")
        token = check_action(action, self.action_space.n)
        self._input_ids[self._position] = token
        self._attention_mask[self._position] = 1
        self._position += 1
        self._num_generated += 1
        self._scorer.advance(self._num_generated)

        previous = self._score if self._num_generated > 1 else 0.0  # potential 0 before the first token
        lazy = self._lazy
        end_reason = ""
        if token == self.tokenizer.eos_token_id:
            end_reason = "eos"
        else:
            appended = self._decoder.push(token)
            if appended:
                self._text += appended
                if not lazy:
                    self._score = self.task.checked_score(self._scorer.update(self._text, appended))
            if self.task.is_finished(self._prompt, self._text):
                end_reason = "stop"
        if not end_reason and self._num_generated >= self.max_new_tokens:
            end_reason = "max_new_tokens"
        self._end_reason = end_reason
        self._done = bool(end_reason)
        if self._done:
            # the last tokens may end inside a character that no further token completes: the
            # final text is the full decode (U+FFFD for the half character), and is what is scored
            rest = self._decoder.flush()
            if rest:
                self._text += rest
            if lazy:  # the episode's only update since reset: all its text is appended
                self._score = self.task.checked_score(self._scorer.update(self._text, self._text))
            elif rest:
                self._score = self.task.checked_score(self._scorer.update(self._text, rest))
            final = self._scorer.finish(self._text)  # a scorer that held an earlier text's score scores the final text
            if final is not None:
                self._score = self.task.checked_score(final)
        reward = step_reward(self.reward_mode, previous, self._score, self._done)
        self._rewards[self._num_generated - 1] = reward
        if self.render_mode == "human":
            self.render()
        return self._observation(), float(reward), self._done, False, self._info()

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='ansi', 'human' or 'rgb_array' to gym.make"
            )
            return None
        if self.render_mode == "rgb_array":
            return self.render_rgb()
        text = self.render_text()
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None

    # -- helpers ---------------------------------------------------------------------------

    def render_text(self) -> str:
        """The prompt and the continuation so far, readable, with the score."""
        if not self._episode_started:
            return "(no episode: call reset())"
        status = "done" if self._done else "running"
        return (
            f"prompt:    {self._prompt.text}\n"
            f"generated: {self._text}\n"
            f"step {self._num_generated}/{self.max_new_tokens}  score {self._score:+.4f}  ({status})"
        )

    def render_rgb(self) -> np.ndarray:
        """The ``rgb_array`` frame: prompt, generated tokens coloured by their instant rewards, score."""
        from textgym.rendering import render_frame

        title = f"task {self.task.name}, {self.reward_mode} reward"
        if not self._episode_started:
            return render_frame(None, [], [], 0.0, 0, self.max_new_tokens, "", title)
        token_string = self.tokenizer.token_string
        tokens = [token_string(token) for token in self._input_ids[self._prompt_length : self._position].tolist()]
        rewards = self._rewards[: self._num_generated]
        status = "done" if self._done else "running"
        return render_frame(
            self._prompt.text, tokens, rewards, self._score, self._num_generated, self.max_new_tokens, status, title
        )

    def _observation(self) -> dict[str, np.ndarray] | np.ndarray:
        if self.setup.observation == "input_ids":
            return self._input_ids.copy()
        return {"input_ids": self._input_ids.copy(), "attention_mask": self._attention_mask.copy()}

    def _info(self) -> dict[str, Any]:
        info = {
            "score": self._score,
            "prompt_index": self._prompt_index,
            "num_generated": self._num_generated,
            "length": self._position,
        }
        if self.setup.info_text:
            info["text"], info["prompt"], info["end_reason"] = self._text, self._prompt.text, self._end_reason
        return info
