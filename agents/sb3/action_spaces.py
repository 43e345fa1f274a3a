"""LM-restricted action spaces for SB3 agents on the batched env (one reference step per env step).

The rollout's observations grow by one token per row and step, so the wrappers ask the reference LM
through a key/value-cached view (:class:`~textgym.wrappers.reference.IncrementalReference`): each
step encodes one new token per row, not the whole observation.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from textgym.wrappers.action_spaces import check_top_k, check_top_p
from textgym.wrappers.reference import IncrementalReference, ReferenceLM


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
        self.rollout_reference = self.reference.incremental()  # the cached view the env's own steps go through

    def observe(self, obs: dict, reference: ReferenceLM | IncrementalReference | None = None) -> dict:
        """Add ``candidates`` to a batch of observations (also used at evaluation); ``reference`` (default: one
        uncached forward) may be an :meth:`~textgym.wrappers.reference.ReferenceLM.incremental` view that follows
        the batch from call to call."""
        reference = self.reference if reference is None else reference
        candidates = reference.top_k(obs["input_ids"], obs["attention_mask"], self.k).cpu().numpy()
        return {**obs, "candidates": candidates}

    def reset(self):
        obs = self.observe(self.venv.reset(), self.rollout_reference)
        self.candidates = obs["candidates"]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions).reshape(self.num_envs)
        self.venv.step_async(self.candidates[np.arange(self.num_envs), actions])

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        ended = [row for row, info in enumerate(infos) if "terminal_observation" in info]
        if ended:
            # the ended rows' last observations in the batch the cache follows: each is its row's previous
            # observation plus the last token (or unchanged, an EOS), so this is one cached step for every row
            last = {key: np.array(value, copy=True) for key, value in obs.items()}
            for row in ended:
                for key, value in infos[row]["terminal_observation"].items():
                    last[key][row] = value
            candidates = self.observe(last, self.rollout_reference)["candidates"]
            for row in ended:
                infos[row]["terminal_observation"] = {**infos[row]["terminal_observation"],
                                                      "candidates": candidates[row]}
        obs = self.observe(obs, self.rollout_reference)
        self.candidates = obs["candidates"]
        return obs, rewards, dones, infos


class TopPMaskVecEnv(VecEnvWrapper):
    """Adds ``action_masks()``: the top-p nucleus of the frozen reference LM (a reference-nucleus mask; NLPO proper
    masks with a periodically synced copy of the policy, see ``lm-nlpo``), for ``MaskablePPO``."""

    def __init__(self, venv: VecEnv, vector_env, top_p: float = 0.9, device="cpu") -> None:
        self.top_p = check_top_p(top_p)
        self.reference = reference_for(vector_env, device)
        self.rollout_reference = self.reference.incremental()  # the cached view the env's own steps go through
        super().__init__(venv)
        self._obs = None

    def masks(self, obs: dict, reference: ReferenceLM | IncrementalReference | None = None) -> np.ndarray:
        """The top-p masks of a batch of observations; ``reference`` as in :meth:`TopKActionsVecEnv.observe`."""
        reference = self.reference if reference is None else reference
        return reference.top_p_mask(obs["input_ids"], obs["attention_mask"], self.top_p).cpu().numpy()

    def reset(self):
        self._obs = self.venv.reset()
        return self._obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self._obs = obs
        return obs, rewards, dones, infos

    def action_masks(self) -> np.ndarray:
        return self.masks(self._obs, self.rollout_reference)

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks" or self.venv.has_attr(attr_name)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        if method_name == "action_masks":
            masks = self.action_masks()
            rows = range(self.num_envs) if indices is None else ([indices] if isinstance(indices, int) else indices)
            return [masks[row] for row in rows]
        return self.venv.env_method(method_name, *method_args, indices=indices, **method_kwargs)
