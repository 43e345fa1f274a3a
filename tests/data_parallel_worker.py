"""Run by ``tests/test_data_parallel.py`` under one ``torchrun`` launch: several data-parallel scenarios in sequence, in
the same two rank processes, each in a process group of its own. Argument: PLAN_JSON, a file holding::

    {"logs": folder, "scenarios": [scenario, ...]}

where a scenario is either

- ``{"name": ..., "train": [argv of textgym train]}``: ``textgym_agents.distributed.main(argv)``, exactly what
  ``torchrun -m textgym_agents.distributed argv`` runs (it creates and leaves its own process group); or
- ``{"name": ..., "updates": {agent: {"num_envs", "env_kwargs", "hyperparameters", "rollout": file}}, "out": file}``:
  for each agent, one update on this rank's share of a saved rollout; rank 0 saves the updated weights and statistics
  to ``out``.

What each rank prints to ``sys.stdout``/``sys.stderr`` during a scenario is also written to
``logs/<name>.rank<R>.stdout`` (``.stderr``). A scenario that fails stops the launch.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import torch
import torch.distributed as dist

from textgym_agents.distributed import import_group_binding_modules, leave_process_group


class Tee:
    """A text stream that writes to ``stream`` and to ``copy`` alike."""

    def __init__(self, stream: TextIO, copy: TextIO) -> None:
        self.stream, self.copy = stream, copy

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.copy.flush()
        self.stream.flush()


@contextlib.contextmanager
def logged(logs: Path, name: str, rank: int) -> Iterator[None]:
    """Copy this rank's ``sys.stdout`` and ``sys.stderr`` into ``logs/<name>.rank<rank>.stdout`` (``.stderr``)."""
    with open(logs / f"{name}.rank{rank}.stdout", "w", encoding="utf-8") as out, \
            open(logs / f"{name}.rank{rank}.stderr", "w", encoding="utf-8") as err, \
            contextlib.redirect_stdout(Tee(sys.stdout, out)), contextlib.redirect_stderr(Tee(sys.stderr, err)):
        yield


@contextlib.contextmanager
def own_rendezvous_keys(prefix: str) -> Iterator[None]:
    """Every ``init_process_group`` call inside: the usual ``env://`` rendezvous (the launcher's store), its keys under
    ``prefix``.

    A process group created after another one was destroyed in the same process takes the same group name, so its
    backend publishes and reads its connection keys under the names the first group used in the launcher's store: a
    rank can read its peer's stale address from the previous group and fail to connect. One prefix per scenario keeps
    each scenario's keys its own; nothing else about the group changes (backend, timeout, ranks).
    """
    init_process_group = dist.init_process_group

    def init_under_prefix(backend: str | None = None, **kwargs) -> None:
        timeout = kwargs.pop("timeout", None)
        store, rank, world_size = next(dist.rendezvous("env://", **({"timeout": timeout} if timeout else {})))
        init_process_group(backend, store=dist.PrefixStore(prefix, store), rank=rank, world_size=world_size,
                           **({"timeout": timeout} if timeout else {}), **kwargs)

    dist.init_process_group = init_under_prefix
    try:
        yield
    finally:
        dist.init_process_group = init_process_group


def one_update_per_agent(agents: dict, out_file: str) -> None:
    """For each agent, one update on this rank's share of its saved rollout; rank 0 saves weights and statistics."""
    import textgym  # noqa: F401
    from textgym_agents.lm.rollout import Rollout
    from textgym_agents.registry import agent_class
    from textgym_agents.run import RunConfig

    dist.init_process_group("gloo")
    finished = False
    try:
        results = {}
        for agent_name, settings in agents.items():
            torch.manual_seed(0)
            cls = agent_class(agent_name)
            run = RunConfig(agent=agent_name, env_id="textgym/Copy-v0", seed=0, device="cpu",
                            num_envs=settings["num_envs"], out="unused", env_kwargs=settings["env_kwargs"])
            agent = cls(run, cls.Config(**settings["hyperparameters"]))
            whole = Rollout(**torch.load(settings["rollout"], weights_only=True))
            rows = settings["num_envs"] // dist.get_world_size()
            mine = whole.episodes(torch.arange(dist.get_rank() * rows, (dist.get_rank() + 1) * rows))
            stats = agent.update(mine)
            results[agent_name] = {
                "weights": {k: v.detach().clone() for k, v in agent.policy_model.state_dict().items()},
                "stats": stats,
            }
            agent.close()
        if dist.get_rank() == 0:
            torch.save(results, out_file)
        finished = True
    finally:
        leave_process_group(wait_for_peers=finished)


def main() -> None:
    from textgym_agents import distributed

    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    logs = Path(plan["logs"])
    rank = int(os.environ["RANK"])
    import_group_binding_modules()
    for scenario in plan["scenarios"]:
        name = scenario["name"]
        with logged(logs, name, rank), own_rendezvous_keys(f"{name}/"):
            if "train" in scenario:
                code = distributed.main(scenario["train"])
                if code != 0:
                    raise SystemExit(f"scenario {name}: textgym_agents.distributed.main returned {code}")
            else:
                one_update_per_agent(scenario["updates"], scenario["out"])


if __name__ == "__main__":
    main()
