"""A features extractor for token observations, the extension point for SB3 policies on textgym."""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

POOLINGS = ("attention", "mean", "flatten")


class TokenFeaturesExtractor(BaseFeaturesExtractor):
    """Embeds ``input_ids`` (plus positions) and pools them into one feature vector.

    Use it with ``PPO("MultiInputPolicy", env, policy_kwargs={"features_extractor_class":
    TokenFeaturesExtractor, "features_extractor_kwargs": {...}})``; :func:`token_policy_kwargs`
    builds that dict.

    Args:
        observation_space: textgym's Dict space (``input_ids``, ``attention_mask``, and
            ``candidates`` under :class:`~textgym_agents.sb3.action_spaces.TopKActionsVecEnv`).
        embed_dim: token and position embedding size.
        features_dim: output size.
        pooling: ``"attention"`` (one Transformer encoder layer; the last real token's
            output and the masked mean), ``"mean"`` (masked mean and the last real token's
            embedding), or ``"flatten"`` (all positions concatenated: best for short
            fixed-layout tasks like Copy).
        initial_embeddings: optional ``[vocab, embed_dim]`` tensor (e.g. the env LM's
            token embeddings) to start from.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        embed_dim: int = 64,
        features_dim: int = 128,
        pooling: str = "attention",
        initial_embeddings: torch.Tensor | None = None,
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; allowed: {list(POOLINGS)}")
        super().__init__(observation_space, features_dim)
        ids_space = observation_space["input_ids"]
        self.vocab_size = int(ids_space.high.max()) + 1
        self.length = int(ids_space.shape[0])
        self.pooling = pooling
        self.token_embedding = nn.Embedding(self.vocab_size, embed_dim)
        if initial_embeddings is not None:
            if tuple(initial_embeddings.shape) != (self.vocab_size, embed_dim):
                raise ValueError(
                    f"initial_embeddings has shape {tuple(initial_embeddings.shape)}, expected ({self.vocab_size}, "
                    f"{embed_dim})"
                )
            self.token_embedding.weight.data.copy_(initial_embeddings)
        self.position_embedding = nn.Embedding(self.length, embed_dim)
        if pooling == "attention":
            self.encoder = nn.TransformerEncoderLayer(
                embed_dim, nhead=4, dim_feedforward=2 * embed_dim, dropout=0.0, batch_first=True
            )
        pooled = {"attention": 2 * embed_dim, "mean": 2 * embed_dim, "flatten": self.length * embed_dim}[pooling]
        self.num_candidates = (
            int(observation_space["candidates"].shape[0]) if "candidates" in observation_space.spaces else 0
        )
        pooled += self.num_candidates * embed_dim
        self.head = nn.Sequential(nn.Linear(pooled, features_dim), nn.ReLU())

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        ids = observations["input_ids"].long()
        mask = observations["attention_mask"].float()
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token_embedding(ids) + self.position_embedding(positions)
        last = (mask.sum(1).long() - 1).clamp(min=0)
        if self.pooling == "flatten":
            pooled = (x * mask.unsqueeze(-1)).flatten(1)
        else:
            if self.pooling == "attention":
                x = self.encoder(x, src_key_padding_mask=mask == 0)
            mean = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
            pooled = torch.cat([mean, x[torch.arange(len(ids), device=ids.device), last]], dim=-1)
        if self.num_candidates:
            pooled = torch.cat([pooled, self.token_embedding(observations["candidates"].long()).flatten(1)], dim=-1)
        return self.head(pooled)


def token_policy_kwargs(
    embed_dim: int = 64,
    features_dim: int = 128,
    pooling: str = "attention",
    initial_embeddings: torch.Tensor | None = None,
    net_arch=None,
) -> dict:
    """``policy_kwargs`` for an SB3 ``MultiInputPolicy`` on textgym observations."""
    kwargs = {
        "features_extractor_class": TokenFeaturesExtractor,
        "features_extractor_kwargs": {
            "embed_dim": embed_dim,
            "features_dim": features_dim,
            "pooling": pooling,
            "initial_embeddings": initial_embeddings,
        },
    }
    if net_arch is not None:
        kwargs["net_arch"] = net_arch
    return kwargs
