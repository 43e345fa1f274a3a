"""A small multi-turn batched env for the LM agents' tests, following the conversation contract of
``textgym/Conversation-v0`` (observation ``input_ids``, ``attention_mask``, ``agent_mask``; user tokens appended after
an agent turn ends).

:class:`FakeConversationVectorEnv` wraps a single-turn :class:`~textgym.envs.vector.TextGenVectorEnv` (its prompts,
tokenizer, task, model and rewards): every agent token is stepped into the wrapped env, which scores the agent's text;
when an agent token's text contains one of ``turn_end_chars`` (a newline by default) and the conversation goes on,
the fixed ``user_text`` tokens are appended to the observation. The conversation ends when the wrapped env ends (EOS
or its ``max_new_tokens`` agent tokens) or after ``max_turns`` agent turns. Only ``autoreset_mode="Disabled"``
(ended rows frozen until reset), as the LM agents' rollout uses it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

import textgym  # noqa: F401  (registers the textgym/ ids)

FAKE_ID = "textgym-test/FakeConversation-v0"
#: the user's reply after each agent turn (several tokens, not actions)
USER_TEXT = "\nUser: go on.\nAgent:"


class FakeConversationVectorEnv(gym.vector.VectorEnv):
    """A batched multi-turn env on top of a single-turn one (see the module docstring)."""

    def __init__(self, num_envs: int = 4, device: str | torch.device = "cpu", output: str = "torch",
                 autoreset_mode: Any = "Disabled", reward_mode: str = "dense", base_env_id: str = "textgym/Keywords-v1",
                 user_text: str = USER_TEXT, turn_end_chars: str = "\n", max_turns: int = 3, split: str = "train",
                 **base_kwargs: Any) -> None:
        if str(getattr(autoreset_mode, "value", autoreset_mode)) not in ("Disabled", "DISABLED", "disabled"):
            raise ValueError(
                f"FakeConversationVectorEnv supports autoreset_mode='Disabled' only, got {autoreset_mode!r}"
            )
        self.inner = gym.make_vec(base_env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                                  device=device, output="torch", autoreset_mode="Disabled", reward_mode=reward_mode,
                                  split=split, **base_kwargs)
        inner = self.inner
        self.num_envs, self.device, self.output = num_envs, inner.device, output
        self.tokenizer, self.setup, self.task = inner.tokenizer, inner.setup, inner.task
        self.vocab_size = inner.vocab_size
        self.reward_mode, self.max_turns = reward_mode, max_turns
        self.user_tokens = torch.tensor(self.tokenizer.encode(user_text), dtype=torch.long, device=self.device)
        self.turn_end = torch.tensor([any(c in self.tokenizer.decode([i]) for c in turn_end_chars)
                                      for i in range(self.vocab_size)], device=self.device)
        # the budget after the prompt: every agent token, and the user's reply after each of max_turns - 1 turns
        self.max_new_tokens = inner.max_new_tokens + (max_turns - 1) * len(self.user_tokens)
        self.prompt_width = self.setup.max_prompt_tokens
        length = self.prompt_width + self.max_new_tokens
        box = spaces.Box(0, self.vocab_size - 1, (length,), np.int64)
        mask = spaces.Box(0, 1, (length,), np.int64)
        self.single_observation_space = spaces.Dict({"input_ids": box, "attention_mask": mask, "agent_mask": mask})
        self.single_action_space = inner.single_action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = inner.action_space
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.DISABLED}
        pad = self.tokenizer.pad_token_id
        self.ids = torch.full((num_envs, length), pad, dtype=torch.long, device=self.device)
        self.mask = torch.zeros_like(self.ids)
        self.agent = torch.zeros_like(self.ids)
        self.turns = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.prompt_lengths = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._ended = torch.ones(num_envs, dtype=torch.bool, device=self.device)

    @property
    def np_random(self) -> np.random.Generator:
        return self.inner.np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self.inner.np_random = value

    @property
    def ended(self) -> torch.Tensor:
        return self._ended.clone()

    @property
    def num_generated(self) -> torch.Tensor:
        """Tokens after the prompt (agent and user) per row."""
        return self.mask.sum(1) - self.prompt_lengths

    def texts(self) -> list[str]:
        """The conversation after the prompt (agent and user tokens), per row."""
        return [self.tokenizer.decode(row[start:end].tolist())
                for row, start, end in zip(self.ids, self.prompt_lengths.tolist(), self.mask.sum(1).tolist())]

    def _obs(self) -> dict[str, Any]:
        obs = {"input_ids": self.ids.clone(), "attention_mask": self.mask.clone(), "agent_mask": self.agent.clone()}
        return obs if self.output == "torch" else {k: v.cpu().numpy() for k, v in obs.items()}

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None):
        obs, info = self.inner.reset(seed=seed, options=options)
        rows = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        if options and options.get("reset_mask") is not None:
            rows = torch.as_tensor(options["reset_mask"], device=self.device).bool()
        width = obs["input_ids"].shape[1]
        self.ids[rows] = self.tokenizer.pad_token_id
        self.mask[rows] = 0
        self.agent[rows] = 0
        self.ids[rows, :width] = obs["input_ids"][rows].long()
        self.mask[rows, :width] = obs["attention_mask"][rows].long()
        self.prompt_lengths = self.mask.sum(1)
        self.turns[rows] = 1
        self._ended[rows] = False
        return self._obs(), {"agent_turn_ended": torch.zeros_like(rows)}

    def step(self, actions):
        tokens = torch.as_tensor(actions, device=self.device).long().reshape(self.num_envs)
        live = ~self._ended
        _, rewards, _, _, _ = self.inner.step(tokens)
        rows = live.nonzero().squeeze(1)
        lengths = self.mask.sum(1)
        self.ids[rows, lengths[rows]] = tokens[rows]
        self.mask[rows, lengths[rows]] = 1
        self.agent[rows, lengths[rows]] = 1
        turn_ended = live & self.turn_end[tokens] & (tokens != self.tokenizer.eos_token_id)
        over = live & (self.inner.ended | (turn_ended & (self.turns >= self.max_turns)))
        goes_on = turn_ended & ~over
        for row in goes_on.nonzero().squeeze(1).tolist():
            start = int(lengths[row]) + 1
            self.ids[row, start:start + len(self.user_tokens)] = self.user_tokens
            self.mask[row, start:start + len(self.user_tokens)] = 1
        self.turns += goes_on.long()
        self._ended |= over
        rewards = torch.where(live, torch.as_tensor(rewards, device=self.device).float(), 0.0)
        terminated = over
        truncated = torch.zeros_like(over)
        return self._obs(), rewards, terminated, truncated, {"agent_turn_ended": turn_ended}

    def close(self, **kwargs: Any) -> None:
        self.inner.close()


def register() -> None:
    """Register :data:`FAKE_ID` (once)."""
    if FAKE_ID not in gym.registry:
        gym.register(FAKE_ID, entry_point=None, vector_entry_point=FakeConversationVectorEnv)
