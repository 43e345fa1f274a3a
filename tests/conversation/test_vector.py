"""The batched conversation env: row by row the single env's MDP, in every autoreset mode and output."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.conversation.helpers import random_agent_tokens
from textgym.conversation import ConversationVectorEnv
from textgym.conversation.vector import INFO_DTYPES

ENV_ID = "textgym/Conversation-v0"
SEEDS = [11, 12, 13]
BUDGET = 64


def actions_of(tokenizer, steps: int) -> np.ndarray:
    """``[steps, rows]`` tokens of random agents, one stream per row."""
    return np.stack([random_agent_tokens(tokenizer, np.random.default_rng(100 + row), steps)
                     for row in range(len(SEEDS))], axis=1)


def assert_row_equals(obs, info, row: int, single_obs, single_info) -> None:
    for key in single_obs:
        assert (np.asarray(obs[key][row]) == single_obs[key]).all(), key
    for key in INFO_DTYPES:
        assert info[f"_{key}"][row]
        value = info[key][row]
        value = value.item() if isinstance(value, torch.Tensor | np.generic) else value
        assert value == single_info[key], (key, value, single_info[key])


@pytest.mark.parametrize("mode", ["NextStep", "Disabled", "SameStep"])
def test_single_and_batched_give_the_same_observations_rewards_ends_and_infos(mode):
    vector = gym.make_vec(ENV_ID, num_envs=len(SEEDS), vectorization_mode="vector_entry_point",
                          max_conversation_tokens=BUDGET, autoreset_mode=mode, reward_mode="turn")
    assert isinstance(vector, ConversationVectorEnv)
    singles = [gym.make(ENV_ID, max_conversation_tokens=BUDGET, reward_mode="turn") for _ in SEEDS]
    actions = actions_of(vector.tokenizer, 2 * BUDGET + 4)
    obs, info = vector.reset(seed=SEEDS)
    pending = [False] * len(SEEDS)  # the single env ended: its next step is a reset (NextStep) or nothing
    for row, (env, seed) in enumerate(zip(singles, SEEDS)):
        assert_row_equals(obs, info, row, *env.reset(seed=seed))
    ends = 0
    for step_actions in actions:
        obs, rewards, terminated, truncated, info = vector.step(step_actions)
        assert not truncated.any()
        for row, env in enumerate(singles):
            if pending[row]:
                if mode == "Disabled":
                    assert rewards[row] == 0 and not terminated[row] and info["end_reason"][row] == ""
                    continue
                single_obs, single_info = env.reset()  # NextStep: this step resets the row
                assert rewards[row] == 0 and not terminated[row]
                assert_row_equals(obs, info, row, single_obs, single_info)
                pending[row] = False
                continue
            single_obs, reward, single_terminated, _, single_info = env.step(int(step_actions[row]))
            assert rewards[row] == reward and terminated[row] == single_terminated
            if single_terminated and mode == "SameStep":
                assert info["_final_info"][row] and info["final_info"]["score"][row] == single_info["score"]
                assert_row_equals({k: [v] for k, v in info["final_obs"][row].items()},
                                  {k: [v[row]] for k, v in info["final_info"].items()}, 0, single_obs, single_info)
                assert_row_equals(obs, info, row, *env.reset())  # the next episode, from the row's generator
            else:
                assert_row_equals(obs, info, row, single_obs, single_info)
                pending[row] = single_terminated
            ends += single_terminated
        assert vector.ended.tolist() == (pending if mode != "SameStep" else [False] * len(SEEDS))
    assert ends >= len(SEEDS)


def test_torch_output_reset_mask_and_prompt_index():
    vector = ConversationVectorEnv(num_envs=2, output="torch", device="cpu", autoreset_mode="Disabled",
                                   max_conversation_tokens=BUDGET)
    newline = vector.tokenizer.encode("\n")[0]
    obs, info = vector.reset(seed=0, options={"reset_mask": torch.ones(2, dtype=torch.bool),
                                              "prompt_index": np.array([3, 4])})
    assert set(obs) == {"input_ids", "attention_mask", "agent_mask"}
    assert all(isinstance(value, torch.Tensor) and value.shape == (2, vector.setup.obs_length) for value in
               obs.values())
    assert info["prompt_index"].tolist() == [3, 4] and vector.max_new_tokens == BUDGET
    lengths = obs["attention_mask"].sum(1)
    obs, rewards, terminated, _, info = vector.step(torch.tensor([newline, vector.tokenizer.encode(" Hi")[0]]))
    assert isinstance(rewards, torch.Tensor) and terminated.dtype == torch.bool
    assert info["agent_turn_ended"].dtype == torch.bool and info["agent_turn_ended"].tolist() == [True, False]
    grown = (obs["attention_mask"].sum(1) - lengths).tolist()
    assert grown[0] > 1 and grown[1] == 1  # row 0: its token and the user's turn
    assert obs["agent_mask"].sum(1).tolist() == [1, 1] and vector.num_generated.tolist() == [1, 1]
    vector.step(torch.tensor([vector.tokenizer.eos_token_id, newline]))
    assert vector.ended.tolist() == [True, False]
    obs, _ = vector.reset(options={"reset_mask": torch.tensor([True, False]), "prompt_index": 7})
    assert vector.ended.tolist() == [False, False] and obs["agent_mask"].sum(1).tolist() == [0, 2]


def test_the_evaluation_of_the_calibration_runs_on_the_eval_split():
    """``python -m textgym.calibration`` measures the id through textgym.evaluation, as it does every task."""
    from textgym.calibration import _random_policy
    from textgym.evaluation import evaluate_episodes

    env = gym.make(ENV_ID)
    task = env.unwrapped.task
    result = evaluate_episodes(_random_policy(0), ENV_ID, {"task": task, "max_conversation_tokens": 48},
                               batch_size=64, naturalness=False)
    assert len(result.scores) == len(task.prompts("eval")) == 54
    low, high = task.score_range
    assert all(low <= score <= high for score in result.scores) and result.mean < 0.1
