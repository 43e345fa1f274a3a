"""LoRA through peft, bf16 weights and gradient checkpointing for the LM agents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from textgym_agents.checkpoint import LoadedCheckpoint, latest_checkpoint
from textgym_agents.lm_grpo import LMGRPOAgent, LMGRPOConfig
from textgym_agents.lm_ppo import LMPPOAgent, LMPPOConfig
from textgym_agents.run import RunConfig
from textgym_agents.train import train

REPO = Path(__file__).resolve().parents[1]
peft = pytest.importorskip("peft")
FAST = {"num_epochs": 2, "num_minibatches": 2, "learning_rate": 1e-3}


def run_config(tmp_path, name="run", **overrides) -> RunConfig:
    values = dict(
        agent="lm-ppo",
        env_id="textgym/Sentiment-v0",
        steps=96,
        seed=0,
        device="cpu",
        out=str(tmp_path / name),
        num_envs=4,
        eval_every=48,
        env_kwargs={"max_new_tokens": 6},
        hyperparameters={**FAST, "lora": True},
    )
    values.update(overrides)
    return RunConfig(**values)


def test_lora_trains_only_the_adapters_and_the_reference_is_the_base_model(tmp_path):
    agent = LMPPOAgent(run_config(tmp_path), LMPPOConfig(lora=True, lora_rank=4, **FAST))
    assert agent.reference is None  # no copy of the weights: the base model with its adapters disabled
    trainable = {name for name, p in agent.policy_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    base = {k: v.clone() for k, v in agent.policy_model.get_base_model().state_dict().items() if "lora_" not in k}
    rollout = agent.collect()
    with torch.no_grad():  # B = 0 at the start: the policy is the base model, and so is the reference
        torch.testing.assert_close(agent.reference_logprobs(rollout)[rollout.response_mask],
                                   rollout.sample_logprobs[rollout.response_mask], atol=1e-5, rtol=0)
    agent.update(rollout)
    after = agent.policy_model.get_base_model().state_dict()
    assert all(torch.equal(base[k], after[k]) for k in base)
    with torch.no_grad():  # the adapters moved the policy away from the reference
        assert not torch.allclose(
            agent.evaluate_tokens(rollout, False)[0], agent.reference_logprobs(rollout), atol=1e-6
        )
    agent.close()


def test_lora_checkpoints_hold_only_the_adapters_and_resume_exactly(tmp_path):
    train(run_config(tmp_path, "straight"), progress=False)
    train(run_config(tmp_path, "parts", steps=48), progress=False)
    train(run_config(tmp_path, "parts"), resume=True, progress=False)
    a, b = ((tmp_path / name / "metrics.csv").read_bytes() for name in ("straight", "parts"))
    assert a == b
    checkpoint = LoadedCheckpoint(latest_checkpoint(tmp_path / "straight" / "checkpoints"))
    names = {p.name for p in checkpoint.path.iterdir()}
    assert "reference.safetensors" not in names
    assert set(checkpoint.weights("policy")) and all("lora_" in k for k in checkpoint.weights("policy"))
    assert checkpoint.state["lora"] is True and checkpoint.state["base_model"] == "tiny"


@pytest.mark.parametrize("export", ["merged", "adapter"])
def test_lora_policy_exports_as_a_hugging_face_model(tmp_path, export):
    from transformers import AutoModelForCausalLM

    agent = LMPPOAgent(run_config(tmp_path), LMPPOConfig(lora=True, lora_export=export, **FAST))
    agent.update(agent.collect())
    folder = agent.export_policy(tmp_path / "out")
    files = {p.name for p in folder.iterdir()}
    assert ("adapter_config.json" in files) == (export == "adapter")
    loaded = AutoModelForCausalLM.from_pretrained(folder)
    ids = torch.tensor([[5, 17, 33, 2]])
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(input_ids=ids).logits, agent.policy_model(input_ids=ids).logits, atol=1e-4, rtol=0
        )
    agent.close()
    import gymnasium as gym

    env = gym.make("textgym/Sentiment-v0", model=str(folder), max_new_tokens=4)  # the trained policy as the env's model
    env.reset(seed=0)
    _, _, _, _, info = env.step(5)
    assert "text" in info
    env.close()


def test_lora_with_a_group_agent(tmp_path):
    agent = LMGRPOAgent(run_config(tmp_path, agent="lm-grpo"), LMGRPOConfig(lora=True, group_size=2, num_minibatches=2))
    stats = agent.update(agent.collect())
    assert stats["train/kl"] == pytest.approx(0.0, abs=1e-5)  # the first batch is sampled from the base model itself
    agent.close()


def test_bf16_weights_halve_the_policy_and_recompute_the_old_policy(tmp_path):
    agent = LMPPOAgent(run_config(tmp_path, hyperparameters=FAST), LMPPOConfig(bf16_weights=True, **FAST))
    assert {p.dtype for p in agent.policy_model.parameters()} == {torch.bfloat16}
    assert agent.low_precision
    stats = agent.update(agent.collect())
    assert stats["train/logprob_rollout_mismatch"] < 0.5 and torch.isfinite(torch.tensor(stats["train/policy_loss"]))
    agent.close()


def test_gradient_checkpointing_makes_the_same_update(tmp_path):
    weights = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        agent = LMPPOAgent(
            run_config(tmp_path, hyperparameters=FAST), LMPPOConfig(gradient_checkpointing=checkpointing, **FAST)
        )
        agent.update(agent.collect())
        assert not agent.policy_model.training  # back in eval mode after the update
        weights.append({k: v.clone() for k, v in agent.policy_model.state_dict().items()})
        agent.close()
    for name in weights[0]:
        torch.testing.assert_close(weights[1][name], weights[0][name], atol=1e-6, rtol=1e-5, msg=name)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [0, -2])
def test_lora_rank_below_one_is_a_clear_error(rank):
    with pytest.raises(ValueError, match=rf"lm-ppo: lora_rank={rank} is invalid; allowed: an integer >= 1"):
        LMPPOConfig(lora=True, lora_rank=rank)


def test_unknown_lora_export_and_target_modules_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="lm-ppo: lora_export='both' is invalid; allowed: one of"):
        LMPPOConfig(lora_export="both")
    with pytest.raises(ValueError, match="lora: .*set lora_target_modules to module names of GPT2LMHeadModel"):
        LMPPOAgent(run_config(tmp_path), LMPPOConfig(lora=True, lora_target_modules="no_such_module"))


def test_lora_without_peft_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['peft'] = None\n"
            "from textgym import cli\n"
            f"sys.exit(cli.main(['train', '--agent', 'lm-ppo', '--env', 'textgym/Sentiment-v0', '--steps', '8', "
            f"'--out', {str(tmp_path / 'x')!r}, '--set', 'lora=true']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'lora=true needs peft, which is not installed: pip install "textgym[peft]"' in result.stderr
    assert "Traceback" not in result.stderr
