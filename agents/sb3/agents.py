"""Stable-Baselines3 agents on textgym: PPO, A2C, DQN and sb3-contrib's MaskablePPO.

Each runs on the batched environment through :class:`~textgym_agents.sb3.vec_env.TextGenSB3VecEnv`,
with :class:`~textgym_agents.sb3.features.TokenFeaturesExtractor` as the policy's features
extractor.

Checkpoints (never SB3's pickled zip archives) are taken between two ``learn`` chunks and
hold everything that steers the rest of the run, so that a resumed run repeats an
uninterrupted one exactly:

- ``policy.safetensors`` (DQN: the Q-network and its target network), ``optimizer.pt``;
- the random streams: torch, NumPy's global generator (PPO's minibatch shuffles, DQN's
  epsilon draws and replay sampling), Python's, the action space's (DQN's random actions);
- SB3's counters and schedule values (``num_timesteps``, ``_n_updates``, ``_n_calls``,
  ``_episode_num``, the progress that drives learning-rate, clip-range and exploration
  schedules, DQN's current epsilon);
- the unfinished episodes: SB3's last observation and episode starts, and the batched
  env's rows (``env.safetensors``, restored by replay: :mod:`textgym_agents.env_state`);
- DQN's replay buffer (``replay_buffer.safetensors``: its filled part; token ids and
  attention masks stored as uint8 or int32 where their values fit);
- the episode statistics of ``VecMonitor`` (TensorBoard's ``train/episode_*`` only).

PPO's and A2C's rollout buffer is empty at a chunk boundary (every ``learn`` ends with an
update), so nothing of it is saved.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.vec_env import VecMonitor

from textgym.devices import resolve_device
from textgym_agents.base import Agent
from textgym_agents.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    torch_rng_tensors,
)
from textgym_agents.env_state import env_state, restore_env_state
from textgym_agents.run import RunConfig
from textgym_agents.sb3.action_spaces import TopKActionsVecEnv, TopPMaskVecEnv
from textgym_agents.sb3.features import POOLINGS, token_policy_kwargs
from textgym_agents.sb3.vec_env import TextGenSB3VecEnv

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
    init_embeddings_from_lm: bool = field(
        default=False, metadata=_help("start token embeddings from the env LM's (needs embed_dim = its width)")
    )
    action_space: str = field(
        default="full", metadata=_help("full (the vocabulary) or top-k (the reference LM's k likeliest tokens)")
    )
    top_k: int = field(default=16, metadata=_help("k for action_space=top-k"))
    top_p: float = field(default=0.9, metadata=_help("nucleus for MaskablePPO's action masks"))


#: sb3-ppo-topk's default k (chosen on seeds >= 100, Sentiment-v1 and Keywords-v1: benchmarks/RESULTS.md)
TOP_K_DEFAULT = 16


@dataclass
class SB3TopKConfig(SB3Config):
    """Hyper-parameters of ``sb3-ppo-topk``: :class:`SB3Config` with the action space fixed to the top-k tokens."""

    action_space: str = field(
        default="top-k", metadata=_help("top-k only (action i = the reference LM's i-th likeliest token)")
    )
    top_k: int = field(default=TOP_K_DEFAULT, metadata=_help("k: the actions are the reference LM's k likeliest"))


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
        # cached views of the reference LM for policy()'s batches (evaluation steps its own env token by token)
        self._policy_references = {
            name: wrapper.reference.incremental()
            for name, wrapper in (("top_k", self.top_k_env), ("mask", self.mask_env)) if wrapper is not None
        }
        self.env = VecMonitor(venv)
        self.model = self.algorithm(
            "MultiInputPolicy", self.env, seed=run.seed, device=self.device, verbose=0,
            policy_kwargs=self._policy_kwargs(), **self.algorithm_kwargs(),
        )
        # progress (for schedules) over the whole run, not over each learn() chunk
        self.model._update_current_progress_remaining = self._progress

    @classmethod
    def needs_language_model(cls, config) -> bool:
        """Whether this agent with ``config`` acts on the env's language model (top-k actions, top-p masks): it
        then runs on language tasks only (or with ``model=...`` in the env's arguments)."""
        return cls.masked or config.action_space == "top-k"

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
                raise ValueError(
                    f"init_embeddings_from_lm: the LM's embeddings are {embeddings.shape[1]} wide; set "
                    f"embed_dim={embeddings.shape[1]}"
                )
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
        references = self._policy_references
        if self.top_k_env is not None:
            observation = self.top_k_env.observe(observation, references["top_k"])
        kwargs = {}
        if self.mask_env is not None:
            kwargs["action_masks"] = self.mask_env.masks(observation, references["mask"])
        actions, _ = self.model.predict(observation, deterministic=True, **kwargs)
        if self.top_k_env is not None:
            return observation["candidates"][np.arange(len(actions)), actions]
        return actions

    # -- checkpoints ---------------------------------------------------------------------------------

    #: SB3 counters and schedule values that steer what comes next (absent ones are skipped)
    COUNTERS: ClassVar[tuple[str, ...]] = ("num_timesteps", "_n_updates", "_n_calls", "_episode_num",
                                           "_current_progress_remaining", "exploration_rate")

    def save(self, folder: Path) -> Path:
        """Everything that steers the future, taken between two ``learn`` chunks (see the module docstring)."""
        model, monitor = self.model, self.env
        state: dict[str, Any] = {
            "agent": self.name,
            "config": asdict(self.config),
            "counters": {name: getattr(model, name) for name in self.COUNTERS if hasattr(model, name)},
            "rng": rng_state(),
            "action_space_rng": model.action_space.np_random.bit_generator.state,
            "monitor": {"episode_count": int(monitor.episode_count),
                        "episode_returns": monitor.episode_returns.tolist(),
                        "episode_lengths": monitor.episode_lengths.tolist()},
            "ep_info": [[float(e["r"]), int(e["l"])] for e in (model.ep_info_buffer or [])],
            "started": model._last_obs is not None,
        }
        tensors: dict[str, Any] = {"optimizer": model.policy.optimizer.state_dict(), **torch_rng_tensors()}
        modules: dict[str, Any] = {"policy": model.policy}
        if model._last_obs is not None:  # mid-episode: SB3's last observation and the env's unfinished episodes
            env_tensors, state["env"] = env_state(self.vector_env)
            last = {
                f"last_obs.{key}": torch.from_numpy(np.asarray(value).copy()) for key, value in model._last_obs.items()
            }
            last["last_episode_starts"] = torch.from_numpy(np.asarray(model._last_episode_starts, dtype=bool).copy())
            modules["env"] = {**env_tensors, **last}
        buffer = getattr(model, "replay_buffer", None)
        if buffer is not None:
            modules["replay_buffer"], state["replay_buffer"] = replay_buffer_tensors(buffer)
        return save_checkpoint(folder, self.env_steps, modules, tensors, state)

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        state, where, model = checkpoint.state, f"checkpoint {checkpoint.path}", self.model
        if state.get("agent", self.name) != self.name:
            raise CheckpointError(f"{where} was written by agent {state.get('agent')!r}, not {self.name!r}")
        checkpoint.load_module("policy", model.policy)
        try:
            model.policy.optimizer.load_state_dict(checkpoint.tensors("optimizer"))
        except (ValueError, KeyError) as error:
            raise CheckpointError(f"{where}: optimizer state does not match ({error})") from None
        checkpoint.set_torch_rng_state()
        if "counters" not in state:  # a checkpoint of an older version: weights, optimizer and counters only
            model.num_timesteps = int(state["num_timesteps"])
            model._n_updates = int(state.get("n_updates", 0))
            if hasattr(model, "_n_calls"):
                model._n_calls = int(state.get("n_calls", 0))
            return
        try:
            for name, value in state["counters"].items():
                setattr(model, name, value)
            set_rng_state(state["rng"], None)
            model.action_space.np_random.bit_generator.state = state["action_space_rng"]
            monitor = state["monitor"]
            self.env.episode_count = int(monitor["episode_count"])
            self.env.episode_returns = np.asarray(monitor["episode_returns"], dtype=np.float32)
            self.env.episode_lengths = np.asarray(monitor["episode_lengths"], dtype=np.int32)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"{where}: counters or random-number state are missing or damaged ({error})"
            ) from None
        episodes = ({"r": np.float32(r), "l": int(length), "t": 0.0} for r, length in state["ep_info"])
        model.ep_info_buffer = deque(episodes, maxlen=model._stats_window_size)
        model.ep_success_buffer = deque(maxlen=model._stats_window_size)
        if state["started"]:
            saved = checkpoint.weights("env")
            restore_env_state(self.vector_env, saved, state["env"], where)
            model._last_obs = {key[len("last_obs."):]: value.numpy().copy()
                               for key, value in saved.items() if key.startswith("last_obs.")}
            model._last_episode_starts = saved["last_episode_starts"].numpy().copy()
            self._restore_wrappers(model._last_obs)
        buffer = getattr(model, "replay_buffer", None)
        if buffer is not None:
            load_replay_buffer(buffer, checkpoint.weights("replay_buffer"), state["replay_buffer"], where)

    def _restore_wrappers(self, last_obs: dict[str, np.ndarray]) -> None:
        """The action-space wrappers keep the last observation (its candidates, its masks' input)."""
        if self.top_k_env is not None:
            self.top_k_env.candidates = last_obs["candidates"]
        if self.mask_env is not None:
            self.mask_env._obs = last_obs

    def close(self) -> None:
        self.env.close()


