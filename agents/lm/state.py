"""An LM agent's state between two ``learn`` chunks: checkpoints, random streams, and the exported policy.

Checkpoints (after every evaluation chunk; never on Ctrl-C, see :mod:`textgym_agents.train`) hold
the trained weights (the policy, or under LoRA its adapters only; value head; critic) and any
algorithm-specific model (NLPO's mask policy) as safetensors, the name or path of the base
model they start from, never the frozen reference (each run rebuilds it), the optimizer state,
every rank's sampling and shuffling generator states and environment ``np_random`` state, the
global RNG states, the KL coefficient and the update counter. That is the whole state between
two chunks: every ``learn`` ends with an update, and each rollout round resets every row of
the environment, so no episode is left unfinished. ``--resume`` continues exactly: a run
interrupted at any moment and resumed writes the same ``metrics.csv`` as an uninterrupted one
(``tests/test_resume.py``).

This module knows the files, not the agent: :func:`save`, :func:`load` and
:func:`export_policy` take what they write or restore as arguments (the modules by name, the
optimizer, the :class:`RandomStreams`, a :class:`CheckpointOwner`, the :class:`Progress`
counters), and :class:`~textgym_agents.lm.base.LMAgent` passes its own.

Export: with every checkpoint the run folder gets the policy as a Hugging Face model and,
for agents with one, the value head beside it::

    DIR/policy/                   save_pretrained of the policy LM (config.json, model.safetensors,
                                  generation_config.json) and of its tokenizer
    DIR/value_head.safetensors    the value head, a torch.nn.Linear(in_features, 1): weight, bias
    DIR/value_head.json           in_features, out_features, whose hidden states it reads ("policy"
                                  or "critic"), env_steps

Under LoRA, ``DIR/policy`` holds the policy with its adapters merged into the base weights
(``lora_export="merged"``, a plain Hugging Face model) or the adapter folder that peft writes
(``lora_export="adapter"``: ``adapter_config.json`` naming the base model, and
``adapter_model.safetensors``; transformers loads it when peft is installed).
``AutoModelForCausalLM.from_pretrained("DIR/policy")`` loads it, and ``gym.make(ID,
model="DIR/policy")`` makes the task with the trained policy as its model. On
symbol-vocabulary tasks the tokenizer saved is the task's own vocabulary as a Hugging Face
fast tokenizer with the same ids. The export reads the weights and draws no random numbers.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textgym_agents.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    atomic_save_file,
    atomic_write_text,
    replace_folder_atomically,
    rng_state,
    save_checkpoint,
    set_rng_state,
    torch_rng_tensors,
)
from textgym_agents.lm.models import hf_tokenizer_of, no_progress_bars
from textgym_agents.lm.parallel import DataParallel

#: the run folder's exports, written beside ``checkpoints/``
POLICY_FOLDER = "policy"
VALUE_HEAD_FILE = "value_head.safetensors"
VALUE_HEAD_INFO = "value_head.json"
#: rank r seeds its environment and generators with ``seed + r * RANK_SEED_STRIDE``
RANK_SEED_STRIDE = 100_003


@dataclass(frozen=True)
class RandomStreams:
    """One rank's random streams: the token-sampling and minibatch-shuffling generators, the env's prompt draws."""

    sample: torch.Generator
    shuffle: torch.Generator
    env: np.random.Generator

    def state(self) -> dict[str, Any]:
        """Their states (``sample``, ``shuffle``: tensors; ``env``: the bit generator's state)."""
        return {"sample": self.sample.get_state(), "shuffle": self.shuffle.get_state(),
                "env": self.env.bit_generator.state}


@dataclass(frozen=True)
class CheckpointOwner:
    """Which run writes or loads a checkpoint: a checkpoint of another agent, LoRA setting or world size is refused,
    and each rank restores its own random streams."""

    agent: str
    lora: bool
    world_size: int
    rank: int = 0


@dataclass(frozen=True)
class Progress:
    """The counters a checkpoint restores besides the weights and random streams."""

    updates: int
    kl_coef: float
    env_steps: int


def save(folder: Path, owner: CheckpointOwner, progress: Progress, weights: Mapping[str, Any],
         optimizer_state: dict[str, Any], rank_states: list[dict[str, Any]], config: Any, base_model: str) -> Path:
    """Write a checkpoint into ``folder``; returns its path.

    Args:
        weights: per model (``policy``, ``value_head``, ``critic``, ``mask_policy``...): the module, or its weights
            (under LoRA the policy's adapters only).
        optimizer_state: the optimizer's whole state.
        rank_states: every rank's :meth:`RandomStreams.state`, in rank order.
        config: the agent's config dataclass (written as a dict).
        base_model: the name or path of the model the weights start from.
    """
    tensors = {
        "optimizer": optimizer_state,
        **torch_rng_tensors(),
        "generators": [{"sample": s["sample"], "shuffle": s["shuffle"]} for s in rank_states],
    }
    state = {
        "agent": owner.agent,
        "updates": progress.updates,
        "kl_coef": progress.kl_coef,
        "world_size": owner.world_size,
        "env_rng": [s["env"] for s in rank_states],
        "rng": rng_state(),
        "config": dataclasses.asdict(config),
        "base_model": str(base_model),
        "lora": owner.lora,
    }
    return save_checkpoint(folder, progress.env_steps, dict(weights), tensors, state)


def load_trainable(checkpoint: LoadedCheckpoint, key: str, module: Any) -> None:
    """Load the trainable weights of ``module`` (a LoRA model's adapters) from ``checkpoint``; the others stay."""
    weights = checkpoint.weights(key)
    trainable = {name: p for name, p in module.named_parameters() if p.requires_grad}
    if set(weights) != set(trainable):
        missing, unexpected = sorted(set(trainable) - set(weights)), sorted(set(weights) - set(trainable))
        raise CheckpointError(
            f"checkpoint {checkpoint.path}: {key} weights do not match this model's trainable ones "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was it written with other lora settings?"
        )
    for name, parameter in trainable.items():
        if weights[name].shape != parameter.shape:
            raise CheckpointError(f"checkpoint {checkpoint.path}: {key}.{name} has shape {tuple(weights[name].shape)}, "
                                  f"this model's is {tuple(parameter.shape)}")
        with torch.no_grad():
            parameter.copy_(weights[name].to(parameter.dtype))


def load(checkpoint: LoadedCheckpoint, owner: CheckpointOwner, modules: Mapping[str, torch.nn.Module],
         streams: RandomStreams, optimizer: torch.optim.Optimizer, container: torch.nn.Module,
         parallel: DataParallel) -> Progress:
    """Restore what :func:`save` wrote into ``modules`` (by name; under LoRA the policy's adapters only),
    ``optimizer`` (over the parameters of ``container``, through ``parallel``), this rank's ``streams`` and the
    global random states; returns the counters for the agent to set. A checkpoint of another agent, LoRA setting
    or world size is a clear error."""
    state = checkpoint.state
    if state.get("agent") != owner.agent:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was written by agent {state.get('agent')!r}, not {owner.agent!r}"
        )
    if bool(state.get("lora", False)) != owner.lora:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was written with lora={state.get('lora', False)}; this run has "
            f"lora={owner.lora}"
        )
    for key, module in modules.items():
        if key == "policy" and owner.lora:
            load_trainable(checkpoint, key, module)
        else:
            parallel.load_module(checkpoint, key, module)
    try:
        parallel.load_optimizer(optimizer, checkpoint.tensors("optimizer"), container)
    except (ValueError, KeyError, RuntimeError) as error:
        raise CheckpointError(
            f"checkpoint {checkpoint.path}: optimizer state does not match this model ({error})"
        ) from None
    written_by = int(state.get("world_size", 1))
    if written_by != owner.world_size:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was written by {written_by} data-parallel process(es); this run "
            f"has world size {owner.world_size}: resume with the same number of processes"
        )
    generators = checkpoint.tensors("generators")
    updates = int(state["updates"])
    if owner.rank < len(generators):
        try:
            streams.sample.set_state(generators[owner.rank]["sample"])
            streams.shuffle.set_state(generators[owner.rank]["shuffle"])
            streams.env.bit_generator.state = state["env_rng"][owner.rank]
        except (RuntimeError, ValueError, TypeError, KeyError) as error:
            raise CheckpointError(f"checkpoint {checkpoint.path}: random-number state is damaged ({error})") from None
    elif updates > 0:  # before the first update every rank's streams are still their seeded start
        raise CheckpointError(
            f"checkpoint {checkpoint.path} holds {len(generators)} rank(s)' random state; "
            f"this run has world size {owner.world_size}: resume with the same number of processes"
        )
    set_rng_state(state["rng"], None)
    checkpoint.set_torch_rng_state()
    return Progress(updates=updates, kl_coef=float(state["kl_coef"]), env_steps=checkpoint.env_steps)


