"""Wrappers: LM-restricted action spaces and the reference LM behind them."""

from textgym.wrappers.action_spaces import TopKActions, TopPActionMask
from textgym.wrappers.reference import ReferenceLM

__all__ = ["ReferenceLM", "TopKActions", "TopPActionMask"]
