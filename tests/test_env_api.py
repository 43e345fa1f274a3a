"""TextGenEnv follows the Gymnasium and SB3 contracts and the MDP of the design."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import textgym

ALL_IDS = textgym.env_ids()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_check_env(env_id):
    sb3_check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_observation_layout(env_id):
    env = gym.make(env_id)
    obs, info = env.reset(seed=3)
    base = env.unwrapped
    prompt_ids = base.tokenizer.encode(info["prompt"])
    n = len(prompt_ids)
    assert obs["input_ids"].shape == (base.setup.obs_length,)
    assert obs["input_ids"].dtype == np.int64 and obs["attention_mask"].dtype == np.int64
    assert list(obs["input_ids"][:n]) == prompt_ids
    assert obs["attention_mask"][:n].all() and not obs["attention_mask"][n:].any()
    assert (obs["input_ids"][n:] == base.tokenizer.pad_token_id).all()
    action = next(
        i for i in range(env.action_space.n) if i != base.tokenizer.eos_token_id and base.tokenizer.decode([i])
    )
    obs, reward, terminated, truncated, info = env.step(action)
    assert obs["input_ids"][n] == action and obs["attention_mask"][n] == 1 and obs["attention_mask"][n + 1 :].sum() == 0
    assert info["text"] == base.tokenizer.decode([action])
    assert {"text", "score"} <= set(info)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_eos_and_horizon_terminate(env_id):
    """EOS and the max_new_tokens horizon both terminate (the horizon is part of the task); truncated stays False."""
    env = gym.make(env_id, max_new_tokens=3)
    base = env.unwrapped
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(base.tokenizer.eos_token_id)
    assert terminated and not truncated and info["end_reason"] == "eos"
    env.reset(seed=0)
    # a plain word-character token: no task stops on it (a full stop or newline may end some tasks)
    other = next(i for i in range(env.action_space.n) if base.tokenizer.decode([i]).isalnum())
    steps = [env.step(other) for _ in range(3)]
    assert [s[2:4] for s in steps] == [(False, False), (False, False), (True, False)]
    assert steps[0][4]["end_reason"] == "" and steps[2][4]["end_reason"] == "max_new_tokens"


def test_outer_time_limit_still_truncates():
    env = gym.make("textgym/Copy-v0", max_episode_steps=2)
    env.reset(seed=0)
    other = next(i for i in range(env.action_space.n) if env.unwrapped.tokenizer.decode([i]).isalnum())
    assert env.step(other)[2:4] == (False, False)
    _, _, terminated, truncated, info = env.step(other)
    assert (terminated, truncated) == (False, True) and info["end_reason"] == ""  # the env did not end it


def test_task_stop_condition_end_reason():
    env = gym.make("textgym/QA-v0")
    env.reset(seed=0)
    base = env.unwrapped
    newline = base.tokenizer.encode("\n")[-1]
    word = next(i for i in range(env.action_space.n) if base.tokenizer.decode([i]).isalpha())
    env.step(word)
    _, _, terminated, _, info = env.step(newline)
    assert terminated and info["end_reason"] == "stop"


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_reset_seed_reproduces_episode(env_id):
    def rollout(seed):
        env = gym.make(env_id, max_new_tokens=8)
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        out = [info["prompt"]]
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
            out.append((r, info["text"]))
            done = term or trunc
        return out

    assert rollout(7) == rollout(7)
    prompts = {rollout(seed)[0] for seed in range(6)}
    assert len(prompts) > 1, "different seeds should draw different prompts"


def test_prompt_index_option_and_splits_disjoint():
    train = gym.make("textgym/Sentiment-v0", split="train").unwrapped
    evaluation = gym.make("textgym/Sentiment-v0", split="eval").unwrapped
    _, info = train.reset(options={"prompt_index": 4})
    assert info["prompt"] == train.setup.prompts[4].text
    assert not {p.text for p in train.setup.prompts} & {p.text for p in evaluation.setup.prompts}


def test_render_modes(capsys):
    env = gym.make("textgym/Copy-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(2)
    text = env.render()
    assert "prompt:" in text and "generated:" in text
    human = gym.make("textgym/Copy-v0", render_mode="human")
    human.reset(seed=0)
    assert "prompt:" in capsys.readouterr().out


def test_generic_id_with_task_argument():
    env = gym.make("textgym/TextGenEnv-v0", task="copy")
    assert env.unwrapped.task.name == "copy"
    assert gym.make("textgym/TextGenEnv-v0").unwrapped.task.name == "sentiment"


def test_copy_with_language_model_vocabulary():
    env = gym.make("textgym/Copy-v0", model="tiny")
    assert env.action_space.n == 4096
    obs, info = env.reset(seed=1)
    target = info["prompt"][:-1]
    tok = env.unwrapped.tokenizer
    total = 0.0
    for token in tok.encode(target) + [tok.eos_token_id]:
        obs, r, term, trunc, info = env.step(token)
        total += r
    assert info["text"] == target and info["score"] == pytest.approx(1.0) and total == pytest.approx(1.0)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_observation_space_does_not_depend_on_split(env_id):
    train = gym.make(env_id, split="train").observation_space
    evaluation = gym.make(env_id, split="eval").observation_space
    assert train == evaluation
