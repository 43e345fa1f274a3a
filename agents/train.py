"""The training driver: evaluate, learn, checkpoint, resume.

One loop, :class:`Training`, trains every agent in every setting: ``textgym train`` (through the
Python API, :mod:`textgym_agents.api`), :func:`train` (the same, as one function call) and
each rank of a data-parallel run (:mod:`textgym_agents.distributed`), where rank 0 evaluates
and writes and the other ranks run the same ``learn`` chunks and write nothing.

Every agent is trained the same way: an evaluation at env step 0, then ``learn`` in
chunks, each followed by an evaluation on the eval split (the mean final score, i.e. the
sparse return, in both reward modes) and an atomic checkpoint.

Evaluation points are absolute: a chunk runs up to the next multiple of the eval interval
(:func:`next_evaluation`), wherever the run was started or resumed. An agent whose
``learn`` overshoots (SB3's ``n_steps * num_envs`` rollouts, LM-PPO's whole episodes)
evaluates at the first step count it reaches at or past that multiple, the same in every
run.

Checkpoints are written only at chunk boundaries, after the evaluation, and hold every
piece of state that steers the rest of the run. Ctrl-C or SIGTERM writes nothing: the
state in the middle of a chunk (a partial rollout, an update half applied) cannot be
continued exactly, so the run keeps its last checkpoint and ``--resume`` loads it, drops
the metrics logged after it and redoes the interrupted chunk. A run interrupted at any
moment and resumed therefore writes the same ``metrics.csv`` and ``summary.json`` (but for
the wall time) as one never interrupted, on the CPU; ``--resume`` of a run stopped before
its first checkpoint starts it again from the beginning.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textgym.evaluation import evaluate_episodes
from textgym_agents.base import config_from_dict
from textgym_agents.checkpoint import LoadedCheckpoint, latest_checkpoint
from textgym_agents.registry import AGENTS, agent_class
from textgym_agents.run import RunConfig, RunConfigError, RunDirectory


class TrainingInterrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C: the run stops and keeps its last chunk-boundary checkpoint."""


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or inf; the last good checkpoint is kept."""


def check_run_config(run: RunConfig) -> None:
    import gymnasium as gym

    import textgym  # noqa: F401  (registers the ids)
    from textgym.envs.setup import check_positive_int
    from textgym.rewards import check_reward_mode

    agent_class(run.agent)
    if run.env_id not in gym.registry or not run.env_id.startswith("textgym/"):
        raise RunConfigError(f"unknown env {run.env_id!r}; allowed: {', '.join(textgym.env_ids())}")
    if gym.spec(run.env_id).entry_point == "textgym.conversation.env:ConversationEnv":
        from textgym.conversation.task import check_conversation_reward_mode

        check_conversation_reward_mode(run.reward_mode)  # dense, turn or sparse
    else:
        check_reward_mode(run.reward_mode)
    check_env_kwargs(run.env_kwargs)
    if isinstance(run.steps, bool) or not isinstance(run.steps, int) or run.steps < 0:
        raise RunConfigError(f"--steps must be a non-negative integer, got {run.steps!r}")
    check_positive_int("--num-envs", run.num_envs)
    if run.eval_every < 0:
        raise RunConfigError(f"--eval-every must be >= 0 (0: ten evaluations), got {run.eval_every}")
    from textgym.devices import resolve_device

    resolve_device(run.device)


#: environment arguments that the run sets itself (from its own options), never from env_kwargs
RUN_SET_ENV_ARGUMENTS = {"num_envs": "--num-envs", "reward_mode": "--reward-mode", "device": "--device",
                         "output": None, "autoreset_mode": None, "split": None, "vectorization_mode": None}


def check_env_kwargs(env_kwargs: Any) -> None:
    """Refuse env_kwargs that the batched env does not take, or that the run sets itself, naming the allowed ones."""
    import inspect

    from textgym.envs.vector import TextGenVectorEnv

    if not isinstance(env_kwargs, dict):
        raise RunConfigError(f"env_kwargs must be a dict (a JSON object), got {env_kwargs!r}")
    parameters = [name for name in inspect.signature(TextGenVectorEnv.__init__).parameters if name != "self"]
    allowed = [name for name in parameters if name not in RUN_SET_ENV_ARGUMENTS]
    for name in env_kwargs:
        if name in RUN_SET_ENV_ARGUMENTS:
            option = RUN_SET_ENV_ARGUMENTS[name]
            how = f"use {option}" if option else "the training driver sets it"
            raise RunConfigError(f"env_kwargs {name!r} cannot be given ({how}); allowed: {', '.join(allowed)}")
        if name not in allowed:
            raise RunConfigError(f"unknown env_kwargs {name!r}; allowed: {', '.join(allowed)}")


def next_evaluation(run: RunConfig, env_steps: int) -> int:
    """The env step the chunk starting at ``env_steps`` runs to: the next multiple of the eval interval, at most
    ``run.steps``."""
    interval = run.eval_interval
    return min(run.steps, (env_steps // interval + 1) * interval)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators, as every run does before it builds its agent."""
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed)


