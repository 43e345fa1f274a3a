"""The LM agents on multi-turn conversations: the user's tokens are context (in the KV cache and in every forward),
never actions (no loss, value target, KL or entropy on them), and the greedy evaluation decodes them too.

The env is ``tests/conversation_fake.py`` (the conversation contract on top of Keywords-v1: a fixed user reply after
each agent turn), and ``textgym/Conversation-v0`` where it is installed.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from conversation_fake import FAKE_ID, USER_TEXT, register

from textgym_agents.lm import base
from textgym_agents.lm.losses import AgentSteps, returns_to_go
from textgym_agents.lm.rollout import collect_rollout
from textgym_agents.lm_grpo import outcome_advantages, process_advantages
from textgym_agents.lm_ppo import compute_gae
from textgym_agents.lm_rebn import rebn_returns
from textgym_agents.lm_rloo import sequence_advantages, token_advantages
from textgym_agents.registry import agent_class
from textgym_agents.run import RunConfig

register()

#: the fake conversation: a word boundary (a space) or a newline ends an agent turn, so turns are short and many
FAKE_KWARGS = {"turn_end_chars": "\n ", "max_turns": 3, "max_new_tokens": 10}
LM_AGENTS = ("lm-ppo", "lm-grpo", "lm-rloo", "lm-nlpo", "lm-rebn")
#: settings that keep each update to one forward over the whole batch (the gradient test reads that forward's logits)
ONE_FORWARD = {"num_minibatches": 1, "learning_rate": 1e-3}
ONE_PASS = {"lm-ppo": {"num_epochs": 1, "ent_coef": 0.01}, "lm-nlpo": {"num_epochs": 1, "ent_coef": 0.01},
            "lm-grpo": {"num_iterations": 1, "group_size": 2}, "lm-rloo": {"num_epochs": 1, "group_size": 2},
            "lm-rebn": {"num_epochs": 1, "kl_coef": 0.05}}


def conversation_env_ids() -> list[str]:
    """The fake conversation, and ``textgym/Conversation-v0`` once it is registered."""
    return [FAKE_ID] + (["textgym/Conversation-v0"] if "textgym/Conversation-v0" in gym.registry else [])


def make_agent(tmp_path, agent: str, env_id: str = FAKE_ID, num_envs: int = 4, **hyperparameters):
    env_kwargs = dict(FAKE_KWARGS) if env_id == FAKE_ID else {}
    hyperparameters = {**ONE_FORWARD, **ONE_PASS[agent], **hyperparameters}
    run = RunConfig(agent=agent, env_id=env_id, steps=64, seed=0, device="cpu", out=str(tmp_path / "run"),
                    num_envs=num_envs, env_kwargs=env_kwargs, hyperparameters=hyperparameters)
    cls = agent_class(agent)
    return cls(run, cls.Config(**hyperparameters))


def user_columns(rollout) -> torch.Tensor:
    return rollout.context_mask & ~rollout.response_mask


# -- the rollout -------------------------------------------------------------------------------------------


def test_rollout_columns_hold_the_agents_and_the_users_tokens(tmp_path):
    agent = make_agent(tmp_path, "lm-ppo", num_envs=6)
    rollout = agent.collect()
    env = agent.env
    context, actions = rollout.context_mask, rollout.response_mask
    assert (context | ~actions).all()  # every action is context
    assert user_columns(rollout).any(), "no user tokens in the rollout: the test needs some"
    # each row's real tokens are a prefix of its columns, and they are the conversation the env holds
    lengths = context.sum(1)
    assert torch.equal(context, torch.arange(context.shape[1]) < lengths.unsqueeze(1))
    user = env.tokenizer.encode(USER_TEXT)
    for row in range(env.num_envs):
        ids = rollout.response_ids[row, : lengths[row]]
        assert env.tokenizer.decode(ids.tolist()) == env.texts()[row]
        user_ids = ids[user_columns(rollout)[row, : lengths[row]]].tolist()
        assert len(user_ids) % len(user) == 0 and user_ids == user * (len(user_ids) // len(user))
    # rewards, log-probabilities and values live on the agent's columns only
    for per_token in (rollout.env_rewards, rollout.sample_logprobs, rollout.values):
        assert (per_token[~actions] == 0).all()
    assert int(rollout.live_steps) == int(actions.sum())


def test_rollout_kv_cache_takes_the_users_tokens_as_context(tmp_path):
    """The log-probabilities and values recorded while decoding (KV cache, chunks of agent + user tokens) are those
    of one full forward over the whole conversation; the cache-free decoding samples the same tokens."""
    agent = make_agent(tmp_path, "lm-ppo", num_envs=6)
    rollout = agent.collect()
    assert user_columns(rollout).any()
    with torch.no_grad():
        logprobs, _, values = agent.evaluate_tokens(rollout, with_entropy=False)
    actions = rollout.response_mask
    torch.testing.assert_close(logprobs[actions], rollout.sample_logprobs[actions], atol=1e-4, rtol=0)
    # a trained value head (the initial one is zero everywhere)
    torch.nn.init.normal_(agent.value_head.weight, std=0.1)
    generator, prompts = torch.Generator().manual_seed(5), np.arange(agent.env.num_envs)
    cached = collect_rollout(agent.env, agent.policy_model, agent.config, generator, agent.bos_token_id,
                             agent.vocab_size, value_head=agent.value_head, prompt_index=prompts)
    generator.manual_seed(5)
    uncached = collect_rollout(agent.env, agent.policy_model, agent.config, generator, agent.bos_token_id,
                               agent.vocab_size, use_kv_cache=False, value_head=agent.value_head, prompt_index=prompts)
    assert torch.equal(cached.response_ids, uncached.response_ids)
    assert torch.equal(cached.context_mask, uncached.context_mask)
    with torch.no_grad():
        _, _, values = agent.evaluate_tokens(cached, with_entropy=False)
    torch.testing.assert_close(values[cached.response_mask], cached.values[cached.response_mask], atol=1e-4, rtol=0)


def test_single_turn_rollouts_have_no_context_mask(tmp_path):
    run = RunConfig(agent="lm-ppo", env_id="textgym/Copy-v0", steps=64, seed=0, device="cpu",
                    out=str(tmp_path / "run"), num_envs=4, hyperparameters=dict(ONE_FORWARD))
    agent = agent_class("lm-ppo")(run, agent_class("lm-ppo").Config(**ONE_FORWARD))
    rollout = agent.collect()
    assert rollout.context_mask is None and rollout.attention_mask is rollout.response_mask


# -- losses: no gradient at the user's tokens ------------------------------------------------------------------


@pytest.mark.parametrize("env_id", conversation_env_ids())
@pytest.mark.parametrize("agent_name", LM_AGENTS)
def test_loss_gradient_is_zero_at_user_tokens(tmp_path, monkeypatch, agent_name, env_id):
    """The gradient of the update's loss with respect to the policy's logits: zero at every position that predicts a
    user token (policy loss, KL and entropy are masked), non-zero at the agent's."""
    agent = make_agent(tmp_path, agent_name, env_id)
    rollout = agent.collect()
    assert user_columns(rollout).any(), "no user tokens in the rollout: the test needs some"
    captured: list[tuple[object, torch.Tensor]] = []
    forward_responses = base.forward_responses
    evaluate_tokens = agent.evaluate_tokens

    def recording_forward(*args, **kwargs):
        logits, hidden = forward_responses(*args, **kwargs)
        if torch.is_grad_enabled() and logits is not None:
            logits.retain_grad()
            captured[-1] = (captured[-1][0], logits)
        return logits, hidden

    def recording_evaluate(part, with_entropy):
        captured.append((part, None))
        return evaluate_tokens(part, with_entropy)

    monkeypatch.setattr(base, "forward_responses", recording_forward)
    monkeypatch.setattr(agent, "evaluate_tokens", recording_evaluate)
    agent.update(rollout)
    graded = [(part, logits) for part, logits in captured if logits is not None and logits.grad is not None]
    assert graded, "no forward of the update's loss was recorded"
    part, logits = graded[0]
    size = logits.grad.abs().sum(-1)  # [b, T]: the gradient's size at each position
    user = part.context_mask & ~part.response_mask
    assert user.any()
    assert (size[user] == 0).all(), f"{agent_name}: gradient at user-token positions"
    assert (size[~part.context_mask] == 0).all()
    assert size[part.response_mask].sum() > 0, f"{agent_name}: no gradient at the agent's positions"


