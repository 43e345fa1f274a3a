"""Data parallelism with PyTorch's own engines (DDP, FSDP2) on the CPU with gloo: two ranks of B episodes make the
update one process makes with 2B; a two-rank run resumes exactly; FSDP2 trains; bad set-ups are clear errors."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from textgym_agents.checkpoint import LoadedCheckpoint, latest_checkpoint
from textgym_agents.distributed import DistributedContext, parameter_fingerprint
from textgym_agents.registry import agent_class
from textgym_agents.run import RunConfig

REPO = Path(__file__).resolve().parents[1]
SMALL_COPY = {"task_kwargs": {"num_symbols": 3, "min_length": 2, "max_length": 3}}
SYMBOL_MODEL = {"symbol_model_width": 16, "symbol_model_layers": 1, "symbol_model_heads": 1}
#: one minibatch: each optimizer step sees the whole batch, on one rank or split over two
UPDATE = {
    "lm-ppo": {"num_epochs": 2, "num_minibatches": 1, "learning_rate": 1e-2, **SYMBOL_MODEL},
    "lm-grpo": {"num_iterations": 2, "num_minibatches": 1, "learning_rate": 1e-2, "group_size": 2, **SYMBOL_MODEL},
    "lm-rloo": {"num_epochs": 2, "num_minibatches": 1, "learning_rate": 1e-2, "group_size": 2, **SYMBOL_MODEL},
}


def torchrun(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return result


@pytest.mark.slow
def test_two_ranks_of_b_episodes_make_the_update_of_one_process_with_2b(tmp_path):
    settings, single_runs = {}, {}
    for agent_name, hyperparameters in UPDATE.items():
        cls = agent_class(agent_name)
        torch.manual_seed(0)
        run = RunConfig(agent=agent_name, env_id="textgym/Copy-v0", seed=0, device="cpu", num_envs=8, out="unused",
                        env_kwargs=SMALL_COPY)
        single = cls(run, cls.Config(**hyperparameters))
        rollout = single.collect()
        file = tmp_path / f"{agent_name}.pt"
        torch.save({f.name: getattr(rollout, f.name) for f in dataclasses.fields(rollout)}, file)
        before = {k: v.clone() for k, v in single.policy_model.state_dict().items()}
        stats = single.update(rollout)
        after = {k: v.clone() for k, v in single.policy_model.state_dict().items()}
        assert any(not torch.equal(before[k], after[k]) for k in before)  # the update moved the weights
        single.close()
        single_runs[agent_name] = (after, stats)
        settings[agent_name] = {"num_envs": 8, "env_kwargs": SMALL_COPY, "hyperparameters": hyperparameters,
                                "rollout": str(file)}

    torchrun(
        [str(REPO / "tests" / "data_parallel_worker.py"), json.dumps(settings), str(tmp_path / "ranks.pt")], tmp_path
    )
    ranks = torch.load(tmp_path / "ranks.pt", weights_only=True)
    for agent_name, (after, stats) in single_runs.items():
        for name, value in after.items():
            torch.testing.assert_close(ranks[agent_name]["weights"][name], value, rtol=1e-4, atol=1e-5,
                                       msg=f"{agent_name}: {name}")
        for key in ("train/policy_loss", "train/approx_kl"):  # the logged statistics are the global batch's
            assert ranks[agent_name]["stats"][key] == pytest.approx(stats[key], rel=1e-3, abs=1e-6), (agent_name, key)


def _train_command(out: Path, steps: int, extra: list[str]) -> list[str]:
    return ["-m", "textgym_agents.distributed", "--agent", "lm-ppo", "--env", "textgym/Copy-v0", "--steps", str(steps),
            "--eval-every", "32", "--num-envs", "4", "--device", "cpu", "--out", str(out), "--no-progress",
            "--env-kwargs", json.dumps(SMALL_COPY), "--set", "num_epochs=1", "--set", "num_minibatches=2",
            "--set", "learning_rate=1e-3", *extra]


@pytest.mark.slow
def test_two_rank_run_interrupted_at_a_checkpoint_and_resumed_matches_the_straight_run(tmp_path, capsys):
    result = torchrun(_train_command(tmp_path / "straight", 64, []), tmp_path)
    # every rank freed its process group before exiting (a group still held at exit is torn down during
    # interpreter shutdown, and that exit aborts now and then)
    assert "process-group threads still running" not in result.stderr, result.stderr[-3000:]
    # rank 0 alone wrote the run folder; its final weights are rank 1's; each rank drew its own prompts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["straight"]
    line = next(l for l in result.stdout.splitlines() if l.startswith("rank 1: done, parameter fingerprint"))
    checkpoint = LoadedCheckpoint(latest_checkpoint(tmp_path / "straight" / "checkpoints"))
    assert checkpoint.state["world_size"] == 2 and checkpoint.state["env_rng"][0] != checkpoint.state["env_rng"][1]
    cls = agent_class("lm-ppo")
    agent = cls(RunConfig(agent="lm-ppo", env_id="textgym/Copy-v0", device="cpu", num_envs=2, out="unused",
                          env_kwargs=SMALL_COPY), cls.Config(num_epochs=1, num_minibatches=2, learning_rate=1e-3))
    checkpoint.load_module("policy", agent.policy_model)
    checkpoint.load_module("value_head", agent.value_head)
    assert parameter_fingerprint(agent.trainable_modules()) == line.rsplit(" ", 1)[1]
    agent.close()
    torchrun(_train_command(tmp_path / "parts", 32, []), tmp_path)
    torchrun(_train_command(tmp_path / "parts", 64, ["--resume"]), tmp_path)
    assert (tmp_path / "straight" / "metrics.csv").read_bytes() == (tmp_path / "parts" / "metrics.csv").read_bytes()
    # the same run resumed by one process: refused, naming the world sizes
    from textgym import cli

    argv = ["train", *_train_command(tmp_path / "parts", 96, ["--resume"])[2:]]
    assert cli.main(argv) == 2
    assert "was written by 2 data-parallel process(es); this run has world size 1: resume with the same number of " \
           "processes" in capsys.readouterr().err


@pytest.mark.slow
def test_fsdp2_trains_on_two_cpu_ranks_and_resumes(tmp_path):
    fsdp = ["--set", "fsdp=true"]
    torchrun(_train_command(tmp_path / "straight", 64, fsdp), tmp_path)
    torchrun(_train_command(tmp_path / "parts", 32, fsdp), tmp_path)
    torchrun(_train_command(tmp_path / "parts", 64, [*fsdp, "--resume"]), tmp_path)
    rows = (tmp_path / "straight" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4  # header, step 0, 32, 64
    assert (tmp_path / "straight" / "metrics.csv").read_bytes() == (tmp_path / "parts" / "metrics.csv").read_bytes()
    assert (tmp_path / "straight" / "policy" / "model.safetensors").is_file()


# -- bad set-ups ---------------------------------------------------------------------------------------


def test_world_size_that_does_not_divide_num_envs_is_a_clear_error(monkeypatch):
    import textgym_agents.lm.base

    monkeypatch.setattr(textgym_agents.lm.base, "current_context", lambda: DistributedContext(rank=0, world_size=3))
    cls = agent_class("lm-ppo")
    run = RunConfig(agent="lm-ppo", env_id="textgym/Copy-v0", device="cpu", num_envs=8, out="unused")
    with pytest.raises(ValueError, match="--num-envs 8 is not a multiple of the world size 3"):
        cls(run, cls.Config())


def test_fsdp_in_one_process_is_a_clear_error():
    cls = agent_class("lm-ppo")
    run = RunConfig(agent="lm-ppo", env_id="textgym/Copy-v0", device="cpu", num_envs=4, out="unused")
    with pytest.raises(ValueError, match="fsdp=true shards the model over data-parallel ranks: launch with torchrun"):
        cls(run, cls.Config(fsdp=True))


def test_fsdp_on_a_backend_that_cannot_run_it_is_a_clear_error(monkeypatch):
    import torch.distributed as dist

    from textgym_agents.lm.parallel import check_fsdp_backend

    monkeypatch.setattr(dist, "get_backend", lambda *a, **k: "mpi")
    with pytest.raises(ValueError, match=r"fsdp=true needs the process-group backend to be one of \['gloo', 'nccl'\]; "
                                         r"this run uses 'mpi': use DDP \(fsdp=false\)"):
        check_fsdp_backend(DistributedContext(rank=0, world_size=2))
