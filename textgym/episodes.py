"""Running episodes outside training: a language-model or random policy, and a record of each step."""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch

from textgym.models.loader import load_frozen


@dataclass
class EpisodeRecord:
    """One episode: the prompt, each step's token text and instant reward, and the outcome.

    ``end_reason``: ``"eos"``, ``"stop"`` or ``"max_new_tokens"`` when the env ended the
    episode (``terminated``); ``None`` when an outer time limit truncated it, or when the env's
    infos hold no strings (``info_text=False``).
    """

    prompt: str
    tokens: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    text: str = ""
    score: float = 0.0
    terminated: bool = False
    end_reason: str | None = None

    @property
    def episode_return(self) -> float:
        return float(sum(self.rewards))


class LanguageModelPolicy:
    """Samples the next token from the environment's language model (the task's default model).

    Feeds the whole observation each step; meant for demos and inspection, not training.
    """

    def __init__(self, model_name: str, device: str = "cpu", temperature: float = 1.0, top_k: int = 50) -> None:
        self.lm = load_frozen(model_name, device)
        self.temperature, self.top_k = temperature, top_k

    @torch.no_grad()
    def next_token_logits(self, observation: dict[str, np.ndarray]) -> torch.Tensor:
        length = int(observation["attention_mask"].sum())
        ids = torch.as_tensor(observation["input_ids"][:length], device=self.lm.device).unsqueeze(0)
        return self.lm.model(input_ids=ids).logits[0, -1].float()

    def __call__(self, observation: dict[str, np.ndarray], rng: np.random.Generator) -> int:
        logits = self.next_token_logits(observation) / self.temperature
        top = torch.topk(logits, min(self.top_k, logits.numel()))
        probs = torch.softmax(top.values, dim=-1).cpu().numpy().astype(np.float64)
        return int(top.indices[int(rng.choice(len(probs), p=probs / probs.sum()))])


def random_policy(env: gym.Env):
    """Uniform random token ids from ``env``'s action space."""
    n = env.action_space.n

    def act(observation, rng: np.random.Generator) -> int:
        return int(rng.integers(n))

    return act


def default_policy(env: gym.Env):
    """The env's language model when it has one, else uniform random tokens."""
    model = env.unwrapped.setup.model
    return LanguageModelPolicy(model) if model is not None else random_policy(env)


def run_episode(env: gym.Env, policy=None, seed: int | None = None, options: dict | None = None) -> EpisodeRecord:
    """Play one episode of ``env`` with ``policy(observation, rng) -> token id``."""
    policy = policy or default_policy(env)
    rng = np.random.default_rng(seed)
    observation, info = env.reset(seed=seed, options=options)
    tokenizer = env.unwrapped.tokenizer
    record = EpisodeRecord(prompt=info["prompt"])
    done = False
    while not done:
        action = policy(observation, rng)
        observation, reward, terminated, truncated, info = env.step(action)
        record.tokens.append(tokenizer.token_string(action))
        record.rewards.append(float(reward))
        done = terminated or truncated
        record.terminated = terminated
        record.end_reason = info.get("end_reason") or None  # "" while the episode runs (and when truncated)
    record.text, record.score = info["text"], info["score"]
    return record
