"""Stable-Baselines3 agents on textgym: PPO, A2C, DQN and sb3-contrib's MaskablePPO.

Each runs on the batched environment through :class:`~agents.sb3.vec_env.TextGenSB3VecEnv`,
with :class:`~agents.sb3.features.TokenFeaturesExtractor` as the policy's features
extractor. Checkpoints hold the policy as safetensors and the optimizer state as a
``weights_only`` torch file, never SB3's pickled zip archives. DQN resumes with an empty
replay buffer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.vec_env import VecMonitor

from agents.base import Agent
from agents.checkpoint import LoadedCheckpoint, save_checkpoint
from agents.run import RunConfig
from agents.sb3.action_spaces import TopKActionsVecEnv, TopPMaskVecEnv
from agents.sb3.features import POOLINGS, token_policy_kwargs
from agents.sb3.vec_env import TextGenSB3VecEnv
from textgym.devices import resolve_device

ACTION_SPACES = ("full", "top-k")


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class SB3Config:
    """Hyper-parameters of the on-policy SB3 agents (PPO, A2C, MaskablePPO)."""

    learning_rate: float = field(default=1e-3, metadata=_help("Adam step size"))
    n_steps: int = field(default=32, metadata=_help("rollout length per env between updates"))
    batch_size: int = field(default=128, metadata=_help("minibatch size (PPO)"))
    n_epochs: int = field(default=4, metadata=_help("passes over each rollout (PPO)"))
    gamma: float = field(default=1.0, metadata=_help("discount; 1 keeps dense and sparse returns equal"))
    gae_lambda: float = field(default=0.95, metadata=_help("GAE lambda"))
    ent_coef: float = field(default=0.0, metadata=_help("entropy bonus"))
    vf_coef: float = field(default=0.5, metadata=_help("value loss weight"))
    clip_range: float = field(default=0.2, metadata=_help("PPO clip range"))
    max_grad_norm: float = field(default=0.5, metadata=_help("gradient clipping"))
    pooling: str = field(default="flatten", metadata=_help(f"features extractor pooling: {', '.join(POOLINGS)}"))
    embed_dim: int = field(default=64, metadata=_help("token embedding size"))
    features_dim: int = field(default=128, metadata=_help("features extractor output size"))
    init_embeddings_from_lm: bool = field(default=False, metadata=_help("start token embeddings from the env LM's (needs embed_dim = its width)"))
    action_space: str = field(default="full", metadata=_help("full (the vocabulary) or top-k (the reference LM's k likeliest tokens)"))
    top_k: int = field(default=16, metadata=_help("k for action_space=top-k"))
    top_p: float = field(default=0.9, metadata=_help("nucleus for MaskablePPO's action masks"))


@dataclass
class DQNConfig:
    """Hyper-parameters of the SB3 DQN agent."""

    learning_rate: float = field(default=5e-4, metadata=_help("Adam step size"))
    buffer_size: int = field(default=50_000, metadata=_help("replay buffer size"))
    learning_starts: int = field(default=500, metadata=_help("env steps before learning"))
    batch_size: int = field(default=64, metadata=_help("minibatch size"))
    train_freq: int = field(default=1, metadata=_help("vector steps between updates"))
    gradient_steps: int = field(default=1, metadata=_help("updates per train_freq"))
    target_update_interval: int = field(default=500, metadata=_help("env steps between target network updates"))
    exploration_fraction: float = field(default=0.3, metadata=_help("fraction of the run over which epsilon decays"))
    exploration_final_eps: float = field(default=0.05, metadata=_help("final epsilon"))
    gamma: float = field(default=1.0, metadata=_help("discount; 1 keeps dense and sparse returns equal"))
    pooling: str = field(default="flatten", metadata=_help(f"features extractor pooling: {', '.join(POOLINGS)}"))
    embed_dim: int = field(default=32, metadata=_help("token embedding size"))
    features_dim: int = field(default=128, metadata=_help("features extractor output size"))
    init_embeddings_from_lm: bool = field(default=False, metadata=_help("start token embeddings from the env LM's"))
    action_space: str = field(default="full", metadata=_help("full or top-k"))
    top_k: int = field(default=16, metadata=_help("k for action_space=top-k"))


class SB3Agent(Agent):
    """Shared machinery: env stack, policy kwargs, chunked learning, safe checkpoints."""

    algorithm: ClassVar[type]
    masked: ClassVar[bool] = False
    Config = SB3Config

    def __init__(self, run: RunConfig, config) -> None:
        super().__init__(run, config)
        if config.action_space not in ACTION_SPACES:
            raise ValueError(f"unknown action_space {config.action_space!r}; allowed: {list(ACTION_SPACES)}")
        if config.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {config.pooling!r}; allowed: {list(POOLINGS)}")
        self.device = resolve_device(run.device)
        self.vector_env = gym.make_vec(
            run.env_id, num_envs=run.num_envs, vectorization_mode="vector_entry_point",
            reward_mode=run.reward_mode, device="cpu", **run.env_kwargs,
        )
        venv = TextGenSB3VecEnv(self.vector_env)
        venv.seed(run.seed)
        self.top_k_env = self.mask_env = None
        if config.action_space == "top-k":
            venv = self.top_k_env = TopKActionsVecEnv(venv, self.vector_env, config.top_k)
        if self.masked:
            venv = self.mask_env = TopPMaskVecEnv(venv, self.vector_env, config.top_p)
        self.env = VecMonitor(venv)
        self.model = self.algorithm(
            "MultiInputPolicy", self.env, seed=run.seed, device=self.device, verbose=0,
            policy_kwargs=self._policy_kwargs(), **self.algorithm_kwargs(),
        )
        # progress (for schedules) over the whole run, not over each learn() chunk
        self.model._update_current_progress_remaining = self._progress

    def _progress(self, num_timesteps: int, total_timesteps: int) -> None:
        self.model._current_progress_remaining = max(0.0, 1.0 - num_timesteps / max(1, self.run.steps))

    def _policy_kwargs(self) -> dict:
        c = self.config
        embeddings = None
        if c.init_embeddings_from_lm:
            if self.vector_env.setup.model is None:
                raise ValueError("init_embeddings_from_lm needs an env with a language model (model='tiny')")
            from textgym.models import load_frozen

            weight = load_frozen(self.vector_env.setup.model, "cpu").model.get_input_embeddings().weight
            embeddings = weight[: self.vector_env.vocab_size].detach().clone()
            if embeddings.shape[1] != c.embed_dim:
                raise ValueError(f"init_embeddings_from_lm: the LM's embeddings are {embeddings.shape[1]} wide; set embed_dim={embeddings.shape[1]}")
        return token_policy_kwargs(c.embed_dim, c.features_dim, c.pooling, embeddings)

    def algorithm_kwargs(self) -> dict[str, Any]:
        c = self.config
        return dict(learning_rate=c.learning_rate, n_steps=c.n_steps, batch_size=c.batch_size, n_epochs=c.n_epochs,
                    gamma=c.gamma, gae_lambda=c.gae_lambda, ent_coef=c.ent_coef, vf_coef=c.vf_coef,
                    clip_range=c.clip_range, max_grad_norm=c.max_grad_norm)

    @property
    def env_steps(self) -> int:
        return int(self.model.num_timesteps)

    def learn(self, env_steps: int) -> dict[str, float]:
        self.model.learn(total_timesteps=env_steps, reset_num_timesteps=False, progress_bar=False)
        episodes = self.model.ep_info_buffer
        # NaN or inf in the weights (a diverged update) shows here, and the driver stops on it
        scalars = {"train/max_abs_weight": max(float(p.detach().abs().max()) for p in self.model.policy.parameters())}
        if episodes:
            scalars["train/episode_return"] = float(np.mean([e["r"] for e in episodes]))
            scalars["train/episode_length"] = float(np.mean([e["l"] for e in episodes]))
        return scalars

    def policy(self, observation, vector_env):
        if self.top_k_env is not None:
            observation = self.top_k_env.observe(observation)
        kwargs = {"action_masks": self.mask_env.masks(observation)} if self.mask_env is not None else {}
        actions, _ = self.model.predict(observation, deterministic=True, **kwargs)
        if self.top_k_env is not None:
            return observation["candidates"][np.arange(len(actions)), actions]
        return actions

    def save(self, folder: Path) -> Path:
        state = {"num_timesteps": self.env_steps, "n_updates": int(getattr(self.model, "_n_updates", 0)),
                 "n_calls": int(getattr(self.model, "_n_calls", 0)), "config": asdict(self.config)}
        tensors = {"optimizer": self.model.policy.optimizer.state_dict(), "torch_rng": torch.get_rng_state()}
        return save_checkpoint(folder, self.env_steps, {"policy": self.model.policy}, tensors, state)

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        checkpoint.load_module("policy", self.model.policy)
        try:
            self.model.policy.optimizer.load_state_dict(checkpoint.tensors("optimizer"))
        except (ValueError, KeyError) as error:
            from agents.checkpoint import CheckpointError

            raise CheckpointError(f"checkpoint {checkpoint.path}: optimizer state does not match ({error})") from None
        torch.set_rng_state(checkpoint.tensors("torch_rng"))
        self.model.num_timesteps = int(checkpoint.state["num_timesteps"])
        self.model._n_updates = int(checkpoint.state.get("n_updates", 0))
        if hasattr(self.model, "_n_calls"):
            self.model._n_calls = int(checkpoint.state.get("n_calls", 0))

    def close(self) -> None:
        self.env.close()


class SB3PPOAgent(SB3Agent):
    """SB3 PPO with the token features extractor."""

    name = "sb3-ppo"
    algorithm = PPO


class SB3A2CAgent(SB3Agent):
    """SB3 A2C with the token features extractor."""

    name = "sb3-a2c"
    algorithm = A2C

    def algorithm_kwargs(self) -> dict[str, Any]:
        c = self.config
        return dict(learning_rate=c.learning_rate, n_steps=c.n_steps, gamma=c.gamma, gae_lambda=c.gae_lambda,
                    ent_coef=c.ent_coef, vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm)


class SB3MaskablePPOAgent(SB3Agent):
    """sb3-contrib MaskablePPO: full vocabulary, masked to the reference LM's top-p nucleus (NLPO-style)."""

    name = "sb3-maskable-ppo"
    masked = True

    @property
    def algorithm(self):  # imported lazily: sb3-contrib is only needed by this agent
        from sb3_contrib import MaskablePPO

        return MaskablePPO


class SB3DQNAgent(SB3Agent):
    """SB3 DQN (replay buffer, target network, epsilon-greedy) with the token features extractor."""

    name = "sb3-dqn"
    algorithm = DQN
    Config = DQNConfig

    def algorithm_kwargs(self) -> dict[str, Any]:
        c = self.config
        return dict(learning_rate=c.learning_rate, buffer_size=c.buffer_size, learning_starts=c.learning_starts,
                    batch_size=c.batch_size, train_freq=c.train_freq, gradient_steps=c.gradient_steps,
                    target_update_interval=c.target_update_interval, exploration_fraction=c.exploration_fraction,
                    exploration_final_eps=c.exploration_final_eps, gamma=c.gamma)
