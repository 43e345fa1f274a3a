"""SB3 agents step the batched env through the VecEnv adapter."""

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

from textgym import TextGenVectorEnv
from textgym_agents.sb3 import TextGenSB3VecEnv, make_sb3_vec_env


def test_adapter_follows_sb3_conventions():
    env = make_sb3_vec_env("textgym/Copy-v0", num_envs=3, seed=0, device="cpu")
    obs = env.reset()
    assert obs["input_ids"].shape == (3, env.observation_space["input_ids"].shape[0])
    env.step_async(np.array([0, 2, 3]))
    obs, rewards, dones, infos = env.step_wait()
    assert rewards.dtype == np.float32 and list(dones) == [True, False, False]
    assert set(infos[0]) >= {"terminal_observation", "TimeLimit.truncated", "text", "score"}
    assert infos[0]["terminal_observation"]["input_ids"].shape == obs["input_ids"][0].shape
    assert infos[1] == {}


def test_ppo_trains_a_few_steps_on_the_adapter():
    env = VecMonitor(make_sb3_vec_env("textgym/Copy-v0", num_envs=4, seed=0, device="cpu"))
    model = PPO("MultiInputPolicy", env, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    assert model.num_timesteps >= 128


def test_adapter_refuses_torch_output():
    with pytest.raises(ValueError, match="output='numpy'"):
        TextGenSB3VecEnv(TextGenVectorEnv(task="copy", num_envs=2, device="cpu", output="torch"))


def test_ppo_does_not_bootstrap_at_the_horizon():
    """The horizon terminates: SB3's rollout buffer holds exactly the env's rewards, with no gamma * V(s_T) added."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Recorder(VecEnvWrapper):
        def __init__(self, venv):
            super().__init__(venv)
            self.rewards, self.reasons = [], []

        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            obs, rewards, dones, infos = self.venv.step_wait()
            self.rewards.append(rewards.copy())
            self.reasons += [info.get("end_reason") for info in infos if info]
            assert not any(info.get("TimeLimit.truncated") for info in infos if info)
            return obs, rewards, dones, infos

    base = make_sb3_vec_env("textgym/Sentiment-v0", num_envs=4, seed=0, device="cpu", max_new_tokens=3)
    env = Recorder(base)
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=32, n_epochs=1, gamma=1.0, seed=0, device="cpu")
    model.learn(total_timesteps=32)
    assert "max_new_tokens" in env.reasons
    np.testing.assert_array_equal(model.rollout_buffer.rewards, np.stack(env.rewards[-8:]))
