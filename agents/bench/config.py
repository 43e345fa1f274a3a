"""Benchmark suites: which agents, tasks, reward modes and seeds to run, read from YAML.

A suite file::

    name: quick
    steps: 20000            # env steps per run (a task entry may override)
    eval_every: 2000
    num_envs: 16
    seeds: 3
    reward_modes: [dense, sparse]
    agents:
      - name: sb3-ppo
        hyperparameters: {n_steps: 32}
      - name: lm-ppo
      - name: lm-ppo        # the same agent again with another credit assignment (see agents/lm/credit.py):
        reward_modes: [sparse]   # its own reward modes; its runs are named and reported by the credit,
        hyperparameters: {credit: uniform}   # e.g. lm-ppo__Sentiment-v0__uniform__seed0
      - name: sb3-ppo-topk  # acts on a language model's tokens (as do sb3-maskable-ppo, action_space: top-k):
        tasks: [textgym/Sentiment-v0]   # language tasks only; 'tasks' lists the suite's tasks it runs on
    tasks:
      - env: textgym/Sentiment-v0
        threshold: 0.5
      - env: textgym/Copy-v0
        threshold: 0.5      # sample efficiency: env steps until the eval return reaches this
                            # (required, inside the task's score range, fixed before any run)
        steps: 30000
        env_kwargs: {}
        # per-agent overrides for this task:
        agents: {lm-ppo: {hyperparameters: {learning_rate: 0.001}}}

Reward modes are checked per task against what its env accepts (:func:`task_reward_modes`): ``dense`` and
``sparse`` everywhere, ``turn`` too on a multi-turn conversation (``textgym/Conversation-v0``).

Every combination agent x task x reward mode x seed is one ``textgym train`` run; an agent entry's ``tasks``
(env ids of the suite's tasks) restricts it to those tasks. A run whose
``credit`` hyper-parameter is not ``env`` is named, and reported in the reward column, by its
credit (``uniform``, ``attention``): the env's reward mode does not change what such an agent
learns from.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textgym.extras import require
from textgym.rewards import REWARD_MODES
from textgym_agents.registry import AGENTS
from textgym_agents.run import RunConfig

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
SUITE_KEYS = {"name", "description", "steps", "eval_every", "num_envs", "seeds", "reward_modes", "agents", "tasks"}
AGENT_KEYS = {"name", "hyperparameters", "num_envs", "reward_modes", "tasks"}
TASK_KEYS = {"env", "threshold", "steps", "eval_every", "env_kwargs", "agents", "num_envs"}


class SuiteConfigError(ValueError):
    """A suite file is malformed or names an unknown agent, task or option."""


@dataclass
class Suite:
    name: str
    runs: list[RunConfig] = field(default_factory=list)
    source: str = ""
    #: env id -> the sample-efficiency threshold fixed in the suite file
    thresholds: dict[str, float] = field(default_factory=dict)


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def load_suite(
    suite: str | None, config_file: str | None, out: str, seeds: int | None = None, device: str = "auto"
) -> Suite:
    """Read ``--suite NAME`` or ``--config FILE`` into a list of run configs under ``out``."""
    if (suite is None) == (config_file is None):
        raise SuiteConfigError("give exactly one of --suite NAME or --config FILE.yaml")
    if suite is not None:
        if suite not in suite_names():
            raise SuiteConfigError(f"unknown suite {suite!r}; allowed: {', '.join(suite_names())}")
        path = SUITES_DIR / f"{suite}.yaml"
    else:
        path = Path(config_file)
        if not path.is_file():
            raise SuiteConfigError(f"config file {config_file} does not exist")
    yaml = require("yaml", "bench", "textgym bench")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SuiteConfigError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    runs, thresholds = expand(data, path, out, seeds, device)
    return Suite(name=str((data or {}).get("name", path.stem)), runs=runs, source=str(path), thresholds=thresholds)


def _check_keys(where: str, data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SuiteConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


#: every reward mode some task's env accepts, in the order the reports compare them (dense > turn > sparse)
ALL_REWARD_MODES = ("dense", "turn", "sparse")
#: the entry point of the multi-turn conversation envs, whose reward modes are ``CONVERSATION_REWARD_MODES``
CONVERSATION_ENTRY_POINT = "textgym.conversation.env:ConversationEnv"


def task_reward_modes(env_id: str) -> tuple[str, ...]:
    """The reward modes ``env_id``'s env accepts: ``CONVERSATION_REWARD_MODES`` (dense, turn, sparse) for a
    conversation env, ``textgym.rewards.REWARD_MODES`` (dense, sparse) for every other."""
    import gymnasium as gym

    from textgym.conversation import CONVERSATION_REWARD_MODES

    return CONVERSATION_REWARD_MODES if gym.spec(env_id).entry_point == CONVERSATION_ENTRY_POINT else REWARD_MODES


def _reward_modes(where: str, modes: Any) -> list[str]:
    if not isinstance(modes, list) or not modes or any(m not in ALL_REWARD_MODES for m in modes):
        raise SuiteConfigError(
            f"{where}: reward_modes must be a non-empty list of {list(ALL_REWARD_MODES)}, got {modes!r}"
        )
    return modes


def _task_allows(where: str, env_id: str, modes: list[str]) -> None:
    """Refuse a reward mode that ``env_id``'s env does not accept, naming the modes it does."""
    allowed = task_reward_modes(env_id)
    refused = [m for m in modes if m not in allowed]
    if refused:
        raise SuiteConfigError(
            f"{where}: {env_id} has no reward mode {refused[0]!r}; its env accepts {list(allowed)} "
            f"(give this agent or task other reward_modes)"
        )


