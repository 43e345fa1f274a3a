"""Reward modes: how a sequence score becomes per-step rewards (docs/design.md, section 2).

- ``dense`` (instant): ``r_t = score_{t+1} - score_t``, potential-based shaping with
  gamma = 1, so an episode's dense rewards sum to its sparse return. The potential
  before the first token is 0 (not the empty text's score): the first reward is
  ``score_1`` and carries the empty text's score when a task's score is not 0 there.
- ``sparse``: ``r_t = 0`` before the last step and ``r_T = score_T`` at it.
"""

from __future__ import annotations

REWARD_MODES = ("dense", "sparse")


def check_reward_mode(reward_mode: object) -> str:
    if reward_mode not in REWARD_MODES:
        raise ValueError(f"unknown reward_mode {reward_mode!r}; allowed: {list(REWARD_MODES)}")
    return reward_mode  # type: ignore[return-value]


def step_reward(reward_mode: str, previous_score: float, score: float, done: bool) -> float:
    """The reward of one step that moved the score from ``previous_score`` to ``score``."""
    if reward_mode == "dense":
        return score - previous_score
    return score if done else 0.0
