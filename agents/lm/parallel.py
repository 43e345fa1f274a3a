"""Data parallelism for the LM agents with PyTorch's own engines: ``DistributedDataParallel`` or FSDP2.

Launched by ``torchrun ... -m textgym_agents.distributed`` (see :mod:`textgym_agents.distributed`), each rank
steps ``num_envs / world_size`` rows of its own env and decodes them with the plain modules;
the update's forwards go through the wrappers :meth:`DataParallel.forward_module` returns:

- **DDP** (the default): every trained module (policy, value head, critic) is wrapped in
  ``torch.nn.parallel.DistributedDataParallel``, which all-reduces gradients in buckets while
  the backward pass runs; micro-batches before the last of a minibatch skip the reduction
  (``no_sync``).
- **FSDP2** (``fsdp=true``): the policy's transformer blocks, then the policy, value head and
  critic, are sharded with ``torch.distributed.fsdp.fully_shard``; parameters are
  ``DTensor`` shards, gathered layer by layer for each forward. Every forward is then a
  collective, so the rollout runs the same number of decoding steps on every rank. Needs
  the gloo (CPU) or NCCL (CUDA) backend and torch >= 2.6.

The losses are token means over the global minibatch and advantages are whitened over every
rank's tokens (:func:`global_masked_whiten`), so ``world_size`` ranks of ``B`` episodes make
the same update as one process with ``world_size * B``.
"""

from __future__ import annotations

import contextlib
import copy
import gc
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from textgym_agents.checkpoint import LoadedCheckpoint
from textgym_agents.distributed import DistributedContext

#: the process-group backends FSDP2 runs on
FSDP_BACKENDS = ("gloo", "nccl")


