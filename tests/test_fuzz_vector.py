"""Fuzzing the batched env over every id: spaces, finite rewards, the reward contract per row, determinism."""

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import textgym

TASK_IDS = [env_id for env_id in textgym.env_ids() if env_id != "textgym/TextGenEnv-v0"]
JUDGED = {"textgym/Coherence-v0"}  # a judge LM per row and step: fewer examples


def run(env_id, mode, seed, actions, horizon, arrays="auto"):
    env = gym.make_vec(env_id, num_envs=actions.shape[1], vectorization_mode="vector_entry_point", device="cpu",
                       reward_mode=mode, max_new_tokens=horizon, autoreset_mode="Disabled", arrays=arrays)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    rewards, done_flags, observations = [], [], [obs]
    for step_actions in actions:
        obs, reward, terminated, truncated, info = env.step(step_actions)
        assert env.observation_space.contains(obs)
        assert np.isfinite(reward).all()
        rewards.append(reward)
        done_flags.append(terminated | truncated)
        observations.append(obs)
    return np.array(rewards), np.array(done_flags), env.scores.numpy().copy(), observations


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_batched_env_fuzz(env_id):
    @settings(max_examples=3 if env_id in JUDGED else 12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data(), seed=st.integers(0, 2**16), n=st.integers(1, 5), horizon=st.integers(1, 6))
    def check(data, seed, n, horizon):
        vocab = gym.make(env_id).action_space.n
        eos = gym.make(env_id).unwrapped.tokenizer.eos_token_id
        token = st.one_of(st.integers(0, vocab - 1), st.just(eos))  # EOS often: at step 0, mixed lengths
        steps = horizon + 1  # one step past the horizon: ended rows stay frozen
        flat = data.draw(st.lists(token, min_size=steps * n, max_size=steps * n), label="actions")
        actions = np.array(flat, dtype=np.int64).reshape(steps, n)
        dense, dense_done, dense_final, dense_obs = run(env_id, "dense", seed, actions, horizon)
        sparse, sparse_done, sparse_final, _ = run(env_id, "sparse", seed, actions, horizon)
        np.testing.assert_array_equal(dense_done, sparse_done)
        assert dense_done.sum(0).tolist() == [1] * n, "every row ends exactly once within the horizon"
        np.testing.assert_allclose(dense.sum(0), sparse.sum(0), atol=1e-9)  # the reward contract, per row
        np.testing.assert_allclose(dense.sum(0), dense_final, atol=1e-9)
        assert (sparse[~sparse_done] == 0).all()
        again = run(
            env_id, "dense", seed, actions, horizon, arrays="torch"
        )  # determinism, and the accelerator path agrees
        np.testing.assert_array_equal(again[0], dense)
        for a, b in zip(again[3], dense_obs):
            np.testing.assert_array_equal(a["input_ids"], b["input_ids"])

    check()


def test_texts_up_to_the_context_length_work():
    env = gym.make("textgym/Sentiment-v0")
    room = 512 - env.unwrapped.setup.max_prompt_tokens
    env = gym.make("textgym/Sentiment-v0", max_new_tokens=room)
    env.reset(seed=0)
    token = env.unwrapped.tokenizer.encode(" good")[0]
    for _ in range(room - 1):
        assert env.step(token)[2:4] == (False, False)
    _, _, terminated, truncated, info = env.step(token)
    assert terminated and not truncated and info["end_reason"] == "max_new_tokens" and np.isfinite(info["score"])
    with pytest.raises(ValueError, match="exceeds the context length 512"):
        gym.make("textgym/Sentiment-v0", max_new_tokens=room + 1)
