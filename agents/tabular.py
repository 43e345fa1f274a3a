"""Tabular Q-learning and SARSA: one Q-value per (state, token), epsilon-greedy exploration.

The classic value-based baselines (Sutton & Barto, *Reinforcement Learning: An
Introduction*, 2nd ed., sections 6.4 and 6.5). Each state is looked up in a dictionary
from a **state key** to a row of ``vocab_size`` Q-values, so these agents only suit
tasks whose reachable state space is small: a short Copy task over a few symbols, not
free text over a 4096-token vocabulary (the constructor refuses such tasks with a
clear error, and the table has a hard size cap at run time).

State keys (``state_key``)
    - ``"prefix"`` (default): the real tokens of the observation, i.e. the prompt tokens
      followed by the tokens generated so far, as a tuple of ints. This *is* the MDP
      state of a textgym environment, so the table is exact; the number of generated
      tokens (the time step) is part of the key.
    - ``"ngram"`` with ``ngram=k``: the last ``k`` real tokens (fewer at the start of a
      short prompt). An approximation: different prefixes that end in the same ``k``
      tokens share one row (aliased states), which makes the table smaller and lets it
      reach unseen prompts, at the price of a policy that may not be optimal or even
      consistent.

Updates, for a transition ``(s, a, r, s')`` with step size ``alpha`` and discount ``gamma``:
    - Q-learning (off-policy): ``Q(s,a) += alpha * (r + gamma * max_b Q(s',b) - Q(s,a))``
    - SARSA (on-policy): ``Q(s,a) += alpha * (r + gamma * Q(s',a') - Q(s,a))`` where
      ``a'`` is the epsilon-greedy action actually taken in ``s'``.

End of episodes
    - Terminated transitions (EOS or a task's stop condition) bootstrap nothing: the
      target is ``r``.
    - The ``max_new_tokens`` horizon terminates an episode too (it is part of the task's
      MDP, not an artificial cutoff): with prefix keys the key's length says how many
      tokens are left, so a prefix of full length has no successor and value 0. With
      n-gram keys the time step is not in the key, and the same key may be terminal in
      one episode and not in another; that is part of the n-gram approximation.

Training runs on one batched environment (``gym.make_vec(..., vectorization_mode=
"vector_entry_point")`` with ``num_envs`` rows, on the CPU, same-step autoreset). The
rows of a batch are updated one after the other, in row order, exactly as if their
transitions had arrived one at a time. Exploration: with probability epsilon a uniform
random token, otherwise a greedy one with ties broken uniformly at random; epsilon
falls linearly from ``epsilon_start`` to ``epsilon_end`` over the first
``epsilon_decay_fraction`` of the run's ``--steps`` (a run resumed with a larger
``--steps`` stretches the rest of the schedule). Evaluation is greedy (ties: the
lowest token id); a state never seen in training acts as if all its values were the
initial value, i.e. it emits token 0.

Each call of :meth:`TabularAgent.learn` starts fresh episodes (a reset seeded from the
agent's RNG); the episodes still running when it returns are dropped (their transitions
have been learned from already, and SARSA's last pending update is completed with the
epsilon-greedy action it would have taken). The agent's whole state is therefore its
Q-table, its step counter and its RNG, and a run resumed from a checkpoint is the
same, value for value, as one that was never interrupted.

Checkpoint (``checkpoints/step-N/``), no pickle anywhere:
    - ``q_table.safetensors``: ``q_values`` float64 ``[num_states, vocab_size]``;
      ``state_tokens`` int64 ``[num_states, max_key_length]`` (the state keys' token ids,
      right-padded with -1); ``state_lengths`` int64 ``[num_states]``. Row ``i`` of
      ``q_values`` belongs to the key ``state_tokens[i, :state_lengths[i]]``.
    - ``state.json``: env steps, the agent's NumPy RNG state, the table format, the
      state key settings and the vocabulary size (checked on load).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from textgym_agents.base import Agent
from textgym_agents.checkpoint import CheckpointError, LoadedCheckpoint, save_checkpoint
from textgym_agents.run import RunConfig

STATE_KEYS = ("prefix", "ngram")
#: written into ``state.json``; a checkpoint of another format is refused
TABLE_FORMAT = "textgym-q-table-v1"
TABLE_FILE = "q_table"
#: agents that generalise across states, suggested when a task is too large for a table
GENERALISING_AGENTS = "sb3-ppo, sb3-dqn or lm-ppo"

StateKey = tuple[int, ...]


class StateSpaceTooLargeError(ValueError):
    """The task's state space does not fit a table (at construction or at run time)."""


