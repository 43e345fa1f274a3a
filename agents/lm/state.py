"""An LM agent's state between two ``learn`` chunks: checkpoints, random streams, and the exported policy.

Checkpoints (after every evaluation chunk; never on Ctrl-C, see :mod:`textgym_agents.train`) hold
the trained weights (the policy, or under LoRA its adapters only; value head; critic) and any
algorithm-specific model (NLPO's mask policy) as safetensors, the name or path of the base
model they start from, never the frozen reference (each run rebuilds it), the optimizer state, every rank's sampling and shuffling generator
states and environment ``np_random`` state, the global RNG states, the KL coefficient and
the update counter. That is the whole state between two chunks: every ``learn`` ends with an
update, and each rollout round resets every row of the environment, so no episode is left
unfinished. ``--resume`` continues exactly: a run interrupted at any moment and resumed
writes the same ``metrics.csv`` as an uninterrupted one (``tests/test_resume.py``).

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from textgym_agents.lm.base import LMAgent

#: the run folder's exports, written beside ``checkpoints/``
POLICY_FOLDER = "policy"
VALUE_HEAD_FILE = "value_head.safetensors"
VALUE_HEAD_INFO = "value_head.json"
#: rank r seeds its environment and generators with ``seed + r * RANK_SEED_STRIDE``
RANK_SEED_STRIDE = 100_003


def random_state(agent: LMAgent) -> dict[str, Any]:
    """This rank's random streams: sampling and shuffling generators, the env's prompt draws."""
    return {"sample": agent.sample_generator.get_state(), "shuffle": agent.shuffle_generator.get_state(),
            "env": agent.env.np_random.bit_generator.state}


def save(agent: LMAgent, folder: Path) -> Path:
    """Export the policy into ``folder``'s parent (the run folder), then write a checkpoint into ``folder``.

    The export comes first: ``DIR/policy`` is never older than the newest checkpoint, and a run
    resumed from a checkpoint redoes, and so rewrites, anything exported after it.
    """
    export_policy(agent, Path(folder).parent)
    rank_states = agent.rank_states if agent.dist.enabled and agent.rank_states is not None else [random_state(agent)]
    tensors = {
        "optimizer": agent.gathered["optimizer"] if agent.gathered is not None else agent.optimizer.state_dict(),
        **torch_rng_tensors(),
        "generators": [{"sample": s["sample"], "shuffle": s["shuffle"]} for s in rank_states],
    }
    state = {
        "agent": agent.name,
        "updates": agent.updates,
        "kl_coef": agent.kl_controller.value,
        "world_size": agent.dist.world_size,
        "env_rng": [s["env"] for s in rank_states],
        "rng": rng_state(),
        "config": dataclasses.asdict(agent.config),
        "base_model": str(agent.base_model),
        "lora": agent.config.lora,
    }
    return save_checkpoint(folder, agent.env_steps, checkpoint_weights(agent), tensors, state)


def checkpoint_weights(agent: LMAgent) -> dict[str, Any]:
    """What a checkpoint stores per model: the module, or under LoRA the policy's trainable weights only
    (under FSDP2 the whole tensors gathered at the end of the last ``learn``)."""
    if agent.gathered is not None:
        return agent.gathered["weights"]
    return {key: agent.trainable_weights(module) if key == "policy" and agent.config.lora else module
            for key, module in agent.checkpoint_modules().items()}


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


def load(agent: LMAgent, checkpoint: LoadedCheckpoint) -> None:
    """Restore what :func:`save` wrote; a checkpoint of another agent or world size is a clear error."""
    state = checkpoint.state
    if state.get("agent") != agent.name:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was written by agent {state.get('agent')!r}, not {agent.name!r}"
        )
    if bool(state.get("lora", False)) != agent.config.lora:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was written with lora={state.get('lora', False)}; this run has "
            f"lora={agent.config.lora}"
        )
    for key, module in agent.checkpoint_modules().items():
        if key == "policy" and agent.config.lora:
            load_trainable(checkpoint, key, module)
        else:
            agent.parallel.load_module(checkpoint, key, module)
    try:
        agent.parallel.load_optimizer(agent.optimizer, checkpoint.tensors("optimizer"), agent.trained_container)
    except (ValueError, KeyError, RuntimeError) as error:
        raise CheckpointError(
            f"checkpoint {checkpoint.path}: optimizer state does not match this model ({error})"
        ) from None
    written_by = int(state.get("world_size", 1))
    if written_by != agent.dist.world_size:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was written by {written_by} data-parallel process(es); this run "
            f"has world size {agent.dist.world_size}: resume with the same number of processes"
        )
    generators = checkpoint.tensors("generators")
    updates = int(state["updates"])
    rank = agent.dist.rank
    if rank < len(generators):
        try:
            agent.sample_generator.set_state(generators[rank]["sample"])
            agent.shuffle_generator.set_state(generators[rank]["shuffle"])
            agent.env.np_random.bit_generator.state = state["env_rng"][rank]
        except (RuntimeError, ValueError, TypeError, KeyError) as error:
            raise CheckpointError(f"checkpoint {checkpoint.path}: random-number state is damaged ({error})") from None
    elif updates > 0:  # before the first update every rank's streams are still their seeded start
        raise CheckpointError(
            f"checkpoint {checkpoint.path} holds {len(generators)} rank(s)' random state; "
            f"this run has world size {agent.dist.world_size}: resume with the same number of processes"
        )
    set_rng_state(state["rng"], None)
    checkpoint.set_torch_rng_state()
    agent.kl_controller.value = float(state["kl_coef"])
    agent.updates = updates
    agent.restore_env_steps(checkpoint.env_steps)


def export_tokenizer(agent: LMAgent) -> Any:
    """The tokenizer saved with the policy: the model's Hugging Face tokenizer, else one built from the env's."""
    if agent.hf_tokenizer is None:
        from textgym.models.loader import model_context_length

        agent.hf_tokenizer = hf_tokenizer_of(agent.env.tokenizer, model_context_length(agent.policy_model.config))
    return agent.hf_tokenizer


def exported_model(agent: LMAgent) -> Any:
    """The model ``DIR/policy`` holds: the policy; under LoRA a merged copy or the adapter model (see the module
    docstring); under FSDP2 rank 0's copy gathered at the end of the last ``learn``."""
    model = agent.gathered["policy"] if agent.gathered is not None else agent.policy_model
    if agent.config.lora and agent.config.lora_export == "merged":
        return copy.deepcopy(model).merge_and_unload()
    return model