class Training:
    """One run in progress: its agent, seeded and resumed as the run asks, and the loop of ``learn`` chunks.

    The one driver of every way to train: :func:`train` (``textgym train``), the Python API
    (:mod:`textgym_agents.api`) and each rank of a data-parallel run (:mod:`textgym_agents.distributed`). Building
    it checks the run, seeds the global generators, builds the agent and, with ``resume``, loads the latest
    checkpoint in ``run.out`` (none yet: from the beginning); :meth:`advance` then runs chunks up to each next
    evaluation point (:func:`next_evaluation`) until ``run.steps``.

    Args:
        run: what to train; ``run.hyperparameters`` is completed with every default.
        resume: continue the run in ``run.out`` from its latest checkpoint.
        writes: this process evaluates and writes the run folder (one process, or rank 0 of a data-parallel run):
            it checks and creates the folder, evaluates at step 0 and after every chunk, logs, checkpoints and
            writes the summary. ``False`` (the other ranks): the same seeding, agent, checkpoint and sequence of
            ``learn`` chunks (whose collectives pair up with rank 0's), and nothing else: no evaluation, no file.
    """

    def __init__(self, run: RunConfig, resume: bool = False, writes: bool = True) -> None:
        check_run_config(run)
        cls = agent_class(run.agent)
        config = config_from_dict(cls.Config, run.hyperparameters, run.agent)
        run.hyperparameters = dataclasses.asdict(config)  # record every value, defaults included
        self.run = run
        self.writes = writes
        self.directory: RunDirectory | None = RunDirectory(run, resume) if writes else None
        seed_everything(run.seed)
        self.agent = cls(run, config)
        #: the evaluations so far (metrics.csv's rows, with their wall_seconds); only where ``writes``
        self.rows: list[dict[str, float]] = []
        #: training time of the run before this object's current chunk loop (a resumed run's, from timing.csv)
        self.wall_seconds = 0.0
        try:
            if self.directory is not None:
                self.directory.create()
            path = latest_checkpoint(Path(run.out) / "checkpoints") if resume else None
            if path is not None:
                self.agent.load(LoadedCheckpoint(path))
            if self.directory is not None and resume:
                # a run stopped before its first checkpoint starts from the beginning: no row is kept
                self.rows = self.directory.keep_metrics_up_to(self.agent.env_steps if path is not None else -1)
                if self.rows and math.isfinite(self.rows[-1]["wall_seconds"]):
                    self.wall_seconds = self.rows[-1]["wall_seconds"]
        except BaseException:
            self.close()
            raise

    def evaluate(self) -> dict[str, float]:
        """One greedy evaluation of the agent as it is now, on the eval split: a row of ``metrics.csv``
        (``env_steps``, ``eval_return``, ``eval_std`` and the naturalness columns)."""
        agent, run = self.agent, self.run
        result = evaluate_episodes(agent.policy, run.env_id, run.env_kwargs, device=agent_device(agent, run))
        return {"env_steps": agent.env_steps, "eval_return": result.mean, "eval_std": result.std,
                **result.naturalness.as_dict()}

    def advance(self, progress: bool = False) -> dict[str, Any] | None:
        """Train up to ``run.steps`` env steps, chunk by chunk; return the summary (``None`` where not ``writes``).

        A run with no evaluation yet starts with one at its current step, and its first checkpoint. Each chunk
        then runs up to the next evaluation point and, where ``writes``, is followed by its logged scalars, an
        evaluation and a checkpoint. Ctrl-C or SIGTERM (:class:`TrainingInterrupted`) stops it with nothing of the
        unfinished chunk saved; a non-finite training scalar raises :class:`NonFiniteLossError`. Either way the
        agent is left in the middle of a chunk: continue from the last checkpoint (``resume``), not from it.
        """
        run, agent, directory = self.run, self.agent, self.directory
        start = time.perf_counter()

        def record() -> None:
            row = self.evaluate()
            row["wall_seconds"] = round(self.wall_seconds + time.perf_counter() - start, 3)
            directory.append_metrics(row)
            self.rows.append(row)

        # the writing process only: a rank blocked in a collective could not run a Python handler, and torchrun
        # stops the other ranks with SIGTERM when one fails
        restore_sigterm = _catch_sigterm() if self.writes else lambda: None
        bar = _progress_bar(progress and self.writes, run.steps, agent.env_steps, run.agent, run.env_id)
        try:
            if directory is not None and not self.rows:
                record()
                agent.save(directory.checkpoints)
            while agent.env_steps < run.steps:
                before = agent.env_steps
                scalars = agent.learn(next_evaluation(run, before) - before)
                if any(not math.isfinite(v) for v in scalars.values()):
                    raise NonFiniteLossError(
                        f"training produced a non-finite value ({scalars}) at env step {agent.env_steps}; "
                        f"the last good checkpoint in {Path(run.out) / 'checkpoints'} is kept"
                    )
                if directory is not None:
                    directory.log_scalars(scalars, agent.env_steps)
                    record()
                    agent.save(directory.checkpoints)
                if bar is not None:
                    bar.update(agent.env_steps - before)
                    bar.set_postfix(eval_return=f"{self.rows[-1]['eval_return']:.3f}")
        finally:  # Ctrl-C or SIGTERM included: nothing of an unfinished chunk is saved
            restore_sigterm()
            if bar is not None:
                bar.close()
            if directory is not None:
                directory.close()  # flush and close TensorBoard on every exit (reopened by the next log)
            self.wall_seconds += time.perf_counter() - start
        if directory is None:
            return None
        return directory.write_summary(agent.env_steps, self.wall_seconds, self.rows)

    def close(self) -> None:
        """Close the agent (its environments) and the run folder's TensorBoard writer."""
        self.agent.close()
        if self.directory is not None:
            self.directory.close()

    def __enter__(self) -> Training:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def train(run: RunConfig, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train ``run.agent`` on ``run.env_id`` for ``run.steps`` env steps, writing ``run.out``; return the summary."""
    with Training(run, resume) as training:
        return training.advance(progress)


def _catch_sigterm() -> Callable[[], None]:
    """Make SIGTERM raise :class:`TrainingInterrupted` (as Ctrl-C raises KeyboardInterrupt); return what puts the
    previous handler back. Off the main thread, where Python cannot set signal handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop_handler(signum, frame):
        raise TrainingInterrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop_handler)
    return lambda: signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def agent_device(agent, run: RunConfig) -> str:
    from textgym.devices import resolve_device

    return str(getattr(agent, "device", resolve_device(run.device)))