@dataclass
class TabularConfig:
    """Hyper-parameters of tabular Q-learning and SARSA."""

    step_size: float = field(default=0.5, metadata={"help": "alpha: weight of each TD update, in (0, 1]"})
    discount: float = field(default=1.0, metadata={"help": "gamma: discount of the bootstrapped value, in [0, 1]"})
    epsilon_start: float = field(default=1.0, metadata={"help": "exploration rate at the start of the run, in [0, 1]"})
    epsilon_end: float = field(default=0.05, metadata={"help": "exploration rate after the decay, in [0, 1]"})
    epsilon_decay_fraction: float = field(
        default=0.5, metadata={"help": "fraction of --steps over which epsilon falls linearly, in [0, 1]"}
    )
    initial_value: float = field(default=0.0, metadata={"help": "Q-value of a state-token pair never updated"})
    state_key: str = field(
        default="prefix",
        metadata={"help": "prefix: prompt + generated tokens (exact); ngram: the last `ngram` tokens (aliases states)"},
    )
    ngram: int = field(default=3, metadata={"help": "tokens in an n-gram state key (state_key=ngram)"})
    max_vocab: int = field(default=64, metadata={"help": "largest vocabulary allowed with state_key=prefix"})
    max_estimated_states: int = field(
        default=10**9,
        metadata={"help": "largest estimated prefix state space (prompts x (vocab-1)^t summed over t < horizon)"},
    )
    max_states: int = field(
        default=1_000_000, metadata={"help": "most table rows (states) at run time; more is an error"}
    )
    max_table_gib: float = field(default=2.0, metadata={"help": "most memory of the Q-values at run time, in GiB"})

    def __post_init__(self) -> None:
        _check_number("step_size", self.step_size, 0.0, 1.0, low_open=True)
        _check_number("discount", self.discount, 0.0, 1.0)
        _check_number("epsilon_start", self.epsilon_start, 0.0, 1.0)
        _check_number("epsilon_end", self.epsilon_end, 0.0, 1.0)
        _check_number("epsilon_decay_fraction", self.epsilon_decay_fraction, 0.0, 1.0)
        _check_number("initial_value", self.initial_value, -math.inf, math.inf)
        _check_number("max_table_gib", self.max_table_gib, 0.0, math.inf, low_open=True)
        if self.state_key not in STATE_KEYS:
            raise ValueError(f"unknown state_key {self.state_key!r}; allowed: {list(STATE_KEYS)}")
        for name in ("ngram", "max_vocab", "max_estimated_states", "max_states"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_number(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name}={value!r} is outside the allowed range {bracket}{low}, {high}]")


def state_keys(input_ids: np.ndarray, attention_mask: np.ndarray, state_key: str, ngram: int) -> list[StateKey]:
    """One state key per row of a batched observation (real tokens: where the mask is 1)."""
    lengths = attention_mask.sum(axis=1).tolist()
    if state_key == "prefix":
        return [tuple(row[:n].tolist()) for row, n in zip(input_ids, lengths)]
    return [tuple(row[max(0, n - ngram) : n].tolist()) for row, n in zip(input_ids, lengths)]


def estimated_prefix_states(num_prompts: int, vocab_size: int, horizon: int) -> int:
    """Decision states reachable with prefix keys: every prompt followed by every non-EOS sequence shorter than the
    horizon."""
    continuing = max(1, vocab_size - 1)
    return num_prompts * sum(continuing**t for t in range(horizon))


