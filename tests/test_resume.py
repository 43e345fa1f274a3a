"""A run interrupted at any moment and resumed equals one never interrupted, for every agent.

For each agent a straight run is compared with a run interrupted by Ctrl-C (or SIGTERM) at
one moment, then continued with ``train(run, resume=True)``: ``metrics.csv`` byte for byte,
``summary.json`` but for ``wall_seconds``, and the final checkpoint file by file. The
moments: in the middle of a rollout (the k-th training env step), inside an update (the k-th
optimizer step, or tabular TD update), in the middle of an evaluation (its episodes played),
and in the middle of writing a checkpoint (its files written but not yet renamed into place;
renamed but not yet named by ``latest``); all of them after the first chunk, so the run
resumes from a checkpoint taken mid-episode. Also: before the first checkpoint, and in the
first chunk (resumed from the step-0 checkpoint, before any episode started), and while the
summary of a finished run is written.

Runs are tiny (Copy with two symbols, four envs, 64 steps, evaluations every 32 steps), so
SB3's rollouts (6 steps x 4 envs) and LM-PPO's whole episodes overshoot the evaluation
points: they are absolute either way.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import textgym.evaluation
import textgym_agents.checkpoint
import textgym_agents.run
import textgym_agents.train
from textgym.envs.vector import TextGenVectorEnv
from textgym.models import BUNDLED_MODELS
from textgym_agents.checkpoint import latest_checkpoint
from textgym_agents.run import RunConfig, RunConfigError
from textgym_agents.tabular import TabularAgent
from textgym_agents.train import next_evaluation, train

#: two symbols, lengths 2-3: twelve strings, every one in both splits (a small table, a quick evaluation)
SMALL_COPY = {"task_kwargs": {"num_symbols": 2, "min_length": 2, "max_length": 3}}
HYPERPARAMETERS = {
    "random": {},
    "q-learning": {},
    "sarsa": {},
    "sb3-ppo": {"n_steps": 6, "batch_size": 8, "n_epochs": 2},
    "sb3-a2c": {"n_steps": 6},
    # a buffer of 6 vector steps: full and wrapped around by the first checkpoint after step 0
    "sb3-dqn": {"learning_starts": 16, "buffer_size": 24, "batch_size": 8, "target_update_interval": 16},
    "lm-ppo": {
        "num_epochs": 2,
        "num_minibatches": 2,
        "learning_rate": 1e-3,
        "symbol_model_width": 16,
        "symbol_model_layers": 1,
        "symbol_model_heads": 1,
    },
    "lm-grpo": {
        "num_iterations": 2,
        "num_minibatches": 2,
        "learning_rate": 1e-3,
        "group_size": 2,
        "symbol_model_width": 16,
        "symbol_model_layers": 1,
        "symbol_model_heads": 1,
    },
    "lm-rloo": {
        "num_epochs": 2,
        "num_minibatches": 2,
        "learning_rate": 1e-3,
        "group_size": 2,
        "symbol_model_width": 16,
        "symbol_model_layers": 1,
        "symbol_model_heads": 1,
    },
    "lm-nlpo": {
        "num_epochs": 2,
        "num_minibatches": 2,
        "learning_rate": 1e-3,
        "mask_update_interval": 2,
        "symbol_model_width": 16,
        "symbol_model_layers": 1,
        "symbol_model_heads": 1,
    },
}
#: per agent: the training env step and the update that are interrupted (both after the first evaluation)
ROLLOUT_CALL = {"random": 11, "q-learning": 11, "sarsa": 11, "sb3-ppo": 16, "sb3-a2c": 16, "sb3-dqn": 11, "lm-ppo": 13,
                "lm-grpo": 13, "lm-rloo": 13, "lm-nlpo": 13, "sb3-ppo-top-k": 16}
UPDATE_CALL = {"q-learning": 45, "sarsa": 45, "sb3-ppo": 15, "sb3-a2c": 3, "sb3-dqn": 5, "lm-ppo": 15,
               "lm-grpo": 15, "lm-rloo": 15, "lm-nlpo": 15}
HAS_TINY = (BUNDLED_MODELS["tiny"] / "config.json").is_file()
NEEDS_TINY = pytest.mark.skipif(not HAS_TINY, reason="the bundled model 'tiny' is not built")

#: other set-ups of an agent, run as ``(agent, env_kwargs, hyper-parameters)``: SB3 with the top-k action
#: space keeps the last observation's candidates in its env wrapper (the bundled LM ranks the tokens)
VARIANTS = {"sb3-ppo-top-k": ("sb3-ppo", {**SMALL_COPY, "model": "tiny"},
                              {**HYPERPARAMETERS["sb3-ppo"], "action_space": "top-k", "top_k": 4})}


def run_config(folder: Path, name: str) -> RunConfig:
    agent, env_kwargs, hyperparameters = VARIANTS.get(name, (name, SMALL_COPY, HYPERPARAMETERS.get(name)))
    return RunConfig(agent=agent, env_id="textgym/Copy-v0", reward_mode="dense", steps=64, seed=0, device="cpu",
                     out=str(folder), num_envs=4, eval_every=32, env_kwargs=dict(env_kwargs),
                     hyperparameters=dict(hyperparameters))


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run of each agent (made once)."""
    runs: dict[str, Path] = {}

    def get(agent: str) -> Path:
        if agent not in runs:
            folder = tmp_path_factory.mktemp("straight") / agent
            train(run_config(folder, agent), progress=False)
            runs[agent] = folder
        return runs[agent]

    return get


