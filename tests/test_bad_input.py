"""Bad input gets an error that names the value and what is allowed."""

import gymnasium as gym
import numpy as np
import pytest

import textgym
from textgym.models import ModelNotFoundError


@pytest.fixture
def copy_env():
    env = gym.make("textgym/Copy-v0")
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("action", [-1, 10**6])
def test_out_of_range_action(copy_env, action):
    with pytest.raises(ValueError, match=rf"action {action} is out of range; allowed: integers in \[0, 8\)"):
        copy_env.step(action)


@pytest.mark.parametrize("action", [1.0, 2.5, "a", None, True, np.array([1, 2]), np.array(1.0)])
def test_non_integer_action(copy_env, action):
    with pytest.raises(ValueError, match="action must be"):
        copy_env.step(action)


def test_numpy_integer_actions_accepted(copy_env):
    copy_env.step(np.int64(2))
    copy_env.step(np.array(3))
    copy_env.step(np.array([4], dtype=np.int32))


def test_step_after_episode_end(copy_env):
    copy_env.step(0)  # EOS
    with pytest.raises(textgym.EpisodeFinishedError, match=r"after the episode ended.*call reset\(\)"):
        copy_env.step(2)


def test_step_before_reset_on_bare_env():
    env = textgym.TextGenEnv(task="copy")
    with pytest.raises(textgym.EpisodeFinishedError, match=r"before reset\(\)"):
        env.step(2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": "poetry"}, r"unknown task 'poetry'; registered tasks: sentiment, keywords, .*, copy, reverse"),
        ({"reward_mode": "instant"}, r"unknown reward_mode 'instant'; allowed: \['dense', 'sparse'\]"),
        ({"split": "test"}, r"unknown split 'test'; allowed: \['train', 'eval'\]"),
        ({"max_new_tokens": 0}, r"max_new_tokens must be a positive integer, got 0"),
        ({"max_new_tokens": -3}, r"max_new_tokens must be a positive integer, got -3"),
        ({"max_new_tokens": 2.5}, r"max_new_tokens must be a positive integer, got 2.5"),
        ({"max_prompt_tokens": 2}, r"more than max_prompt_tokens=2"),
        ({"render_mode": "rgb"}, r"unknown render_mode 'rgb'; allowed: \['ansi', 'human', 'rgb_array'\]"),
        ({"task_kwargs": {"colour": 1}}, r"unknown task_kwargs \['colour'\] for task 'copy'; allowed: \['num_symbols'"),
        ({"task_kwargs": {"num_symbols": 40}}, r"num_symbols=40 is outside the allowed range \[2, 26\]"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    kwargs = {"task": "copy", **kwargs}
    with pytest.raises(ValueError, match=message):
        textgym.TextGenEnv(**kwargs)


def test_unknown_model_offline_is_one_line():
    with pytest.raises(ModelNotFoundError) as error:
        textgym.TextGenEnv(task="sentiment", model="no-such-org/no-such-model")
    message = str(error.value)
    assert "\n" not in message and "'no-such-org/no-such-model'" in message and "tiny" in message


def test_missing_local_model_path():
    with pytest.raises(ModelNotFoundError, match="is not a model folder"):
        textgym.TextGenEnv(task="sentiment", model="./nowhere/model")


def test_horizon_beyond_context_length():
    with pytest.raises(ValueError, match="exceeds the context length 512"):
        textgym.TextGenEnv(task="sentiment", max_new_tokens=600)


def test_bad_reset_option(copy_env):
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['prompt'\]; allowed: \['prompt_index'\]"):
        copy_env.reset(options={"prompt": "x"})
    with pytest.raises(ValueError, match=r"prompt_index=999 is outside \[0, 200\)"):
        copy_env.reset(options={"prompt_index": 999})


def test_unknown_device():
    from textgym.devices import resolve_device

    with pytest.raises(ValueError, match="unknown device 'gpu0'; allowed: 'auto', 'cpu', 'cuda'"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="unsupported device 'meta'"):
        resolve_device("meta")