class QTable:
    """State key -> row of ``vocab_size`` float64 Q-values, rows in order of first visit.

    The rows live in one growing ``[capacity, vocab_size]`` array, so a batch of rows is
    one fancy-indexing read and the table saves as one tensor.
    """

    def __init__(self, vocab_size: int, initial_value: float, max_rows: int, describe_limit: str) -> None:
        self.vocab_size = vocab_size
        self.initial_value = float(initial_value)
        self.max_rows = max_rows
        self.describe_limit = describe_limit
        self.index: dict[StateKey, int] = {}
        self.keys: list[StateKey] = []
        self.values = np.full((min(1024, max_rows), vocab_size), self.initial_value, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, key: StateKey) -> int | None:
        """The row of ``key``, or ``None`` if it was never visited."""
        return self.index.get(key)

    def row(self, key: StateKey) -> int:
        """The row of ``key``, added (with the initial values) on first visit."""
        found = self.index.get(key)
        if found is not None:
            return found
        count = len(self.keys)
        if count >= self.max_rows:
            raise StateSpaceTooLargeError(self.describe_limit)
        if count == len(self.values):
            grown = np.full((min(2 * count, self.max_rows), self.vocab_size), self.initial_value, dtype=np.float64)
            grown[:count] = self.values
            self.values = grown
        self.index[key] = count
        self.keys.append(key)
        return count

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """The table as the tensors of ``q_table.safetensors`` (see the module docstring)."""
        count = len(self.keys)
        lengths = np.array([len(k) for k in self.keys], dtype=np.int64)
        width = int(lengths.max()) if count else 0
        tokens = np.full((count, width), -1, dtype=np.int64)
        for i, key in enumerate(self.keys):
            tokens[i, : len(key)] = key
        return {
            "q_values": torch.from_numpy(self.values[:count].copy()),
            "state_tokens": torch.from_numpy(tokens),
            "state_lengths": torch.from_numpy(lengths),
        }

    def load_tensors(self, tensors: dict[str, torch.Tensor], where: str) -> None:
        """Replace the table by the one in ``tensors``; anything inconsistent is a :class:`CheckpointError`."""
        expected = {"q_values": torch.float64, "state_tokens": torch.int64, "state_lengths": torch.int64}
        if set(tensors) != set(expected):
            raise CheckpointError(f"{where}: expected tensors {sorted(expected)}, found {sorted(tensors)}")
        for name, dtype in expected.items():
            if tensors[name].dtype != dtype:
                raise CheckpointError(f"{where}: {name} has dtype {tensors[name].dtype}, expected {dtype}")
        values, tokens, lengths = (tensors[name].numpy() for name in ("q_values", "state_tokens", "state_lengths"))
        count = len(lengths)
        if values.ndim != 2 or values.shape != (count, self.vocab_size):
            raise CheckpointError(
                f"{where}: q_values has shape {list(values.shape)}, expected [{count}, {self.vocab_size}] "
                f"(states x this environment's vocabulary)"
            )
        if tokens.ndim != 2 or tokens.shape[0] != count or lengths.ndim != 1:
            raise CheckpointError(
                f"{where}: state_tokens {list(tokens.shape)} and state_lengths {list(lengths.shape)} disagree"
            )
        if count and ((lengths < 1).any() or (lengths > tokens.shape[1]).any()):
            raise CheckpointError(f"{where}: state_lengths must lie in [1, {tokens.shape[1]}]")
        if count > self.max_rows:
            raise CheckpointError(
                f"{where}: the table holds {count} states, more than this run allows: {self.describe_limit}"
            )
        if not np.isfinite(values).all():
            raise CheckpointError(f"{where}: q_values holds NaN or inf")
        keys = [tuple(row[:n].tolist()) for row, n in zip(tokens, lengths.tolist())]
        if any(t < 0 or t >= self.vocab_size for key in keys for t in key):
            raise CheckpointError(f"{where}: a state key holds a token id outside [0, {self.vocab_size})")
        index = {key: i for i, key in enumerate(keys)}
        if len(index) != count:
            raise CheckpointError(f"{where}: state_tokens holds the same state key twice")
        self.keys, self.index = keys, index
        self.values = np.full(
            (max(count, min(1024, self.max_rows)), self.vocab_size), self.initial_value, dtype=np.float64
        )
        self.values[:count] = values


