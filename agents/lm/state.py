"""An LM agent's state between two ``learn`` chunks: checkpoints, random streams, and the exported policy.

Checkpoints (after every evaluation chunk; never on Ctrl-C, see :mod:`agents.train`) hold
the policy, value head, critic, reference and any algorithm-specific model (NLPO's mask
policy) as safetensors, the optimizer state, every rank's sampling and shuffling generator
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

``AutoModelForCausalLM.from_pretrained("DIR/policy")`` loads it, and ``gym.make(ID,
model="DIR/policy")`` makes the task with the trained policy as its model. On
symbol-vocabulary tasks the tokenizer saved is the task's own vocabulary as a Hugging Face
fast tokenizer with the same ids. The export reads the weights and draws no random numbers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.checkpoint import (CheckpointError, LoadedCheckpoint, atomic_save_file, atomic_write_text,
                               replace_folder_atomically, rng_state, save_checkpoint, set_rng_state, torch_rng_tensors)
from agents.lm.models import hf_tokenizer_of, no_progress_bars

if TYPE_CHECKING:
    from agents.lm.base import LMAgent

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
        "optimizer": agent.optimizer.state_dict(),
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
    }
    return save_checkpoint(folder, agent.env_steps, agent.checkpoint_modules(), tensors, state)


def load(agent: LMAgent, checkpoint: LoadedCheckpoint) -> None:
    """Restore what :func:`save` wrote; a checkpoint of another agent or world size is a clear error."""
    state = checkpoint.state
    if state.get("agent") != agent.name:
        raise CheckpointError(f"checkpoint {checkpoint.path} was written by agent {state.get('agent')!r}, not {agent.name!r}")
    for key, module in agent.checkpoint_modules().items():
        checkpoint.load_module(key, module)
    try:
        agent.optimizer.load_state_dict(checkpoint.tensors("optimizer"))
    except (ValueError, KeyError, RuntimeError) as error:
        raise CheckpointError(f"checkpoint {checkpoint.path}: optimizer state does not match this model ({error})") from None
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
        raise CheckpointError(f"checkpoint {checkpoint.path} holds {len(generators)} rank(s)' random state; "
                              f"this run has world size {agent.dist.world_size}: resume with the same number of processes")
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
            agent.policy_model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)

    policy = replace_folder_atomically(folder / POLICY_FOLDER, write)
    if agent.value_head is not None:
        atomic_save_file(dict(agent.value_head.state_dict()), folder / VALUE_HEAD_FILE)
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
