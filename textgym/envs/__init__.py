"""Gymnasium environments of textgym."""

from textgym.envs.textgen import EpisodeFinishedError, TextGenEnv

__all__ = ["EpisodeFinishedError", "TextGenEnv"]