class Trigger:
    """Interrupts at the ``k``-th call: Ctrl-C (KeyboardInterrupt) or a SIGTERM sent to this process."""

    def __init__(self, k: int, sigterm: bool = False) -> None:
        self.k, self.sigterm, self.calls = k, sigterm, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls == self.k:
            if self.sigterm:  # the driver's handler raises TrainingInterrupted at the next bytecode
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt("interrupted by the test")


def interrupt_at(m: pytest.MonkeyPatch, moment: str, agent: str) -> Trigger:
    """Patch what ``moment`` names so that the run is interrupted there; returns the trigger."""
    if moment in ("rollout", "sigterm", "first-chunk"):
        trigger = Trigger(2 if moment == "first-chunk" else ROLLOUT_CALL[agent], sigterm=moment == "sigterm")
        original_step = TextGenVectorEnv.step

        def step(self, actions):
            if self.setup.split == "train":  # the training env, not the evaluation's
                trigger()
            return original_step(self, actions)

        m.setattr(TextGenVectorEnv, "step", step)
    elif moment == "update" and agent in ("q-learning", "sarsa"):
        trigger = Trigger(UPDATE_CALL[agent])
        original_update = TabularAgent._update

        def update(self, row, action, target):
            trigger()
            return original_update(self, row, action, target)

        m.setattr(TabularAgent, "_update", update)
    elif moment == "update":  # the k-th optimizer step: earlier minibatches of the update are applied
        trigger = Trigger(UPDATE_CALL[agent])
        for cls in (torch.optim.Adam, torch.optim.RMSprop):
            def optimizer_step(self, *args, _original=cls.step, **kwargs):
                trigger()
                return _original(self, *args, **kwargs)

            m.setattr(cls, "step", optimizer_step)
    elif moment in ("evaluation", "first-evaluation"):
        # the 3rd (1st) evaluation, once every episode has been played (the policy has drawn its random numbers)
        # and its naturalness is being measured
        trigger = Trigger(3 if moment == "evaluation" else 1)
        original_measure = textgym.evaluation.measure_naturalness

        def measure_naturalness(*args, **kwargs):
            trigger()
            return original_measure(*args, **kwargs)

        m.setattr(textgym.evaluation, "measure_naturalness", measure_naturalness)
    elif moment == "save-files":  # the 3rd checkpoint's files written, the folder not yet renamed into place
        trigger = Trigger(3)
        original_write_text = Path.write_text

        def write_text(self, *args, **kwargs):
            if self.name == "state.json" and self.parent.name.startswith(".step-"):
                trigger()
            return original_write_text(self, *args, **kwargs)

        m.setattr(Path, "write_text", write_text)
    elif moment == "save-latest":  # the 3rd checkpoint's folder in place, ``latest`` not yet pointing at it
        trigger = Trigger(3)
        original_atomic_write = textgym_agents.checkpoint.atomic_write_text

        def atomic_write_text(path, text):
            if Path(path).name == textgym_agents.checkpoint.LATEST:
                trigger()
            return original_atomic_write(path, text)

        m.setattr(textgym_agents.checkpoint, "atomic_write_text", atomic_write_text)
    elif moment == "summary":  # every chunk done and checkpointed, summary.json being written
        trigger = Trigger(1)
        original_run_write = textgym_agents.run.atomic_write_text

        def write_summary_text(path, text):
            if Path(path).name == "summary.json":
                trigger()
            return original_run_write(path, text)

        m.setattr(textgym_agents.run, "atomic_write_text", write_summary_text)
    else:
        raise ValueError(moment)
    return trigger


