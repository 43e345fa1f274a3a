"""Data-parallel training over several processes with ``torch.distributed``.

Launch ``textgym train``'s arguments through ``torchrun``::

    torchrun --nproc_per_node 2 --standalone -m textgym_agents.distributed \\
        --agent lm-ppo --env textgym/Sentiment-v0 --steps 30000 --out runs/ddp

Every rank builds the same agent (same seed, so the same initial weights; rank 0's are
broadcast anyway), steps its own batched environment of ``num_envs / world_size`` rows with a
rank-offset seed, and trains through ``torch.nn.parallel.DistributedDataParallel`` (or FSDP2,
``--set fsdp=true``; see :mod:`textgym_agents.lm.parallel`), so every replica applies the same update,
the one a single process would make with the whole batch. Several machines: run the same
``torchrun`` on each with ``--nnodes M --node_rank R --rdzv_backend c10d --rdzv_endpoint
HOST:PORT`` in place of ``--standalone``. Every rank runs the one training loop of a single
process (:class:`textgym_agents.train.Training`: the same seeding, agent, checkpoint on
``--resume`` and sequence of ``learn`` chunks); rank 0 alone evaluates and writes the run
folder (metrics, summary, TensorBoard, checkpoints), the other ranks write nothing.

The backend is NCCL when the device is CUDA (each rank on ``cuda:LOCAL_RANK``) and gloo
on the CPU. An agent that supports data parallelism reads :func:`current_context`.

Every rank leaves in the same order (:func:`leave_process_group`): its work is done and its
files are closed (each rank's environment and rank 0's TensorBoard writer, by ``Training``), all
ranks meet at a barrier, each destroys the process group, which joins the backend's threads,
and only then does the interpreter exit, with no communication thread left running.
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

#: names of gloo's own threads (its I/O loop and the process group's workers); they end when the group is freed
GLOO_THREAD_NAMES = ("gloo_tcp_loop", "pt_gloo_runloop")


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
            process group exists, i.e. the entry point was not ``-m textgym_agents.distributed``.
    """
    if dist.is_available() and dist.is_initialized():
        return DistributedContext(dist.get_rank(), dist.get_world_size())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        raise RuntimeError(
            f"WORLD_SIZE={world} (started by torchrun) but no process group is initialised; launch data-parallel "
            f"training with: torchrun --nproc_per_node {world} -m textgym_agents.distributed --agent ... "
            f"(the train arguments)"
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


def main(argv: list[str] | None = None) -> int:
    """``torchrun ... -m textgym_agents.distributed <textgym train arguments>``."""
    from textgym_agents.train import Training, add_train_arguments, run_from_args

    parser = argparse.ArgumentParser(prog="torchrun -m textgym_agents.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    run, resume = run_from_args(args)
    from textgym.devices import resolve_device

    device = resolve_device(run.device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    import_group_binding_modules()
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(minutes=30))
    finished = False
    try:
        rank = dist.get_rank()
        # every rank runs the same loop; rank 0 alone evaluates and writes. Leaving the block closes the agent and
        # rank 0's TensorBoard writer (joining its thread) before the ranks meet to leave the group.
        with Training(run, resume=resume, writes=rank == 0) as training:
            summary = training.advance(progress=not args.no_progress)
        if summary is not None:
            print(f"rank {rank}: done, final eval_return {summary['final_eval_return']:.4f}", flush=True)
        else:
            fingerprint = getattr(training.agent, "last_fingerprint", None)
            print(f"rank {rank}: done, parameter fingerprint {fingerprint}", flush=True)
        finished = True
    finally:
        leave_process_group(wait_for_peers=finished, device_ids=[local_rank] if device.type == "cuda" else None)
    return 0


def import_group_binding_modules() -> None:
    """Import, before the process group exists, the modules that would otherwise pin it forever.

    ``torch.distributed.nn.functional`` declares its collectives with ``group=group.WORLD`` as a
    default argument, which Python evaluates once, at import. Imported after
    ``init_process_group`` (transformers imports it on the way to the GPT-2 classes: accelerate
    -> torch FSDP -> sharded tensors), its ten functions hold the default process group for the
    life of the interpreter, so ``destroy_process_group`` cannot free it: gloo's I/O and worker
    threads keep running, and the group is freed only during interpreter finalization, when the
    garbage collector clears that module, in an order nobody controls (the occasional SIGABRT of
    a rank at exit). Imported first, those defaults are ``None``.
    """
    if dist.is_available():
        import torch.distributed.nn  # noqa: F401


def gloo_threads() -> list[str]:
    """Names of this process's live gloo threads (Linux; ``[]`` elsewhere)."""
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        return []
    names = []
    for tid in os.listdir(tasks):
        try:
            with open(os.path.join(tasks, tid, "comm"), encoding="utf-8") as f:
                name = f.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        if name in GLOO_THREAD_NAMES:
            names.append(name)
    return sorted(names)


def leave_process_group(wait_for_peers: bool, device_ids: list[int] | None = None) -> None:
    """Tear down this rank's process group, in the same order on every rank.

    1. ``wait_for_peers`` (this rank finished normally): a barrier, so that no rank closes its
       connections while another is still working (rank 0 evaluates, saves and closes its
       TensorBoard writer after the other ranks' last collective). After a failure there is no
       barrier: the peers may never arrive, and ``torchrun`` stops them once this rank exits.
    2. ``destroy_process_group``: shuts the backend down and frees the group, which joins its
       threads, so that the interpreter exits with no communication thread running.
    3. Checks that step 2 really freed the group: a gloo thread still alive means something
       holds the group (see :func:`import_group_binding_modules`); this is reported on stderr.
    """
    try:
        if wait_for_peers:
            dist.barrier(device_ids=device_ids)
    finally:
        dist.destroy_process_group()
    leftover = gloo_threads()
    if leftover:
        print(
            f"textgym_agents.distributed: process-group threads still running after destroy_process_group: {leftover}; "
            f"something still references the process group (a module imported after init_process_group "
            f"that binds group.WORLD?), so it will be torn down at interpreter exit",
            file=sys.stderr,
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
