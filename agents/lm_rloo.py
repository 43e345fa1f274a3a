"""LM-RLOO: REINFORCE with a leave-one-out baseline on the environment's causal language model.

Read top to bottom: the hyper-parameters (:class:`LMRLOOConfig`), the leave-one-out
advantages (:func:`sequence_advantages`, :func:`token_advantages`), then
:meth:`LMRLOOAgent.update`. The rollout, the reference model and KL, credit assignment and
checkpoints are shared by every LM agent (:mod:`textgym_agents.lm`).

Algorithm (Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization
for Learning from Human Feedback in LLMs"; Kool et al. 2019):

1. **Groups.** Each round draws ``num_envs / group_size`` prompts and samples ``group_size``
   (k) completions of each. There is no value function.
2. **Rewards.** Each token's reward is the env's (or the redistributed ``credit``) minus
   ``beta * KL_t`` (``k1`` by default), so a completion's return is
   ``R_i = score_i - beta * KL_i`` as in the paper.
3. **Advantages.**
   - *Sparse* (``reward_mode="sparse"``, ``credit="env"``): the whole completion is one action,
     ``A_i = R_i - 1/(k-1) * sum_{j != i} R_j``, given to every token of completion ``i``.
   - *Dense* (per-token rewards): the same leave-one-out baseline at each position. With the
     return-to-go ``G_{i,t} = sum_{s >= t} r_{i,s}`` (0 past the end of a completion),
     ``A_{i,t} = G_{i,t} - 1/(k-1) * sum_{j != i} G_{j,t}``. At ``t = 0`` this is the sparse
     advantage; later tokens are not credited with rewards that came before them.
   ``norm_adv`` whitens the advantages over the batch's tokens.
4. **Loss.** REINFORCE, ``-A * log pi(a|s)``, written as PPO's clipped ratio: on the first
   minibatch the ratio is 1 and the gradient is exactly REINFORCE's; ``num_epochs`` passes
   of ``num_minibatches`` steps reuse the batch (TRL's RLOO does the same), the clip keeping
   later steps near the sampling policy.

``group_size`` must be at least 2 and divide ``num_envs``; both are clear errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from textgym_agents.lm.base import LMAgent, LossTerms, summary_scalars
from textgym_agents.lm.config import GroupConfig, help_text
from textgym_agents.lm.losses import (
    AgentSteps,
    clipped_surrogate,
    leave_one_out_mean,
    ratio_statistics,
    returns_to_go,
)
from textgym_agents.lm.reference import kl_per_token
from textgym_agents.lm.rollout import Rollout


@dataclass
class LMRLOOConfig(GroupConfig):
    """Hyper-parameters of LM-RLOO (each settable with ``textgym train --set NAME=VALUE``)."""

    agent = "lm-rloo"

    learning_rate: float = field(default=1e-4, metadata=help_text("Adam step size"))
    num_epochs: int = field(default=2, metadata=help_text("passes over each batch"))
    clip_range: float = field(default=0.2, metadata=help_text("ratio clip for the passes after the first step"))
    norm_adv: bool = field(default=True, metadata=help_text("whiten advantages over the batch's tokens"))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(self.integer("num_epochs") >= 1, "num_epochs", "an integer >= 1")
        self.require(self.number("clip_range") > 0, "clip_range", "a number > 0")


def sequence_advantages(rewards: torch.Tensor, mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """``R_i`` minus the mean return of the other completions of its group, on every token of ``i``."""
    totals = (rewards * mask.float()).sum(1)
    return (totals - leave_one_out_mean(totals, group_size)).unsqueeze(1) * mask.float()


def token_advantages(rewards: torch.Tensor, mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """``G_{i,t}`` minus the mean return-to-go at step ``t`` of the other completions of its group (``t`` counts the
    agent's steps: on a multi-turn rollout, the user's tokens between them are skipped)."""
    steps = AgentSteps(mask)
    returns = returns_to_go(steps.pack(rewards), steps.mask)
    return steps.unpack((returns - leave_one_out_mean(returns, group_size)) * steps.mask.float())


class LMRLOOAgent(LMAgent):
    """RLOO on the environment's causal LM: k completions per prompt, leave-one-out baselines, no value function."""

    name = "lm-rloo"
    Config = LMRLOOConfig
    stat_names = ("policy_loss", "approx_kl", "clip_fraction")

    def advantages(self, rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each token's advantage from the per-token rewards (the env's minus the KL penalty): leave-one-out."""
        advantage_of = token_advantages if self.per_token_rewards else sequence_advantages
        advantages = advantage_of(rewards, mask, self.config.group_size)
        return self.whiten(advantages, mask) if self.config.norm_adv else advantages

    def update(self, rollout: Rollout) -> dict[str, float]:
        """One REINFORCE update on ``rollout`` with :meth:`advantages` (RLOO: rows in groups of ``group_size``);
        returns statistics."""
        c = self.config
        rollout = rollout.episodes(slice(None))
        mask = rollout.response_mask
        fmask = mask.float()
        old_logprobs, ref_logprobs = self.old_and_reference_logprobs(rollout)
        kl = kl_per_token(old_logprobs, ref_logprobs, c.kl_estimator) * fmask
        advantages = self.advantages(rollout.env_rewards - c.kl_coef * kl, mask)

        def loss(part: Rollout, batch: dict[str, torch.Tensor]) -> LossTerms:
            with self.autocast():
                logprobs = self.evaluate_tokens(part, with_entropy=False)[0]
            policy_loss, ratio, log_ratio = clipped_surrogate(
                logprobs, batch["old_logprobs"], batch["advantages"], c.clip_range
            )
            approx_kl, clipped = ratio_statistics(ratio, log_ratio, c.clip_range)
            return LossTerms(policy_loss, (policy_loss, approx_kl, clipped), logprobs)

        per_token = {"old_logprobs": old_logprobs, "advantages": advantages}
        means, passes, rollout_mismatch = self.minibatch_passes(
            rollout, per_token, c.num_epochs, loss, len(self.stat_names)
        )
        self.updates += 1
        episode_kl = self.dist.all_reduce_mean(kl.sum(1).mean().reshape(1)).item()
        tensors = {
            "train/episode_return": rollout.env_rewards.sum(1).mean(),
            "train/episode_length": fmask.sum(1).mean(),
            "train/logprob_rollout_mismatch": rollout_mismatch,
            **{f"train/{name}": means[i] for i, name in enumerate(self.stat_names)},
        }
        numbers = {"train/kl": episode_kl, "train/kl_coef": c.kl_coef, "train/epochs": float(passes)}
        if ref_logprobs is None:  # no reference (the KL coefficient is 0): the KL is not measured
            del numbers["train/kl"]
        return summary_scalars(tensors, numbers)
