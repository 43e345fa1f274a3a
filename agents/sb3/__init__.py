"""Stable-Baselines3 integration: the batched env as an SB3 ``VecEnv`` (needs ``pip install "textgym[agents]"``)."""

from textgym.extras import require

require("stable_baselines3", "agents", "textgym_agents.sb3")

from textgym_agents.sb3.vec_env import TextGenSB3VecEnv, make_sb3_vec_env  # noqa: E402

__all__ = ["TextGenSB3VecEnv", "make_sb3_vec_env"]
