"""Evaluation: every eval prompt once, the mean final score (= the sparse return, in both reward modes),
and the naturalness of the generated text (see :mod:`textgym.naturalness`).

Used by the agents' training driver and by the tasks' calibration (:mod:`textgym.calibration`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from textgym.envs.vector import TextGenVectorEnv
from textgym.naturalness import Naturalness, measure_naturalness

#: ``policy(observation, vector_env) -> token ids``; the observation is numpy (or torch, see ``output``).
Policy = Callable[[dict[str, Any], TextGenVectorEnv], Any]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: the final scores' mean and std, and the naturalness of the texts (``None`` if not asked)."""

    mean: float
    std: float
    naturalness: Naturalness | None
    #: each eval prompt's final score, in the split's order
    scores: tuple[float, ...] = ()


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
    result = evaluate_episodes(policy, env_id, env_kwargs, device, batch_size, output, naturalness=False)
    return result.mean, result.std


def evaluate_episodes(
    policy: Policy,
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    output: str = "numpy",
    naturalness: bool = True,
) -> Evaluation:
    """:func:`evaluate`, plus (``naturalness=True``) the naturalness of the generated texts."""
    import gymnasium as gym

    from textgym.tasks import make_task

    kwargs = dict(env_kwargs or {})
    kwargs.pop("split", None)
    # build the task once: it sizes the batches and the env reuses it (and its loaded prompts)
    task = kwargs.get("task", gym.spec(env_id).kwargs["task"])
    if gym.spec(env_id).entry_point == "textgym.conversation.env:ConversationEnv":
        from textgym.conversation import ConversationTask

        kwargs["task"] = ConversationTask() if task == ConversationTask.name else task  # not a make_task task
    else:
        kwargs["task"] = make_task(task, kwargs.pop("task_kwargs", None))
    count = len(kwargs["task"].prompts("eval"))
    width = min(batch_size, count)
    env = make_env(env_id, width, device, output, kwargs)  # one env for every batch of prompts
    scores = np.zeros(count, dtype=np.float64)
    generated: list[list[int]] = [[] for _ in range(count)]  # each prompt's continuation, for naturalness
    for start in range(0, count, width):
        indices = np.arange(start, min(count, start + width))
        # a short last batch repeats its last prompt in the spare rows, whose scores are ignored
        rows = np.concatenate([indices, np.full(width - len(indices), indices[-1])])
        obs, _ = env.reset(seed=0, options={"prompt_index": rows})
        finished = np.arange(width) >= len(indices)  # spare rows count as finished from the start
        while not finished.all():
            actions = policy(obs, env)
            obs, _, terminated, truncated, info = env.step(actions)
            if naturalness:
                tokens = _numpy(actions).reshape(width)
                for row in np.flatnonzero(~finished):
                    generated[rows[row]].append(int(tokens[row]))
            done = _numpy(terminated) | _numpy(truncated)
            newly = done & ~finished
            if newly.any():
                scores[rows[newly]] = info["final_info"]["score"][newly]
            finished |= done
    measured = None
    if naturalness:
        setup = env.setup
        measured = measure_naturalness(setup.model, setup.prompt_ids, generated, env.tokenizer.eos_token_id,
                                       env.tokenizer.pad_token_id, device)
    return Evaluation(float(scores.mean()), float(scores.std()), measured, tuple(scores.tolist()))


def make_env(env_id: str, num_envs: int, device, output: str, kwargs: dict) -> TextGenVectorEnv:
    """The batched eval-split env of ``env_id``."""
    import gymnasium as gym

    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", split="eval",
                        device=device, output=output, **kwargs)


def _numpy(value) -> np.ndarray:
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
