"""Tabular Q-learning and SARSA: learning a small Copy task, exact resume, safe checkpoints, state-space limits."""

import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from textgym import cli
from textgym.models import BUNDLED_MODELS
from textgym_agents.checkpoint import CheckpointError, LoadedCheckpoint, latest_checkpoint
from textgym_agents.run import RunConfig
from textgym_agents.tabular import (
    QLearningAgent,
    SarsaAgent,
    StateSpaceTooLargeError,
    TabularAgent,
    TabularConfig,
    estimated_prefix_states,
    state_keys,
)
from textgym_agents.train import train

#: 2 symbols, lengths 2-3: 12 strings, every one in both the train and the eval split
SMALL_COPY = {"task_kwargs": {"num_symbols": 2, "min_length": 2, "max_length": 3}}
AGENTS = {"q-learning": QLearningAgent, "sarsa": SarsaAgent}
#: a deterministic MDP with exact (prefix) keys: Q-learning may take full steps; SARSA's target is noisy
LEARNING_SETTINGS = {"q-learning": {"step_size": 1.0}, "sarsa": {}}


def run_config(tmp_path, agent, name="run", **overrides):
    values = dict(agent=agent, env_id="textgym/Copy-v0", reward_mode="dense", steps=1200, seed=0, device="cpu",
                  out=str(tmp_path / name), num_envs=8, eval_every=400, env_kwargs=SMALL_COPY, hyperparameters={})
    values.update(overrides)
    return RunConfig(**values)


def read_metrics(folder):
    with open(folder / "metrics.csv", newline="") as f:
        return [(row["env_steps"], row["eval_return"]) for row in csv.DictReader(f)]


def make_agent(tmp_path, agent="q-learning", **config):
    run = run_config(tmp_path, agent)
    return AGENTS[agent](run, TabularConfig(**config))


@pytest.mark.slow
@pytest.mark.parametrize("agent", list(AGENTS))
def test_learns_small_copy_task_perfectly(tmp_path, agent):
    config = run_config(tmp_path, agent, steps=6000, eval_every=2000, hyperparameters=LEARNING_SETTINGS[agent])
    summary = train(config, progress=False)
    assert summary["final_eval_return"] == 1.0, read_metrics(tmp_path / "run")


