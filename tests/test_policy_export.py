"""A trained lm-ppo policy is a Hugging Face model: ``OUT/policy/`` and the value head beside it.

Tiny runs through the same driver as ``textgym train`` (:func:`textgym_agents.train.train`): the
exported folder loads with ``AutoModelForCausalLM`` / ``AutoTokenizer`` and gives the agent's
own logits, makes the task with ``gym.make(ID, model=...)`` and ``textgym play --model``, the
value head reloads into equal tensors, a stale ``OUT/policy`` is replaced, an interrupted
write leaves the old folder whole, and exporting draws no random numbers.
"""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import textgym_agents.checkpoint
from textgym import cli
from textgym.episodes import run_episode
from textgym.models.loader import BUNDLED_MODELS, load_tokenizer
from textgym_agents.checkpoint import replace_folder_atomically
from textgym_agents.lm_ppo import LMPPOAgent
from textgym_agents.run import RunConfig
from textgym_agents.train import train

HAS_TINY = (BUNDLED_MODELS["tiny"] / "config.json").is_file()
NEEDS_TINY = pytest.mark.skipif(not HAS_TINY, reason="the bundled model 'tiny' is not built")
FAST = {"num_epochs": 1, "num_minibatches": 2, "learning_rate": 1e-3}
SENTIMENT_KWARGS = {"max_new_tokens": 4}
#: Copy with two symbols and a small random GPT-2 policy (the task's own vocabulary)
SMALL_COPY = {"task_kwargs": {"num_symbols": 2, "min_length": 2, "max_length": 3}}
SMALL_SYMBOL_POLICY = {"symbol_model_width": 16, "symbol_model_layers": 1, "symbol_model_heads": 1}


def train_and_keep_agent(out: Path, env_id: str, env_kwargs: dict, hyperparameters: dict) -> LMPPOAgent:
    """Train lm-ppo for 16 env steps (checkpoints at 0 and at the end) and return the trained agent."""
    made: list[LMPPOAgent] = []
    original_init = LMPPOAgent.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        made.append(self)

    run = RunConfig(agent="lm-ppo", env_id=env_id, steps=16, seed=0, device="cpu", out=str(out), num_envs=4,
                    eval_every=16, env_kwargs=dict(env_kwargs), hyperparameters=dict(hyperparameters))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(LMPPOAgent, "__init__", init)
        summary = train(run, progress=False)
    (agent,) = made
    assert summary["env_steps"] == agent.env_steps >= 16
    return agent


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory) -> tuple[Path, LMPPOAgent]:
    """A Sentiment run (the bundled LM) whose ``--out`` already held a stale ``policy/`` and a leftover temporary."""
    if not HAS_TINY:
        pytest.skip("the bundled model 'tiny' is not built")
    out = tmp_path_factory.mktemp("sentiment") / "run"
    (out / "policy").mkdir(parents=True)
    (out / "policy" / "config.json").write_text("{not a config")
    (out / "policy" / "stale.txt").write_text("from an older export")
    (out / ".policy.new-leftover").mkdir()  # an export interrupted before its swap
    agent = train_and_keep_agent(out, "textgym/Sentiment-v0", SENTIMENT_KWARGS, FAST)
    return out, agent