def task_of(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """The task object of ``env_id`` with ``env_kwargs`` (a conversation env's :class:`ConversationTask`)."""
    import gymnasium as gym

    from textgym.conversation import ConversationTask
    from textgym.tasks import make_task

    kwargs = {**gym.spec(env_id).kwargs, **env_kwargs}
    if gym.spec(env_id).entry_point == CONVERSATION_ENTRY_POINT:
        task = kwargs.get("task", ConversationTask.name)
        return ConversationTask() if task == ConversationTask.name else task
    return make_task(kwargs["task"], kwargs.get("task_kwargs"))


def reward_label(run: RunConfig) -> str:
    """What a run's per-token reward was, for names and reports: the reward mode, or the agent's ``credit``."""
    credit = run.hyperparameters.get("credit", "env")
    return run.reward_mode if credit == "env" else str(credit)


def _threshold(path: Path, j: int, task: dict) -> float:
    """The task entry's sample-efficiency threshold: present, a number, inside the task's score range."""
    env_id = task["env"]
    low, high = task_of(env_id, dict(task.get("env_kwargs") or {})).score_range
    where = f"{path}: tasks[{j}] ({env_id})"
    if "threshold" not in task:
        raise SuiteConfigError(
            f"{where} has no 'threshold'; give the sample-efficiency threshold, a score in [{low:g}, {high:g}]"
        )
    value = task["threshold"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise SuiteConfigError(f"{where}: threshold {value!r} is outside the task's score range [{low:g}, {high:g}]")
    return float(value)


def _agent_tasks(where: str, agent: dict, suite_tasks: list[str]) -> set[str]:
    """The env ids an agent entry runs on: its ``tasks``, each one of the suite's, or every task of the suite."""
    if "tasks" not in agent:
        return set(suite_tasks)
    chosen = agent["tasks"]
    if not isinstance(chosen, list) or not chosen or any(env not in suite_tasks for env in chosen):
        raise SuiteConfigError(
            f"{where}: tasks must be a non-empty list of the suite's tasks ({', '.join(suite_tasks)}), got {chosen!r}"
        )
    return set(chosen)


def _needs_language_model(agent: str, hyperparameters: dict[str, Any]) -> bool:
    """Whether the agent acts on a language model's tokens (top-k actions, top-p masks), which symbol tasks lack."""
    from textgym_agents.base import config_from_dict
    from textgym_agents.registry import agent_class

    cls = agent_class(agent)
    needs = getattr(cls, "needs_language_model", None)
    if needs is None:
        return False
    try:
        return bool(needs(config_from_dict(cls.Config, hyperparameters, agent)))
    except (TypeError, ValueError):  # bad hyper-parameters: reported with their run before anything starts
        return False


def _has_language_model(env_id: str, env_kwargs: dict[str, Any]) -> bool:
    """Whether the task's env has a language model (the ``model`` it is given, or the task's own)."""
    import gymnasium as gym

    kwargs = {**gym.spec(env_id).kwargs, **env_kwargs}
    return kwargs.get("model") is not None or task_of(env_id, env_kwargs).tokenizer() is None


def expand(data: Any, path: Path, out: str, seeds: int | None, device: str) -> tuple[list[RunConfig], dict[str, float]]:
    import gymnasium as gym

    import textgym

    if not isinstance(data, dict):
        raise SuiteConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    _check_keys(str(path), data, SUITE_KEYS)
    for key in ("agents", "tasks"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise SuiteConfigError(f"{path}: '{key}' must be a non-empty list")
    modes = _reward_modes(str(path), data.get("reward_modes", list(REWARD_MODES)))
    seed_count = seeds if seeds is not None else data.get("seeds", 3)
    if not isinstance(seed_count, int) or seed_count < 1:
        raise SuiteConfigError(f"{path}: seeds must be a positive integer, got {seed_count!r}")
    agents = []
    for i, agent in enumerate(data["agents"]):
        agent = {"name": agent} if isinstance(agent, str) else agent
        if not isinstance(agent, dict) or "name" not in agent:
            raise SuiteConfigError(f"{path}: agents[{i}] must be a name or a mapping with 'name'")
        _check_keys(f"{path}: agents[{i}]", agent, AGENT_KEYS)
        if agent["name"] not in AGENTS:
            raise SuiteConfigError(f"{path}: unknown agent {agent['name']!r}; allowed: {', '.join(AGENTS)}")
        agents.append(agent)
    suite_tasks = [t["env"] for t in data["tasks"] if isinstance(t, dict) and "env" in t]
    agent_tasks = [_agent_tasks(f"{path}: agents[{i}]", agent, suite_tasks) for i, agent in enumerate(agents)]
    runs, thresholds = [], {}
    for j, task in enumerate(data["tasks"]):
        if not isinstance(task, dict) or "env" not in task:
            raise SuiteConfigError(f"{path}: tasks[{j}] must be a mapping with 'env' and 'threshold'")
        _check_keys(f"{path}: tasks[{j}]", task, TASK_KEYS)
        if task["env"] not in gym.registry or not str(task["env"]).startswith("textgym/"):
            raise SuiteConfigError(f"{path}: unknown task {task['env']!r}; allowed: {', '.join(textgym.env_ids())}")
        thresholds[task["env"]] = _threshold(path, j, task)
        overrides = task.get("agents", {}) or {}
        for name in overrides:
            if name not in [a["name"] for a in agents]:
                raise SuiteConfigError(f"{path}: tasks[{j}] overrides agent {name!r}, which the suite does not run")
        for i, agent in enumerate(agents):
            if task["env"] not in agent_tasks[i]:
                continue
            merged = copy.deepcopy(agent)
            merged.pop("tasks", None)
            extra = overrides.get(agent["name"], {}) or {}
            _check_keys(f"{path}: tasks[{j}].agents.{agent['name']}", extra, AGENT_KEYS - {"name"})
            merged.setdefault("hyperparameters", {})
            merged["hyperparameters"] = {**(merged["hyperparameters"] or {}), **(extra.get("hyperparameters") or {})}
            num_envs = extra.get("num_envs", agent.get("num_envs", task.get("num_envs", data.get("num_envs", 16))))
            steps = task.get("steps", data.get("steps", 10_000))
            eval_every = task.get("eval_every", data.get("eval_every", 0))
            agent_modes = _reward_modes(f"{path}: agents[{i}]", agent.get("reward_modes", modes))
            _task_allows(f"{path}: agents[{i}] ({agent['name']}) on tasks[{j}]", task["env"], agent_modes)
            if _needs_language_model(agent["name"], merged["hyperparameters"]) and not _has_language_model(
                task["env"], dict(task.get("env_kwargs") or {})
            ):
                raise SuiteConfigError(
                    f"{path}: agents[{i}] ({agent['name']}) acts on a language model's tokens, and {task['env']} has "
                    f"no language model (a symbol task); list the tasks it runs on in the entry's 'tasks'"
                )
            credit = merged["hyperparameters"].get("credit", "env")
            if credit != "env" and len(agent_modes) > 1:
                raise SuiteConfigError(
                    f"{path}: agents[{i}] ({agent['name']}, credit={credit!r}) learns the same from both reward "
                    f"modes (its rewards are the final score redistributed): give it one, e.g. reward_modes: [sparse]"
                )
            for mode in agent_modes:
                for seed in range(seed_count):
                    label = mode if credit == "env" else credit
                    name = f"{agent['name']}__{task['env'].split('/')[-1]}__{label}__seed{seed}"
                    runs.append(RunConfig(
                        agent=agent["name"], env_id=task["env"], reward_mode=mode, steps=int(steps), seed=seed,
                        device=device, out=str(Path(out) / "runs" / name), num_envs=int(num_envs),
                        eval_every=int(eval_every), env_kwargs=dict(task.get("env_kwargs") or {}),
                        hyperparameters=dict(merged["hyperparameters"]),
                    ))
    names = [Path(run.out).name for run in runs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SuiteConfigError(
            f"{path}: several agent entries make the same runs (e.g. {repeated[0]}); give each entry of one "
            f"agent its own reward_modes or credit"
        )
    return runs, thresholds
