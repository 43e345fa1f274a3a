"""`textgym train`: every agent trains end to end, writes its files, resumes; bad arguments are refused."""

import csv
import json
import subprocess
import sys

import pytest

from textgym import cli
from textgym_agents.checkpoint import CheckpointError, LoadedCheckpoint, latest_checkpoint
from textgym_agents.run import RunConfig, RunConfigError
from textgym_agents.train import train

FAST = {
    "random": {},
    "sb3-ppo": {"n_steps": 8, "batch_size": 32, "n_epochs": 1},
    "sb3-a2c": {"n_steps": 8},
    "sb3-dqn": {"learning_starts": 16, "buffer_size": 500},
}


def run_config(tmp_path, agent, **overrides):
    values = dict(agent=agent, env_id="textgym/Copy-v0", steps=256, seed=0, device="cpu", out=str(tmp_path / agent),
                  num_envs=4, eval_every=128, hyperparameters=dict(FAST.get(agent, {})))
    values.update(overrides)
    return RunConfig(**values)


def read_metrics(path):
    with open(path / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("agent", list(FAST))
@pytest.mark.parametrize("reward_mode", ["dense", "sparse"])
def test_agent_trains_and_writes_its_files(tmp_path, agent, reward_mode):
    summary = train(run_config(tmp_path, agent, reward_mode=reward_mode), progress=False)
    out = tmp_path / agent
    assert summary["agent"] == agent and summary["reward_mode"] == reward_mode and summary["env_steps"] >= 256
    on_disk = json.loads((out / "summary.json").read_text())
    assert set(on_disk) >= {"agent", "env_id", "reward_mode", "seed", "env_steps", "wall_seconds", "final_eval_return"}
    rows = read_metrics(out)
    assert rows[0]["env_steps"] == "0" and len(rows) >= 3
    assert 0.0 <= float(rows[-1]["eval_return"]) <= 1.0
    assert list((out / "tensorboard").iterdir())
    assert latest_checkpoint(out / "checkpoints") is not None


def test_maskable_ppo_on_lm_vocabulary(tmp_path):
    config = run_config(tmp_path, "sb3-maskable-ppo", env_kwargs={"model": "tiny"}, steps=64, eval_every=64,
                        hyperparameters={"n_steps": 8, "batch_size": 32, "n_epochs": 1, "top_p": 0.5})
    summary = train(config, progress=False)
    assert summary["env_steps"] >= 64


def test_top_k_action_space(tmp_path):
    config = run_config(
        tmp_path,
        "sb3-ppo",
        env_kwargs={"model": "tiny"},
        steps=64,
        eval_every=64,
        hyperparameters={"n_steps": 8, "batch_size": 32, "n_epochs": 1, "action_space": "top-k", "top_k": 4},
    )
    assert train(config, progress=False)["env_steps"] >= 64


def test_lm_action_space_on_symbol_task_is_refused(tmp_path):
    config = run_config(tmp_path, "sb3-maskable-ppo")
    with pytest.raises(ValueError, match="has no language model; pass model='tiny'"):
        train(config, progress=False)


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    first = run_config(tmp_path, "sb3-ppo", steps=128)
    train(first, progress=False)
    longer = run_config(tmp_path, "sb3-ppo", steps=384)
    summary = train(longer, resume=True, progress=False)
    rows = read_metrics(tmp_path / "sb3-ppo")
    steps = [int(r["env_steps"]) for r in rows]
    assert steps == sorted(steps) and steps[0] == 0 and summary["env_steps"] >= 384
    assert len(steps) == len(set(steps))


def test_random_agent_resume_is_exact(tmp_path):
    straight = run_config(tmp_path, "random", out=str(tmp_path / "straight"), steps=384)
    train(straight, progress=False)
    part = run_config(tmp_path, "random", out=str(tmp_path / "parts"), steps=128)
    train(part, progress=False)
    train(run_config(tmp_path, "random", out=str(tmp_path / "parts"), steps=384), resume=True, progress=False)
    a = [(r["env_steps"], r["eval_return"]) for r in read_metrics(tmp_path / "straight")]
    b = [(r["env_steps"], r["eval_return"]) for r in read_metrics(tmp_path / "parts")]
    assert a == b


def test_out_folder_with_another_run_is_refused(tmp_path):
    train(run_config(tmp_path, "random"), progress=False)
    with pytest.raises(RunConfigError, match="already holds a run's files; pass --resume"):
        train(run_config(tmp_path, "random"), progress=False)
    with pytest.raises(RunConfigError, match="holds a different run .*seed: run has 0, asked 1"):
        train(run_config(tmp_path, "random", seed=1), resume=True, progress=False)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    train(run_config(tmp_path, "sb3-ppo", steps=64, eval_every=64), progress=False)
    path = latest_checkpoint(tmp_path / "sb3-ppo" / "checkpoints")
    weights = path / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="policy.safetensors is corrupt or truncated"):
        train(run_config(tmp_path, "sb3-ppo", steps=128, eval_every=64), resume=True, progress=False)
    (path / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="state.json is corrupt"):
        LoadedCheckpoint(path)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--agent", "alphago"], "unknown agent 'alphago'; allowed: random, sb3-ppo"),
        (["--agent", "random", "--steps", "-1"], "--steps must be a non-negative integer, got -1"),
        (["--agent", "random", "--env", "textgym/Chess-v0"], "unknown env 'textgym/Chess-v0'"),
        (["--agent", "random", "--reward-mode", "instant"], "unknown reward_mode 'instant'"),
        (["--agent", "sb3-ppo", "--set", "lr=1"], "unknown hyper-parameter 'lr' for agent 'sb3-ppo'"),
        (["--agent", "sb3-ppo", "--set", "n_steps=many"], "'many' is not a valid int"),
        (["--agent", "random", "--env-kwargs", "{oops"], "--env-kwargs is not valid JSON"),
        (["--agent", "random", "--device", "tpu"], "unknown device 'tpu'"),
        (["--agent", "random", "--env-kwargs", '{"bogus": 1}'], "unknown env_kwargs 'bogus'; allowed: task, model"),
        (
            ["--agent", "random", "--env-kwargs", '{"num_envs": 2}'],
            "env_kwargs 'num_envs' cannot be given (use --num-envs)",
        ),
        (["--agent", "random", "--env-kwargs", '{"split": "eval"}'], "env_kwargs 'split' cannot be given"),
        (["--agent", "random", "--set", "anything"], "--set 'anything': expected NAME=VALUE"),
    ],
)
def test_bad_train_arguments(tmp_path, capsys, argv, message):
    base = {"--env": "textgym/Copy-v0", "--out": str(tmp_path / "run"), "--steps": "10"}
    args = list(argv)
    for flag, value in base.items():
        if flag not in args:
            args += [flag, value]
    assert cli.main(["train", "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "run.json").exists(), "a refused run writes nothing"


def test_help_agent_lists_hyperparameters(capsys):
    assert cli.main(["train", "--agent", "sb3-ppo", "--env", "x", "--out", "y", "--help-agent"]) == 0
    assert "learning_rate" in capsys.readouterr().out


def test_help_agent_needs_only_the_agent(capsys):
    assert cli.main(["train", "--agent", "sb3-ppo", "--help-agent"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hyper-parameters of sb3-ppo (set with --set NAME=VALUE):") and "learning_rate" in out
    assert cli.main(["train", "--help-agent", "--agent", "alphago"]) == 2
    assert "textgym train: error: unknown agent 'alphago'; allowed: random, sb3-ppo" in capsys.readouterr().err


def test_help_agent_in_a_subprocess():
    result = subprocess.run([sys.executable, "-m", "textgym.cli", "train", "--agent", "sb3-ppo", "--help-agent"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "learning_rate" in result.stdout and result.stderr == ""


@pytest.mark.parametrize("argv, missing", [([], "--env, --out"), (["--env", "textgym/Copy-v0"], "--out"),
                                           (["--out", "run"], "--env")])
def test_env_and_out_are_required_to_train(tmp_path, monkeypatch, capsys, argv, missing):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--agent", "random", "--no-progress", *argv]) == 2
    assert f"textgym train: error: the following arguments are required: {missing}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "a refused run writes nothing"
