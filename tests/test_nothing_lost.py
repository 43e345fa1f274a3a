"""A run killed at any moment resumes from an intact checkpoint; a diverged run stops and keeps the last good one."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from textgym import cli
from textgym_agents.checkpoint import LoadedCheckpoint, latest_checkpoint
from textgym_agents.run import RunConfig
from textgym_agents.train import NonFiniteLossError, train


def command(out, steps):
    return [sys.executable, "-m", "textgym.cli", "train", "--agent", "sb3-ppo", "--env", "textgym/Copy-v0",
            "--steps", str(steps), "--eval-every", "64", "--num-envs", "4", "--device", "cpu", "--out", str(out),
            "--no-progress", "--set", "n_steps=8", "--set", "batch_size=32", "--set", "n_epochs=1"]


@pytest.mark.parametrize("delay", [0.0, 0.37, 1.1])
def test_sigkill_at_a_random_moment_then_resume(tmp_path, capsys, delay):
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command(out, 100_000), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoints" / "latest").is_file():
        assert time.time() < deadline and process.poll() is None, "the run never wrote a checkpoint"
        time.sleep(0.05)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoint = LoadedCheckpoint(latest_checkpoint(out / "checkpoints"))  # intact, whatever the moment
    checkpoint.weights("policy")
    saved = checkpoint.env_steps
    # the resume runs in this process (the same command line through textgym.cli.main): a fresh process of its own
    # would only add its start-up
    assert cli.main([*command(out, saved + 128)[3:], "--resume"]) == 0, capsys.readouterr().err
    with open(out / "metrics.csv", newline="") as f:
        steps = [int(row["env_steps"]) for row in csv.DictReader(f)]
    assert steps == sorted(set(steps)) and steps[-1] >= saved + 128
    assert not list((out / "checkpoints").glob(".step-*")), "no half-written checkpoint folders remain"


def test_non_finite_training_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from textgym_agents.sb3.agents import SB3PPOAgent

    original = SB3PPOAgent.learn
    calls = {"n": 0}

    def diverging(self, env_steps):
        calls["n"] += 1
        scalars = original(self, env_steps)
        if calls["n"] == 2:
            for p in self.model.policy.parameters():
                p.data.fill_(float("nan"))
            scalars["train/max_abs_weight"] = float("nan")
        return scalars

    monkeypatch.setattr(SB3PPOAgent, "learn", diverging)
    run = RunConfig(
        agent="sb3-ppo",
        env_id="textgym/Copy-v0",
        steps=512,
        seed=0,
        device="cpu",
        out=str(tmp_path / "nan"),
        num_envs=4,
        eval_every=64,
        hyperparameters={"n_steps": 8, "batch_size": 32, "n_epochs": 1},
    )
    with pytest.raises(NonFiniteLossError, match="non-finite value .* the last good checkpoint .* is kept"):
        train(run, progress=False)
    checkpoint = LoadedCheckpoint(latest_checkpoint(tmp_path / "nan" / "checkpoints"))
    assert checkpoint.env_steps == 64
    import torch

    assert all(torch.isfinite(t).all() for t in checkpoint.weights("policy").values())
