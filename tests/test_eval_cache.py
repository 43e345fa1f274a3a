"""The LM agents' greedy evaluation decodes with a KV cache (the tokens of a full forward over each observation), and
a KL coefficient of 0 skips the reference model."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest
import torch

from textgym.evaluation import evaluate_episodes
from textgym_agents.lm_nlpo import LMNLPOAgent, LMNLPOConfig
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig
from textgym_agents.run import RunConfig

FAST = {"num_minibatches": 2, "learning_rate": 1e-3}


def make_agent(tmp_path, env_id: str, agent=LMPPOAgent, config=LMPPOConfig, **hyperparameters):
    run = RunConfig(agent=agent.name, env_id=env_id, steps=64, seed=0, device="cpu", out=str(tmp_path / "run"),
                    num_envs=4, hyperparameters={**FAST, **hyperparameters})
    return agent(run, config(**{**FAST, **hyperparameters}))


def compare_step_by_step(agent, env_id: str, num_envs: int, steps: int, **env_kwargs) -> int:
    """Step an eval env with the cached policy's tokens, checking each against the full forward's; returns the
    number of rows that ended (and were reset, or frozen).

    Row 1 is stepped with EOS at step 3 (it ends early, out of step with the others) and row 2
    with another token than the policy's at step 5."""
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", split="eval",
                       device="cpu", output="numpy", **env_kwargs)
    obs, _ = env.reset(seed=3)
    ended = 0
    for step in range(steps):
        cached = agent.policy(obs, env)
        full = agent.full_forward_policy(obs, env)
        torch.testing.assert_close(cached, full, rtol=0, atol=0)
        actions = cached.clone()
        if step == 3:
            actions[1] = env.tokenizer.eos_token_id
        if step == 5:
            actions[2] = (int(actions[2]) + 7) % env.vocab_size
        obs, _, terminated, truncated, _ = env.step(actions)
        ended += int((terminated | truncated).sum())
    env.close()
    return ended


@pytest.mark.parametrize("env_id", ["textgym/Sentiment-v0", "textgym/Copy-v0", "textgym/QA-v1",
                                    "textgym/Dialogue-v1"])
def test_cached_greedy_tokens_equal_the_full_forward_through_autoresets(tmp_path, env_id):
    agent = make_agent(tmp_path, env_id)
    ended = compare_step_by_step(agent, env_id, num_envs=5, steps=30)
    assert ended > 0
    # rows reset out of step with the others (and row 2's other token) were spliced into the cache; whole-batch
    # prefills only when every row started afresh together, or the cache grew past twice the observation's width
    assert agent.greedy_decoder.splices >= 2
    assert agent.greedy_decoder.prefills <= 3
    agent.close()


def test_cached_greedy_tokens_when_rows_cannot_be_spliced(tmp_path, monkeypatch):
    import textgym_agents.lm.rollout as rollout

    monkeypatch.setattr(rollout, "_cache_layers", lambda cache: None)  # a cache without editable rows
    agent = make_agent(tmp_path, "textgym/QA-v1")
    compare_step_by_step(agent, "textgym/QA-v1", num_envs=5, steps=30)
    assert agent.greedy_decoder.splices == 0 and agent.greedy_decoder.prefills > 1  # prefilled afresh instead
    agent.close()


