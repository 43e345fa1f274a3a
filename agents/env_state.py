"""The state of a batched environment mid-episode, saved in a checkpoint and restored by replay.

A :class:`~textgym.envs.vector.TextGenVectorEnv` with same-step autoreset (the env of the
SB3 agents and of the random agent) is, between two steps, a set of unfinished episodes:
each row's prompt and the tokens generated so far. Its scorer carries per-row state that
cannot be written to disk as plain data (incremental decoders, a task's incremental scorer
such as VADER's, a reward model's cache), but which is a function of the row's prompt and
tokens alone. So the checkpoint holds the rows' tokens, and :func:`restore_env_state`
rebuilds the env by replaying them through a fresh env of the same configuration: every
row is reset on its own prompt (``reset(options={"prompt_index": ...})`` draws nothing
from the env's RNG) and fed its tokens, rows with fewer tokens starting later so that all
of them finish together. The env's ``np_random`` state (the prompt draws of the episodes to
come; each row's own generator after ``reset(seed=[...])``) is then set to the saved one,
and the rebuilt state is checked against the saved arrays and scores.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from textgym_agents.checkpoint import CheckpointError

#: the env's state arrays (public tensor views) written to the checkpoint
STATE_ARRAYS = ("input_ids", "attention_mask", "positions", "num_generated", "prompt_indices")


def env_state(env) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, json_data)`` that :func:`restore_env_state` turns a fresh env into ``env`` with.

    ``env`` must have been reset at least once.
    """
    _check_same_step(env)
    tensors = {name: getattr(env, name).detach().cpu().clone() for name in STATE_ARRAYS}
    tensors["scores"] = env.scores.detach().cpu().to(torch.float64).clone()
    data: dict[str, Any] = {"np_random": env.np_random.bit_generator.state}
    row_generators = getattr(env, "_row_generators", None)  # after reset(seed=[...]): one generator per row
    if row_generators is not None:
        data["row_generators"] = [g.bit_generator.state for g in row_generators]
    return tensors, data


def restore_env_state(env, tensors: dict[str, torch.Tensor], state: dict[str, Any], where: str) -> None:
    """Replay the saved episodes into ``env`` (freshly made, same configuration) and set its RNG.

    Raises:
        CheckpointError: the saved state does not fit this env, or the replay does not
            rebuild the saved token arrays.
    """
    _check_same_step(env)
    n = env.num_envs
    try:
        saved = {name: tensors[name].to(torch.int64).numpy() for name in STATE_ARRAYS}
        scores = tensors["scores"].to(torch.float64)
    except KeyError as error:
        raise CheckpointError(f"{where}: the environment state lacks {error}") from None
    if saved["input_ids"].shape != tuple(env.input_ids.shape) or saved["prompt_indices"].shape != (n,):
        raise CheckpointError(
            f"{where}: the environment state is for {saved['prompt_indices'].shape[0]} rows of width "
            f"{saved['input_ids'].shape[1:]}, this env has {n} of width {tuple(env.input_ids.shape[1:])}"
        )
    prompts, lengths, positions = saved["prompt_indices"], saved["num_generated"], saved["positions"]
    starts_at = positions - lengths  # each row's first generated column
    longest = int(lengths.max()) if n else 0
    first_step = longest - lengths  # replay step at which each row's episode starts
    vocab = int(env.vocab_size)
    filler = 1 % vocab if env.tokenizer.eos_token_id == 0 else 0  # fed to rows before their episode starts
    rows = np.arange(n)
    env.reset(options={"prompt_index": prompts})  # every row at once (the first reset must cover all)
    for t in range(longest):
        starting = first_step == t
        if t > 0 and starting.any():
            env.reset(options={"reset_mask": starting, "prompt_index": prompts[starting]})
        live = t >= first_step
        columns = np.where(live, starts_at + t - first_step, 0)
        actions = np.where(live, saved["input_ids"][rows, columns], filler)
        env.step(actions.astype(np.int64))
    idle = first_step == longest  # rows with no token yet: (re)start them on their prompt last
    if longest > 0 and idle.any():
        env.reset(options={"reset_mask": idle, "prompt_index": prompts[idle]})
    try:
        env.np_random.bit_generator.state = state["np_random"]
        if state.get("row_generators") is not None:
            env._row_generators = [_generator(s) for s in state["row_generators"]]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{where}: the environment's RNG state is missing or damaged ({error})") from None
    for name in STATE_ARRAYS:
        if not np.array_equal(getattr(env, name).cpu().numpy(), saved[name]):
            raise CheckpointError(f"{where}: replaying the saved episodes did not rebuild the environment's {name}")
    if not torch.equal(env.scores.detach().cpu().to(torch.float64), scores):
        warnings.warn(f"{where}: the replayed episodes score differently from the saved ones (a nondeterministic "
                      f"scorer?); the resumed run continues but may not match an uninterrupted one", stacklevel=2)


def _generator(state: dict[str, Any]) -> np.random.Generator:
    generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
    generator.bit_generator.state = state
    return generator


def _check_same_step(env) -> None:
    from gymnasium.vector import AutoresetMode

    if env.autoreset_mode != AutoresetMode.SAME_STEP:
        raise ValueError(f"env_state: only same-step autoreset envs are saved mid-episode, got {env.autoreset_mode}")
