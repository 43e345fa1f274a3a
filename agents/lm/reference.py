"""The reference model and the KL divergence to it.

The reference is a frozen copy of the initial policy. Per token, from the sampled token
``a`` at state ``s``, the KL divergence ``KL(pi || pi_ref)`` is estimated by
``k1 = log pi(a|s) - log pi_ref(a|s)`` (unbiased; Ziegler et al. 2019) or by
``k3 = (r - 1) - log r`` with ``r = pi_ref(a|s) / pi(a|s)`` (unbiased, never negative, lower
variance; Schulman 2020, "Approximating KL divergence"; GRPO's choice, Shao et al. 2024).
The coefficient ``beta`` is fixed or adapted by Ziegler et al.'s controller.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from textgym_agents.lm.rollout import Rollout, forward_responses, token_logprobs

KL_ESTIMATORS = ("k1", "k3")


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The reference: a copy of ``model`` that takes no gradients."""
    return copy.deepcopy(model).requires_grad_(False)


@torch.no_grad()
def reference_logprobs(
    reference: torch.nn.Module, rollout: Rollout, temperature: float, vocab_size: int
) -> torch.Tensor:
    """``log pi_ref`` of the rollout's tokens (one full forward; the caller sets the precision)."""
    logits, _ = forward_responses(reference, rollout.prompt_ids, rollout.prompt_mask, rollout.response_ids,
                                  rollout.attention_mask)
    return token_logprobs(logits, rollout.response_ids, temperature, vocab_size)[0]


def kl_per_token(logprobs: torch.Tensor, ref_logprobs: torch.Tensor | None, estimator: str) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the sampled token (see the module docstring); zeros when
    ``ref_logprobs`` is ``None`` (no reference: the KL coefficient is 0, see ``LMAgent.uses_reference``)."""
    if ref_logprobs is None:
        return torch.zeros_like(logprobs)
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        ratio = torch.exp(-log_ratio)  # pi_ref / pi
        return (ratio - 1) + log_ratio
    raise ValueError(f"unknown kl_estimator {estimator!r}; allowed: {list(KL_ESTIMATORS)}")


class AdaptiveKLController:
    """Ziegler et al. (2019): ``beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * n_steps / horizon``."""

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        self.value, self.target, self.horizon = float(init_kl_coef), float(target), int(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        proportional_error = float(np.clip(current_kl / self.target - 1.0, -0.2, 0.2))
        self.value *= 1.0 + proportional_error * n_steps / self.horizon


class FixedKLController:
    """A constant ``beta``."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        pass
