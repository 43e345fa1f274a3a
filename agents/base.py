"""The interface every agent implements, so that one driver trains, evaluates and resumes them all."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from textgym_agents.checkpoint import LoadedCheckpoint
from textgym_agents.run import RunConfig


class Agent(ABC):
    """A learner on one textgym environment.

    Subclasses set ``name`` and ``Config`` (a dataclass of hyper-parameters: each field's
    ``metadata["help"]`` is its one-line help, and each is a ``textgym train`` option
    ``--set name=value``).
    """

    name: ClassVar[str]
    Config: ClassVar[type]

    def __init__(self, run: RunConfig, config: Any) -> None:
        self.run = run
        self.config = config

    @property
    @abstractmethod
    def env_steps(self) -> int:
        """Environment steps taken so far (summed over parallel envs)."""

    @abstractmethod
    def learn(self, env_steps: int) -> dict[str, float]:
        """Train for about ``env_steps`` more environment steps; return scalars to log."""

    @abstractmethod
    def policy(self, observation, vector_env) -> Any:
        """Deterministic (greedy) token ids for a batch of observations, for evaluation."""

    @abstractmethod
    def save(self, folder: Path) -> Path:
        """Write a checkpoint into ``folder`` (atomically); return its path."""

    @abstractmethod
    def load(self, checkpoint: LoadedCheckpoint) -> None:
        """Restore the state written by :meth:`save`."""

    def close(self) -> None:  # noqa: B027  (not abstract: an agent that holds nothing to release keeps this)
        """Release environments and other resources (nothing by default)."""


def config_from_dict(config_class: type, values: dict[str, Any], agent: str):
    """Build an agent's config dataclass; unknown keys are a clear error."""
    names = [f.name for f in dataclasses.fields(config_class)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) {unknown} for agent {agent!r}; allowed: {names}")
    return config_class(**values)
