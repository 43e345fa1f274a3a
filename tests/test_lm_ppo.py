"""LM-PPO: pieces of the algorithm against hand-computed values, the KV-cached rollout against a
full forward, end-to-end training through the driver, exact resume, clear checkpoint and
hyper-parameter errors (data parallel: tests/test_data_parallel.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from textgym import cli
from textgym.models.loader import BUNDLED_MODELS
from textgym_agents.checkpoint import CheckpointError, LoadedCheckpoint, latest_checkpoint
from textgym_agents.lm.losses import masked_whiten
from textgym_agents.lm.models import left_pad
from textgym_agents.lm.reference import AdaptiveKLController, FixedKLController, kl_per_token
from textgym_agents.lm.rollout import collect_rollout, forward_responses, sample_tokens, token_logprobs
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig, compute_gae
from textgym_agents.run import RunConfig
from textgym_agents.train import train

FAST = {"num_epochs": 2, "num_minibatches": 2, "learning_rate": 1e-3}
HAS_TINY = (BUNDLED_MODELS["tiny"] / "config.json").is_file()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and far faster than on two busy, shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_config(tmp_path, name="run", **overrides) -> RunConfig:
    values = dict(agent="lm-ppo", env_id="textgym/Copy-v0", steps=160, seed=0, device="cpu", out=str(tmp_path / name),
                  num_envs=8, eval_every=80, hyperparameters=dict(FAST))
    values.update(overrides)
    return RunConfig(**values)


def read_metrics(folder) -> list[dict[str, str]]:
    with open(Path(folder) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- the pieces ----------------------------------------------------------------------------------


def test_gae_matches_a_hand_computed_example():
    rewards = torch.tensor([[1.0, 0.0, 2.0], [0.5, 3.0, 9.0]])
    values = torch.tensor([[0.5, 1.0, 1.5], [1.0, 2.0, 7.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])  # episode 2 ended after 2 tokens
    gamma, lam = 0.9, 0.8
    advantages, returns = compute_gae(rewards, values, mask, gamma, lam)
    # episode 1: deltas d2 = 2 - 1.5 = 0.5; d1 = 0 + 0.9*1.5 - 1 = 0.35; d0 = 1 + 0.9*1 - 0.5 = 1.4
    # A2 = 0.5; A1 = 0.35 + 0.72*0.5 = 0.71; A0 = 1.4 + 0.72*0.71 = 1.9112
    # episode 2 (the state after token 2 is terminal, value 0): d1 = 3 - 2 = 1; d0 = 0.5 + 0.9*2 - 1 = 1.3
    # A1 = 1; A0 = 1.3 + 0.72 = 2.02; the masked token gets 0
    expected = torch.tensor([[1.9112, 0.71, 0.5], [2.02, 1.0, 0.0]])
    torch.testing.assert_close(advantages, expected)
    torch.testing.assert_close(returns, torch.tensor([[2.4112, 1.71, 2.0], [3.02, 3.0, 0.0]]))


def test_gae_with_gamma_and_lambda_one_is_reward_to_go_minus_value():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.2, 0.4, 0.6, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    advantages, returns = compute_gae(rewards, values, mask, 1.0, 1.0)
    torch.testing.assert_close(returns, torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    torch.testing.assert_close(advantages, torch.tensor([[0.8, 0.6, 0.4, 0.0]]))


def test_adaptive_kl_controller_follows_ziegler_et_al():
    controller = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    controller.update(6.6, n_steps=100)  # error +0.1 -> beta * (1 + 0.1 * 100 / 10000)
    assert controller.value == pytest.approx(0.1 * 1.001)
    controller = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    controller.update(60.0, n_steps=100)  # error clipped to +0.2
    assert controller.value == pytest.approx(0.1 * 1.002)
    controller = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    controller.update(0.0, n_steps=5_000)  # error clipped to -0.2 over half a horizon
    assert controller.value == pytest.approx(0.1 * 0.9)
    fixed = FixedKLController(0.3)
    fixed.update(100.0, n_steps=1000)
    assert fixed.value == 0.3


def test_kl_estimators():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    torch.testing.assert_close(kl_per_token(logp, ref, "k1"), torch.tensor([0.5, -1.0]))
    r = torch.exp(ref - logp)
    torch.testing.assert_close(kl_per_token(logp, ref, "k3"), (r - 1) - torch.log(r))
    assert (kl_per_token(logp, ref, "k3") >= 0).all()


def test_left_pad_moves_real_tokens_right_and_adds_bos():
    ids = torch.tensor([[5, 6, 1, 1], [7, 1, 1, 1]])
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]])
    padded, padded_mask = left_pad(ids, mask, width=3, pad_token_id=1, bos_token_id=0)
    assert padded.tolist() == [[0, 5, 6], [1, 0, 7]]
    assert padded_mask.tolist() == [[1, 1, 1], [0, 1, 1]]


def test_sampling_respects_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(2000, 1)
    generator = torch.Generator().manual_seed(0)
    tokens, logprobs = sample_tokens(logits, 1.0, 2, 1.0, generator)
    assert set(tokens.tolist()) == {0, 1}
    torch.testing.assert_close(logprobs, torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))[tokens])
    tokens, _ = sample_tokens(logits, 1.0, 0, 0.7, generator)  # 0.5 + 0.3 reaches 0.7: two tokens kept
    assert set(tokens.tolist()) == {0, 1}
    tokens, _ = sample_tokens(logits, 1.0, 0, 0.4, generator)
    assert set(tokens.tolist()) == {0}


def test_masked_whiten():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 4.0, -50.0]])
    mask = torch.tensor([[True, True, False], [True, True, False]])
    out = masked_whiten(values, mask)
    assert out[:, 2].abs().max() == 0
    assert out[mask].mean().abs() < 1e-6 and (out[mask].var(unbiased=False) - 1).abs() < 1e-4


# -- rollout --------------------------------------------------------------------------------------


def small_agent(tmp_path, **config) -> LMPPOAgent:
    return LMPPOAgent(run_config(tmp_path, num_envs=6), LMPPOConfig(**{**FAST, **config}))


def test_kv_cache_rollout_log_probs_and_values_equal_a_full_forward(tmp_path):
    agent = small_agent(tmp_path)
    env, model, value_head = agent.env, agent.policy_model, agent.value_head
    torch.nn.init.normal_(value_head.weight)  # (zero at the start: give the values something to agree on)
    prompt_draws = env.np_random.bit_generator.state
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        rollout = collect_rollout(
            env, model, agent.config, generator, agent.bos_token_id, agent.vocab_size, value_head=value_head
        )
        logits, hidden = forward_responses(model, rollout.prompt_ids, rollout.prompt_mask, rollout.response_ids,
                                           rollout.response_mask, want_hidden=True)
        full, _ = token_logprobs(logits, rollout.response_ids, agent.config.temperature, agent.vocab_size)
        full_values = value_head(hidden).squeeze(-1)
        generator = torch.Generator().manual_seed(1)
        env.np_random.bit_generator.state = prompt_draws  # the same prompts again
        reencoded = collect_rollout(
            env, model, agent.config, generator, agent.bos_token_id, agent.vocab_size, use_kv_cache=False
        )
    mask = rollout.response_mask
    assert mask[:, 0].all() and rollout.live_steps > env.num_envs
    torch.testing.assert_close(rollout.sample_logprobs[mask], full[mask], atol=1e-4, rtol=0)
    torch.testing.assert_close(rollout.values[mask], full_values[mask], atol=1e-4, rtol=0)
    assert rollout.values[mask].abs().min() > 0 and (rollout.values[~mask] == 0).all()
    # re-encoding the whole prefix every step samples the same tokens with the same log-probs
    assert torch.equal(reencoded.response_mask, mask)
    assert torch.equal(reencoded.response_ids[mask], rollout.response_ids[mask])
    torch.testing.assert_close(reencoded.sample_logprobs, rollout.sample_logprobs, atol=1e-4, rtol=0)
    # frozen rows: nothing after an episode's end is rewarded
    assert (rollout.env_rewards[~mask] == 0).all()


def test_episodes_drop_padding_columns_and_score_the_same(tmp_path):
    agent = small_agent(tmp_path)
    rollout = agent.collect()
    rows = torch.tensor([4, 1])
    part = rollout.episodes(rows)
    assert part.prompt_ids.shape[1] == rollout.prompt_mask[rows].sum(1).max() <= rollout.prompt_ids.shape[1]
    assert part.response_ids.shape[1] == rollout.response_mask[rows].sum(1).max() <= rollout.response_ids.shape[1]
    with torch.no_grad():
        full, _, full_values = agent.evaluate_tokens(rollout, with_entropy=False)
        trimmed, _, trimmed_values = agent.evaluate_tokens(part, with_entropy=False)
    width = part.response_ids.shape[1]
    mask = part.response_mask
    torch.testing.assert_close(trimmed[mask], full[rows, :width][mask], atol=1e-5, rtol=0)
    torch.testing.assert_close(trimmed_values[mask], full_values[rows, :width][mask], atol=1e-5, rtol=0)


def test_gradient_accumulation_gives_the_same_update(tmp_path):
    one = small_agent(tmp_path, num_minibatches=1, num_epochs=1)
    two = small_agent(tmp_path, num_minibatches=1, num_epochs=1, gradient_accumulation_steps=3)
    rollout = one.collect()
    one.update(rollout)
    two.update(rollout)
    for a, b in zip(one.parameters(), two.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_low_precision_update_recomputes_the_old_policy_with_a_full_forward(tmp_path, monkeypatch):
    """Under bf16 the cached decoding drifts from a full forward: the update then takes its old log-probs from one."""
    agents = [small_agent(tmp_path, num_minibatches=1, num_epochs=1) for _ in range(2)]
    rollout = agents[0].collect()
    rollout.sample_logprobs += 0.3  # a drifted rollout: only the low-precision path is immune to it
    monkeypatch.setattr(LMPPOAgent, "low_precision", property(lambda self: self is agents[1]))
    calls = []
    evaluate = LMPPOAgent.evaluate_tokens
    monkeypatch.setattr(
        LMPPOAgent, "evaluate_tokens", lambda self, *a, **k: calls.append(self) or evaluate(self, *a, **k)
    )
    drifted, recomputed = agents[0].update(rollout), agents[1].update(rollout)
    assert calls.count(agents[1]) == calls.count(agents[0]) + 1  # one extra forward, before the minibatches
    assert drifted["train/clip_fraction"] > 0.5 and recomputed["train/clip_fraction"] == 0.0
    for stats in (drifted, recomputed):  # the drift is reported either way
        assert stats["train/logprob_rollout_mismatch"] == pytest.approx(0.3, abs=1e-3)


def test_options_run_and_early_stop_on_approx_kl(tmp_path):
    agent = small_agent(tmp_path, separate_critic=True, kl_estimator="k3", adaptive_kl=False, kl_coef=0.2,
                        gradient_accumulation_steps=2, num_epochs=8, learning_rate=5e-3, target_approx_kl=1e-6,
                        top_k=3, top_p=0.9, temperature=0.7)
    scalars = agent.learn(30)
    assert scalars["train/epochs"] < 8, "approx KL above target_approx_kl stops the epoch loop"
    assert scalars["train/kl_coef"] == 0.2
    assert all(torch.isfinite(torch.tensor(v)) for v in scalars.values())
    assert agent.env_steps >= 30


# -- through the driver ---------------------------------------------------------------------------


@pytest.mark.parametrize("reward_mode", ["dense", "sparse"])
def test_trains_end_to_end_and_writes_its_files(tmp_path, reward_mode):
    summary = train(run_config(tmp_path, reward_mode=reward_mode), progress=False)
    out = tmp_path / "run"
    assert summary["agent"] == "lm-ppo" and summary["env_steps"] >= 160
    assert json.loads((out / "summary.json").read_text())["reward_mode"] == reward_mode
    rows = read_metrics(out)
    assert rows[0]["env_steps"] == "0" and len(rows) == 3
    checkpoint = latest_checkpoint(out / "checkpoints")
    names = {p.name for p in checkpoint.iterdir()}
    assert names >= {"policy.safetensors", "value_head.safetensors", "optimizer.pt",
                     "generators.pt", "torch_rng.pt", "state.json"}
    assert "reference.safetensors" not in names  # the frozen reference is rebuilt from the base model, never saved
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["updates"] > 0 and state["world_size"] == 1 and len(state["env_rng"]) == 1
    assert state["config"]["learning_rate"] == FAST["learning_rate"]


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    train(run_config(tmp_path, steps=80), progress=False)
    weights = latest_checkpoint(tmp_path / "run" / "checkpoints") / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="policy.safetensors is corrupt or truncated"):
        train(run_config(tmp_path, steps=160), resume=True, progress=False)


def test_checkpoint_of_another_model_size_is_a_clear_error(tmp_path):
    train(run_config(tmp_path, steps=80), progress=False)
    path = latest_checkpoint(tmp_path / "run" / "checkpoints")
    wider = LMPPOAgent(run_config(tmp_path, "other"), LMPPOConfig(**FAST, symbol_model_width=32))
    with pytest.raises(CheckpointError, match="policy weights do not match this model"):
        wider.load(LoadedCheckpoint(path))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"learning_rate": -1e-4}, "learning_rate=-0.0001 is invalid; allowed: a number > 0"),
        ({"top_p": 1.5}, "top_p=1.5 is invalid; allowed: a number in (0, 1]"),
        ({"top_p": 0.0}, "top_p=0.0 is invalid"),
        ({"kl_estimator": "k2"}, "kl_estimator='k2' is invalid; allowed: one of ['k1', 'k3']"),
        ({"num_minibatches": 0}, "num_minibatches=0 is invalid; allowed: an integer >= 1"),
        ({"lr": 1e-4}, "unknown hyper-parameter(s) ['lr'] for agent 'lm-ppo'"),
        ({"num_minibatches": 16}, "cannot be split into num_minibatches=16"),
    ],
)
def test_bad_hyperparameters_are_clear_errors(tmp_path, values, message):
    with pytest.raises(ValueError) as error:
        train(run_config(tmp_path, hyperparameters=values), progress=False)
    assert message in str(error.value)
    assert not (tmp_path / "run" / "run.json").exists()


def test_bad_set_on_the_command_line(tmp_path, capsys):
    argv = ["train", "--no-progress", "--agent", "lm-ppo", "--env", "textgym/Copy-v0", "--out", str(tmp_path / "r"),
            "--steps", "10", "--device", "cpu", "--set", "top_p=2"]
    assert cli.main(argv) == 2
    assert "top_p=2.0 is invalid; allowed: a number in (0, 1]" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_TINY, reason="the bundled model 'tiny' is not built")
@pytest.mark.parametrize("reward_mode", ["dense", "sparse"])
def test_sentiment_with_the_bundled_model(tmp_path, reward_mode):
    config = run_config(
        tmp_path,
        env_id="textgym/Sentiment-v0",
        reward_mode=reward_mode,
        steps=64,
        eval_every=64,
        num_envs=4,
        env_kwargs={"max_new_tokens": 8},
        hyperparameters={"num_epochs": 1, "num_minibatches": 2},
    )
    summary = train(config, progress=False)
    assert summary["env_steps"] >= 64 and -1.0 <= summary["final_eval_return"] <= 1.0
