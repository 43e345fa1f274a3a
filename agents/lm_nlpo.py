"""LM-NLPO: Natural Language Policy Optimisation, PPO whose sampling is masked to a lagging copy's nucleus.

Read top to bottom: the hyper-parameters (:class:`LMNLPOConfig`), then :class:`LMNLPOAgent`.
Everything else is LM-PPO (:mod:`textgym_agents.lm_ppo`): value head, KL penalty in the reward, GAE,
clipped losses.

Algorithm (Ramamurthy et al. 2023, "Is Reinforcement Learning (Not) for Natural Language
Processing?", Algorithm 1, RL4LMs):

1. **Mask policy.** A copy of the policy, ``pi_mask``, re-synced with the current policy every
   ``mask_update_interval`` updates (and frozen in between).
2. **Masked sampling.** At each state only the tokens inside ``pi_mask``'s top-``top_mask``
   nucleus (the smallest set of its likeliest tokens whose probability reaches ``top_mask``)
   may be chosen: the policy's logits outside it are set to ``-inf``. The action distribution
   is the policy renormalised over that set, both when sampling and in the update (the masks
   are stored with the rollout, like sb3-contrib's maskable rollout buffer).
3. **Update.** PPO's, on the masked distribution.

Greedy evaluation uses the same mask: the argmax of the policy over ``pi_mask``'s nucleus.
Not to be confused with ``sb3-maskable-ppo``, which masks with the frozen reference LM's
nucleus (a reference-nucleus mask).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from textgym_agents.lm.config import help_text
from textgym_agents.lm.reference import frozen_copy
from textgym_agents.lm.rollout import Rollout
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig


@dataclass
class LMNLPOConfig(LMPPOConfig):
    """Hyper-parameters of LM-NLPO: LM-PPO's plus the mask policy's (``textgym train --set NAME=VALUE``)."""

    agent = "lm-nlpo"

    top_mask: float = field(
        default=0.9, metadata=help_text("nucleus mass of the mask policy: tokens outside it are masked")
    )
    mask_update_interval: int = field(
        default=20, metadata=help_text("updates between syncs of the mask policy with the policy")
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(0 < self.number("top_mask") <= 1, "top_mask", "a number in (0, 1]")
        self.require(self.integer("mask_update_interval") >= 1, "mask_update_interval", "an integer >= 1")


class LMNLPOAgent(LMPPOAgent):
    """LM-PPO whose actions are masked to the top-p nucleus of a periodically synced copy of the policy."""

    name = "lm-nlpo"
    Config = LMNLPOConfig
    supports_fsdp = False  # the mask policy decodes with the policy: it would need sharding and gathering too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mask_model = frozen_copy(self.policy_model)

    def extra_modules(self) -> dict[str, torch.nn.Module]:
        return {"mask_policy": self.mask_model}

    def sampling_mask(self) -> dict[str, Any]:
        return {"mask_model": self.mask_model, "mask_top_p": self.config.top_mask}

    def update(self, rollout: Rollout) -> dict[str, float]:
        scalars = super().update(rollout)
        if self.updates % self.config.mask_update_interval == 0:
            self.mask_model.load_state_dict(self.policy_model.state_dict())
        scalars["train/masked_fraction"] = float(rollout.blocked.float().mean(-1)[rollout.response_mask].mean().item())
        return scalars