def assert_same_run(a: Path, b: Path) -> None:
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in (a, b)]
    for summary in summaries:
        summary.pop("wall_seconds")
    assert summaries[0] == summaries[1]
    checkpoints = [latest_checkpoint(folder / "checkpoints") for folder in (a, b)]
    assert checkpoints[0].name == checkpoints[1].name
    names = sorted(p.name for p in checkpoints[0].iterdir())
    assert names == sorted(p.name for p in checkpoints[1].iterdir())
    for name in names:
        if name.endswith(".pt"):  # torch.save archives: compare the objects
            x, y = (torch.load(c / name, weights_only=True) for c in checkpoints)
            assert _equal(x, y), name
        elif name.endswith(".safetensors"):  # the tensors (the header lists tied names in set order)
            x, y = (load_file(str(c / name)) for c in checkpoints)
            assert _equal(x, y), name
        else:
            assert (checkpoints[0] / name).read_bytes() == (checkpoints[1] / name).read_bytes(), name


def _equal(x, y) -> bool:
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(_equal(u, v) for u, v in zip(x, y))
    return x == y


CASES = [
    *[(agent, moment) for agent in HYPERPARAMETERS for moment in ("rollout", "update", "evaluation", "save-latest")
      if not (agent == "random" and moment == "update")],  # the random agent has no update
    ("random", "first-evaluation"),
    ("random", "first-chunk"),
    ("random", "summary"),
    ("sb3-dqn", "first-chunk"),
    ("random", "save-files"),
    ("sb3-dqn", "save-files"),
    ("random", "sigterm"),
    ("sb3-ppo", "sigterm"),
    pytest.param("sb3-ppo-top-k", "rollout", marks=NEEDS_TINY),
]


@pytest.mark.parametrize("agent, moment", CASES)
def test_interrupted_and_resumed_run_equals_the_straight_run(tmp_path, straight, agent, moment):
    folder = tmp_path / agent
    with pytest.MonkeyPatch.context() as m:
        trigger = interrupt_at(m, moment, agent)
        with pytest.raises(KeyboardInterrupt):
            train(run_config(folder, agent), progress=False)
    assert trigger.calls == trigger.k
    assert not (folder / "summary.json").exists()
    checkpoint = latest_checkpoint(folder / "checkpoints")
    if moment == "first-evaluation":
        assert checkpoint is None  # stopped before its first checkpoint: --resume starts it again
    elif moment == "first-chunk":
        assert checkpoint.name == "step-000000000000"  # before the first learn(): no episode started yet
    elif moment == "summary":
        assert checkpoint.name == "step-000000000064"  # the run is complete: --resume only writes the summary
    else:  # the last chunk boundary, the evaluation point after the first chunk (mid-episode for most agents)
        assert 32 <= int(checkpoint.name.split("-")[1]) < 64
    train(run_config(folder, agent), resume=True, progress=False)
    assert_same_run(straight(agent), folder)


