"""LM-PPO: PPO that fine-tunes the environment's causal language model on per-token rewards.

Read top to bottom: the hyper-parameters (:class:`LMPPOConfig`), GAE, then
:meth:`LMPPOAgent.update`. The rollout, the reference model and KL, credit assignment and
checkpoints are shared by every LM agent (:mod:`textgym_agents.lm`).

Algorithm (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences";
Stiennon et al. 2020; with the implementation details of Huang et al. 2024, "The N+
Implementation Details of RLHF with PPO"):

1. **Policy and value.** The policy is a causal LM; the value of a state is a linear head on
   the LM's last hidden state at that position (``separate_critic=True``: on a separate copy
   of the initial LM instead, so value gradients never touch the policy). A frozen copy of the
   initial policy is the reference.
2. **Rollout.** ``num_envs`` rows of the batched env decoded in lock step with a KV cache
   (:mod:`textgym_agents.lm.rollout`), ``rollout_rounds`` rounds per update. The log-probability of
   each sampled token and the value of each state are recorded while decoding: they are the
   update's "old" policy and values (in fp32 a full forward gives the same up to float
   rounding), so only the reference model (and a separate critic) runs an extra forward.
   Under bf16 autocast the cached decoding drifts from a full forward by more than that, so
   there the update recomputes them with one full forward, and the first ratio is exactly 1.
3. **Rewards.** Each token's reward is the environment's reward (dense: the per-token score
   difference; sparse: the score at the last token; or the final score redistributed, see
   ``credit``) minus ``beta * KL_t`` (``k1`` by default, or ``k3``; :mod:`textgym_agents.lm.reference`).
   ``beta`` is fixed (``adaptive_kl=False``) or adapted towards ``target_kl`` (nats per
   episode) by Ziegler et al.'s proportional controller:
   ``beta *= 1 + clip(KL / target_kl - 1, -0.2, 0.2) * n / kl_horizon`` with ``n`` the
   episodes in the update.
4. **Advantages.** Per-token GAE (``gamma = 1``, ``lambda = 0.95`` by default) over each
   episode's agent steps (on a multi-turn env the user's tokens between them are not steps);
   the step after the last token has value 0 (EOS ends the episode, and the horizon is part
   of the task). Advantages are whitened over the batch's tokens.
5. **Update.** ``num_epochs`` passes over the batch in ``num_minibatches`` minibatches of
   episodes (each split into ``gradient_accumulation_steps`` micro-batches): clipped policy
   loss, clipped value loss, entropy bonus, gradient clipping; the epoch loop stops early when
   the approximate KL between the old and the new policy exceeds ``target_approx_kl``.

Log-probabilities are those of the temperature-scaled full distribution; ``top_k``/``top_p``
restrict sampling only (so they make the data slightly off-policy; the defaults do not).
Checkpoints, exact resume and the exported ``DIR/policy`` and value head: :mod:`textgym_agents.lm.state`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from textgym_agents.lm.base import LMAgent, LossTerms, summary_scalars
from textgym_agents.lm.config import LMConfig, help_text
from textgym_agents.lm.losses import AgentSteps, clipped_surrogate, masked_mean, ratio_statistics
from textgym_agents.lm.reference import AdaptiveKLController, FixedKLController, kl_per_token
from textgym_agents.lm.rollout import Rollout


@dataclass
class LMPPOConfig(LMConfig):
    """Hyper-parameters of LM-PPO (each settable with ``textgym train --set NAME=VALUE``)."""

    agent = "lm-ppo"

    num_epochs: int = field(
        default=4, metadata=help_text("PPO passes over each batch (2 is faster per second, 4 learns more per env step)")
    )
    gamma: float = field(default=1.0, metadata=help_text("discount; 1 keeps dense and sparse returns equal"))
    gae_lambda: float = field(default=0.95, metadata=help_text("GAE lambda"))
    norm_adv: bool = field(default=True, metadata=help_text("whiten advantages over the batch's tokens"))
    clip_range: float = field(default=0.2, metadata=help_text("PPO ratio clip"))
    clip_range_value: float = field(default=0.2, metadata=help_text("value clip around the rollout's values"))
    vf_coef: float = field(default=0.1, metadata=help_text("value loss weight"))
    ent_coef: float = field(default=0.0, metadata=help_text("entropy bonus weight"))
    target_approx_kl: float = field(
        default=0.0, metadata=help_text("stop the epochs when approx KL(old || new) exceeds this (0: never)")
    )
    adaptive_kl: bool = field(
        default=True, metadata=help_text("adapt beta towards target_kl (Ziegler et al.); false: fixed beta")
    )
    target_kl: float = field(default=6.0, metadata=help_text("adaptive controller's target KL per episode (nats)"))
    kl_horizon: int = field(default=10_000, metadata=help_text("adaptive controller's horizon (episodes)"))
    separate_critic: bool = field(default=False, metadata=help_text("value head on a separate copy of the initial LM"))

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("num_epochs", "kl_horizon"):
            self.require(self.integer(name) >= 1, name, "an integer >= 1")
        self.require(0 <= self.number("gamma") <= 1, "gamma", "a number in [0, 1]")
        self.require(0 <= self.number("gae_lambda") <= 1, "gae_lambda", "a number in [0, 1]")
        for name in ("clip_range", "clip_range_value", "target_kl"):
            self.require(self.number(name) > 0, name, "a number > 0")
        for name in ("vf_coef", "ent_coef", "target_approx_kl"):
            self.require(self.number(name) >= 0, name, "a number >= 0")


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
                gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation per token; returns ``(advantages, returns)``.

    ``rewards``, ``values``, ``mask`` are ``[B, T]``; each row's real tokens are a prefix
    (``mask`` True), and the state after the last real token has value 0.
    """
    mask = mask.to(values.dtype)
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        next_value = values[:, t + 1] if t + 1 < values.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * gae_lambda * last) * mask[:, t]
        advantages[:, t] = last
    return advantages, (advantages + values) * mask