class SB3PPOAgent(SB3Agent):
    """SB3 PPO with the token features extractor."""

    name = "sb3-ppo"
    algorithm = PPO


class SB3PPOTopKAgent(SB3PPOAgent):
    """SB3 PPO whose action ``i`` is the ``i``-th likeliest next token under the env's frozen language model
    (:class:`~textgym_agents.sb3.action_spaces.TopKActionsVecEnv`), the SB3 analogue of NLPO's masking: the
    policy picks among ``top_k`` fluent candidates instead of the whole vocabulary. ``sb3-ppo`` with
    ``action_space=top-k``, under its own name so that its runs and reports never mix with ``sb3-ppo``'s;
    language tasks only (the symbol tasks have no language model)."""

    name = "sb3-ppo-topk"
    Config = SB3TopKConfig

    def __init__(self, run: RunConfig, config: SB3TopKConfig) -> None:
        if config.action_space != "top-k":
            raise ValueError(
                f"{self.name} acts on the top-k tokens only (action_space='top-k'), got "
                f"action_space={config.action_space!r}; for the full vocabulary use agent sb3-ppo"
            )
        super().__init__(run, config)


class SB3A2CAgent(SB3Agent):
    """SB3 A2C with the token features extractor."""

    name = "sb3-a2c"
    algorithm = A2C

    def algorithm_kwargs(self) -> dict[str, Any]:
        c = self.config
        return dict(learning_rate=c.learning_rate, n_steps=c.n_steps, gamma=c.gamma, gae_lambda=c.gae_lambda,
                    ent_coef=c.ent_coef, vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm)


