"""One info schema for a whole episode, single and batched.

Every key of ``reset()``'s info is in every step's info, with a value of the same type (and, batched, the same dtype
and shape), and no step adds a key.

Libraries that store infos in arrays need it: tianshou's replay buffer turns a key missing from some infos into NaN
and its trainer stops (``MalformedBufferError: Encountered NaNs in buffer``); torchrl builds its specs from the first
info. ``end_reason`` is ``""`` until the step that ends the episode. The batched env's ``final_obs`` and ``final_info``
(same-step autoreset) come only at the steps where a row ends, as Gymnasium's ``SyncVectorEnv`` gives them; their own
keys are the same at every such step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
import torch
from gymnasium.wrappers import TimeLimit

import textgym

END_REASONS = {"eos", "stop", "max_new_tokens"}
#: the keys same-step autoreset adds at the steps where a row ends (Gymnasium's convention)
FINAL_KEYS = {"final_obs", "_final_obs", "final_info", "_final_info"}


def single_schema(info: dict[str, Any]) -> dict[str, type]:
    """Every key of a single env's info, with the type of its value."""
    return {key: type(value) for key, value in info.items()}


def batched_schema(info: dict[str, Any]) -> dict[str, tuple]:
    """Every key of a batched env's info (but the final ones), with its value's type, dtype and shape."""
    return {
        key: (type(value), str(value.dtype), tuple(value.shape)) for key, value in info.items() if key not in FINAL_KEYS
    }


def play_actions(env, steps: int, seed: int) -> np.ndarray:
    """Random token ids for ``steps`` steps, with EOS, stop tokens and bytes of multi-byte characters mixed in."""
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    shape = (steps, base.num_envs) if hasattr(base, "num_envs") else (steps,)
    vocab = base.tokenizer.vocab_size
    actions = reward_contract.random_actions(rng, base.tokenizer, vocab, shape, eos_rate=0.08)
    stops = reward_contract.stop_tokens(base.tokenizer)
    if stops:
        actions = np.where(rng.random(shape) < 0.05, rng.choice(stops, size=shape), actions)
    return actions


@pytest.mark.parametrize("info_text", [True, False])
@pytest.mark.parametrize("env_id", textgym.env_ids())
def test_single_env_info_keeps_one_schema(env_id, info_text):
    env = gym.make(env_id, max_new_tokens=5, info_text=info_text)
    _, info = env.reset(seed=0)
    schema = single_schema(info)
    strings = {"text", "prompt", "end_reason"}
    assert set(schema) == {"score", "prompt_index", "num_generated", "length"} | (strings if info_text else set())
    if info_text:
        assert info["end_reason"] == ""
    episodes = 0
    for t, action in enumerate(play_actions(env, 40, seed=1).tolist()):
        _, _, terminated, truncated, info = env.step(action)
        assert single_schema(info) == schema, f"step {t}"
        if info_text:
            assert (info["end_reason"] in END_REASONS) if terminated else info["end_reason"] == "", f"step {t}"
        if terminated or truncated:
            episodes += 1
            _, info = env.reset()
            assert single_schema(info) == schema, f"reset after step {t}"
    assert episodes >= 3


def test_single_env_info_keeps_one_schema_under_an_outer_time_limit():
    """A step that an outer time limit truncates has ``end_reason == ""``: the env did not end the episode."""
    env = TimeLimit(gym.make("textgym/Copy-v0", max_new_tokens=8), max_episode_steps=2)
    _, info = env.reset(seed=0)
    schema = single_schema(info)
    word = next(i for i in range(env.action_space.n) if env.unwrapped.tokenizer.decode([i]).isalnum())
    env.step(word)
    _, _, terminated, truncated, info = env.step(word)
    assert (terminated, truncated) == (False, True)
    assert single_schema(info) == schema and info["end_reason"] == ""


BATCHED_CASES = [
    ("textgym/Copy-v0", "SameStep", {}),  # token-level array scorer
    ("textgym/Copy-v0", "NextStep", {}),
    ("textgym/Copy-v0", "Disabled", {"output": "torch"}),  # tensors for the numbers
    ("textgym/Sentiment-v0", "SameStep", {}),  # per-row text scorer
    ("textgym/Sentiment-v0", "NextStep", {"arrays": "torch"}),
    ("textgym/Keywords-v0", "Disabled", {}),  # a stop condition
]


@pytest.mark.parametrize("info_text", [True, False])
@pytest.mark.parametrize("env_id, mode, kwargs", BATCHED_CASES)
def test_batched_env_info_keeps_one_schema(env_id, mode, kwargs, info_text):
    n = 3
    env = gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", device="cpu", max_new_tokens=5,
        autoreset_mode=mode, info_text=info_text, **kwargs,
    )
    _, info = env.reset(seed=[0, 1, 2])
    schema = batched_schema(info)
    assert not FINAL_KEYS & set(info)
    numbers = {"score", "num_generated", "prompt_index", "length"}
    strings = {"end_reason", "_end_reason"} | ({"text", "_text"} if mode != "SameStep" else set())
    assert set(schema) == numbers | (strings if info_text else set())
    if info_text:
        assert info["end_reason"].tolist() == [""] * n and info["_end_reason"].all()
    final_schema = None
    episodes = 0
    for t, actions in enumerate(play_actions(env, 40, seed=2)):
        _, _, terminated, _, info = env.step(actions)
        assert batched_schema(info) == schema, f"step {t}"
        ended = terminated.cpu().numpy() if isinstance(terminated, torch.Tensor) else terminated
        episodes += int(ended.sum())
        if mode == "SameStep" and ended.any():
            assert FINAL_KEYS <= set(info)
            final = {key: (type(value), str(value.dtype)) for key, value in info["final_info"].items()}
            assert final_schema in (None, final), f"step {t}: final_info changed its keys or types"
            final_schema = final
        elif mode == "SameStep":
            assert not FINAL_KEYS & set(info), f"step {t}"
        if info_text:
            reasons = info["end_reason"]
            if mode == "SameStep":  # the rows that ended have started again: their end is in final_info
                assert reasons.tolist() == [""] * n
                if ended.any():
                    assert set(info["final_info"]["end_reason"][ended].tolist()) <= END_REASONS
            else:
                assert [reason in END_REASONS for reason in reasons.tolist()] == ended.tolist(), f"step {t}"
                assert [reason == "" for reason in reasons.tolist()] == (~ended).tolist(), f"step {t}"
                assert info["_text"].tolist() == ended.tolist()
        if mode == "Disabled" and ended.any():
            _, info = env.reset(options={"reset_mask": ended})
            assert batched_schema(info) == schema, f"reset after step {t}"
    assert episodes >= 2 * n
    if mode == "SameStep":
        assert final_schema is not None