def test_cached_greedy_tokens_when_a_longer_prompt_replaces_a_row(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from textgym_agents.lm.rollout import GreedyDecoder, greedy_tokens

    agent = make_agent(tmp_path, "textgym/QA-v1")
    env = gym.make_vec("textgym/QA-v1", num_envs=3, vectorization_mode="vector_entry_point", split="eval",
                       device="cpu", output="numpy")
    order = np.argsort([len(ids) for ids in env.setup.prompt_ids])
    short, long = order[:3], order[-1]
    obs, _ = env.reset(seed=0, options={"prompt_index": short})
    long_obs, _ = env.reset(seed=0, options={"prompt_index": np.full(3, long)})
    decoder, pad = GreedyDecoder(), env.tokenizer.pad_token_id
    model, bos, vocab = agent.policy_model, agent.bos_token_id, agent.vocab_size
    tokens = decoder(model, obs, pad, bos, vocab, torch.device("cpu"))
    # the next observation: rows 0 and 2 continue with their tokens, row 1 holds the longest prompt
    ids, mask = obs["input_ids"].copy(), obs["attention_mask"].copy()
    for row in (0, 2):
        ids[row, mask[row].sum()] = tokens[row]
        mask[row, mask[row].sum()] = 1
    ids[1], mask[1] = long_obs["input_ids"][1], long_obs["attention_mask"][1]
    assert mask[1].sum() > obs["attention_mask"].sum(1).max() + 1  # longer than the cache
    following = {"input_ids": ids, "attention_mask": mask}
    cached = decoder(model, following, pad, bos, vocab, torch.device("cpu"), vector_env=SimpleNamespace())
    assert decoder.splices == 1 and decoder.prefills == 1
    torch.testing.assert_close(cached, greedy_tokens(model, following, pad, bos, vocab, torch.device("cpu")))
    env.close()
    agent.close()


def test_cached_greedy_tokens_of_frozen_rows_and_a_new_batch(tmp_path):
    agent = make_agent(tmp_path, "textgym/Sentiment-v0")
    compare_step_by_step(agent, "textgym/Sentiment-v0", num_envs=4, steps=30, autoreset_mode="Disabled")
    before = agent.greedy_decoder.prefills
    compare_step_by_step(agent, "textgym/Sentiment-v0", num_envs=4, steps=3)  # a new env at num_generated == 0
    assert agent.greedy_decoder.prefills == before + 1
    agent.close()


def test_cached_greedy_tokens_of_nlpo_masked_policy_and_lora(tmp_path):
    nlpo = make_agent(tmp_path, "textgym/Sentiment-v0", LMNLPOAgent, LMNLPOConfig, top_mask=0.5)
    compare_step_by_step(nlpo, "textgym/Sentiment-v0", num_envs=4, steps=20)
    nlpo.close()
    pytest.importorskip("peft")
    lora = make_agent(tmp_path, "textgym/QA-v1", lora=True)
    with torch.no_grad():  # adapters away from their zero start, so that they change the tokens
        for name, p in lora.policy_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    compare_step_by_step(lora, "textgym/QA-v1", num_envs=4, steps=20)
    lora.close()


@pytest.mark.parametrize("env_id", ["textgym/Sentiment-v0", "textgym/QA-v1"])
def test_eval_return_equals_the_full_forward_path(tmp_path, env_id):
    agent = make_agent(tmp_path, env_id)
    cached = evaluate_episodes(agent.policy, env_id, batch_size=32, naturalness=False)
    full = evaluate_episodes(agent.full_forward_policy, env_id, batch_size=32, naturalness=False)
    assert cached.scores == full.scores
    assert cached.mean == full.mean
    assert agent.greedy_decoder.prefills == (len(cached.scores) + 31) // 32  # one per batch of prompts
    agent.close()


# -- no reference forward when the KL coefficient is 0 ----------------------------------------------


def train_copy(tmp_path, name: str, agent: str, **hyperparameters) -> dict[str, Any]:
    """A short run on Copy-v0; returns its metrics.csv text and its exported policy's weights."""
    from safetensors.torch import load_file

    from textgym_agents.train import train

    run = RunConfig(agent=agent, env_id="textgym/Copy-v0", steps=64, seed=0, device="cpu", out=str(tmp_path / name),
                    num_envs=8, eval_every=32, hyperparameters={**FAST, **hyperparameters})
    train(run, progress=False)
    metrics = (tmp_path / name / "metrics.csv").read_text()
    return {"metrics": metrics, **load_file(str(tmp_path / name / "policy" / "model.safetensors"))}


@pytest.mark.parametrize("agent, hyperparameters", [("lm-ppo", {"kl_coef": 0.0}),  # lm-ppo's KL adapts
                                                    ("lm-rloo", {"kl_coef": 0.0, "group_size": 4}),
                                                    ("lm-grpo", {"kl_coef": 0.0, "group_size": 4})])
def test_kl_coef_zero_runs_no_reference_forward_and_trains_the_same(tmp_path, monkeypatch, agent, hyperparameters):
    import textgym_agents.lm.base as base

    calls = []
    original = base.reference_logprobs

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(base, "reference_logprobs", counting)
    skipped = train_copy(tmp_path, "skipped", agent, **hyperparameters)
    assert calls == []
    # the same run with the reference computed (its KL term is multiplied by 0)
    monkeypatch.setattr(base.LMAgent, "uses_reference", property(lambda self: True))
    computed = train_copy(tmp_path, "computed", agent, **hyperparameters)
    assert len(calls) > 0
    assert skipped["metrics"] == computed["metrics"]
    assert skipped.keys() == computed.keys()
    for key in skipped.keys() - {"metrics"}:
        assert torch.equal(skipped[key], computed[key]), key


@pytest.mark.parametrize("adaptive_kl", [False, True])
def test_kl_coef_zero_builds_no_frozen_copy(tmp_path, adaptive_kl):
    agent = make_agent(tmp_path, "textgym/Copy-v0", kl_coef=0.0, adaptive_kl=adaptive_kl)
    assert agent.reference is None and not agent.uses_reference
    assert "train/kl" not in agent.learn(16)  # not measured
    agent.close()
    default = make_agent(tmp_path, "textgym/Copy-v0", adaptive_kl=adaptive_kl)
    assert default.reference is not None and default.uses_reference
    assert "train/kl" in default.learn(16)
    default.close()