# -- advantages and value targets over the agent's steps ------------------------------------------------------

#: two rows of an interleaved rollout: agent steps (True) with user tokens between them, and the same steps packed
INTERLEAVED = torch.tensor([[True, False, False, True, True, False, True, False],
                            [True, True, False, False, False, True, False, False]])
REWARDS = torch.tensor([[1.0, 0.0, 0.0, 2.0, -1.0, 0.0, 3.0, 0.0], [0.5, 1.5, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0]])
PACKED = torch.tensor([[True, True, True, True], [True, True, True, False]])
PACKED_REWARDS = torch.tensor([[1.0, 2.0, -1.0, 3.0], [0.5, 1.5, -2.0, 0.0]])


def spread(packed: torch.Tensor) -> torch.Tensor:
    """The packed per-step values at the interleaved agent columns."""
    out = torch.zeros(INTERLEAVED.shape)
    out[INTERLEAVED] = packed[PACKED]
    return out


def test_agent_steps_pack_and_unpack():
    steps = AgentSteps(INTERLEAVED)
    assert torch.equal(steps.mask, PACKED)
    assert torch.equal(steps.pack(REWARDS), PACKED_REWARDS)
    assert torch.equal(steps.unpack(PACKED_REWARDS), REWARDS)
    prefix = torch.tensor([[True, True, False], [True, True, True]])  # single-turn: nothing moves
    assert torch.equal(AgentSteps(prefix).index, torch.arange(3).expand(2, 3))


