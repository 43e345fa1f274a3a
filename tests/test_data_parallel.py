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


def torchrun(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return result


def _train_command(out: Path, steps: int, extra: list[str]) -> list[str]:
    return ["-m", "textgym_agents.distributed", "--agent", "lm-ppo", "--env", "textgym/Copy-v0", "--steps", str(steps),
            "--eval-every", "32", "--num-envs", "4", "--device", "cpu", "--out", str(out), "--no-progress",
            "--env-kwargs", json.dumps(SMALL_COPY), "--set", "num_epochs=1", "--set", "num_minibatches=2",
            "--set", "learning_rate=1e-3", *extra]


#: the two-rank training runs of one launch, in order: (run folder under runs/, steps, extra train arguments)
TRAIN_RUNS = {
    "ddp-straight": ("ddp-straight", 64, []),
    "ddp-parts": ("ddp-parts", 32, []),
    "ddp-resumed": ("ddp-parts", 64, ["--resume"]),
    "fsdp-straight": ("fsdp-straight", 64, ["--set", "fsdp=true"]),
    "fsdp-parts": ("fsdp-parts", 32, ["--set", "fsdp=true"]),
    "fsdp-resumed": ("fsdp-parts", 64, ["--set", "fsdp=true", "--resume"]),
}


@dataclasses.dataclass
class Launch:
    """One ``torchrun`` launch of ``tests/data_parallel_worker.py`` running every two-rank scenario of this module.

    Attributes:
        cwd: the launch's working folder: it holds ``runs/`` (the run folders), ``logs/`` and ``updates.pt``.
        result: the launch's process (stdout and stderr of both ranks).
        single: per agent, the weights and statistics of one process's update on the whole rollout.
    """

    cwd: Path
    result: subprocess.CompletedProcess
    single: dict[str, tuple[dict[str, torch.Tensor], dict[str, float]]]

    def run(self, name: str) -> Path:
        return self.cwd / "runs" / name

    def log(self, scenario: str, rank: int, stream: str = "stdout") -> str:
        """What rank ``rank`` printed to ``stream`` during ``scenario``."""
        return (self.cwd / "logs" / f"{scenario}.rank{rank}.{stream}").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def launch(tmp_path_factory) -> Launch:
    """The updates of one process on a whole rollout, then one ``torchrun`` launch (starting two ranks is most of a
    small scenario's time) of: the same updates on two ranks; DDP straight, interrupted and resumed; FSDP2 the same."""
    inputs, cwd = tmp_path_factory.mktemp("inputs"), tmp_path_factory.mktemp("launch")
    (cwd / "logs").mkdir()
    updates, single = {}, {}
    for agent_name, hyperparameters in UPDATE.items():
        cls = agent_class(agent_name)
        torch.manual_seed(0)
        run = RunConfig(agent=agent_name, env_id="textgym/Copy-v0", seed=0, device="cpu", num_envs=8, out="unused",
                        env_kwargs=SMALL_COPY)
        agent = cls(run, cls.Config(**hyperparameters))
        rollout = agent.collect()
        file = inputs / f"{agent_name}.pt"
        torch.save({f.name: getattr(rollout, f.name) for f in dataclasses.fields(rollout)}, file)
        before = {k: v.clone() for k, v in agent.policy_model.state_dict().items()}
        stats = agent.update(rollout)
        after = {k: v.clone() for k, v in agent.policy_model.state_dict().items()}
        assert any(not torch.equal(before[k], after[k]) for k in before)  # the update moved the weights
        agent.close()
        single[agent_name] = (after, stats)
        updates[agent_name] = {"num_envs": 8, "env_kwargs": SMALL_COPY, "hyperparameters": hyperparameters,
                               "rollout": str(file)}
    scenarios = [{"name": "updates", "updates": updates, "out": str(cwd / "updates.pt")}]
    scenarios += [{"name": name, "train": _train_command(cwd / "runs" / folder, steps, extra)[2:]}
                  for name, (folder, steps, extra) in TRAIN_RUNS.items()]
    plan = inputs / "plan.json"
    plan.write_text(json.dumps({"logs": str(cwd / "logs"), "scenarios": scenarios}), encoding="utf-8")
    result = torchrun([str(REPO / "tests" / "data_parallel_worker.py"), str(plan)], cwd)
    return Launch(cwd, result, single)


@pytest.mark.slow
def test_two_ranks_of_b_episodes_make_the_update_of_one_process_with_2b(launch):
    ranks = torch.load(launch.cwd / "updates.pt", weights_only=True)
    for agent_name, (after, stats) in launch.single.items():
        for name, value in after.items():
            torch.testing.assert_close(ranks[agent_name]["weights"][name], value, rtol=1e-4, atol=1e-5,
                                       msg=f"{agent_name}: {name}")
        for key in ("train/policy_loss", "train/approx_kl"):  # the logged statistics are the global batch's
            assert ranks[agent_name]["stats"][key] == pytest.approx(stats[key], rel=1e-3, abs=1e-6), (agent_name, key)


@pytest.mark.slow
def test_two_rank_run_interrupted_at_a_checkpoint_and_resumed_matches_the_straight_run(launch, capsys):
    # every rank freed its process group before leaving each DDP scenario (a group still held at exit is torn down
    # during interpreter shutdown, and that exit aborts now and then); the FSDP2 scenarios run last
    for scenario in ["updates", "ddp-straight", "ddp-parts", "ddp-resumed"]:
        for rank in (0, 1):
            log = launch.log(scenario, rank, "stderr")
            assert "process-group threads still running" not in log, (scenario, rank, log[-3000:])
    # rank 0 alone wrote the run folders (rank 1 wrote nothing where it ran); each rank drew its own prompts
    assert sorted(p.name for p in launch.cwd.iterdir()) == ["logs", "runs", "updates.pt"]
    assert sorted(p.name for p in (launch.cwd / "runs").iterdir()) == sorted({f for f, _, _ in TRAIN_RUNS.values()})
    assert "rank 0: done, final eval_return" in launch.log("ddp-straight", 0)
    line = next(text for text in launch.log("ddp-straight", 1).splitlines()
                if text.startswith("rank 1: done, parameter fingerprint"))
    checkpoint = LoadedCheckpoint(latest_checkpoint(launch.run("ddp-straight") / "checkpoints"))
    assert checkpoint.state["world_size"] == 2 and checkpoint.state["env_rng"][0] != checkpoint.state["env_rng"][1]
    cls = agent_class("lm-ppo")
    agent = cls(RunConfig(agent="lm-ppo", env_id="textgym/Copy-v0", device="cpu", num_envs=2, out="unused",
                          env_kwargs=SMALL_COPY), cls.Config(num_epochs=1, num_minibatches=2, learning_rate=1e-3))
    checkpoint.load_module("policy", agent.policy_model)
    checkpoint.load_module("value_head", agent.value_head)
    assert parameter_fingerprint(agent.trainable_modules()) == line.rsplit(" ", 1)[1]
    agent.close()
    straight, parts = launch.run("ddp-straight"), launch.run("ddp-parts")
    assert (straight / "metrics.csv").read_bytes() == (parts / "metrics.csv").read_bytes()
    # the same run resumed by one process: refused, naming the world sizes
    from textgym import cli

    argv = ["train", *_train_command(parts, 96, ["--resume"])[2:]]
    assert cli.main(argv) == 2
    assert "was written by 2 data-parallel process(es); this run has world size 1: resume with the same number of " \
           "processes" in capsys.readouterr().err


@pytest.mark.slow
def test_fsdp2_trains_on_two_cpu_ranks_and_resumes(launch):
    straight, parts = launch.run("fsdp-straight"), launch.run("fsdp-parts")
    rows = (straight / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4  # header, step 0, 32, 64
    assert (straight / "metrics.csv").read_bytes() == (parts / "metrics.csv").read_bytes()
    assert (straight / "policy" / "model.safetensors").is_file()


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