@pytest.mark.parametrize("agent, reward_mode", [("q-learning", "dense"), ("sarsa", "sparse")])
def test_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch, agent, reward_mode):
    train(run_config(tmp_path, agent, "straight", reward_mode=reward_mode), progress=False)

    original_learn, calls = TabularAgent.learn, []

    def learn_then_stop(self, env_steps):
        calls.append(env_steps)
        if len(calls) == 2:  # stopped before the second chunk: the driver saves and re-raises
            raise KeyboardInterrupt
        return original_learn(self, env_steps)

    monkeypatch.setattr(TabularAgent, "learn", learn_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(run_config(tmp_path, agent, "parts", reward_mode=reward_mode), progress=False)
    monkeypatch.setattr(TabularAgent, "learn", original_learn)
    assert len(read_metrics(tmp_path / "parts")) == 2
    train(run_config(tmp_path, agent, "parts", reward_mode=reward_mode), resume=True, progress=False)

    assert read_metrics(tmp_path / "straight") == read_metrics(tmp_path / "parts")
    tables = [LoadedCheckpoint(latest_checkpoint(tmp_path / name / "checkpoints")).weights("q_table")
              for name in ("straight", "parts")]
    for key in ("q_values", "state_tokens", "state_lengths"):
        assert torch.equal(tables[0][key], tables[1][key])


def test_save_load_round_trip(tmp_path):
    agent = make_agent(tmp_path)
    agent.learn(400)
    path = agent.save(tmp_path / "checkpoints")
    assert sorted(p.name for p in path.iterdir()) == ["q_table.safetensors", "state.json"]  # no pickle
    weights = load_file(str(path / "q_table.safetensors"))
    assert (
        weights["q_values"].shape == (agent.num_states, agent.vocab_size) and weights["q_values"].dtype == torch.float64
    )
    first_key = tuple(weights["state_tokens"][0, : weights["state_lengths"][0]].tolist())
    assert np.array_equal(agent.q_values(first_key), weights["q_values"][0].numpy())

    restored = make_agent(tmp_path)
    restored.load(LoadedCheckpoint(path))
    assert restored.env_steps == agent.env_steps == 400 and restored.num_states == agent.num_states
    assert restored.table.keys == agent.table.keys
    assert np.array_equal(restored.table.values[: agent.num_states], agent.table.values[: agent.num_states])
    agent.learn(200)
    restored.learn(200)  # same RNG state, same table: the same future
    assert np.array_equal(restored.table.values[: agent.num_states], agent.table.values[: agent.num_states])


def test_empty_table_round_trips(tmp_path):
    path = make_agent(tmp_path).save(tmp_path / "checkpoints")
    restored = make_agent(tmp_path)
    restored.load(LoadedCheckpoint(path))
    assert restored.num_states == 0 and restored.env_steps == 0


def test_corrupt_q_table_is_a_checkpoint_error(tmp_path):
    train(run_config(tmp_path, "q-learning", steps=400), progress=False)
    path = latest_checkpoint(tmp_path / "run" / "checkpoints")
    table = path / "q_table.safetensors"
    table.write_bytes(table.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="q_table.safetensors is corrupt or truncated"):
        train(run_config(tmp_path, "q-learning", steps=800), resume=True, progress=False)


@pytest.mark.parametrize(
    "tensors, message",
    [
        ({"q_values": torch.zeros(2, 3, dtype=torch.float64), "state_tokens": torch.ones(2, 4, dtype=torch.int64),
          "state_lengths": torch.full((2,), 4, dtype=torch.int64)}, r"q_values has shape \[2, 3\], expected \[2, 5\]"),
        ({"q_values": torch.zeros(1, 5, dtype=torch.float64)}, "expected tensors"),
        ({"q_values": torch.zeros(2, 5, dtype=torch.float32), "state_tokens": torch.ones(2, 4, dtype=torch.int64),
          "state_lengths": torch.full((2,), 4, dtype=torch.int64)}, "q_values has dtype torch.float32"),
        ({"q_values": torch.zeros(2, 5, dtype=torch.float64), "state_tokens": torch.ones(2, 4, dtype=torch.int64),
          "state_lengths": torch.full((2,), 4, dtype=torch.int64)}, "the same state key twice"),
        ({"q_values": torch.zeros(1, 5, dtype=torch.float64), "state_tokens": torch.full((1, 4), 9, dtype=torch.int64),
          "state_lengths": torch.full((1,), 4, dtype=torch.int64)}, r"token id outside \[0, 5\)"),
    ],
)
def test_inconsistent_q_table_is_a_checkpoint_error(tmp_path, tensors, message):
    path = make_agent(tmp_path).save(tmp_path / "checkpoints")
    save_file(tensors, str(path / "q_table.safetensors"))
    with pytest.raises(CheckpointError, match=message):
        make_agent(tmp_path).load(LoadedCheckpoint(path))


def test_checkpoint_of_other_state_key_is_refused(tmp_path):
    path = make_agent(tmp_path).save(tmp_path / "checkpoints")
    with pytest.raises(CheckpointError, match="state_key: checkpoint has 'prefix', this agent 'ngram'"):
        make_agent(tmp_path, state_key="ngram").load(LoadedCheckpoint(path))
    state = json.loads((path / "state.json").read_text())
    (path / "state.json").write_text(json.dumps({**state, "format": "something-else"}))
    with pytest.raises(CheckpointError, match="is not a Q-table checkpoint"):
        make_agent(tmp_path).load(LoadedCheckpoint(path))


@pytest.mark.skipif(
    not (BUNDLED_MODELS["tiny"] / "config.json").is_file(), reason="the bundled model 'tiny' is not built"
)
def test_prefix_table_refuses_a_large_vocabulary(tmp_path):
    config = run_config(tmp_path, "q-learning", env_id="textgym/Sentiment-v0", env_kwargs={})
    with pytest.raises(StateSpaceTooLargeError, match=r"task 'sentiment'.*max_vocab=64.*state_key=ngram.*sb3-ppo"):
        train(config, progress=False)
    assert not (tmp_path / "run" / "run.json").exists(), "a refused run writes nothing"


def test_prefix_table_refuses_a_huge_state_space(tmp_path, capsys):
    huge = json.dumps({"task_kwargs": {"num_symbols": 26, "min_length": 8, "max_length": 8}})
    argv = ["train", "--no-progress", "--agent", "sarsa", "--env", "textgym/Copy-v0", "--out", str(tmp_path / "run"),
            "--steps", "10", "--env-kwargs", huge]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert "task 'copy'" in error and "max_estimated_states" in error and "state_key=ngram" in error
    # the n-gram key is the suggested way out
    assert cli.main([*argv, "--set", "state_key=ngram", "--set", "ngram=2"]) == 0


def test_table_size_is_capped_at_run_time(tmp_path):
    agent = make_agent(tmp_path, max_states=5)
    with pytest.raises(StateSpaceTooLargeError, match=r"task 'copy'.*limit of 5 states \(max_states=5\)"):
        agent.learn(400)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"state_key": "bigram"}, r"unknown state_key 'bigram'; allowed: \['prefix', 'ngram'\]"),
        ({"step_size": 0.0}, r"step_size=0.0 is outside the allowed range \(0.0, 1.0\]"),
        ({"discount": 1.5}, r"discount=1.5 is outside the allowed range \[0.0, 1.0\]"),
        ({"ngram": 0}, "ngram must be a positive integer, got 0"),
        ({"max_states": 2.5}, "max_states must be a positive integer, got 2.5"),
        ({"initial_value": float("inf")}, "initial_value must be a finite number, got inf"),
    ],
)
def test_bad_hyperparameters_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        TabularConfig(**values)