class LMPPOAgent(LMAgent):
    """PPO on the environment's causal LM with a value head, a KL penalty and a KV-cached rollout."""

    name = "lm-ppo"
    Config = LMPPOConfig
    uses_value_head = True
    stat_names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")

    def make_kl_controller(self) -> Any:
        c = self.config
        return (
            AdaptiveKLController(c.kl_coef, c.target_kl, c.kl_horizon)
            if c.adaptive_kl
            else FixedKLController(c.kl_coef)
        )

    def entropy_grad(self) -> bool:
        return self.config.ent_coef > 0

    def update(self, rollout: Rollout) -> dict[str, float]:
        """One PPO update on ``rollout``; returns statistics."""
        c = self.config
        rollout = rollout.episodes(slice(None))  # drop columns that are padding in every episode
        mask = rollout.response_mask

        # old log-probs and values: the rollout's (in fp32 its KV-cached decoding matches a full forward up to
        # float rounding; under bf16 it does not, so a full forward in the update's layout recomputes them);
        # a separate critic's values and the reference log-probs: one full forward each
        old_logprobs, old_values = rollout.sample_logprobs, rollout.values
        with torch.no_grad(), self.autocast():
            if self.low_precision:
                old_logprobs, _, old_values = self.evaluate_tokens(rollout, with_entropy=False)
            elif self.critic is not None:
                old_values = self.critic_values(rollout)
            ref_logprobs = self.reference_logprobs(rollout)
        fmask = mask.float()
        kl = kl_per_token(old_logprobs, ref_logprobs, c.kl_estimator) * fmask
        beta = self.kl_controller.value
        rewards = rollout.env_rewards - beta * kl
        steps = AgentSteps(mask)  # GAE runs over the agent's steps (a multi-turn rollout's user tokens are not steps)
        advantages, returns = compute_gae(steps.pack(rewards), steps.pack(old_values), steps.mask, c.gamma,
                                          c.gae_lambda)
        advantages, returns = steps.unpack(advantages), steps.unpack(returns)
        if c.norm_adv:
            advantages = self.whiten(advantages, mask)

        def loss(part: Rollout, batch: dict[str, torch.Tensor]) -> LossTerms:
            with self.autocast():
                logprobs, entropy, values = self.evaluate_tokens(part, with_entropy=True)
            policy_loss, ratio, log_ratio = clipped_surrogate(
                logprobs, batch["old_logprobs"], batch["advantages"], c.clip_range
            )
            old_v, ret = batch["old_values"], batch["returns"]
            values_clipped = old_v + (values - old_v).clamp(-c.clip_range_value, c.clip_range_value)
            value_loss = 0.5 * torch.max((values - ret) ** 2, (values_clipped - ret) ** 2)
            approx_kl, clipped = ratio_statistics(ratio, log_ratio, c.clip_range)
            return LossTerms(policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy,
                             (policy_loss, value_loss, entropy, approx_kl, clipped), logprobs)

        def approx_kl_too_large(pass_stats: torch.Tensor) -> bool:
            if c.target_approx_kl <= 0:
                return False
            # each rank's statistics are its share of the global minibatch means
            return self.dist.all_reduce_sum(pass_stats[:, 3].mean().reshape(1)).item() > c.target_approx_kl

        per_token = {
            "old_logprobs": old_logprobs,
            "old_values": old_values,
            "advantages": advantages,
            "returns": returns,
        }
        means, epochs_done, rollout_mismatch = self.minibatch_passes(
            rollout, per_token, c.num_epochs, loss, len(self.stat_names), approx_kl_too_large)

        # the KL controller sees the mean KL per episode over every rank's batch
        episodes = mask.shape[0]
        episode_kl = self.dist.all_reduce_mean(kl.sum(1).mean().reshape(1)).item()
        self.kl_controller.update(episode_kl, episodes * self.dist.world_size)

        self.updates += 1

        explained_variance = 1 - masked_mean((returns - old_values) ** 2, mask) / masked_mean(
            (returns - masked_mean(returns, mask)) ** 2, mask).clamp(min=1e-8)
        tensors = {
            "train/episode_return": rollout.env_rewards.sum(1).mean(),
            "train/episode_length": fmask.sum(1).mean(),
            "train/explained_variance": explained_variance,
            "train/logprob_rollout_mismatch": rollout_mismatch,
            **{f"train/{name}": means[i] for i, name in enumerate(self.stat_names)},
        }
        numbers = {"train/kl": episode_kl, "train/kl_coef": beta, "train/epochs": float(epochs_done)}
        if ref_logprobs is None:  # no reference (the KL coefficient is 0): the KL is not measured
            del numbers["train/kl"]
        return summary_scalars(tensors, numbers)
