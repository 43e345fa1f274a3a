"""The ``random`` baseline: uniform random tokens; its "training" only spends environment steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.base import Agent
from agents.checkpoint import LoadedCheckpoint, save_checkpoint
from agents.run import RunConfig


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
        return save_checkpoint(folder, self._steps, {}, {}, {"rng": self.rng.bit_generator.state})

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        self._steps = checkpoint.env_steps
        self.rng.bit_generator.state = checkpoint.state["rng"]
