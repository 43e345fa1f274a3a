"""The ``random`` baseline: uniform random tokens; its "training" only spends environment steps.

Its checkpoint holds the token generator and the batched env's unfinished episodes (same-step
autoreset: episodes run across ``learn`` chunks), so a resumed run draws the same tokens and
continues the same episodes as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from textgym_agents.base import Agent
from textgym_agents.checkpoint import CheckpointError, LoadedCheckpoint, save_checkpoint
from textgym_agents.env_state import env_state, restore_env_state
from textgym_agents.run import RunConfig


@dataclass
class RandomConfig:
    """The random agent has no hyper-parameters."""


class RandomAgent(Agent):
    """Uniform random token ids; a floor every learning agent should beat."""

    name = "random"
    Config = RandomConfig

    def __init__(self, run: RunConfig, config: RandomConfig) -> None:
        super().__init__(run, config)
        self.rng = np.random.default_rng(run.seed)
        self.env = gym.make_vec(
            run.env_id, num_envs=run.num_envs, vectorization_mode="vector_entry_point",
            reward_mode=run.reward_mode, device=run.device, **run.env_kwargs,
        )
        self.env.reset(seed=run.seed)
        self._steps = 0

    @property
    def env_steps(self) -> int:
        return self._steps

    def learn(self, env_steps: int) -> dict[str, float]:
        n = self.env.num_envs
        rewards = []
        for _ in range(max(1, -(-env_steps // n))):
            _, reward, *_ = self.env.step(self.rng.integers(0, self.env.vocab_size, n))
            rewards.append(float(np.mean(reward)))
            self._steps += n
        return {"train/mean_step_reward": float(np.mean(rewards))}

    def policy(self, observation, vector_env):
        return self.rng.integers(0, vector_env.vocab_size, vector_env.num_envs)

    def save(self, folder: Path) -> Path:
        """The step count, the token RNG, and the env's unfinished episodes (see :mod:`textgym_agents.env_state`)."""
        env_tensors, env_data = env_state(self.env)
        return save_checkpoint(folder, self._steps, {"env": env_tensors}, {},
                               {"agent": self.name, "rng": self.rng.bit_generator.state, "env": env_data})

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        state, where = checkpoint.state, f"checkpoint {checkpoint.path}"
        if state.get("agent", self.name) != self.name:
            raise CheckpointError(f"{where} was written by agent {state.get('agent')!r}, not {self.name!r}")
        try:
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: the RNG state is missing or damaged ({error})") from None
        if "env" in state:  # older checkpoints hold no env state: the env starts fresh episodes
            restore_env_state(self.env, checkpoint.weights("env"), state["env"], where)
        self._steps = checkpoint.env_steps
