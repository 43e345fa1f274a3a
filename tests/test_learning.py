"""One small learning run per agent family (SB3, LM, tabular): each must clearly improve its eval return.

Copy-v0 with 3 symbols and strings of 2-3 (a horizon of 4 tokens), a fixed seed, a few thousand
env steps through the training driver. The return before training is the first row of
``metrics.csv`` (the evaluation at env step 0), the one after is ``summary.json``'s
``final_eval_return``; both are read by name, so added columns or files do not matter.
Measured on seeds 0, 1 and 2, every agent gains at least 0.4 (returns are in [0, 1]); the test
asks for 0.25 on seed 0.
"""

import csv
import json

import pytest
import torch

from textgym_agents.run import RunConfig
from textgym_agents.train import train

SHORT_COPY = {"task_kwargs": {"num_symbols": 3, "min_length": 2, "max_length": 3}}
#: agent -> (env steps, parallel envs, hyper-parameters)
SETTINGS = {
    "sb3-ppo": (4000, 16, {}),
    "lm-ppo": (3000, 16, {"learning_rate": 1e-3, "num_epochs": 2, "num_minibatches": 2}),
    "q-learning": (3000, 8, {"step_size": 1.0}),
}
MARGIN = 0.25


@pytest.fixture(autouse=True)
def one_thread():
    """Small models train fastest on one thread on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("agent", list(SETTINGS))
def test_agent_learns_short_copy(tmp_path, agent):
    steps, num_envs, hyperparameters = SETTINGS[agent]
    out = tmp_path / agent
    config = RunConfig(agent=agent, env_id="textgym/Copy-v0", reward_mode="dense", steps=steps, seed=0, device="cpu",
                       out=str(out), num_envs=num_envs, eval_every=steps, env_kwargs=SHORT_COPY,
                       hyperparameters=dict(hyperparameters))
    train(config, progress=False)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    before = float(rows[0]["eval_return"])
    after = json.loads((out / "summary.json").read_text())["final_eval_return"]
    assert int(float(rows[0]["env_steps"])) == 0
    assert after > before + MARGIN, (
        f"{agent}: eval return {before:.3f} before training, {after:.3f} after {steps} env steps"
    )


@pytest.mark.slow
def test_lm_ppo_learns_a_world_task_from_the_bundled_models_foothold(tmp_path):
    """The world's point (textgym.world): RL starts from what tiny-v1 half knows. lm-ppo with its default
    hyper-parameters, dense rewards, on Dialogue-v1 at a small budget: the normalised eval score (random = 0,
    reference = 1, from the shipped calibration) rises by at least 0.1. Measured on seed 100 at 2,048 steps
    (the -v0 standard suite's Dialogue budget): +0.34 (benchmarks/results/learnability_standard_budgets.csv);
    here seed 0, 1,024 steps."""
    from textgym.calibration import calibration_for

    run = RunConfig(agent="lm-ppo", env_id="textgym/Dialogue-v1", steps=1024, eval_every=1024, seed=0, num_envs=16,
                    device="cpu", out=str(tmp_path / "run"))
    summary = train(run, progress=False)
    with (tmp_path / "run" / "metrics.csv").open() as f:
        initial = float(next(csv.DictReader(f))["eval_return"])
    calibration = calibration_for("textgym/Dialogue-v1")
    gain = calibration.normalised(summary["final_eval_return"]) - calibration.normalised(initial)
    assert initial == pytest.approx(calibration.greedy, abs=0.05)  # the step-0 policy is the bundled model
    assert gain >= 0.1, (initial, summary["final_eval_return"])


@pytest.mark.slow
@pytest.mark.parametrize("env_id, measured", [("textgym/Keywords-v2", "+0.16"),
                                              ("textgym/Translate-v2", "+0.13 to +0.19")])
def test_lm_ppo_learns_the_v2_prompt_dependent_tasks_from_tiny_v2s_foothold(tmp_path, env_id, measured):
    """The v2 point (textgym.tasks.versions): with tiny-v2 and the focused prompt sets, RL moves the tasks that
    depend on the prompt's words, which neither tiny-v1 nor the full vocabularies allowed. lm-ppo with its default
    hyper-parameters, dense rewards, seed 0, 2,048 steps: the normalised eval score rises by at least 0.1
    (measured: ``measured``; on Translate +0.13 with 1 torch thread, +0.19 with 2). The full claim, at the standard
    budget on seeds 100 and 101, is in benchmarks/results/budget_curves_v2.csv."""
    from textgym.calibration import calibration_for

    run = RunConfig(agent="lm-ppo", env_id=env_id, steps=2048, eval_every=2048, seed=0, num_envs=16,
                    device="cpu", out=str(tmp_path / "run"))
    summary = train(run, progress=False)
    with (tmp_path / "run" / "metrics.csv").open() as f:
        initial = float(next(csv.DictReader(f))["eval_return"])
    calibration = calibration_for(env_id)
    gain = calibration.normalised(summary["final_eval_return"]) - calibration.normalised(initial)
    assert initial == pytest.approx(calibration.greedy, abs=0.05)  # the step-0 policy is the bundled model
    assert gain >= 0.1, (initial, summary["final_eval_return"])
