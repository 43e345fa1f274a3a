"""Smaller action spaces over the vocabulary, from a reference LM (single-environment wrappers).

- :class:`TopKActions`: action ``i`` is the ``i``-th most likely next token; the observation
  gains ``candidates`` (the ``k`` token ids), so the policy sees what it chooses among.
- :class:`TopPActionMask`: keeps ``Discrete(vocab_size)`` and adds ``action_masks()`` (the
  top-p nucleus under the reference LM, as in NLPO) for sb3-contrib's ``MaskablePPO``.
"""

from __future__ import annotations

import numbers

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from textgym.wrappers.reference import ReferenceLM


def _reference_for(env: gym.Env, model: str | None, device) -> ReferenceLM:
    name = model or env.unwrapped.setup.model
    if name is None:
        raise ValueError(
            f"{env.unwrapped.task.name!r} uses its own symbol vocabulary and has no language model; "
            "pass model='tiny' (or another LM) to the environment to use LM-based action spaces"
        )
    reference = ReferenceLM(name, device)
    if reference.vocab_size != env.unwrapped.tokenizer.vocab_size:
        raise ValueError(
            f"reference model {name!r} has {reference.vocab_size} tokens, the env {env.unwrapped.tokenizer.vocab_size}"
        )
    return reference


def check_top_k(k: object, vocab_size: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= vocab_size:
        raise ValueError(f"k={k!r} must be an integer in [1, {vocab_size}]")
    return int(k)


def check_top_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 < p <= 1.0:
        raise ValueError(f"top_p={p!r} must be a number in (0, 1]")
    return float(p)


class TopKActions(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Action ``i`` in ``Discrete(k)`` = the ``i``-th most likely next token under the reference LM.

    Records its constructor arguments (``gym.utils.RecordConstructorArgs``), as Gymnasium's
    own wrappers do, so that ``env.spec`` lists it and ``env.spec.make()`` rebuilds it.

    Args:
        env: a textgym single environment.
        k: the number of actions (the reference LM's ``k`` most likely next tokens).
        model: the reference LM (default: the env's model).
        device: where the reference LM runs.
    """

    def __init__(self, env: gym.Env, k: int = 16, model: str | None = None, device: str | torch.device = "cpu") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, k=k, model=model, device=device)
        gym.Wrapper.__init__(self, env)
        self.k = check_top_k(k, env.action_space.n)
        self.reference = _reference_for(env, model, device)
        self.action_space = spaces.Discrete(self.k)
        self.observation_space = spaces.Dict(
            {**env.observation_space.spaces, "candidates": spaces.Box(0, env.action_space.n - 1, (self.k,), np.int64)}
        )
        self.candidates = np.zeros(self.k, dtype=np.int64)
        # each step's observation is the last one plus a token: a key/value-cached view encodes only that token
        self.cached_reference = self.reference.incremental()

    def _observe(self, obs):
        self.candidates = (
            self.cached_reference.top_k(obs["input_ids"][None], obs["attention_mask"][None], self.k)[0].cpu().numpy()
        )
        return {**obs, "candidates": self.candidates.copy()}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self._observe(obs), info

    def step(self, action):
        if isinstance(action, np.ndarray):
            action = action.reshape(()).item()
        if isinstance(action, bool) or not isinstance(action, numbers.Integral) or not 0 <= action < self.k:
            raise ValueError(f"action {action!r} is out of range; allowed: integers in [0, {self.k}) (top-k index)")
        obs, reward, terminated, truncated, info = self.env.step(int(self.candidates[action]))
        return self._observe(obs), reward, terminated, truncated, info


class TopPActionMask(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``action_masks()``: the reference LM's top-p nucleus of the next token.

    Records its constructor arguments (``gym.utils.RecordConstructorArgs``), as Gymnasium's
    own wrappers do, so that ``env.spec`` lists it and ``env.spec.make()`` rebuilds it.

    Args:
        env: a textgym single environment.
        top_p: the probability mass of the nucleus, in (0, 1].
        model: the reference LM (default: the env's model).
        device: where the reference LM runs.
    """

    def __init__(
        self, env: gym.Env, top_p: float = 0.9, model: str | None = None, device: str | torch.device = "cpu"
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, top_p=top_p, model=model, device=device)
        gym.Wrapper.__init__(self, env)
        self.top_p = check_top_p(top_p)
        self.reference = _reference_for(env, model, device)
        self.cached_reference = self.reference.incremental()  # as in TopKActions
        self._obs = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._obs = obs
        return obs, info

    def step(self, action):
        result = self.env.step(action)
        self._obs = result[0]
        return result

    def action_masks(self) -> np.ndarray:
        return (
            self.cached_reference.top_p_mask(self._obs["input_ids"][None], self._obs["attention_mask"][None],
                                             self.top_p)[0]
            .cpu()
            .numpy()
        )
