"""Per-token pieces the LM agents' losses share: masked statistics, the clipped surrogate, returns-to-go, and the
agent's steps of a multi-turn rollout packed together (:class:`AgentSteps`)."""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit variance over the entries where ``mask`` is True (others set to 0)."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + eps) * mask.to(values.dtype)


def clipped_surrogate(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                      clip_range: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped policy loss per token (Schulman et al. 2017); returns ``(loss, ratio, log_ratio)``."""
    log_ratio = logprobs - old_logprobs
    ratio = log_ratio.exp()
    loss = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip_range, 1 + clip_range))
    return loss, ratio, log_ratio


@torch.no_grad()
def ratio_statistics(
    ratio: torch.Tensor, log_ratio: torch.Tensor, clip_range: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token: the k3 estimate of KL(old || new), and 1 where the ratio is outside the clip (statistics only)."""
    return (ratio - 1) - log_ratio, ((ratio - 1).abs() > clip_range).float()


def returns_to_go(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``G_t = sum_{s >= t} r_s`` per row over its real tokens (``mask``); 0 after the end."""
    rewards = rewards * mask.to(rewards.dtype)
    return rewards.flip(1).cumsum(1).flip(1) * mask.to(rewards.dtype)


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = sum_{s >= t} gamma^(s - t) r_s`` per row over its real tokens (``mask``, a prefix); 0 after the end
    (``gamma=1``: :func:`returns_to_go`)."""
    if gamma == 1.0:
        return returns_to_go(rewards, mask)
    mask = mask.to(rewards.dtype)
    rewards = rewards * mask
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = (rewards[:, t] + gamma * running) * mask[:, t]
        returns[:, t] = running
    return returns


def group_view(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """``[B, ...]`` -> ``[B / group_size, group_size, ...]``: rows ``g * group_size ...`` share prompt ``g``."""
    return values.reshape(values.shape[0] // group_size, group_size, *values.shape[1:])


def leave_one_out_mean(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """For each row, the mean of ``values`` over the other ``group_size - 1`` rows of its group."""
    grouped = group_view(values, group_size)
    return ((grouped.sum(1, keepdim=True) - grouped) / (group_size - 1)).reshape(values.shape)


class AgentSteps:
    """The agent's steps of each row (its columns where ``mask`` is True), packed to the left: ``[B, T]`` -> ``[B, S]``.

    On a multi-turn rollout the user's tokens sit between the agent's in the response columns;
    what runs over consecutive steps (GAE, a baseline per step) runs over the packed agent steps,
    so step ``s`` is the row's ``s``-th action whatever the user said before it. On a single-turn
    rollout the agent's steps are already a prefix of the columns and packing changes nothing.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        mask = mask.bool()
        self.width = mask.shape[1]
        steps = max(1, int(mask.sum(1).max().item()))
        # a stable sort puts each row's agent columns first, in order
        self.index = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices[:, :steps]
        self.mask = mask.gather(1, self.index)  # [B, S] True at real steps

    def pack(self, values: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> ``[B, S]``: each row's values at its agent steps, in order (0 after its last)."""
        return torch.where(self.mask, values.gather(1, self.index), 0)

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` -> ``[B, T]``: the packed values back at their columns (0 at the other columns)."""
        out = packed.new_zeros((packed.shape[0], self.width))
        return out.scatter(1, self.index, torch.where(self.mask, packed, 0))