def _progress_bar(enabled: bool, total: int, initial: int, agent: str, env_id: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=min(initial, total), unit="step", desc=f"{agent} on {env_id}", dynamic_ncols=True)


# -- command line ------------------------------------------------------------------------------


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True, help=f"one of: {', '.join(AGENTS)}")
    # --env and --out are required unless --help-agent (checked in run_from_args)
    parser.add_argument("--env", help="a textgym id, e.g. textgym/Copy-v0 (required)")
    parser.add_argument("--reward-mode", default="dense", help="dense or sparse (turn too on a conversation)")
    parser.add_argument("--steps", type=int, default=10_000, help="environment steps in total")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--out", help="run folder (required)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--num-envs", type=int, default=16, help="parallel environments (one batched env)")
    parser.add_argument("--eval-every", type=int, default=0, help="env steps between evaluations (0: ten over the run)")
    parser.add_argument(
        "--env-kwargs", default="{}", help="JSON dict of environment arguments, e.g. '{\"max_new_tokens\": 8}'"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an agent hyper-parameter (repeatable); `textgym train --agent A --help-agent` lists them")
    parser.add_argument("--help-agent", action="store_true",
                        help="list the agent's hyper-parameters and exit (needs only --agent)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def hyperparameter_fields(agent: str) -> dict[str, dataclasses.Field]:
    """The hyper-parameters of ``agent`` (the fields of its config dataclass), by name, in order."""
    return {f.name: f for f in dataclasses.fields(agent_class(agent).Config)}


def unknown_hyperparameter(agent: str, name: str) -> RunConfigError:
    """The error for a hyper-parameter ``agent`` does not have, naming the ones it has."""
    return RunConfigError(
        f"unknown hyper-parameter {name!r} for agent {agent!r}; allowed: {', '.join(hyperparameter_fields(agent))}"
    )


def check_hyperparameters(agent: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Hyper-parameters given as Python values, checked as ``--set`` checks them: each must be a field of the agent's
    config and of its default's type (a number for a float field, stored as a float as ``--set`` parses it; any JSON
    value where the default is ``None``). Returns them typed as ``--set`` would."""
    fields = hyperparameter_fields(agent)
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            raise unknown_hyperparameter(agent, name)
        default = fields[name].default
        if isinstance(default, bool):
            ok = isinstance(value, (bool, np.bool_))
            value = bool(value) if ok else value
        elif isinstance(default, int):
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            value = int(value) if ok else value
        elif isinstance(default, float):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(default, str):
            ok = isinstance(value, str)
        else:
            ok = _is_json(value)
        if not ok:
            kind = type(default).__name__ if isinstance(default, (bool, int, float, str)) else "JSON value"
            raise RunConfigError(f"hyper-parameter {name}={value!r} of agent {agent!r}: not a valid {kind}")
        checked[name] = value
    return checked


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def parse_hyperparameters(agent: str, assignments: list[str]) -> dict[str, Any]:
    """``["lr=1e-4", "pooling=mean"]`` -> typed values, by the agent config's field types."""
    fields = hyperparameter_fields(agent)
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise RunConfigError(f"--set {item!r}: expected NAME=VALUE")
        if name not in fields:
            raise unknown_hyperparameter(agent, name)
        default = fields[name].default
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                values[name] = text.lower() in ("true", "1")
            elif isinstance(default, int) and not isinstance(default, bool):
                values[name] = int(text)
            elif isinstance(default, float):
                values[name] = float(text)
            elif default is None:
                values[name] = json.loads(text) if text not in ("None", "null") else None
            else:
                values[name] = text
        except ValueError:
            raise RunConfigError(f"--set {item!r}: {text!r} is not a valid {type(default).__name__}") from None
    return values


def describe_hyperparameters(agent: str) -> str:
    """``--help-agent``: every hyper-parameter of ``agent`` with its default and its one-line help."""
    lines = [f"hyper-parameters of {agent} (set with --set NAME=VALUE):"]
    for f in dataclasses.fields(agent_class(agent).Config):
        lines.append(f"  {f.name:<24} {f.default!r:<12} {f.metadata.get('help', '')}")
    return "\n".join(lines)


def run_from_args(args: argparse.Namespace) -> tuple[RunConfig, bool]:
    """The run that ``textgym train``'s parsed arguments ask for, and whether to resume it."""
    missing = [flag for flag, value in (("--env", args.env), ("--out", args.out)) if value is None]
    if missing:
        raise RunConfigError(f"the following arguments are required: {', '.join(missing)}")
    agent_class(args.agent)
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as error:
        raise RunConfigError(f"--env-kwargs is not valid JSON ({error})") from None
    if not isinstance(env_kwargs, dict):
        raise RunConfigError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
    run = RunConfig(
        agent=args.agent, env_id=args.env, reward_mode=args.reward_mode, steps=args.steps, seed=args.seed,
        device=args.device, out=args.out, num_envs=args.num_envs, eval_every=args.eval_every,
        env_kwargs=env_kwargs, hyperparameters=parse_hyperparameters(args.agent, args.set),
    )
    return run, args.resume
