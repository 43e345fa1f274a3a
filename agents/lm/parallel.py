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
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import torch

from textgym_agents.distributed import DistributedContext

if TYPE_CHECKING:
    from textgym_agents.lm.base import LMAgent

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


class DataParallel:
    """The wrappers of an LM agent's trained modules, and what the update does differently under them."""

    def __init__(self, context: DistributedContext, device: torch.device, fsdp: bool = False) -> None:
        self.context, self.device, self.fsdp = context, device, fsdp
        self.wrappers: dict[int, torch.nn.Module] = {}

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

    def close(self, agent: LMAgent) -> None:
        """Drop what holds the process group (DDP's reducers; FSDP2's sharded modules and optimizer), which must be
        freed before the process ends."""
        self.wrappers.clear()
        if self.fsdp:
            for name in ("policy_model", "reference", "critic", "value_head", "trained_container", "optimizer"):
                setattr(agent, name, None)
        import gc

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

    def after_learn(self, agent: LMAgent) -> None:
        """At the end of every ``learn`` chunk, on every rank: under FSDP2, gather the whole weights and optimizer
        state (collectives) into rank 0's CPU memory, and load the weights into rank 0's unsharded evaluation copy
        of the policy, since the driver evaluates, checkpoints and exports on rank 0 alone."""
        if not self.fsdp:
            return
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
            get_optimizer_state_dict,
        )

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        weights = {}
        for key, module in agent.checkpoint_modules().items():
            full = get_model_state_dict(module, options=options)
            if key == "policy" and agent.config.lora:
                full = {name: full[name] for name in agent.lora_names}
            weights[key] = full
        optimizer = get_optimizer_state_dict(agent.trained_container, agent.optimizer, options=options)
        if self.context.is_main:
            policy = agent.eval_policy
            policy.load_state_dict(weights["policy"], strict=not agent.config.lora)
            agent.gathered = {"weights": weights, "optimizer": optimizer, "policy": policy}

    def load_module(self, checkpoint, key: str, module: torch.nn.Module) -> None:
        """Load whole weights from ``checkpoint`` into ``module`` (under FSDP2: into its shards, on every rank)."""
        if not self.fsdp:
            checkpoint.load_module(key, module)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        weights = checkpoint.weights(key)
        set_model_state_dict(module, weights, options=StateDictOptions(full_state_dict=True, strict=True))

    def load_optimizer(
        self, optimizer: torch.optim.Optimizer, state: dict, agent_container: torch.nn.Module | None
    ) -> None:
        """Restore the optimizer state a checkpoint holds (under FSDP2 the whole state, sharded again)."""
        if not self.fsdp:
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(agent_container, optimizer, state, options=StateDictOptions(full_state_dict=True))