class TabularAgent(Agent):
    """Epsilon-greedy tabular TD control on a batched textgym environment (see the module docstring)."""

    Config = TabularConfig
    #: SARSA bootstraps from the action taken next; Q-learning from the greedy one
    on_policy: ClassVar[bool]

    def __init__(self, run: RunConfig, config: TabularConfig) -> None:
        super().__init__(run, config)
        for key in ("num_envs", "device", "output", "autoreset_mode", "vectorization_mode"):
            if key in run.env_kwargs:
                raise ValueError(
                    f"--env-kwargs must not set {key!r}: agent {self.name!r} chooses it (allowed: task arguments)"
                )
        self.device = "cpu"  # a table lives in host memory; evaluation runs there too
        self.rng = np.random.default_rng(run.seed)
        self.env = gym.make_vec(
            run.env_id, num_envs=run.num_envs, vectorization_mode="vector_entry_point",
            device="cpu", reward_mode=run.reward_mode, **run.env_kwargs,
        )
        self.vocab_size = int(self.env.vocab_size)
        self.task_name = self.env.task.name
        self._check_state_space()
        memory_rows = int(config.max_table_gib * 2**30 // (8 * self.vocab_size))
        max_rows = max(1, min(config.max_states, memory_rows))
        limit = (
            f"max_states={config.max_states}" if max_rows == config.max_states
            else f"max_table_gib={config.max_table_gib} ({max_rows} rows of {self.vocab_size} float64 values)"
        )
        self.table = QTable(
            self.vocab_size,
            config.initial_value,
            max_rows,
            f"agent {self.name!r} on task {self.task_name!r} ({run.env_id}, state_key={config.state_key!r}): the "
            f"Q-table reached its limit of {max_rows} states ({limit}); raise it with --set, use --set state_key=ngram "
            f"(a smaller, approximate table), or an agent that generalises ({GENERALISING_AGENTS})",
        )
        self._steps = 0

    def _check_state_space(self) -> None:
        config = self.config
        if config.state_key != "prefix":
            return
        where = f"agent {self.name!r} with state_key='prefix' on task {self.task_name!r} ({self.run.env_id})"
        advice = (f"use --set state_key=ngram --set ngram=K (an approximation that aliases states) or an agent that "
                  f"generalises ({GENERALISING_AGENTS})")
        if self.vocab_size > config.max_vocab:
            raise StateSpaceTooLargeError(
                f"{where}: the vocabulary has {self.vocab_size} tokens, more than max_vocab={config.max_vocab}; "
                f"a table over prefixes cannot cover this task: {advice}"
            )
        estimate = estimated_prefix_states(len(self.env.setup.prompts), self.vocab_size, self.env.max_new_tokens)
        if estimate > config.max_estimated_states:
            raise StateSpaceTooLargeError(
                f"{where}: about {float(estimate):.3g} reachable states ({len(self.env.setup.prompts)} prompts, "
                f"{self.vocab_size} tokens, horizon {self.env.max_new_tokens}), more than "
                f"max_estimated_states={config.max_estimated_states}; {advice}"
            )

    # -- Agent interface ---------------------------------------------------------------------

    @property
    def env_steps(self) -> int:
        return self._steps

    @property
    def num_states(self) -> int:
        """Rows of the Q-table (distinct state keys visited in training)."""
        return len(self.table)

    @property
    def epsilon(self) -> float:
        """The exploration rate at the current env step."""
        c = self.config
        decay_steps = c.epsilon_decay_fraction * self.run.steps
        progress = 1.0 if decay_steps <= 0 else min(1.0, self._steps / decay_steps)
        return c.epsilon_start + progress * (c.epsilon_end - c.epsilon_start)

    def key(self, token_ids) -> StateKey:
        """The state key of one observation's real tokens (prompt + generated)."""
        ids = np.asarray(token_ids, dtype=np.int64).reshape(1, -1)
        return state_keys(ids, np.ones_like(ids), self.config.state_key, self.config.ngram)[0]

    def q_values(self, token_ids) -> np.ndarray | None:
        """The Q-values of the state reached by ``token_ids`` (prompt + generated), or ``None`` if never visited."""
        row = self.table.find(self.key(token_ids))
        return None if row is None else self.table.values[row].copy()

    def learn(self, env_steps: int) -> dict[str, float]:
        c, table, n = self.config, self.table, self.env.num_envs
        obs, _ = self.env.reset(seed=int(self.rng.integers(2**31 - 1)))
        rows = self._rows(obs)
        pending: list[tuple[int, int, float] | None] = [None] * n  # SARSA: (row, action, reward) awaiting a'
        episode_returns = np.zeros(n)
        finished_returns: list[float] = []
        step_rewards: list[float] = []
        td_errors: list[float] = []
        for _ in range(max(1, -(-env_steps // n))):
            actions = self._explore(rows)
            if self.on_policy:
                for i, item in enumerate(pending):
                    if item is not None:
                        s, a, r = item
                        td_errors.append(self._update(s, a, r + c.discount * table.values[rows[i], actions[i]]))
                        pending[i] = None
            obs, rewards, terminated, truncated, info = self.env.step(actions)
            self._steps += n
            next_rows = self._rows(obs)
            episode_returns += rewards
            step_rewards.append(float(rewards.mean()))
            for i in range(n):
                s, a, r = rows[i], int(actions[i]), float(rewards[i])
                if terminated[i] or truncated[i]:
                    finished_returns.append(float(episode_returns[i]))
                    episode_returns[i] = 0.0
                    td_errors.append(self._update(s, a, r))
                elif self.on_policy:
                    pending[i] = (s, a, r)
                else:
                    td_errors.append(self._update(s, a, r + c.discount * table.values[next_rows[i]].max()))
            rows = next_rows
        if self.on_policy and any(item is not None for item in pending):
            actions = self._explore(rows)
            for i, item in enumerate(pending):
                if item is not None:
                    s, a, r = item
                    td_errors.append(self._update(s, a, r + c.discount * table.values[rows[i], actions[i]]))
        scalars = {
            "train/epsilon": self.epsilon,
            "train/num_states": float(len(table)),
            "train/mean_step_reward": float(np.mean(step_rewards)),
            "train/mean_abs_td_error": float(np.mean(np.abs(td_errors))) if td_errors else 0.0,
        }
        if finished_returns:
            scalars["train/mean_episode_return"] = float(np.mean(finished_returns))
        return scalars

    def policy(self, observation, vector_env) -> np.ndarray:
        """Greedy token ids (ties and unseen states: the lowest id); never adds rows to the table."""
        ids, mask = (_numpy(observation[k]) for k in ("input_ids", "attention_mask"))
        actions = np.zeros(len(ids), dtype=np.int64)
        for i, key in enumerate(state_keys(ids, mask, self.config.state_key, self.config.ngram)):
            row = self.table.find(key)
            if row is not None:
                actions[i] = int(np.argmax(self.table.values[row]))
        return actions

    def save(self, folder: Path) -> Path:
        state = {
            "format": TABLE_FORMAT,
            "agent": self.name,
            "state_key": self.config.state_key,
            "ngram": self.config.ngram,
            "vocab_size": self.vocab_size,
            "num_states": len(self.table),
            "rng": self.rng.bit_generator.state,
        }
        return save_checkpoint(folder, self._steps, {TABLE_FILE: self.table.to_tensors()}, {}, state)

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        state, where = checkpoint.state, f"checkpoint {checkpoint.path}"
        if state.get("format") != TABLE_FORMAT:
            raise CheckpointError(
                f"{where} is not a Q-table checkpoint (format {state.get('format')!r}, expected {TABLE_FORMAT!r})"
            )
        mine = {"state_key": self.config.state_key, "vocab_size": self.vocab_size}
        if self.config.state_key == "ngram":
            mine["ngram"] = self.config.ngram
        different = {k: (state.get(k), v) for k, v in mine.items() if state.get(k) != v}
        if different:
            detail = ", ".join(f"{k}: checkpoint has {a!r}, this agent {b!r}" for k, (a, b) in different.items())
            raise CheckpointError(f"{where} does not match this agent ({detail})")
        self.table.load_tensors(checkpoint.weights(TABLE_FILE), f"{where}: {TABLE_FILE}.safetensors")
        try:
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: the RNG state in state.json is missing or corrupt ({error})") from None
        self._steps = checkpoint.env_steps

    def close(self) -> None:
        self.env.close()

    # -- internals -----------------------------------------------------------------------------

    def _rows(self, obs: dict[str, np.ndarray]) -> list[int]:
        keys = state_keys(obs["input_ids"], obs["attention_mask"], self.config.state_key, self.config.ngram)
        return [self.table.row(key) for key in keys]

    def _explore(self, rows: list[int]) -> np.ndarray:
        """Epsilon-greedy actions; greedy ties broken uniformly at random."""
        q = self.table.values[rows]
        ties = q == q.max(axis=1, keepdims=True)
        greedy = np.argmax(np.where(ties, self.rng.random(q.shape), -1.0), axis=1)
        explore = self.rng.random(len(rows)) < self.epsilon
        return np.where(explore, self.rng.integers(0, self.vocab_size, len(rows)), greedy)

    def _update(self, row: int, action: int, target: float) -> float:
        """One TD update of ``Q(row, action)`` towards ``target``; returns the TD error."""
        error = float(target - self.table.values[row, action])
        self.table.values[row, action] += self.config.step_size * error
        return error


class QLearningAgent(TabularAgent):
    """Tabular Q-learning (off-policy TD control): bootstraps from the greedy value of the next state."""

    name = "q-learning"
    on_policy = False


class SarsaAgent(TabularAgent):
    """Tabular SARSA (on-policy TD control): bootstraps from the value of the action taken next."""

    name = "sarsa"
    on_policy = True


def _numpy(value) -> np.ndarray:
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


__all__ = [
    "QLearningAgent",
    "QTable",
    "SarsaAgent",
    "StateSpaceTooLargeError",
    "TabularAgent",
    "TabularConfig",
    "estimated_prefix_states",
    "state_keys",
]
