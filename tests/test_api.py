"""The Python API (textgym_agents.api): every agent learns, evaluates, saves and loads; the run folder is the one
`textgym train` writes; a loaded run continues exactly as a straight one; bad input gets the CLI's errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import gymnasium as gym
import pytest

from textgym import cli
from textgym.extras import MissingExtraError
from textgym_agents.api import LEARNERS, LMPPO, SB3PPO, Learner, QLearning, UniformRandom
from textgym_agents.registry import AGENTS
from textgym_agents.run import METRIC_COLUMNS, RunConfigError, RunDirectory

COPY = "textgym/Copy-v0"
SMALL_COPY = {"task_kwargs": {"num_symbols": 3, "min_length": 2, "max_length": 3}}
SYMBOL_MODEL = {"symbol_model_width": 16, "symbol_model_layers": 1, "symbol_model_heads": 1, "num_minibatches": 1}
SB3_SMALL = {"embed_dim": 8, "features_dim": 16}
#: hyper-parameters that make one learn() chunk of 16 env steps (4 envs) cheap
FAST = {
    "random": {},
    "sb3-ppo": {"n_steps": 4, "batch_size": 16, "n_epochs": 1, **SB3_SMALL},
    "sb3-a2c": {"n_steps": 4, **SB3_SMALL},
    "sb3-dqn": {"learning_starts": 8, "buffer_size": 100, **SB3_SMALL},
    "sb3-maskable-ppo": {"n_steps": 4, "batch_size": 16, "n_epochs": 1, **SB3_SMALL},
    "lm-ppo": {"num_epochs": 1, **SYMBOL_MODEL},
    "lm-grpo": {"group_size": 2, **SYMBOL_MODEL},
    "lm-rloo": {"group_size": 2, "num_epochs": 1, **SYMBOL_MODEL},
    "lm-nlpo": {"num_epochs": 1, **SYMBOL_MODEL},
    "lm-rebn": {**SYMBOL_MODEL},
    "sb3-ppo-topk": {"n_steps": 4, "batch_size": 16, "n_epochs": 1, "top_k": 4, **SB3_SMALL},
    "q-learning": {},
    "sarsa": {},
}
#: the LM-vocabulary agent needs an environment with a language model
ENV_KWARGS = {"sb3-maskable-ppo": {"model": "tiny", "max_new_tokens": 3},
              "sb3-ppo-topk": {"model": "tiny", "max_new_tokens": 3}}
RUN = {"device": "cpu", "num_envs": 4, "eval_every": 16}
LM_AGENTS = ("lm-ppo", "lm-grpo", "lm-rloo", "lm-nlpo", "lm-rebn")


def metrics_of(folder) -> str:
    """metrics.csv (every evaluation's numbers, without the wall time, which timing.csv holds)."""
    return (folder / "metrics.csv").read_text()


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return all(a[c] == b[c] or (math.isnan(a[c]) and math.isnan(b[c])) for c in METRIC_COLUMNS)


def test_there_is_one_class_per_agent():
    assert sorted(LEARNERS) == sorted(AGENTS)
    assert sorted(FAST) == sorted(AGENTS), "every agent is exercised by the learn/evaluate/save/load test"
    assert all(LEARNERS[name].agent_name == name for name in AGENTS)
    import textgym_agents

    assert textgym_agents.LMPPO is LMPPO and textgym_agents.UniformRandom is UniformRandom


@pytest.mark.parametrize("agent", list(FAST))
def test_each_agent_learns_evaluates_saves_and_loads(tmp_path, agent):
    cls = LEARNERS[agent]
    with cls("textgym/Copy-v0", out=tmp_path / "run", env_kwargs=ENV_KWARGS.get(agent, SMALL_COPY), **RUN,
             **FAST[agent]) as model:
        assert model.learn(total_env_steps=16) is model
        rows = model.metrics()
        assert [row["env_steps"] for row in rows][0] == 0 and len(rows) == 2 and model.env_steps >= 16
        assert model.summary["agent"] == agent and model.summary["env_steps"] == model.env_steps
        score = model.evaluate()
        assert list(score) == METRIC_COLUMNS and 0.0 <= score["eval_return"] <= 1.0
        if agent != "random":  # greedy: the evaluation the run logged after its last chunk
            assert same(score, rows[-1])
        saved = model.save(tmp_path / "copy")
        steps = model.env_steps
    assert json.loads((saved / "run.json").read_text())["out"] == str(tmp_path / "copy")
    assert (saved / "policy" / "config.json").is_file() == (agent in LM_AGENTS)
    loaded = cls.load(saved)
    try:
        assert type(loaded) is cls and loaded.env_steps == steps and len(loaded.metrics()) == 2
        if agent != "random":  # the loaded policy is the saved one
            assert same(loaded.evaluate(), score)
    finally:
        loaded.close()


def test_the_api_writes_the_run_folder_of_textgym_train_and_resumes_exactly(tmp_path):
    """lm-ppo: `textgym train` and the API with the same arguments write the same run.json and metrics; a run
    learned in two parts (evaluated, saved, closed and loaded in between) writes the metrics of the straight one."""
    argv = ["train", "--agent", "lm-ppo", "--env", "textgym/Copy-v0", "--out", str(tmp_path / "cli"), "--steps", "32",
            "--eval-every", "16", "--num-envs", "4", "--device", "cpu", "--seed", "3", "--no-progress",
            "--env-kwargs", json.dumps({"max_new_tokens": 3}), "--set", "learning_rate=1e-2"]
    argv += [f"--set={name}={value}" for name, value in FAST["lm-ppo"].items()]
    assert cli.main(argv) == 0
    hyperparameters = {**FAST["lm-ppo"], "learning_rate": 1e-2}
    straight = LMPPO("textgym/Copy-v0", out=tmp_path / "api", seed=3, max_new_tokens=3, **RUN, **hyperparameters)
    straight.learn(total_env_steps=32).close()
    recorded = {name: json.loads((tmp_path / name / "run.json").read_text()) for name in ("cli", "api")}
    assert recorded["cli"].pop("out") != recorded["api"].pop("out")
    assert recorded["cli"] == recorded["api"] and recorded["api"]["steps"] == 32
    assert metrics_of(tmp_path / "cli") == metrics_of(tmp_path / "api")
    assert len(RunDirectory.read_metrics_of(tmp_path / "api")) == 3

    first = LMPPO("textgym/Copy-v0", out=tmp_path / "first", seed=3, max_new_tokens=3, **RUN, **hyperparameters)
    first.learn(total_env_steps=16).evaluate()
    first.save(tmp_path / "parts")
    first.close()
    LMPPO.load(tmp_path / "parts").learn(total_env_steps=32).close()
    assert metrics_of(tmp_path / "parts") == metrics_of(tmp_path / "api")


@pytest.mark.parametrize("agent", ["random", "q-learning"])
def test_learning_on_after_an_evaluation_or_a_load_is_the_straight_run(tmp_path, agent):
    """The random agent's evaluation draws from its generator, Q-learning's does not: either way a model that
    evaluates between two learn() calls, and one loaded from a checkpoint, go on as the straight run."""
    cls = LEARNERS[agent]
    make = {"env_kwargs": SMALL_COPY, **RUN, **FAST[agent]}
    cls("textgym/Copy-v0", out=tmp_path / "straight", **make).learn(total_env_steps=48).close()
    with cls("textgym/Copy-v0", out=tmp_path / "live", **make) as model:
        model.learn(total_env_steps=16)
        model.evaluate()
        model.learn(total_env_steps=48)
    with cls("textgym/Copy-v0", out=tmp_path / "parts", **make) as model:
        model.learn(total_env_steps=16)
    with cls.load(tmp_path / "parts") as model:
        model.learn(total_env_steps=48)
    expected = metrics_of(tmp_path / "straight")
    assert len(expected.splitlines()) == 5  # the header and steps 0, 16, 32, 48
    assert metrics_of(tmp_path / "live") == expected and metrics_of(tmp_path / "parts") == expected


def test_a_made_environment_is_recorded_by_its_id_and_arguments(tmp_path):
    env = gym.make("textgym/Copy-v0", reward_mode="sparse", max_new_tokens=3, render_mode="ansi", **SMALL_COPY)
    model = UniformRandom(env, out=tmp_path / "run", device="cpu", num_envs=2)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["env_id"] == "textgym/Copy-v0" and run["reward_mode"] == "sparse"
    assert run["env_kwargs"] == {"max_new_tokens": 3, **SMALL_COPY}  # render_mode shapes that object only
    model.close()
    vector = gym.make_vec("textgym/Copy-v0", num_envs=3, vectorization_mode="vector_entry_point", device="cpu")
    with UniformRandom(vector, out=tmp_path / "vector") as model:
        assert (model.run.num_envs, model.run.device, model.run.env_kwargs) == (3, "cpu", {})


def test_learn_counts_the_runs_steps_in_all(tmp_path):
    with UniformRandom("textgym/Copy-v0", out=tmp_path / "run", env_kwargs=SMALL_COPY, **RUN) as model:
        model.learn(total_env_steps=16)
        with pytest.warns(UserWarning, match=r"learn\(total_env_steps=model.env_steps \+ n\) learns n more"):
            model.learn(total_env_steps=16)
        assert model.env_steps == 16 and len(model.metrics()) == 2


# -- bad input -------------------------------------------------------------------------------------------------


def cli_error(capsys, tmp_path, *argv: str) -> str:
    base = ["train", "--no-progress", "--out", str(tmp_path / "cli"), "--steps", "16", *argv]
    assert cli.main(base) == 2
    return capsys.readouterr().err.strip().removeprefix("textgym train: error: ")


@pytest.mark.parametrize(
    "arguments, argv",
    [
        ({"env": COPY, "lr": 1}, ["--env", COPY, "--set", "lr=1"]),
        ({"env": "textgym/Chess-v0"}, ["--env", "textgym/Chess-v0"]),
        ({"env": COPY, "reward_mode": "instant"}, ["--env", COPY, "--reward-mode", "instant"]),
        ({"env": COPY, "env_kwargs": {"bogus": 1}}, ["--env", COPY, "--env-kwargs", '{"bogus": 1}']),
        ({"env": COPY, "split": "eval"}, ["--env", COPY, "--env-kwargs", '{"split": "eval"}']),
        ({"env": COPY, "num_envs": 0}, ["--env", COPY, "--num-envs", "0"]),
    ],
)
def test_bad_input_gets_the_errors_of_textgym_train(tmp_path, capsys, arguments, argv):
    expected = cli_error(capsys, tmp_path, "--agent", "lm-ppo", *argv)
    with pytest.raises(ValueError) as error:  # RunConfigError, or the env's own ValueError, as the CLI raises them
        LMPPO(out=tmp_path / "api", **arguments)
    assert str(error.value).startswith(expected)
    assert not (tmp_path / "api").exists(), "a refused model writes nothing"


def test_an_unknown_hyperparameter_is_named_with_the_allowed_ones(tmp_path):
    with pytest.raises(RunConfigError, match=r"unknown hyper-parameter 'lr' for agent 'q-learning'; allowed: "
                                             r"step_size, discount, .* \(or an environment argument: task, model"):
        QLearning("textgym/Copy-v0", out=tmp_path / "run", lr=0.1)
    with pytest.raises(RunConfigError, match=r"step_size='big' of agent 'q-learning': not a valid float"):
        QLearning("textgym/Copy-v0", out=tmp_path / "run", step_size="big")
    with pytest.raises(ValueError, match="unknown agent 'alphago'; allowed: random, sb3-ppo"):
        Learner.make("alphago", "textgym/Copy-v0", out=tmp_path / "run")
    with pytest.raises(TypeError, match="Learner is the base class"):
        Learner("textgym/Copy-v0", out=tmp_path / "run")


def test_a_missing_extra_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r'the sb3-ppo agent needs stable-baselines3, which is not installed: '
                                                r'pip install "textgym\[agents\]"'):
        SB3PPO("textgym/Copy-v0", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_folders_and_environments_that_cannot_be_used_are_refused(tmp_path):
    from textgym.wrappers import TopKActions

    UniformRandom("textgym/Copy-v0", out=tmp_path / "run", device="cpu", num_envs=2).close()
    with pytest.raises(RunConfigError, match=r"already holds a run's files; continue it with UniformRandom.load\("):
        UniformRandom("textgym/Copy-v0", out=tmp_path / "run")
    with pytest.raises(RunConfigError, match="holds a run of agent 'random', not 'lm-ppo': load it with UniformRandom"):
        LMPPO.load(tmp_path / "run")
    with pytest.raises(RunConfigError, match="holds no run"):
        Learner.load(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with Learner.load(tmp_path / "run") as model, pytest.raises(RunConfigError, match="holds other files than a run"):
        model.save(tmp_path / "notes")
    wrapped = TopKActions(gym.make("textgym/Sentiment-v0"), 4)
    with pytest.raises(RunConfigError, match=r"is wrapped \(TopKActions\)"):
        UniformRandom(wrapped, out=tmp_path / "wrapped")
    with pytest.raises(RunConfigError, match=r"environment argument task=.* is not plain data"):
        UniformRandom("textgym/TextGenEnv-v0", out=tmp_path / "task", task=object())
    assert not (tmp_path / "wrapped").exists() and not (tmp_path / "task").exists()


def test_importing_the_package_imports_no_extra():
    code = ("import sys, textgym_agents; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('stable_baselines3', 'yaml', 'sb3_contrib') "
            "or m == 'textgym_agents.api'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
