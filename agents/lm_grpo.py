"""LM-GRPO: Group Relative Policy Optimisation on the environment's causal language model.

Read top to bottom: the hyper-parameters (:class:`LMGRPOConfig`), the group-normalised
advantages (:func:`outcome_advantages`, :func:`process_advantages`), then
:meth:`LMGRPOAgent.update`. The rollout, the reference model and KL, credit assignment and
checkpoints are shared by every LM agent (:mod:`textgym_agents.lm`).

Algorithm (Shao et al. 2024, "DeepSeekMath", §4.1):

1. **Groups.** Each round draws ``num_envs / group_size`` prompts and samples ``group_size``
   (G) completions of each from the current policy. There is no value function.
2. **Advantages.**
   - *Outcome supervision* (``reward_mode="sparse"``, ``credit="env"``): each completion's
     reward ``r_i`` (its final score) is normalised over its group,
     ``A_i = (r_i - mean(r)) / (std(r) + eps)``, and every token of completion ``i`` gets ``A_i``
     (§4.1.2).
   - *Process supervision* (dense rewards, or any redistributed ``credit``): each step's instant
     reward is normalised over all the steps of the group's G completions,
     ``r~ = (r - mean(R)) / (std(R) + eps)``, and a token's advantage is the sum of the
     normalised rewards from it to the end of its completion (§4.1.3).
3. **Loss.** The clipped ratio of PPO with these advantages, minus ``beta`` times the ``k3``
   estimate of ``KL(pi || pi_ref)`` with the current policy (in the loss, not in the reward):
   ``pi_ref/pi - log(pi_ref/pi) - 1`` per token. ``num_iterations`` (mu) passes over each batch,
   ``num_minibatches`` optimizer steps per pass; the loss is the mean over the minibatch's
   tokens (as TRL's default token-level normalisation, not the paper's per-sequence mean).

``group_size`` must be at least 2 and divide ``num_envs``; both are clear errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from textgym_agents.lm.base import LMAgent, LossTerms, summary_scalars
from textgym_agents.lm.config import GroupConfig, help_text
from textgym_agents.lm.losses import clipped_surrogate, group_view, ratio_statistics, returns_to_go
from textgym_agents.lm.reference import kl_per_token
from textgym_agents.lm.rollout import Rollout

#: added to a group's standard deviation (a group whose rewards are all equal gets advantage 0)
STD_EPS = 1e-4


@dataclass
class LMGRPOConfig(GroupConfig):
    """Hyper-parameters of LM-GRPO (each settable with ``textgym train --set NAME=VALUE``)."""

    agent = "lm-grpo"

    learning_rate: float = field(default=1e-4, metadata=help_text("Adam step size"))
    num_iterations: int = field(default=2, metadata=help_text("passes over each batch (mu in Shao et al.)"))
    clip_range: float = field(default=0.2, metadata=help_text("ratio clip epsilon"))
    kl_coef: float = field(default=0.04, metadata=help_text("beta: weight of the k3 KL to the reference in the loss"))
    kl_estimator: str = field(default="k3", metadata=help_text("per-token KL estimate in the loss: k3 (GRPO's) or k1"))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(self.integer("num_iterations") >= 1, "num_iterations", "an integer >= 1")
        self.require(self.number("clip_range") > 0, "clip_range", "a number > 0")


def outcome_advantages(rewards: torch.Tensor, mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """Each completion's total reward normalised over its group, given to every one of its tokens."""
    totals = group_view(rewards.sum(1), group_size)
    normalised = (totals - totals.mean(1, keepdim=True)) / (totals.std(1, keepdim=True) + STD_EPS)
    return normalised.reshape(-1, 1) * mask.float()


def process_advantages(rewards: torch.Tensor, mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """Each step's reward normalised over all the steps of its group; a token's advantage is the
    sum of the normalised rewards from it to the end of its completion."""
    m = group_view(mask.float(), group_size)  # [groups, G, T]
    r = group_view(rewards, group_size) * m
    steps = m.sum((1, 2), keepdim=True).clamp(min=1)
    mean = r.sum((1, 2), keepdim=True) / steps
    std = ((((r - mean) * m) ** 2).sum((1, 2), keepdim=True) / (steps - 1).clamp(min=1)).sqrt()
    normalised = ((r - mean) / (std + STD_EPS) * m).reshape(rewards.shape)
    return returns_to_go(normalised, mask)


class LMGRPOAgent(LMAgent):
    """GRPO on the environment's causal LM: group-normalised advantages, no value function."""

    name = "lm-grpo"
    Config = LMGRPOConfig
    stat_names = ("policy_loss", "kl_loss", "approx_kl", "clip_fraction")

    @property
    def supervision(self) -> str:
        """``"outcome"`` for the env's sparse reward, ``"process"`` for per-token rewards."""
        return "process" if self.per_token_rewards else "outcome"

    def update(self, rollout: Rollout) -> dict[str, float]:
        """One GRPO update on ``rollout`` (rows in groups of ``group_size``); returns statistics."""
        c = self.config
        rollout = rollout.episodes(slice(None))
        mask = rollout.response_mask
        old_logprobs, ref_logprobs = self.old_and_reference_logprobs(rollout)
        advantage_of = outcome_advantages if self.supervision == "outcome" else process_advantages
        advantages = advantage_of(rollout.env_rewards, mask, c.group_size)

        def loss(part: Rollout, batch: dict[str, torch.Tensor]) -> LossTerms:
            with self.autocast():
                logprobs = self.evaluate_tokens(part, with_entropy=False)[0]
            policy_loss, ratio, log_ratio = clipped_surrogate(
                logprobs, batch["old_logprobs"], batch["advantages"], c.clip_range
            )
            kl = kl_per_token(logprobs, batch.get("ref_logprobs"), c.kl_estimator)
            approx_kl, clipped = ratio_statistics(ratio, log_ratio, c.clip_range)
            return LossTerms(policy_loss + c.kl_coef * kl, (policy_loss, kl, approx_kl, clipped), logprobs)

        per_token = {"old_logprobs": old_logprobs, "advantages": advantages}
        if ref_logprobs is not None:  # none when the KL coefficient is 0 (LMAgent.uses_reference)
            per_token["ref_logprobs"] = ref_logprobs
        means, passes, rollout_mismatch = self.minibatch_passes(rollout, per_token, c.num_iterations, loss,
                                                                len(self.stat_names))
        self.updates += 1
        fmask = mask.float()
        episode_kl = self.dist.all_reduce_mean(
            (kl_per_token(old_logprobs, ref_logprobs, c.kl_estimator) * fmask).sum(1).mean().reshape(1)).item()
        tensors = {
            "train/episode_return": rollout.env_rewards.sum(1).mean(),
            "train/episode_length": fmask.sum(1).mean(),
            "train/logprob_rollout_mismatch": rollout_mismatch,
            **{f"train/{name}": means[i] for i, name in enumerate(self.stat_names)},
        }
        numbers = {"train/kl": episode_kl, "train/kl_coef": c.kl_coef, "train/epochs": float(passes)}
        if ref_logprobs is None:  # no reference (the KL coefficient is 0): the KL is not measured
            del tensors["train/kl_loss"], numbers["train/kl"]
        return summary_scalars(tensors, numbers)
