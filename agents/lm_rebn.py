"""LM-ReBN: REINFORCE with return batch normalisation on the environment's causal language model.

Read top to bottom: the hyper-parameters (:class:`LMReBNConfig`), the advantages
(:func:`rebn_returns`), then :class:`LMReBNAgent`. Everything else is LM-RLOO's REINFORCE update
(:mod:`textgym_agents.lm_rloo`): the same loss and passes, another advantage.

Algorithm (Liu et al. 2025, "GEM: A Gym for Agentic LLMs", ReBN):

1. **Rollout.** ``num_envs`` rows, each on its own prompt (no groups, no value function).
2. **Returns.** Each agent step's discounted return-to-go, ``G_t = sum_{s >= t} gamma^(s-t) r_s``,
   over the agent's steps (on a multi-turn env the user's tokens are not steps; dense, turn or
   sparse rewards, or a redistributed ``credit``), the rewards minus ``beta * KL_t`` as in
   LM-RLOO (``kl_coef=0`` by default, as in GEM: then no reference model is built).
3. **Advantages.** The returns normalised over the batch's agent steps:
   ``A = (G - mean(G)) / std(G)``, the baseline a batch statistic instead of a critic or a group.
4. **Loss.** REINFORCE, ``-A * log pi(a|s)``, written as PPO's clipped ratio (exactly REINFORCE's
   gradient on the first step); ``num_epochs`` passes of ``num_minibatches`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from textgym_agents.lm.config import LMConfig, help_text
from textgym_agents.lm.losses import AgentSteps, discounted_returns
from textgym_agents.lm_rloo import LMRLOOAgent


@dataclass
class LMReBNConfig(LMConfig):
    """Hyper-parameters of LM-ReBN (each settable with ``textgym train --set NAME=VALUE``)."""

    agent = "lm-rebn"

    learning_rate: float = field(default=1e-4, metadata=help_text("Adam step size"))
    kl_coef: float = field(default=0.0, metadata=help_text("KL coefficient beta (0, GEM's: no reference model)"))
    gamma: float = field(default=1.0, metadata=help_text("discount per agent step; 1 keeps every reward mode's "
                                                         "return equal"))
    num_epochs: int = field(default=1, metadata=help_text("passes over each batch"))
    clip_range: float = field(default=0.2, metadata=help_text("ratio clip for the passes after the first step"))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(0 <= self.number("gamma") <= 1, "gamma", "a number in [0, 1]")
        self.require(self.integer("num_epochs") >= 1, "num_epochs", "an integer >= 1")
        self.require(self.number("clip_range") > 0, "clip_range", "a number > 0")


def rebn_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Each agent step's discounted return-to-go over the row's agent steps (``mask``), 0 elsewhere; not normalised."""
    steps = AgentSteps(mask)
    return steps.unpack(discounted_returns(steps.pack(rewards), steps.mask, gamma))


class LMReBNAgent(LMRLOOAgent):
    """REINFORCE on the environment's causal LM with returns normalised over the batch (ReBN)."""

    name = "lm-rebn"
    Config = LMReBNConfig

    def advantages(self, rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The returns-to-go whitened over the batch's agent steps (over every rank's, data-parallel)."""
        return self.whiten(rebn_returns(rewards, mask, self.config.gamma), mask)
