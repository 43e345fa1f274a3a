"""Data-parallel training over several processes with ``torch.distributed``.

Launch ``textgym train``'s arguments through ``torchrun``::

    torchrun --nproc_per_node 2 --standalone -m agents.distributed \\
        --agent lm-ppo --env textgym/Sentiment-v0 --steps 30000 --out runs/ddp

Every rank builds the same agent (same seed, so the same initial weights; rank 0's are
broadcast anyway), steps its own batched environment with a rank-offset seed, and
all-reduces gradients before each optimizer step, so every replica applies the same
update. Rank 0 runs the usual driver (:func:`agents.train.train`): it alone evaluates and
writes the run folder (metrics, summary, TensorBoard, checkpoints). The other ranks run
:func:`follow`, the same sequence of ``learn`` chunks, and write nothing.

The backend is NCCL when the device is CUDA (each rank on ``cuda:LOCAL_RANK``) and gloo
on the CPU. An agent that supports data parallelism reads :func:`current_context`.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Which replica this process is, and the collectives the agent needs (no-ops alone)."""

    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks, in place; returns it."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """Average ``tensor`` over ranks, in place; returns it."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
            tensor /= self.world_size
        return tensor

    def average_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Average the gradients of ``parameters`` over ranks, in one flat bucket."""
        if not self.enabled:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast_parameters(self, modules: Iterable[torch.nn.Module]) -> None:
        """Copy rank 0's parameters and buffers to every rank."""
        if not self.enabled:
            return
        for module in modules:
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(tensor.data, src=0)

    def all_gather_object(self, obj: Any) -> list[Any]:
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
        if not self.enabled:
            return [obj]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered


def current_context() -> DistributedContext:
    """The context of this process: a single process unless a process group is initialised.

    Raises:
        RuntimeError: ``torchrun`` started several processes (``WORLD_SIZE > 1``) but no
            process group exists, i.e. the entry point was not ``-m agents.distributed``.
    """
    if dist.is_available() and dist.is_initialized():
        return DistributedContext(dist.get_rank(), dist.get_world_size())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        raise RuntimeError(
            f"WORLD_SIZE={world} (started by torchrun) but no process group is initialised; launch data-parallel "
            f"training with: torchrun --nproc_per_node {world} -m agents.distributed --agent ... (the train arguments)"
        )
    return DistributedContext()


def parameter_fingerprint(modules: Iterable[torch.nn.Module]) -> str:
    """SHA-256 over the bytes of every parameter (shared ones once), in registration order."""
    digest = hashlib.sha256()
    for module in modules:
        for parameter in module.parameters():
            digest.update(parameter.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_replicas_identical(context: DistributedContext, modules: list[torch.nn.Module]) -> str:
    """Gather every rank's :func:`parameter_fingerprint`; raise if any replica differs."""
    mine = parameter_fingerprint(modules)
    everyone = context.all_gather_object(mine)
    if len(set(everyone)) > 1:
        raise RuntimeError(f"data-parallel replicas diverged: parameter fingerprints per rank {everyone}")
    return mine


def follow(run, resume: bool) -> Any:
    """What a rank other than 0 does: the driver's sequence of ``learn`` chunks, writing nothing.

    Mirrors :func:`agents.train.train`: same seeding, same agent, the same checkpoint on
    ``--resume`` (read only), then ``learn(min(eval_interval, steps - env_steps))`` until
    ``steps``. Returns the agent (closed).
    """
    from pathlib import Path

    import numpy as np

    from agents.base import config_from_dict
    from agents.checkpoint import LoadedCheckpoint, latest_checkpoint
    from agents.registry import agent_class
    from agents.run import RunConfigError
    from agents.train import check_run_config

    check_run_config(run)
    cls = agent_class(run.agent)
    config = config_from_dict(cls.Config, run.hyperparameters, run.agent)
    torch.manual_seed(run.seed)
    np.random.seed(run.seed)
    agent = cls(run, config)
    try:
        if resume:
            path = latest_checkpoint(Path(run.out) / "checkpoints")
            if path is None:
                raise RunConfigError(f"--resume: {run.out} has no checkpoint yet")
            agent.load(LoadedCheckpoint(path))
        while agent.env_steps < run.steps:
            agent.learn(min(run.eval_interval, run.steps - agent.env_steps))
    finally:
        agent.close()
    return agent


def main(argv: list[str] | None = None) -> int:
    """``torchrun ... -m agents.distributed <textgym train arguments>``."""
    from agents.train import add_train_arguments, run_from_args, train

    parser = argparse.ArgumentParser(prog="torchrun -m agents.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    run, resume = run_from_args(args)
    from textgym.devices import resolve_device

    device = resolve_device(run.device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(minutes=30))
    try:
        rank = dist.get_rank()
        if rank == 0:
            summary = train(run, resume=resume, progress=not args.no_progress)
            print(f"rank 0: done, final eval_return {summary['final_eval_return']:.4f}", flush=True)
        else:
            agent = follow(run, resume)
            fingerprint = getattr(agent, "last_fingerprint", None)
            print(f"rank {rank}: done, parameter fingerprint {fingerprint}", flush=True)
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
