"""Gymnasium environments of textgym."""

from textgym.envs.textgen import EpisodeFinishedError, TextGenEnv
from textgym.envs.vector import TextGenVectorEnv

__all__ = ["EpisodeFinishedError", "TextGenEnv", "TextGenVectorEnv"]
