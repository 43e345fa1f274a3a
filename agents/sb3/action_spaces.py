"""LM-restricted action spaces for SB3 agents on the batched env (one reference forward per step)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from textgym.wrappers.action_spaces import check_top_k, check_top_p
from textgym.wrappers.reference import ReferenceLM


def reference_for(vector_env, device) -> ReferenceLM:
    name = vector_env.setup.model
    if name is None:
        raise ValueError(
            f"task {vector_env.task.name!r} uses its own symbol vocabulary and has no language model; "
            "pass model='tiny' in --env-kwargs to use top-k actions or top-p masks"
        )
    return ReferenceLM(name, device)


class TopKActionsVecEnv(VecEnvWrapper):
    """Action ``i`` = the ``i``-th most likely next token; observations gain ``candidates``."""

    def __init__(self, venv: VecEnv, vector_env, k: int = 16, device="cpu") -> None:
        self.reference = reference_for(vector_env, device)  # first: a symbol task's error names the missing LM
        self.k = check_top_k(k, venv.action_space.n)
        observation_space = spaces.Dict(
            {**venv.observation_space.spaces, "candidates": spaces.Box(0, venv.action_space.n - 1, (self.k,), np.int64)}
        )
        super().__init__(venv, observation_space=observation_space, action_space=spaces.Discrete(self.k))
        self.candidates = np.zeros((venv.num_envs, self.k), dtype=np.int64)

    def observe(self, obs: dict) -> dict:
        """Add ``candidates`` to a batch of observations (also used at evaluation)."""
        candidates = self.reference.top_k(obs["input_ids"], obs["attention_mask"], self.k).cpu().numpy()
        return {**obs, "candidates": candidates}

    def reset(self):
        obs = self.observe(self.venv.reset())
        self.candidates = obs["candidates"]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions).reshape(self.num_envs)
        self.venv.step_async(self.candidates[np.arange(self.num_envs), actions])

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            if "terminal_observation" in info:
                terminal = info["terminal_observation"]
                info["terminal_observation"] = {
                    k: v[0] for k, v in self.observe({k: v[None] for k, v in terminal.items()}).items()
                }
        obs = self.observe(obs)
        self.candidates = obs["candidates"]
        return obs, rewards, dones, infos


class TopPMaskVecEnv(VecEnvWrapper):
    """Adds ``action_masks()``: the top-p nucleus of the frozen reference LM (a reference-nucleus mask; NLPO proper
    masks with a periodically synced copy of the policy, see ``lm-nlpo``), for ``MaskablePPO``."""

    def __init__(self, venv: VecEnv, vector_env, top_p: float = 0.9, device="cpu") -> None:
        self.top_p = check_top_p(top_p)
        self.reference = reference_for(vector_env, device)
        super().__init__(venv)
        self._obs = None

    def masks(self, obs: dict) -> np.ndarray:
        return self.reference.top_p_mask(obs["input_ids"], obs["attention_mask"], self.top_p).cpu().numpy()

    def reset(self):
        self._obs = self.venv.reset()
        return self._obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self._obs = obs
        return obs, rewards, dones, infos

    def action_masks(self) -> np.ndarray:
        return self.masks(self._obs)

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks" or self.venv.has_attr(attr_name)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        if method_name == "action_masks":
            masks = self.action_masks()
            rows = range(self.num_envs) if indices is None else ([indices] if isinstance(indices, int) else indices)
            return [masks[row] for row in rows]
        return self.venv.env_method(method_name, *method_args, indices=indices, **method_kwargs)
