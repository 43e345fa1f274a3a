"""sb3-ppo-topk: SB3 PPO over the reference LM's top-k tokens, an agent of its own in runs, suites and the API."""

import numpy as np
import pytest

from textgym_agents.bench.config import SuiteConfigError, load_suite
from textgym_agents.registry import agent_class
from textgym_agents.run import RunConfig
from textgym_agents.sb3.agents import TOP_K_DEFAULT, SB3TopKConfig
from textgym_agents.train import Training, check_hyperparameters

SMALL = {"n_steps": 4, "batch_size": 16, "n_epochs": 1, "embed_dim": 16, "features_dim": 16}
#: a language task with short episodes, its prompts cut short
ENV_KWARGS = {"max_new_tokens": 3}


def topk_run(tmp_path, env_id="textgym/Sentiment-v1", **hyperparameters) -> RunConfig:
    return RunConfig(agent="sb3-ppo-topk", env_id=env_id, steps=32, seed=100, device="cpu", out=str(tmp_path / "run"),
                     num_envs=4, eval_every=16, env_kwargs=dict(ENV_KWARGS),
                     hyperparameters={**SMALL, **hyperparameters})


def test_its_actions_are_the_reference_lm_top_k_tokens(tmp_path):
    with Training(topk_run(tmp_path, top_k=5)) as training:
        agent = training.agent
        assert agent.config.action_space == "top-k" and agent.model.action_space.n == 5
        summary = training.advance()
        assert summary["agent"] == "sb3-ppo-topk" and summary["env_steps"] >= 32
        # the greedy policy's tokens are each row's candidates: the reference LM's 5 likeliest next tokens
        obs, _ = agent.vector_env.reset(seed=3)
        obs = {key: np.asarray(value) for key, value in obs.items()}
        tokens = np.asarray(agent.policy(obs, agent.vector_env))
        top = agent.top_k_env.reference.top_k(obs["input_ids"], obs["attention_mask"], 5).cpu().numpy()
        assert tokens.shape == (4,) and all(tokens[row] in top[row] for row in range(4))


def test_defaults_and_the_full_vocabulary_is_refused(tmp_path):
    assert agent_class("sb3-ppo-topk").Config is SB3TopKConfig
    assert SB3TopKConfig().action_space == "top-k" and SB3TopKConfig().top_k == TOP_K_DEFAULT
    assert check_hyperparameters("sb3-ppo-topk", {"top_k": 8}) == {"top_k": 8}
    with pytest.raises(ValueError, match="top-k tokens only .* use agent sb3-ppo"):
        Training(topk_run(tmp_path, action_space="full"))


def test_a_symbol_task_is_refused(tmp_path):
    run = topk_run(tmp_path, env_id="textgym/Copy-v0")
    run.env_kwargs = {}
    with pytest.raises(ValueError, match="has no language model"):
        Training(run)


SUITE = """
name: topk
steps: 64
eval_every: 32
num_envs: 4
seeds: 2
reward_modes: [dense]
agents:
  - name: sb3-ppo
  - name: sb3-ppo-topk
    hyperparameters: {{top_k: 8}}
{restriction}
tasks:
  - env: textgym/Sentiment-v1
    threshold: 0.5
  - env: textgym/Copy-v0
    threshold: 0.5
"""


def suite_file(tmp_path, restriction: str) -> str:
    path = tmp_path / "topk.yaml"
    path.write_text(SUITE.format(restriction=restriction))
    return str(path)


def test_suite_names_its_runs_apart_from_sb3_ppo(tmp_path):
    suite = load_suite(None, suite_file(tmp_path, "    tasks: [textgym/Sentiment-v1]"), str(tmp_path / "out"))
    names = sorted(run.out.split("/")[-1] for run in suite.runs)
    assert names == ["sb3-ppo-topk__Sentiment-v1__dense__seed0", "sb3-ppo-topk__Sentiment-v1__dense__seed1",
                     "sb3-ppo__Copy-v0__dense__seed0", "sb3-ppo__Copy-v0__dense__seed1",
                     "sb3-ppo__Sentiment-v1__dense__seed0", "sb3-ppo__Sentiment-v1__dense__seed1"]
    topk = [run for run in suite.runs if run.agent == "sb3-ppo-topk"]
    assert {run.env_id for run in topk} == {"textgym/Sentiment-v1"}
    assert all(run.hyperparameters == {"top_k": 8} for run in topk)


def test_suite_refuses_it_on_a_symbol_task_or_an_unknown_task(tmp_path):
    with pytest.raises(SuiteConfigError, match=r"sb3-ppo-topk\) acts on a language model's tokens, and "
                                               r"textgym/Copy-v0 has no language model"):
        load_suite(None, suite_file(tmp_path, ""), str(tmp_path / "out"))
    with pytest.raises(SuiteConfigError, match=r"tasks must be a non-empty list of the suite's tasks"):
        load_suite(None, suite_file(tmp_path, "    tasks: [textgym/QA-v1]"), str(tmp_path / "out"))


def test_the_python_api_has_its_class():
    from textgym_agents import SB3PPOTopK
    from textgym_agents.api import LEARNERS

    assert LEARNERS["sb3-ppo-topk"] is SB3PPOTopK
