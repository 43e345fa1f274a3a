"""``ConversationVectorEnv``: ``num_envs`` conversations stepped together, observations as arrays or torch tensors."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from textgym.conversation.env import RENDER_MODES, Conversation, check_user, newline_tokens
from textgym.conversation.task import DEFAULT_MAX_TURNS, ConversationTask, build_conversation_setup
from textgym.conversation.user import UserSimulator, WorldUser
from textgym.devices import resolve_device
from textgym.envs.setup import check_positive_int
from textgym.envs.vector import OUTPUTS, _autoreset_mode

#: info keys and their dtypes (strings as object arrays), as :class:`~textgym.conversation.env.ConversationEnv` gives
INFO_DTYPES: dict[str, Any] = {
    "prompt": object, "text": object, "score": np.float64, "turn": np.int64, "user_goal": object, "end_reason": object,
    "agent_turn_ended": bool, "prompt_index": np.int64, "num_generated": np.int64, "length": np.int64,
}


class ConversationVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :class:`~textgym.conversation.env.ConversationEnv` in one batched environment.

    ``gym.make_vec("textgym/Conversation-v0", num_envs=N, vectorization_mode="vector_entry_point")`` returns it.
    Each row is stepped by the same code as the single env (:class:`~textgym.conversation.env.Conversation`), so
    the same seeds and actions give the same observations, rewards, ends and infos row by row.

    Attributes the LM rollout reads, as :class:`~textgym.envs.vector.TextGenVectorEnv` has them: ``num_envs``,
    ``device``, ``tokenizer`` (``pad_token_id``, ``eos_token_id``), ``setup`` (``max_prompt_tokens``,
    ``obs_length``, ``prompts``, ``model``), ``max_new_tokens`` (the conversation budget after the prompt, agent
    and user tokens: the most columns a rollout needs), ``ended`` (bool tensor ``[num_envs]`` on ``device``: the
    rows whose episode ended and wait, with NEXT_STEP or DISABLED autoreset), ``num_generated`` (agent tokens per
    row, an int64 tensor), ``vocab_size``.

    After ``step``, a row's real length (``attention_mask.sum()``) grew by 1 (the agent's token, always the first
    of the new tokens) plus the user tokens appended after it (0 unless its agent turn just ended and the
    conversation goes on); ``info["agent_turn_ended"]`` says which rows just ended an agent turn.

    Seeding: ``reset(seed=s)`` seeds row ``i`` with ``s + i`` (as ``SyncVectorEnv`` does) and ``reset(seed=[s_0,
    ...])`` row ``i`` with ``s_i``: row ``i`` then sees the episodes of a ``ConversationEnv`` reset with that seed
    (its prompts and user seeds; autoresets draw the next ones from the same generator).

    Autoreset (``autoreset_mode``, as ``TextGenVectorEnv``): ``"SameStep"`` (default: an ending row is reset in
    the same step; its final observation and info are in ``info["final_obs"]`` and ``info["final_info"]``, with
    their ``_`` masks, as ``SyncVectorEnv`` lays them out), ``"NextStep"`` (the step after a row ends resets it:
    its action is ignored, reward 0, flags False) or ``"Disabled"`` (an ended row is frozen, its actions ignored,
    until ``reset(options={"reset_mask": mask})``).

    Info: every key of the single env's info (:data:`INFO_DTYPES`), one entry per row, each with its ``_key`` mask
    (all True). With ``output="torch"`` the numeric keys are tensors on ``device`` (``agent_turn_ended`` a bool
    tensor) and the observation, rewards and flags too; the strings stay object arrays.

    Args:
        task, model, reward_mode, max_turns, max_conversation_tokens, max_prompt_tokens, split, render_mode: as for
            ``ConversationEnv``.
        num_envs: number of rows.
        user: a :class:`~textgym.conversation.user.UserSimulator`; each row gets its own deep copy (default: a
            :class:`~textgym.conversation.user.WorldUser` per row).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        output: ``"numpy"`` or ``"torch"``.
        autoreset_mode: ``"SameStep"``, ``"NextStep"`` or ``"Disabled"`` (or the ``AutoresetMode`` members).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        task: str | ConversationTask = "conversation",
        num_envs: int = 1,
        model: str | None = None,
        reward_mode: str = "dense",
        max_turns: int = DEFAULT_MAX_TURNS,
        max_conversation_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
        split: str = "train",
        user: UserSimulator | None = None,
        device: str | torch.device = "auto",
        output: str = "numpy",
        render_mode: str | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
    ) -> None:
        self.num_envs = check_positive_int("num_envs", num_envs)
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; allowed: {list(OUTPUTS)}")
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"unknown render_mode {render_mode!r}; allowed: {list(RENDER_MODES)} or None")
        self.device = resolve_device(device)
        self.output, self.render_mode = output, render_mode
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.setup = build_conversation_setup(
            task, model, reward_mode, max_turns, max_conversation_tokens, max_prompt_tokens, split
        )
        self.task, self.tokenizer = self.setup.task, self.setup.tokenizer
        self.reward_mode, self.max_new_tokens = self.setup.reward_mode, self.setup.max_new_tokens
        self.max_turns, self.vocab_size = self.setup.max_turns, self.tokenizer.vocab_size
        self.single_observation_space = self.setup.observation_space()
        self.single_action_space = self.setup.action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        if user is not None:
            check_user(user)
        newline = newline_tokens(self.tokenizer)
        self.rows = [
            Conversation(self.setup, WorldUser() if user is None else copy.deepcopy(user), newline)
            for _ in range(self.num_envs)
        ]
        self._generators = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._waiting = np.zeros(self.num_envs, dtype=bool)  # rows that ended and wait (NEXT_STEP, DISABLED)
        self.ended = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self.num_generated = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)

    # -- Gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed=None, options: Mapping[str, Any] | None = None):
        options = dict(options or {})
        unknown = set(options) - {"reset_mask", "prompt_index"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: ['prompt_index', 'reset_mask']")
        rows = self._rows_of(options.get("reset_mask"))
        if seed is not None:
            seeds = self._check_seeds(seed)
            if isinstance(seed, numbers.Integral):
                self._np_random, self._np_random_seed = seeding.np_random(int(seed))
            for row in rows:
                self._generators[row] = seeding.np_random(seeds[row])[0]
        indices = self._prompt_indices(options.get("prompt_index"), len(rows))
        for row, index in zip(rows, indices):
            self._start(row, index)
        self._sync()
        return self._observation(), self._info(set())

    def step(self, actions):
        tokens = self._check_actions(actions)
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        frozen: set[int] = set()
        for row, conversation in enumerate(self.rows):
            if self._waiting[row]:
                if self.autoreset_mode is AutoresetMode.NEXT_STEP:
                    self._start(row, None)
                else:
                    frozen.add(row)
                continue
            rewards[row] = conversation.step(int(tokens[row]))
            terminated[row] = conversation.done
        final = None
        if self.autoreset_mode is AutoresetMode.SAME_STEP:
            if terminated.any():
                final = self._final(terminated)
                for row in np.flatnonzero(terminated).tolist():
                    self._start(row, None)
        else:
            self._waiting |= terminated
        self._sync()
        info = self._info(frozen)
        if final is not None:
            info.update(final)
        truncated = np.zeros(n, dtype=bool)
        if self.render_mode == "human":
            self.render()
        return (self._observation(), self._out(rewards), self._out(terminated), self._out(truncated), info)

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        text = "\n\n".join(f"[env {i}]\n{row.render_text()}" for i, row in enumerate(self.rows))
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None

    def texts(self, rows=None) -> list[str]:
        """The conversations so far (after the prompt) of ``rows`` (default: every row)."""
        chosen = range(self.num_envs) if rows is None else [int(r) for r in rows]
        return [self.rows[row].text for row in chosen]

    # -- internals ---------------------------------------------------------------------------------

    def _start(self, row: int, index: int | None) -> None:
        generator = self._generators[row]
        if index is None:
            index = int(generator.integers(len(self.setup.prompts)))
        self.rows[row].reset(int(index), int(generator.integers(2**31)))
        self._waiting[row] = False

    def _rows_of(self, mask) -> list[int]:
        if mask is None:
            return list(range(self.num_envs))
        array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if array.dtype != bool or array.shape != (self.num_envs,):
            raise ValueError(
                f"reset_mask must be a bool array of shape ({self.num_envs},), got dtype {array.dtype} and shape "
                f"{array.shape}"
            )
        return np.flatnonzero(array).tolist()

    def _check_seeds(self, seed) -> list[int]:
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
            if seed < 0:
                raise ValueError(f"seed must be a non-negative int, got {seed}")
            return [int(seed) + i for i in range(self.num_envs)]
        if isinstance(seed, torch.Tensor | np.ndarray):
            seed = seed.tolist()
        if not isinstance(seed, list | tuple) or len(seed) != self.num_envs:
            raise ValueError(f"seed must be None, an int or a list of {self.num_envs} ints (one per env), got {seed!r}")
        for value in seed:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"seed list entries must be non-negative ints, got {value!r}")
        return [int(value) for value in seed]

    def _prompt_indices(self, index, count: int) -> list[int | None]:
        if index is None:
            return [None] * count
        if isinstance(index, torch.Tensor):
            index = index.detach().cpu().numpy()
        indices = np.broadcast_to(np.asarray(index), (count,)) if np.ndim(index) == 0 else np.asarray(index)
        prompts = len(self.setup.prompts)
        if (indices.shape != (count,) or not np.issubdtype(indices.dtype, np.integer) or (indices < 0).any()
                or (indices >= prompts).any()):
            raise ValueError(
                f"prompt_index={index!r} must be an int or {count} ints (one per reset row) in [0, {prompts}) "
                f"for the {self.setup.split!r} split"
            )
        return [int(i) for i in indices]

    def _check_actions(self, actions) -> np.ndarray:
        if isinstance(actions, torch.Tensor):
            if actions.dtype.is_floating_point or actions.dtype == torch.bool or actions.is_complex():
                raise ValueError(f"actions must be integer token ids, got dtype {actions.dtype}; "
                                 f"allowed: integers in [0, {self.vocab_size})")
            actions = actions.detach().cpu().numpy()
        array = np.asarray(actions)
        if array.dtype.kind not in "iu":
            raise ValueError(f"actions must be integer token ids, got dtype {array.dtype}; "
                             f"allowed: integers in [0, {self.vocab_size})")
        if array.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), one token id per env, got {array.shape}")
        array = array.astype(np.int64)
        live = ~self._waiting
        bad = live & ((array < 0) | (array >= self.vocab_size))
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(f"actions out of range at env(s) {rows}: {array[rows].tolist()}; "
                             f"allowed: integers in [0, {self.vocab_size})")
        return array

    def _sync(self) -> None:
        self.ended.copy_(torch.from_numpy(self._waiting.copy()))
        self.num_generated.copy_(torch.tensor([row.num_generated for row in self.rows], dtype=torch.int64))

    def _observation(self) -> dict[str, Any]:
        stacked = {
            "input_ids": np.stack([row.input_ids for row in self.rows]),
            "attention_mask": np.stack([row.attention_mask for row in self.rows]),
            "agent_mask": np.stack([row.agent_mask for row in self.rows]),
        }
        return {key: self._out(value) for key, value in stacked.items()}

    def _info(self, frozen: set[int]) -> dict[str, Any]:
        infos = [row.info() for row in self.rows]
        for row in frozen:  # no step happened in a frozen row: nothing ended there now
            infos[row]["end_reason"], infos[row]["agent_turn_ended"] = "", False
        info: dict[str, Any] = {}
        for key, dtype in INFO_DTYPES.items():
            values = np.empty(self.num_envs, dtype=object) if dtype is object else np.zeros(self.num_envs, dtype)
            for row, row_info in enumerate(infos):
                values[row] = row_info[key]
            info[key] = values if dtype is object else self._out(values)
            info[f"_{key}"] = np.ones(self.num_envs, dtype=bool)
        return info

    def _final(self, ended: np.ndarray) -> dict[str, Any]:
        """``final_obs`` and ``final_info`` of the ending rows, as ``SyncVectorEnv`` lays them out."""
        final_obs = np.empty(self.num_envs, dtype=object)
        final_info: dict[str, Any] = {}
        for key, dtype in INFO_DTYPES.items():
            final_info[key] = np.empty(self.num_envs, dtype=object) if dtype is object else np.zeros(self.num_envs,
                                                                                                     dtype)
            final_info[f"_{key}"] = ended.copy()
        for row in np.flatnonzero(ended).tolist():
            conversation = self.rows[row]
            obs = conversation.observation()
            final_obs[row] = {key: self._out(value) for key, value in obs.items()}
            for key, value in conversation.info().items():
                final_info[key][row] = value
        return {"final_obs": final_obs, "_final_obs": ended.copy(), "final_info": final_info,
                "_final_info": ended.copy()}

    def _out(self, array: np.ndarray):
        if self.output == "torch":
            return torch.from_numpy(array).to(self.device)
        return array


__all__ = ["INFO_DTYPES", "ConversationVectorEnv"]