def test_gae_runs_over_the_agents_steps_only():
    """PPO's advantages and value targets on an interleaved rollout are those of the packed agent steps: the value of
    the next agent step (not a user column's 0) bootstraps each step."""
    values = torch.tensor([[0.3, 0.0, 0.0, 0.7, -0.2, 0.0, 0.9, 0.0], [0.1, 0.4, 0.0, 0.0, 0.0, 0.6, 0.0, 0.0]])
    steps = AgentSteps(INTERLEAVED)
    advantages, returns = compute_gae(steps.pack(REWARDS), steps.pack(values), steps.mask, 0.9, 0.8)
    expected_advantages, expected_returns = compute_gae(PACKED_REWARDS, steps.pack(values), PACKED, 0.9, 0.8)
    torch.testing.assert_close(steps.unpack(advantages), spread(expected_advantages))
    torch.testing.assert_close(steps.unpack(returns), spread(expected_returns))
    # the first row's first step bootstraps from its second agent step's value (column 3), 0.7
    delta0 = 1.0 + 0.9 * 0.7 - 0.3
    assert abs(float(expected_advantages[0, 0]) - delta0) > 1e-3  # (GAE adds the later steps' deltas)


def test_group_statistics_stay_per_completion_on_interleaved_rollouts():
    """GRPO's and RLOO's advantages on an interleaved rollout: the packed rollout's, at the agent columns (one return
    per conversation; RLOO's per-step baseline at the same agent step of the other completions)."""
    for advantage_of in (outcome_advantages, process_advantages, sequence_advantages, token_advantages):
        interleaved = advantage_of(REWARDS, INTERLEAVED, 2)
        torch.testing.assert_close(interleaved, spread(advantage_of(PACKED_REWARDS, PACKED, 2)))
    torch.testing.assert_close(rebn_returns(REWARDS, INTERLEAVED, 1.0), spread(returns_to_go(PACKED_REWARDS, PACKED)))


# -- the greedy evaluation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", conversation_env_ids())
def test_cached_greedy_tokens_equal_the_full_forward_on_a_conversation(tmp_path, env_id):
    """The evaluation's KV-cached greedy decoding feeds the user's tokens as context: its tokens are those of a full
    forward over each observation, step by step, while observations grow by several tokens at a step."""
    agent = make_agent(tmp_path, "lm-ppo", env_id)
    kwargs = dict(FAKE_KWARGS) if env_id == FAKE_ID else {}
    env = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point", device="cpu", output="numpy",
                       autoreset_mode="Disabled", split="eval", **kwargs)
    obs, _ = env.reset(seed=3)
    grew = 0
    for step in range(env.max_new_tokens):
        cached = agent.policy(obs, env)
        full = agent.full_forward_policy(obs, env)
        torch.testing.assert_close(cached, full, rtol=0, atol=0)
        actions = cached.clone()
        if step % 2 == 1:  # a turn's end (a newline) now and then, so that the user speaks
            actions[step % env.num_envs] = env.tokenizer.encode("\n")[0]
        before = obs["attention_mask"].sum(1)
        obs, _, _, _, _ = env.step(actions)
        grew += int((obs["attention_mask"].sum(1) - before > 1).sum())
        if env.ended.all():
            break
    env.close()
    assert grew > 0, "no observation grew by more than the agent's token"
    assert agent.greedy_decoder.prefills == 1  # one prefill, then cached steps only


# -- lm-rebn -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lm_rebn_learns_short_copy(tmp_path):
    import json

    from textgym_agents.train import train

    out = tmp_path / "rebn"
    config = RunConfig(agent="lm-rebn", env_id="textgym/Copy-v0", reward_mode="dense", steps=3000, seed=0,
                       device="cpu", out=str(out), num_envs=16, eval_every=3000,
                       env_kwargs={"task_kwargs": {"num_symbols": 3, "min_length": 2, "max_length": 3}},
                       hyperparameters={"learning_rate": 1e-3, "num_epochs": 2, "num_minibatches": 2})
    train(config, progress=False)
    rows = (out / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    before = float(rows[1].split(",")[header.index("eval_return")])
    after = json.loads((out / "summary.json").read_text())["final_eval_return"]
    assert after > before + 0.25, f"lm-rebn: eval return {before:.3f} before training, {after:.3f} after"


def test_bad_rebn_options_are_clear_errors():
    config = agent_class("lm-rebn").Config
    with pytest.raises(ValueError, match="gamma"):
        config(gamma=1.5)
    with pytest.raises(ValueError, match="num_epochs"):
        config(num_epochs=0)


# -- SB3 ---------------------------------------------------------------------------------------------------------


def test_sb3_features_extractor_ignores_the_agent_mask():
    pytest.importorskip("stable_baselines3")
    from textgym_agents.sb3.features import TokenFeaturesExtractor

    env = gym.make_vec(FAKE_ID, num_envs=2, vectorization_mode="vector_entry_point", device="cpu", output="torch",
                       **FAKE_KWARGS)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(torch.tensor(env.tokenizer.encode("\n") * 2))
    extractor = TokenFeaturesExtractor(env.single_observation_space)
    features = extractor({key: value.float() for key, value in obs.items()})
    without = extractor({key: value.float() for key, value in obs.items() if key != "agent_mask"})
    assert features.shape == (2, 128) and torch.equal(features, without)
    env.close()