def test_evaluation_points_are_absolute_multiples_of_the_interval():
    run = RunConfig(agent="random", env_id="textgym/Copy-v0", steps=100, eval_every=32)
    assert [next_evaluation(run, s) for s in (0, 31, 32, 40, 63, 64, 95, 96, 99)] == [
        32,
        32,
        64,
        64,
        64,
        96,
        96,
        100,
        100,
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"agent": "sb3-a2c"}, "agent: run has 'random', asked 'sb3-a2c'"),
        ({"env_id": "textgym/Reverse-v0"}, "env_id: run has 'textgym/Copy-v0', asked 'textgym/Reverse-v0'"),
        ({"seed": 3}, "seed: run has 0, asked 3"),
        ({"reward_mode": "sparse"}, "reward_mode: run has 'dense', asked 'sparse'"),
        ({"env_kwargs": {"task_kwargs": {"num_symbols": 3, "min_length": 2, "max_length": 3}}},
         "env_kwargs.task_kwargs.num_symbols: run has 2, asked 3"),
    ],
)
def test_resume_of_another_run_names_what_differs(tmp_path, change, message):
    folder = tmp_path / "run"
    base = run_config(folder, "random")
    base.steps = 32
    train(base, progress=False)
    other = run_config(folder, "random")
    for key, value in change.items():
        setattr(other, key, value)
    other.hyperparameters = dict(HYPERPARAMETERS[other.agent])
    with pytest.raises(RunConfigError, match=f"--resume: {folder} holds a different run") as error:
        train(other, resume=True, progress=False)
    assert message in str(error.value)


def test_resume_with_other_hyperparameters_names_each_one(tmp_path):
    folder = tmp_path / "run"
    config = run_config(folder, "sb3-a2c")
    config.steps = 24
    train(config, progress=False)
    other = run_config(folder, "sb3-a2c")
    other.hyperparameters["learning_rate"] = 0.5
    with pytest.raises(RunConfigError, match=r"hyperparameters.learning_rate: run has 0.001, asked 0.5"):
        train(other, resume=True, progress=False)


@NEEDS_TINY
@pytest.mark.parametrize("seed", [7, [7, 8, 9]], ids=["one-generator", "a-generator-per-row"])
def test_env_state_replays_unfinished_episodes_of_an_incremental_text_scorer(seed):
    """Sentiment scores text with VADER's incremental scorer, fed by incremental decoders: replayed, not saved."""
    import gymnasium as gym
    import numpy as np

    from textgym_agents.env_state import env_state, restore_env_state

    def make():
        return gym.make_vec("textgym/Sentiment-v0", num_envs=3, vectorization_mode="vector_entry_point", device="cpu",
                            max_new_tokens=6)

    env, rng = make(), np.random.default_rng(0)
    env.reset(seed=seed)
    for t in range(8):  # rows at different points of their episodes: row 1 restarted, row 2 ended once
        if t == 3:
            env.reset(options={"reset_mask": np.array([False, True, False]), "prompt_index": np.array([5])})
        env.step(rng.integers(0, env.vocab_size, 3))
    assert len(set(env.num_generated.tolist())) > 1
    tensors, data = env_state(env)
    copy = make()
    restore_env_state(copy, {k: v.clone() for k, v in tensors.items()}, json.loads(json.dumps(data)), "test")
    for _ in range(12):  # the same future: rewards, ends, texts, the next prompts drawn
        actions = rng.integers(0, env.vocab_size, 3)
        a, b = env.step(actions), copy.step(actions)
        assert np.array_equal(a[0]["input_ids"], b[0]["input_ids"]) and np.array_equal(a[1], b[1])
        assert np.array_equal(a[2], b[2]) and env.texts() == copy.texts()