def test_state_keys():
    ids = np.array([[5, 6, 7, 2, 1, 1], [5, 2, 1, 1, 1, 1]])
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    assert state_keys(ids, mask, "prefix", 3) == [(5, 6, 7, 2), (5, 2)]
    assert state_keys(ids, mask, "ngram", 3) == [(6, 7, 2), (5, 2)]
    assert estimated_prefix_states(num_prompts=2, vocab_size=3, horizon=3) == 2 * (1 + 2 + 4)


def test_ngram_table_is_smaller_and_policy_is_greedy(tmp_path):
    prefix, ngram = make_agent(tmp_path), make_agent(tmp_path, state_key="ngram", ngram=1)
    prefix.learn(400)
    ngram.learn(400)
    assert ngram.num_states <= prefix.vocab_size < prefix.num_states
    obs, _ = prefix.env.reset(seed=0)
    actions = prefix.policy(obs, prefix.env)
    for i, action in enumerate(actions):
        values = prefix.q_values(obs["input_ids"][i][obs["attention_mask"][i] == 1])
        assert action == (0 if values is None else int(np.argmax(values)))


def test_horizon_is_terminal(tmp_path):
    """At the last step (3 tokens written, horizon 4) a tried token's value is its reward: nothing is bootstrapped."""
    agent = make_agent(tmp_path, step_size=1.0, initial_value=5.0)
    agent.learn(800)
    separator = agent.env.tokenizer.encode("=")[0]
    last_step_values = [agent.table.values[row] for key, row in agent.table.index.items()
                        if len(key) - key.index(separator) - 1 == agent.env.max_new_tokens - 1]
    assert last_step_values
    tried = np.concatenate([values[1:][values[1:] != 5.0] for values in last_step_values])  # every token but EOS
    assert tried.size
    assert (np.abs(tried) <= 1.0).all()