def export_tokenizer(env_tokenizer: Any, model_config: Any) -> Any:
    """A Hugging Face tokenizer with the ids of the env's :class:`~textgym.models.tokenizer.TextTokenizer`, for a
    policy that came without one (a symbol-vocabulary task's): its context length is the model's."""
    from textgym.models.loader import model_context_length

    return hf_tokenizer_of(env_tokenizer, model_context_length(model_config))


def exported_model(model: Any, lora_export: str | None) -> Any:
    """The model ``DIR/policy`` holds: ``model``; under LoRA (``lora_export`` ``"merged"`` or ``"adapter"``, ``None``
    without LoRA) a merged copy or the adapter model itself (see the module docstring)."""
    if lora_export == "merged":
        return copy.deepcopy(model).merge_and_unload()
    return model


@dataclass(frozen=True)
class ValueHeadExport:
    """What :func:`export_policy` writes of a value head: its weights and what rebuilds it."""

    weights: Mapping[str, torch.Tensor]  # weight [out_features, in_features], bias [out_features]
    in_features: int
    out_features: int
    reads: str  # whose last hidden states it maps to values: "policy" (in policy/) or "critic" (in the checkpoints)
    env_steps: int


def export_policy(folder: Path, model: Any, tokenizer: Any, lora_export: str | None = None,
                  value_head: ValueHeadExport | None = None) -> Path:
    """Write ``model`` as a Hugging Face model to ``folder/policy`` and ``value_head`` (if any) beside it.

    ``folder/policy`` holds ``save_pretrained`` of :func:`exported_model` (``model``, or under
    LoRA what ``lora_export`` says) and of ``tokenizer``, written into a temporary sibling and
    swapped in (an older ``folder/policy`` is replaced, never left half-written);
    ``folder/value_head.safetensors`` holds the value head's ``weight`` ``[1, in_features]`` and
    ``bias`` ``[1]`` and ``folder/value_head.json`` what rebuilds it. Only reads the weights: no
    random numbers are drawn and no state changes. Returns ``folder/policy``.
    """
    folder = Path(folder)

    def write(tmp: Path) -> None:
        with no_progress_bars():
            exported_model(model, lora_export).save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)

    policy = replace_folder_atomically(folder / POLICY_FOLDER, write)
    if value_head is not None:
        atomic_save_file(dict(value_head.weights), folder / VALUE_HEAD_FILE)
        info = {
            "module": "torch.nn.Linear",
            "in_features": value_head.in_features,
            "out_features": value_head.out_features,
            # the LM whose last hidden state at a state's position the head maps to that state's value:
            # the policy (in policy/), or the separate critic (whose weights only the checkpoints hold)
            "reads": value_head.reads,
            "env_steps": value_head.env_steps,
        }
        atomic_write_text(folder / VALUE_HEAD_INFO, json.dumps(info, indent=2) + "\n")
    return policy
