"""Training from Python, in the style of Stable-Baselines3: one class per agent, each a run folder.

::

    from textgym_agents import LMPPO

    model = LMPPO("textgym/Sentiment-v0", out="runs/ppo", reward_mode="dense", seed=0, num_envs=16,
                  learning_rate=1e-5, max_new_tokens=16)
    model.learn(total_env_steps=4096)   # the run folder `textgym train --steps 4096` writes
    model.evaluate()                    # {"eval_return": ..., "eval_std": ..., naturalness ...}
    model.save("runs/ppo-copy")         # a copy of the run folder as of its last checkpoint
    model = LMPPO.load("runs/ppo")      # resumes from its last checkpoint, exactly
    model.learn(total_env_steps=8192)   # 4096 more: the total is the run's, as --steps

A model is a run folder and the agent training in it, driven by the loop of ``textgym train``
(:class:`textgym_agents.train.Training`): ``textgym train`` itself builds its model with
:meth:`Learner.from_run_config` and calls :meth:`Learner.learn`, so the API and the command
line write the same files (``run.json``, ``metrics.csv``, checkpoints, ``DIR/policy`` for the LM
agents; see :mod:`textgym_agents.run`) and refuse bad input with the same errors.

Arguments of a model: the environment (an id with its arguments by name, or an environment made
with ``gym.make`` / ``gym.make_vec``, whose id and arguments the run records), the run's own
settings (``out``, ``reward_mode``, ``seed``, ``device``, ``num_envs``, ``eval_every``: the
``textgym train`` flags), and the agent's hyper-parameters by name (the fields of its config
dataclass, as ``--set NAME=VALUE``; ``textgym train --agent A --help-agent`` lists them).

The classes: :class:`LMPPO`, :class:`LMGRPO`, :class:`LMRLOO`, :class:`LMNLPO`, :class:`LMReBN` (the LM
agents), :class:`SB3PPO`, :class:`SB3A2C`, :class:`SB3DQN`, :class:`SB3MaskablePPO` (Stable-Baselines3,
``textgym[agents]``), :class:`QLearning`, :class:`Sarsa` (tabular) and :class:`UniformRandom`
(the ``random`` baseline); :meth:`Learner.make` builds one by its agent name and
:meth:`Learner.load` loads any run folder.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Self

from textgym_agents.base import Agent
from textgym_agents.checkpoint import LATEST, atomic_write_text, latest_checkpoint, replace_folder_atomically
from textgym_agents.registry import AGENTS, agent_class
from textgym_agents.run import RunConfig, RunConfigError, RunDirectory
from textgym_agents.train import (
    RUN_SET_ENV_ARGUMENTS,
    Training,
    check_hyperparameters,
    check_run_config,
    hyperparameter_fields,
)

#: environment arguments that shape one environment object only, not the task: dropped from a made environment's
#: arguments (the agents build their own batched environment, on the train split)
ENV_OBJECT_ARGUMENTS = ("split", "output", "autoreset_mode", "vectorization_mode", "render_mode")

#: agent name -> its class in this module (filled by :meth:`Learner.__init_subclass__`)
LEARNERS: dict[str, type[Learner]] = {}


class Learner:
    """A run of one agent on one textgym environment: its folder ``out`` and the agent training in it.

    Use a subclass (:class:`LMPPO`, :class:`SB3PPO`, ..., one per agent) or :meth:`make`. Building one checks every
    argument (with the errors of ``textgym train``), builds the agent and records the run in ``out/run.json``;
    :meth:`learn` trains, :meth:`evaluate` evaluates, :meth:`save` copies the run folder and :meth:`load` resumes one.

    Args:
        env: an environment id (``"textgym/Copy-v0"``), or an environment made with ``gym.make`` or ``gym.make_vec``
            from a textgym id: the run records its id and arguments, and takes its ``reward_mode`` (and a batched
            environment's ``num_envs`` and ``device``) unless they are given here. The agent trains on a batched
            environment of its own, built from them; the one given is left as it is. Arguments of that object alone
            (``split``, ``output``, ``autoreset_mode``, ``render_mode``) are dropped; a wrapped environment, or one
            whose arguments are not plain data (a ``Task`` object), cannot be rebuilt from the run folder and is
            refused: give its id and arguments, with the task registered.
        out: the run folder (``--out``): new, or empty.
        reward_mode: ``"dense"`` or ``"sparse"`` (default ``"dense"``).
        seed: the run's seed.
        device: ``"auto"`` (default), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        num_envs: parallel environments, the rows of one batched environment (default 16).
        eval_every: env steps between evaluations; 0 (default): ten evaluations over the run.
        env_kwargs: environment arguments (``--env-kwargs``), e.g. ``{"model": "tiny", "max_new_tokens": 8}``.
        **kwargs: the agent's hyper-parameters (``--set``), e.g. ``learning_rate=1e-5``, and environment arguments
            by name, e.g. ``model="tiny"`` (a name that is both must go in ``env_kwargs``).

    Raises:
        textgym_agents.run.RunConfigError: a wrong argument (an unknown hyper-parameter, env id or environment
            argument, a folder that holds another run...); the message names it and what is allowed.
        textgym.extras.MissingExtraError: the agent needs an optional extra that is not installed (the SB3 agents:
            ``textgym[agents]``).
    """

    #: the agent's name in ``textgym train --agent`` (each subclass sets it)
    agent_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__ and "agent_name" in cls.__dict__:
            LEARNERS[cls.agent_name] = cls

    def __init__(
        self,
        env: Any,
        *,
        out: str | os.PathLike[str],
        reward_mode: str | None = None,
        seed: int = 0,
        device: str | None = None,
        num_envs: int | None = None,
        eval_every: int = 0,
        env_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if getattr(type(self), "agent_name", None) is None:
            raise TypeError(
                f"{type(self).__name__} is the base class: build one of "
                f"{', '.join(c.__name__ for c in LEARNERS.values())}, or Learner.make(agent, env, ...) with agent one "
                f"of: {', '.join(AGENTS)}"
            )
        agent = self.agent_name
        agent_class(agent)  # an SB3 agent without SB3: MissingExtraError, before anything else
        env_id, made, made_run = environment_arguments(env)
        hyperparameters, named_env_kwargs = split_keywords(agent, kwargs)
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise RunConfigError(f"env_kwargs must be a dict of environment arguments, got {env_kwargs!r}")
        given = dict(env_kwargs or {})
        both = sorted(set(given) & set(named_env_kwargs))
        if both:
            raise RunConfigError(f"environment argument(s) {both} given twice: in env_kwargs and by name")
        for name, value in (("seed", seed), ("eval_every", eval_every)):
            _check_int(name, value)
        run = RunConfig(
            agent=agent,
            env_id=env_id,
            reward_mode=reward_mode if reward_mode is not None else made_run.get("reward_mode", "dense"),
            steps=0,  # learn(total_env_steps) sets it, as --steps
            seed=seed,
            device=device if device is not None else made_run.get("device", "auto"),
            out=os.fspath(out),
            num_envs=num_envs if num_envs is not None else made_run.get("num_envs", 16),
            eval_every=eval_every,
            env_kwargs=plain_data({**made, **given, **named_env_kwargs}, "environment argument"),
            hyperparameters=check_hyperparameters(agent, hyperparameters),
        )
        check_run_config(run)  # the errors of textgym train, in its order, before the folder's
        check_new_folder(Path(run.out), type(self).__name__)
        self._open(run, resume=False)

    # -- building and loading ----------------------------------------------------------------------

    @staticmethod
    def make(agent: str, env: Any, **kwargs: Any) -> Learner:
        """The model of the agent named ``agent`` (as ``textgym train --agent``): ``Learner.make("lm-ppo", env, ...)``
        is ``LMPPO(env, ...)``."""
        agent_class(agent)  # an unknown name: the CLI's error, listing the agents
        return LEARNERS[agent](env, **kwargs)

    @classmethod
    def from_run_config(cls, run: RunConfig, resume: bool = False) -> Learner:
        """The model of a :class:`~textgym_agents.run.RunConfig` (what ``textgym train`` parses its arguments into):
        a new run in ``run.out``, or with ``resume`` the run there, continued from its last checkpoint. Its
        :meth:`learn` with no argument trains to ``run.steps``."""
        agent_class(run.agent)
        learner_class = LEARNERS[run.agent] if cls is Learner else cls
        if learner_class.agent_name != run.agent:
            raise RunConfigError(
                f"{cls.__name__} trains {cls.agent_name!r}, not {run.agent!r}: use {LEARNERS[run.agent].__name__}"
            )
        learner = learner_class.__new__(learner_class)
        learner._open(run, resume=resume)
        return learner

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Learner:
        """The run in the folder ``path`` (written by a model, :meth:`save` or ``textgym train``), resumed from its last
        checkpoint, exactly as ``textgym train --resume`` resumes it: a following :meth:`learn` continues the run
        as if it had never stopped. ``Learner.load`` loads a run of any agent; ``LMPPO.load`` only an lm-ppo run."""
        folder = Path(path)
        config_file = folder / "run.json"
        if not config_file.is_file():
            what = "no such folder" if not folder.exists() else "holds no run (no run.json)"
            raise RunConfigError(f"load: {folder} {what}; give a run folder written by a model or by textgym train")
        try:
            run = RunConfig(**json.loads(config_file.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise RunConfigError(f"load: {config_file} is corrupt ({error})") from None
        run.out = str(folder)  # the folder may have moved since: it is where the run is now
        if cls is not Learner and run.agent != cls.agent_name:  # before building anything
            name = LEARNERS[run.agent].__name__ if run.agent in LEARNERS else "Learner"
            raise RunConfigError(
                f"load: {folder} holds a run of agent {run.agent!r}, not {cls.agent_name!r}: load it with "
                f"{name}.load or Learner.load"
            )
        return cls.from_run_config(run, resume=True)

    def _open(self, run: RunConfig, resume: bool) -> None:
        self._training: Training | None = Training(run, resume=resume)
        #: whether the agent may have moved away from the run's last checkpoint (an evaluation drew random
        #: numbers, a chunk was interrupted): the next learn() then continues from that checkpoint
        self._stale = False
        #: the summary of the last learn() (summary.json)
        self.summary: dict[str, Any] | None = None

    def _reopen(self) -> None:
        """Continue from the last checkpoint, as ``--resume`` does: a fresh agent, seeded, with that state loaded."""
        run, summary = self._live().run, self.summary
        self.close()
        self._open(run, resume=True)
        self.summary = summary

    def _live(self) -> Training:
        if self._training is None:
            raise RuntimeError(f"{type(self).__name__} of {self.path}: closed; load the run again with "
                               f"{type(self).__name__}.load({str(self.path)!r})")
        return self._training

    # -- what a model does ---------------------------------------------------------------------------

    def learn(self, total_env_steps: int | None = None, progress: bool = False) -> Self:
        """Train until the run has taken ``total_env_steps`` env steps in all (``textgym train --steps``), evaluating
        and checkpointing as ``textgym train`` does; return the model.

        ``total_env_steps`` counts the run's steps from its start, not more steps: ``learn(total_env_steps=4096)``
        after ``learn(total_env_steps=2048)`` trains 2048 more (``model.env_steps + n``: n more); ``None``: the
        steps of the last call (of a loaded run: the ``--steps`` it was asked, so an interrupted run finishes).
        The first call starts with an evaluation at the current step. ``progress``: a progress bar (tqdm).
        The summary (``summary.json``) is in :attr:`summary` after it.
        """
        training = self._live()
        steps = training.run.steps if total_env_steps is None else total_env_steps
        _check_int("total_env_steps", steps)
        if self._stale:
            self._reopen()
            training = self._live()
        if total_env_steps is not None and total_env_steps <= training.agent.env_steps and training.rows:
            warnings.warn(
                f"learn(total_env_steps={total_env_steps}): the run has taken {training.agent.env_steps} env steps "
                f"already, so nothing is learned; total_env_steps counts the run's steps from its start (as "
                f"--steps): learn(total_env_steps=model.env_steps + n) learns n more",
                stacklevel=2,
            )
        training.run.steps = steps
        training.directory.create()  # run.json records the steps asked, as textgym train --steps does
        self._stale = True  # until the chunks end at a checkpoint
        self.summary = training.advance(progress=progress)
        self._stale = False
        return self

    def evaluate(self) -> dict[str, float]:
        """One greedy evaluation on the eval split, as ``textgym train`` evaluates: every eval prompt once; returns
        a row of ``metrics.csv`` (``env_steps``, ``eval_return``: the mean final score, ``eval_std``, and the
        naturalness columns). Nothing is written, and the run is left as it was: the next :meth:`learn`
        continues from the last checkpoint (an evaluation may draw random numbers, as the random agent's)."""
        training = self._live()
        self._stale = True
        return training.evaluate()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Copy the run folder as of its last checkpoint (the state every :meth:`learn` ends in) to ``path``; return it.

        The copy is a run folder of its own (``run.json``, ``metrics.csv``, ``timing.csv``, ``summary.json``,
        TensorBoard logs, the last checkpoint, and for the LM agents ``policy/`` and the value head), which
        :meth:`load` and ``textgym train --resume`` continue exactly. It is written atomically: a folder that
        already holds a run is replaced; a folder with other files is refused.
        """
        training = self._live()
        source = Path(training.run.out)
        target = Path(path)
        if target.resolve() == source.resolve():
            return target
        if source.resolve() in target.resolve().parents or target.resolve() in source.resolve().parents:
            raise RunConfigError(f"save: {target} and the run folder {source} are inside one another; give another")
        if target.exists():
            if not target.is_dir():
                raise RunConfigError(f"save: {target} is a file; give a folder")
            if any(target.iterdir()) and not (target / "run.json").is_file():
                raise RunConfigError(f"save: {target} holds other files than a run; give a new or empty folder")
        run = RunConfig(**{**asdict(training.run), "out": str(target)})
        return replace_folder_atomically(target, lambda folder: copy_run_folder(source, folder, run))

    def close(self) -> None:
        """Close the agent (its environments) and the run folder's logs. The folder stays; :meth:`load` reopens it."""
        if self._training is not None:
            self._training.close()
            self._training = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what a model holds --------------------------------------------------------------------------

    @property
    def run(self) -> RunConfig:
        """What the run records in ``run.json`` (agent, env, reward mode, seed, steps, hyper-parameters...)."""
        return self._live().run

    @property
    def path(self) -> Path:
        """The run folder."""
        return Path(self.run.out)

    @property
    def agent(self) -> Agent:
        """The agent (an :class:`~textgym_agents.base.Agent`: e.g. an LM agent's ``policy_model``, an SB3 agent's
        ``model``)."""
        return self._live().agent

    @property
    def env_steps(self) -> int:
        """Environment steps taken so far (summed over the parallel environments)."""
        return self.agent.env_steps

    @property
    def hyperparameters(self) -> Any:
        """The agent's config dataclass, every hyper-parameter's value."""
        return self.agent.config

    def metrics(self) -> list[dict[str, float]]:
        """The run's evaluations so far: the rows of ``metrics.csv``, each with its ``wall_seconds``."""
        return RunDirectory.read_metrics_of(self.path)

    def __repr__(self) -> str:
        if self._training is None:
            return f"{type(self).__name__}(closed)"
        run = self._training.run
        return f"{type(self).__name__}({run.env_id!r}, out={run.out!r}, env_steps={self.env_steps})"


# -- arguments -----------------------------------------------------------------------------------------


def environment_parameters() -> list[str]:
    """Every argument of textgym's batched environment (those the run sets itself included)."""
    from textgym.envs.vector import TextGenVectorEnv

    return [name for name in inspect.signature(TextGenVectorEnv.__init__).parameters if name != "self"]


def split_keywords(agent: str, keywords: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments of a model -> (hyper-parameters, environment arguments), by name."""
    fields = hyperparameter_fields(agent)
    parameters = environment_parameters()
    hyperparameters: dict[str, Any] = {}
    env_kwargs: dict[str, Any] = {}
    for name, value in keywords.items():
        if name in fields and name in parameters:
            raise RunConfigError(
                f"{name!r} is both a hyper-parameter of agent {agent!r} and an environment argument: pass the "
                f"environment's in env_kwargs={{{name!r}: ...}}, the hyper-parameter by name"
            )
        if name in fields:
            hyperparameters[name] = value
        elif name in parameters:
            env_kwargs[name] = value  # the run's own (split, output...) are refused by check_env_kwargs
        else:
            allowed = [p for p in parameters if p not in RUN_SET_ENV_ARGUMENTS]
            raise RunConfigError(
                f"unknown hyper-parameter {name!r} for agent {agent!r}; allowed: {', '.join(fields)} (or an "
                f"environment argument: {', '.join(allowed)})"
            )
    return hyperparameters, env_kwargs


def environment_arguments(env: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``env`` (an id, or an environment made by ``gym.make`` / ``gym.make_vec``) -> (its id, its environment
    arguments, the run settings it fixes: ``reward_mode``, and ``num_envs`` and ``device`` of a batched one)."""
    if isinstance(env, str):
        return env, {}, {}
    import gymnasium as gym

    spec = getattr(env, "spec", None)
    if not isinstance(env, (gym.Env, gym.vector.VectorEnv)):
        raise RunConfigError(f"env must be an environment id such as 'textgym/Copy-v0', or an environment made by "
                             f"gym.make or gym.make_vec; got {env!r}")
    if spec is None:
        raise RunConfigError(
            f"env {env!r} has no spec (it was not made by gym.make or gym.make_vec), so the run folder cannot record "
            f"how to rebuild it; pass its id, e.g. 'textgym/Copy-v0', with its arguments by name"
        )
    if spec.additional_wrappers or (spec.max_episode_steps is not None and spec.id in gym.registry
                                    and spec.max_episode_steps != gym.spec(spec.id).max_episode_steps):
        wrappers = [w.name for w in spec.additional_wrappers] or ["TimeLimit (max_episode_steps)"]
        raise RunConfigError(
            f"env {spec.id} is wrapped ({', '.join(wrappers)}); the agents train on a batched environment of their "
            f"own, built from the id and its arguments, so a wrapper cannot be recorded: pass the unwrapped "
            f"environment or its id"
        )
    registered = gym.spec(spec.id).kwargs if spec.id in gym.registry else {}
    kwargs = {k: v for k, v in spec.kwargs.items() if k not in registered or registered[k] != v}
    run = {name: kwargs.pop(name) for name in ("reward_mode", "num_envs", "device") if name in kwargs}
    if "reward_mode" not in run and isinstance(getattr(env.unwrapped, "reward_mode", None), str):
        run["reward_mode"] = env.unwrapped.reward_mode
    if "device" in run:
        run["device"] = str(run["device"])
    for name in ENV_OBJECT_ARGUMENTS:
        kwargs.pop(name, None)
    return spec.id, kwargs, run


def plain_data(values: dict[str, Any], what: str) -> dict[str, Any]:
    """``values`` as ``run.json`` records them (a JSON round trip: tuples become lists), each value checked."""
    for name, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise RunConfigError(
                f"{what} {name}={value!r} is not plain data (numbers, strings, lists, dicts), so run.json cannot "
                f"record it and the run could not be resumed; give it by name (a registered task name, a model "
                f"name or folder)"
            ) from None
    return json.loads(json.dumps(values))


def check_new_folder(folder: Path, cls_name: str) -> None:
    """``out`` for a new run: a new or empty folder (a run already there is continued with ``load``)."""
    if folder.exists() and not folder.is_dir():
        raise RunConfigError(f"out={str(folder)!r} is a file; give a folder")
    if (folder / "run.json").is_file() or (folder / "metrics.csv").is_file() or (folder / "checkpoints").exists():
        raise RunConfigError(
            f"out={str(folder)!r} already holds a run's files; continue it with {cls_name}.load({str(folder)!r}), "
            f"or choose an empty folder"
        )


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RunConfigError(f"{name} must be a non-negative integer, got {value!r}")


def copy_run_folder(source: Path, target: Path, run: RunConfig) -> None:
    """Fill ``target`` with the run in ``source`` as of its last checkpoint: every file and folder but the older
    checkpoints and the leftovers of interrupted writes, and ``run.json`` recording ``run``."""
    os.chmod(target, source.stat().st_mode & 0o777)  # a folder like the run's (a temporary folder is private)
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or entry.name == "checkpoints":
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name)
        else:
            shutil.copy2(entry, target / entry.name)
    checkpoint = latest_checkpoint(source / "checkpoints")
    if checkpoint is not None:
        shutil.copytree(checkpoint, target / "checkpoints" / checkpoint.name)
        atomic_write_text(target / "checkpoints" / LATEST, checkpoint.name)
    atomic_write_text(target / "run.json", json.dumps(asdict(run), indent=2) + "\n")


# -- one class per agent ---------------------------------------------------------------------------------


class LMPPO(Learner):
    """``lm-ppo``: PPO with a value head on the environment's causal LM (any Hugging Face causal LM); per-token KL
    penalty to a frozen reference with an adaptive controller, per-token GAE. Hyper-parameters:
    :class:`textgym_agents.lm_ppo.LMPPOConfig`."""

    agent_name = "lm-ppo"


class LMGRPO(Learner):
    """``lm-grpo``: GRPO, ``group_size`` completions per prompt, group-normalised advantages, no value function.
    Hyper-parameters: :class:`textgym_agents.lm_grpo.LMGRPOConfig`."""

    agent_name = "lm-grpo"


class LMRLOO(Learner):
    """``lm-rloo``: REINFORCE with a leave-one-out baseline over ``group_size`` completions per prompt.
    Hyper-parameters: :class:`textgym_agents.lm_rloo.LMRLOOConfig`."""

    agent_name = "lm-rloo"


class LMNLPO(Learner):
    """``lm-nlpo``: NLPO, lm-ppo sampling within the top-``top_mask`` nucleus of a periodically synced copy of the
    policy. Hyper-parameters: :class:`textgym_agents.lm_nlpo.LMNLPOConfig`."""

    agent_name = "lm-nlpo"


class LMReBN(Learner):
    """``lm-rebn``: REINFORCE with the returns normalised over the batch (ReBN, GEM), no value function, no groups.
    Hyper-parameters: :class:`textgym_agents.lm_rebn.LMReBNConfig`."""

    agent_name = "lm-rebn"


class SB3PPO(Learner):
    """``sb3-ppo``: Stable-Baselines3 PPO with the token features extractor (``textgym[agents]``).
    Hyper-parameters: :class:`textgym_agents.sb3.agents.SB3Config`."""

    agent_name = "sb3-ppo"


class SB3PPOTopK(Learner):
    """``sb3-ppo-topk``: Stable-Baselines3 PPO whose actions are the env LM's ``top_k`` likeliest next tokens
    (language tasks; ``textgym[agents]``). Hyper-parameters: :class:`textgym_agents.sb3.agents.SB3TopKConfig`."""

    agent_name = "sb3-ppo-topk"


class SB3A2C(Learner):
    """``sb3-a2c``: Stable-Baselines3 A2C with the token features extractor (``textgym[agents]``).
    Hyper-parameters: :class:`textgym_agents.sb3.agents.SB3Config`."""

    agent_name = "sb3-a2c"


class SB3DQN(Learner):
    """``sb3-dqn``: Stable-Baselines3 DQN with the token features extractor (``textgym[agents]``).
    Hyper-parameters: :class:`textgym_agents.sb3.agents.DQNConfig`."""

    agent_name = "sb3-dqn"


class SB3MaskablePPO(Learner):
    """``sb3-maskable-ppo``: sb3-contrib MaskablePPO, actions masked to the reference LM's top-p nucleus
    (``textgym[agents]``). Hyper-parameters: :class:`textgym_agents.sb3.agents.SB3Config`."""

    agent_name = "sb3-maskable-ppo"


class QLearning(Learner):
    """``q-learning``: tabular Q-learning, epsilon-greedy, for small-vocabulary tasks. Hyper-parameters:
    :class:`textgym_agents.tabular.TabularConfig`."""

    agent_name = "q-learning"


class Sarsa(Learner):
    """``sarsa``: tabular SARSA, epsilon-greedy, for small-vocabulary tasks. Hyper-parameters:
    :class:`textgym_agents.tabular.TabularConfig`."""

    agent_name = "sarsa"


class UniformRandom(Learner):
    """``random``: uniform random tokens, the floor every learning agent should beat (no hyper-parameters)."""

    agent_name = "random"


__all__ = ["LEARNERS", "LMGRPO", "LMNLPO", "LMPPO", "LMReBN", "LMRLOO", "SB3A2C", "SB3DQN", "SB3PPO", "SB3PPOTopK",
           "Learner", "QLearning", "SB3MaskablePPO", "Sarsa", "UniformRandom"]