class SB3MaskablePPOAgent(SB3Agent):
    """sb3-contrib MaskablePPO: full vocabulary, masked to the frozen reference LM's top-p nucleus (a reference-nucleus
    mask)."""

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


# -- DQN's replay buffer in a checkpoint ------------------------------------------------------------

REPLAY_ARRAYS = ("actions", "rewards", "dones", "timeouts")


def replay_buffer_tensors(buffer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The filled part of an SB3 (dict) replay buffer as tensors, and its position as JSON data."""
    filled = buffer.buffer_size if buffer.full else buffer.pos
    tensors: dict[str, torch.Tensor] = {}
    for name, arrays in _replay_observations(buffer).items():
        tensors[name] = _compact(arrays[:filled])
    for name in REPLAY_ARRAYS:
        tensors[name] = _compact(getattr(buffer, name)[:filled])
    return tensors, {"pos": int(buffer.pos), "full": bool(buffer.full), "buffer_size": int(buffer.buffer_size),
                     "n_envs": int(buffer.n_envs)}


def load_replay_buffer(buffer, tensors: dict[str, torch.Tensor], state: dict[str, Any], where: str) -> None:
    """Fill ``buffer`` (freshly made, same size) from :func:`replay_buffer_tensors`."""
    if (state.get("buffer_size"), state.get("n_envs")) != (buffer.buffer_size, buffer.n_envs):
        raise CheckpointError(f"{where}: the replay buffer holds {state.get('buffer_size')} x {state.get('n_envs')} "
                              f"transitions, this agent's {buffer.buffer_size} x {buffer.n_envs}")
    filled = buffer.buffer_size if state["full"] else state["pos"]
    targets = {**_replay_observations(buffer), **{name: getattr(buffer, name) for name in REPLAY_ARRAYS}}
    if set(tensors) != set(targets):
        raise CheckpointError(f"{where}: replay_buffer.safetensors holds {sorted(tensors)}, expected {sorted(targets)}")
    for name, target in targets.items():
        value = tensors[name].numpy()
        if value.shape != (filled, *target.shape[1:]):
            raise CheckpointError(f"{where}: replay buffer {name} has shape {list(value.shape)}, "
                                  f"expected {[filled, *target.shape[1:]]}")
        target[:filled] = value
    buffer.pos, buffer.full = int(state["pos"]), bool(state["full"])


def _replay_observations(buffer) -> dict[str, np.ndarray]:
    out = {}
    for prefix in ("observations", "next_observations"):
        arrays = getattr(buffer, prefix)
        if isinstance(arrays, dict):
            out.update({f"{prefix}.{key}": value for key, value in arrays.items()})
        else:
            out[prefix] = arrays
    return out


def _compact(array: np.ndarray) -> torch.Tensor:
    """A copy as a tensor; int64 arrays (token ids, attention masks) in the smallest integer type that holds
    their values, uint8 or int32 (copied back into the buffer's own dtype on load: exact)."""
    if array.dtype == np.int64:
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if 0 <= low and high < 2**8:
            array = array.astype(np.uint8)
        elif -(2**31) <= low and high < 2**31:
            array = array.astype(np.int32)
    return torch.from_numpy(np.ascontiguousarray(array).copy())