def global_masked_whiten(values: torch.Tensor, mask: torch.Tensor, context: DistributedContext,
                         eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit variance over the entries where ``mask`` is True on every rank (others set to 0)."""
    f = mask.to(values.dtype)
    sums = context.all_reduce_sum(torch.stack([(values * f).sum(), f.sum()]))
    count = sums[1].clamp(min=1)
    mean = sums[0] / count
    var = context.all_reduce_sum(((values - mean) ** 2 * f).sum()) / count
    return (values - mean) * torch.rsqrt(var + eps) * f


def check_fsdp_backend(context: DistributedContext) -> None:
    """Raise a clear error where FSDP2 cannot run: one process, an unsupported backend, an old torch."""
    if not context.enabled:
        raise ValueError(
            "fsdp=true shards the model over data-parallel ranks: launch with "
            "torchrun --nproc_per_node N -m textgym_agents.distributed ... (one process has nothing to shard over)"
        )
    import torch.distributed as dist

    backend = str(dist.get_backend())
    if backend not in FSDP_BACKENDS:
        raise ValueError(f"fsdp=true needs the process-group backend to be one of {list(FSDP_BACKENDS)}; this run uses "
                         f"{backend!r}: use DDP (fsdp=false)")
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        raise ValueError(f"fsdp=true needs torch.distributed.fsdp.fully_shard (torch >= 2.6); this torch is "
                         f"{torch.__version__}: use DDP (fsdp=false)") from None


def shard_blocks(model: torch.nn.Module) -> None:
    """``fully_shard`` each transformer block (the classes the model lists in ``_no_split_modules``), then the model."""
    from torch.distributed.fsdp import fully_shard

    block_names = set(getattr(model, "_no_split_modules", None) or [])
    for module in list(model.modules()):
        if module is not model and type(module).__name__ in block_names:
            fully_shard(module)
    fully_shard(model)


@dataclass(frozen=True)
class GatheredState:
    """Under FSDP2, rank 0's whole copy (on the CPU) of what the ranks hold in shards, gathered at the end of every
    ``learn`` chunk for what rank 0 alone does: checkpoints and the export."""

    #: per checkpointed model (``policy``, ``value_head``, ``critic``): its whole weights (LoRA: the policy's adapters)
    weights: dict[str, dict[str, torch.Tensor]]
    #: the whole optimizer state (``get_optimizer_state_dict`` with ``full_state_dict``)
    optimizer: dict[str, Any]


class DataParallel:
    """The wrappers of an LM agent's trained modules, and what the update does differently under them.

    Under FSDP2 it also holds rank 0's whole copies of the sharded state (:attr:`gathered`, refreshed by
    :meth:`gather`) and the unsharded CPU copy of the policy that rank 0 evaluates and exports
    (:attr:`evaluation_policy`); on the other ranks, and without FSDP2, both are ``None``.
    """

    def __init__(self, context: DistributedContext, device: torch.device, fsdp: bool = False) -> None:
        self.context, self.device, self.fsdp = context, device, fsdp
        self.wrappers: dict[int, torch.nn.Module] = {}
        self.evaluation_policy: torch.nn.Module | None = None
        self.gathered: GatheredState | None = None

    def keep_evaluation_copy(self, policy: torch.nn.Module) -> None:
        """Under FSDP2, on rank 0: keep an unsharded CPU copy of ``policy`` (call before :meth:`wrap` shards it),
        which :meth:`gather` loads with the trained weights."""
        if self.fsdp and self.context.is_main:
            self.evaluation_policy = copy.deepcopy(policy).cpu()

    def wrap(self, modules: Iterable[torch.nn.Module]) -> None:
        """Wrap ``modules`` for data-parallel training (nothing in one process)."""
        modules = list(modules)
        if self.fsdp:
            check_fsdp_backend(self.context)
            for module in modules:
                shard_blocks(module)
            return
        if not self.context.enabled:
            return
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        for module in modules:
            if any(p.requires_grad for p in module.parameters()):
                self.wrappers[id(module)] = DistributedDataParallel(module, device_ids=device_ids)

    def close(self) -> None:
        """Drop the DDP wrappers (their reducers hold the process group) and collect the garbage, so that what
        holds the process group is freed before the process ends. Under FSDP2 the agent drops its sharded modules
        and optimizer before calling this."""
        self.wrappers.clear()
        gc.collect()

    def forward_module(self, module: torch.nn.Module) -> torch.nn.Module:
        """What the update calls to run ``module``: its DDP wrapper, or the (sharded or plain) module itself."""
        return self.wrappers.get(id(module), module)

    @contextlib.contextmanager
    def sync_gradients(self, sync: bool) -> Iterator[None]:
        """With ``sync=False`` the backward passes inside accumulate gradients without reducing them (DDP ``no_sync``;
        FSDP2 reduces at every backward)."""
        if sync or not self.wrappers:
            yield
            return
        with contextlib.ExitStack() as stack:
            for wrapper in self.wrappers.values():
                stack.enter_context(wrapper.no_sync())
            yield

    # -- FSDP2: what rank 0 alone does (evaluate, save, export) needs whole tensors ----------------------------

    def gather(self, modules: Mapping[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
               container: torch.nn.Module, policy_weights: Collection[str] | None = None) -> None:
        """At the end of every ``learn`` chunk, on every rank: under FSDP2, gather the whole weights of ``modules``
        (the checkpointed models by name, ``"policy"`` among them) and the whole state of ``optimizer`` (whose
        parameters are those of ``container``) into rank 0's CPU memory (:attr:`gathered`; collectives), and load
        the policy's into rank 0's :attr:`evaluation_policy`, since the driver evaluates, checkpoints and exports
        on rank 0 alone. ``policy_weights``: the names of the policy's weights to keep (LoRA: its adapters);
        ``None``: all of them. Nothing without FSDP2."""
        if not self.fsdp:
            return
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
            get_optimizer_state_dict,
        )

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        weights = {}
        for key, module in modules.items():
            full = get_model_state_dict(module, options=options)
            if key == "policy" and policy_weights is not None:
                full = {name: full[name] for name in policy_weights}
            weights[key] = full
        optimizer_state = get_optimizer_state_dict(container, optimizer, options=options)
        if self.context.is_main:
            self.evaluation_policy.load_state_dict(weights["policy"], strict=policy_weights is None)
            self.gathered = GatheredState(weights, optimizer_state)

    def load_module(self, checkpoint: LoadedCheckpoint, key: str, module: torch.nn.Module) -> None:
        """Load whole weights from ``checkpoint`` into ``module`` (under FSDP2: into its shards, on every rank)."""
        if not self.fsdp:
            checkpoint.load_module(key, module)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        weights = checkpoint.weights(key)
        set_model_state_dict(module, weights, options=StateDictOptions(full_state_dict=True, strict=True))

    def load_optimizer(self, optimizer: torch.optim.Optimizer, state: dict, container: torch.nn.Module) -> None:
        """Restore the optimizer state a checkpoint holds (under FSDP2 the whole state, sharded again over the
        parameters of ``container``)."""
        if not self.fsdp:
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(container, optimizer, state, options=StateDictOptions(full_state_dict=True))