def policy_logits(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


def test_policy_folder_loads_with_auto_classes_and_gives_the_agents_logits(sentiment_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, agent = sentiment_run
    policy = out / "policy"
    for name in (
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (policy / name).is_file(), name
    assert not (policy / "stale.txt").exists()  # the stale folder was replaced, not merged into
    assert not list(out.glob(".policy.*"))  # no temporary or backup left beside it

    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    tokenizer = AutoTokenizer.from_pretrained(policy)
    env_tokenizer = agent.env.tokenizer
    text = "The food was"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids == env_tokenizer.encode(text)
    assert tokenizer.eos_token_id == env_tokenizer.eos_token_id
    assert torch.equal(policy_logits(model, ids), policy_logits(agent.policy_model, ids))
    # trained: no longer the bundled model it started from
    initial = AutoModelForCausalLM.from_pretrained(BUNDLED_MODELS["tiny"]).eval()
    assert not torch.equal(policy_logits(model, ids), policy_logits(initial, ids))


def test_policy_folder_makes_the_environment_and_plays(sentiment_run):
    out, agent = sentiment_run
    policy = str(out / "policy")
    assert load_tokenizer(policy).vocab_size == agent.env.tokenizer.vocab_size
    env = gym.make("textgym/Sentiment-v0", model=policy, **SENTIMENT_KWARGS)
    assert env.unwrapped.setup.model == policy
    record = run_episode(env, seed=0)  # the env's model, i.e. the trained policy, samples the tokens
    assert 1 <= len(record.tokens) <= SENTIMENT_KWARGS["max_new_tokens"]
    assert -1.0 <= record.score <= 1.0
    env.close()

    stdout = io.StringIO()
    args = SimpleNamespace(id="textgym/Sentiment-v0", seed=0, reward_mode="dense", top=3, model=policy)
    assert cli.cmd_play(args, stdin=io.StringIO("0\n/eos\n"), stdout=stdout) == 0
    assert "episode over (eos)" in stdout.getvalue()


def test_value_head_sits_beside_the_policy_and_reloads(sentiment_run):
    out, agent = sentiment_run
    tensors = load_file(str(out / "value_head.safetensors"))
    info = json.loads((out / "value_head.json").read_text())
    assert info["in_features"] == agent.value_head.in_features and info["out_features"] == 1
    assert info["reads"] == "policy" and info["env_steps"] == agent.env_steps
    head = torch.nn.Linear(info["in_features"], info["out_features"])
    head.load_state_dict(tensors)
    for name, tensor in agent.value_head.state_dict().items():
        assert torch.equal(tensors[name], tensor), name
    assert torch.any(tensors["weight"] != 0)  # trained (it starts at zero)


def test_export_draws_no_random_numbers_and_changes_nothing(sentiment_run, tmp_path):
    _, agent = sentiment_run
    rng_before = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
                  agent.sample_generator.get_state(), agent.shuffle_generator.get_state())
    weights = {k: v.clone() for m in agent.trainable_modules() for k, v in m.state_dict().items()}
    optimizer = repr(agent.optimizer.state_dict())
    agent.export_policy(tmp_path)
    rng_after = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
                 agent.sample_generator.get_state(), agent.shuffle_generator.get_state())
    assert rng_before[0] == rng_after[0]
    assert all(np.array_equal(a, b) for a, b in zip(rng_before[1], rng_after[1]))
    assert all(torch.equal(a, b) for a, b in zip(rng_before[2:], rng_after[2:]))
    after = {k: v for m in agent.trainable_modules() for k, v in m.state_dict().items()}
    assert all(torch.equal(weights[k], after[k]) for k in weights)
    assert repr(agent.optimizer.state_dict()) == optimizer


def test_symbol_task_exports_its_own_vocabulary(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "copy"
    agent = train_and_keep_agent(out, "textgym/Copy-v0", SMALL_COPY, {**FAST, **SMALL_SYMBOL_POLICY})
    policy = out / "policy"
    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    tokenizer = AutoTokenizer.from_pretrained(policy)
    env_tokenizer = agent.env.tokenizer
    ids = env_tokenizer.encode("ab=")
    assert tokenizer("ab=", add_special_tokens=False)["input_ids"] == ids
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id) == (env_tokenizer.eos_token_id, env_tokenizer.pad_token_id)
    assert torch.equal(policy_logits(model, ids), policy_logits(agent.policy_model, ids))
    assert json.loads((out / "value_head.json").read_text())["in_features"] == SMALL_SYMBOL_POLICY["symbol_model_width"]

    # the task with the trained policy as its model: the same vocabulary, so the same action space
    env = gym.make("textgym/Copy-v0", model=str(policy), **SMALL_COPY)
    assert env.action_space.n == env_tokenizer.vocab_size
    record = run_episode(env, seed=0)
    assert 0.0 <= record.score <= 1.0
    env.close()


def test_play_with_a_bad_model_path_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["play", "textgym/Copy-v0", "--model", str(tmp_path / "run" / "policy")]) == 2
    assert "--model" in (err := capsys.readouterr().err) and "no such folder" in err
    (tmp_path / "empty").mkdir()
    assert cli.main(["play", "textgym/Copy-v0", "--model", str(tmp_path / "empty")]) == 2
    assert "has no config.json" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert cli.main(["play", "textgym/Copy-v0", "--model", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_interrupted_folder_swap_keeps_the_old_folder_whole(tmp_path):
    target = tmp_path / "policy"
    replace_folder_atomically(target, lambda folder: (folder / "weights").write_text("old"))

    def interrupted_write(folder: Path) -> None:
        (folder / "weights").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_folder_atomically(target, interrupted_write)
    assert (target / "weights").read_text() == "old" and sorted(tmp_path.iterdir()) == [target]

    # interrupted between the two renames (old folder moved to its backup, new one not yet in place)
    calls = []
    original_replace = os.replace

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original_replace(src, dst)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(textgym_agents.checkpoint.os, "replace", replace)
        with pytest.raises(KeyboardInterrupt):
            replace_folder_atomically(target, lambda folder: (folder / "weights").write_text("new"))
    assert (target / "weights").read_text() == "old" and sorted(tmp_path.iterdir()) == [target]

    replace_folder_atomically(target, lambda folder: (folder / "weights").write_text("new"))
    assert (target / "weights").read_text() == "new" and sorted(tmp_path.iterdir()) == [target]
