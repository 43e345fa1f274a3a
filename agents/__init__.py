"""Agents that train on textgym environments, and what trains and compares them.

- The LM agents, each a Hugging Face causal LM as the policy: ``lm-ppo`` (PPO with a value head),
  ``lm-grpo`` (GRPO), ``lm-rloo`` (REINFORCE leave-one-out), ``lm-nlpo`` (NLPO) and ``lm-rebn``
  (REINFORCE with return batch normalisation), in ``lm_ppo``, ``lm_grpo``, ``lm_rloo``, ``lm_nlpo``,
  ``lm_rebn``, sharing rollouts, reference, checkpoints and
  the policy export in ``lm``.
- Stable-Baselines3 agents (``sb3-ppo``, ``sb3-ppo-topk``, ``sb3-a2c``, ``sb3-dqn``, ``sb3-maskable-ppo``;
  ``sb3``, with the ``textgym[agents]`` extra), tabular ``q-learning`` and ``sarsa`` (``tabular``), and the
  ``random`` baseline.
- The training driver behind ``textgym train`` (``train``, ``run``, ``checkpoint``; data parallel
  with ``torchrun``: ``distributed``) and the benchmark behind ``textgym bench`` (``bench``).
- The Python API (``api``), one class per agent, re-exported here::

      from textgym_agents import LMPPO

      model = LMPPO("textgym/Copy-v0", out="runs/ppo", num_envs=8, learning_rate=1e-4)
      model.learn(total_env_steps=2048)

Importing this package imports none of them: the API's names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

#: the Python API's public names (textgym_agents.api), loaded on first use
API_NAMES = ("Learner", "LMPPO", "LMGRPO", "LMRLOO", "LMNLPO", "LMReBN", "SB3PPO", "SB3PPOTopK", "SB3A2C", "SB3DQN",
             "SB3MaskablePPO", "QLearning", "Sarsa", "UniformRandom")

__all__ = list(API_NAMES)


def __getattr__(name: str) -> Any:
    if name in API_NAMES:
        value = getattr(importlib.import_module("textgym_agents.api"), name)
        globals()[name] = value  # once loaded, a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API_NAMES})
