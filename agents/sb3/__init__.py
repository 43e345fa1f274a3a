"""Stable-Baselines3 integration: the batched env as an SB3 ``VecEnv``."""

from agents.sb3.vec_env import TextGenSB3VecEnv, make_sb3_vec_env

__all__ = ["TextGenSB3VecEnv", "make_sb3_vec_env"]