def export_policy(agent: LMAgent, folder: Path) -> Path:
    """Write the policy as a Hugging Face model to ``folder/policy`` and the value head (if any) beside it.

    ``folder/policy`` holds ``save_pretrained`` of the policy LM and of :func:`export_tokenizer`,
    written into a temporary sibling and swapped in (an older ``folder/policy`` is replaced,
    never left half-written); ``folder/value_head.safetensors`` holds the value head's
    ``weight`` ``[1, in_features]`` and ``bias`` ``[1]`` and ``folder/value_head.json`` what
    rebuilds it. Only reads the weights: no random numbers are drawn and no state changes.
    Returns ``folder/policy``.
    """
    folder = Path(folder)
    tokenizer = export_tokenizer(agent)

    def write(tmp: Path) -> None:
        with no_progress_bars():
            exported_model(agent).save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)

    policy = replace_folder_atomically(folder / POLICY_FOLDER, write)
    if agent.value_head is not None:
        head = agent.gathered["weights"]["value_head"] if agent.gathered is not None else agent.value_head.state_dict()
        atomic_save_file(dict(head), folder / VALUE_HEAD_FILE)
        info = {
            "module": "torch.nn.Linear",
            "in_features": agent.value_head.in_features,
            "out_features": agent.value_head.out_features,
            # the LM whose last hidden state at a state's position the head maps to that state's value:
            # the policy (in policy/), or the separate critic (whose weights only the checkpoints hold)
            "reads": "critic" if agent.critic is not None else "policy",
            "env_steps": agent.env_steps,
        }
        atomic_write_text(folder / VALUE_HEAD_INFO, json.dumps(info, indent=2) + "\n")
    return policy
