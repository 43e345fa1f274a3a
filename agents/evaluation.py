"""Evaluation: every eval prompt once, the mean final score (= the sparse return, in both reward modes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from textgym.envs.vector import TextGenVectorEnv

#: ``policy(observation, vector_env) -> token ids``; the observation is numpy (or torch, see ``output``).
Policy = Callable[[dict[str, Any], TextGenVectorEnv], Any]


def evaluate(
    policy: Policy,
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    output: str = "numpy",
) -> tuple[float, float]:
    """Run one episode from every prompt of the eval split; return (mean, std) of the final scores.

    The final score is the sparse return, and it equals the sum of dense rewards, so the
    number is comparable across reward modes.
    """
    import gymnasium as gym

    kwargs = dict(env_kwargs or {})
    kwargs.pop("split", None)
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", split="eval", device=device, **kwargs)
    count = len(probe.setup.prompts)
    scores = np.zeros(count, dtype=np.float64)
    for start in range(0, count, batch_size):
        indices = np.arange(start, min(count, start + batch_size))
        env = gym.make_vec(
            env_id, num_envs=len(indices), vectorization_mode="vector_entry_point", split="eval", device=device, output=output, **kwargs
        )
        obs, _ = env.reset(seed=0, options={"prompt_index": indices})
        finished = np.zeros(len(indices), dtype=bool)
        while not finished.all():
            actions = policy(obs, env)
            obs, _, terminated, truncated, info = env.step(actions)
            done = _numpy(terminated) | _numpy(truncated)
            newly = done & ~finished
            if newly.any():
                scores[indices[newly]] = info["final_info"]["score"][newly]
            finished |= done
    return float(scores.mean()), float(scores.std())


def _numpy(value) -> np.ndarray:
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
