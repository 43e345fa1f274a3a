"""The key/value-cached reference LM (IncrementalReference) gives the uncached ReferenceLM's logits, step by step."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from textgym.wrappers.reference import ReferenceLM
from textgym_agents.sb3.action_spaces import TopKActionsVecEnv, TopPMaskVecEnv
from textgym_agents.sb3.vec_env import TextGenSB3VecEnv

ENV_ID = "textgym/Keywords-v1"
K = 16


@pytest.fixture(scope="module")
def reference():
    vector = gym.make_vec(ENV_ID, num_envs=1, vectorization_mode="vector_entry_point")
    return ReferenceLM(vector.setup.model)


def make_env(num_envs=4, max_new_tokens=5):
    return gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point",
                        max_new_tokens=max_new_tokens)


def assert_same(reference, incremental, obs):
    """The cached logits of ``obs`` against an independent uncached forward."""
    cached = incremental.logits(obs["input_ids"], obs["attention_mask"])
    full = reference.logits(obs["input_ids"], obs["attention_mask"])
    assert cached.shape == full.shape == (len(np.atleast_2d(obs["input_ids"])), reference.vocab_size)
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=0)
    assert torch.equal(torch.topk(cached, K).indices, torch.topk(full, K).indices)
    return full


def run_episodes(reference, env, steps, actions_for):
    """Step ``env`` ``steps`` times, comparing at each step; the number of rows that ended, the logits seen."""
    incremental = reference.incremental()
    obs, _ = env.reset(seed=0)
    seen, ended = [assert_same(reference, incremental, obs)], 0
    for step in range(steps):
        obs, _, terminated, truncated, _ = env.step(actions_for(step))
        ended += int((terminated | truncated).sum())
        seen.append(assert_same(reference, incremental, obs))
    return incremental, ended, seen


def test_random_actions_through_several_episode_ends(reference):
    env = make_env()
    rng = np.random.default_rng(0)
    eos = env.tokenizer.eos_token_id
    vocab = env.single_action_space.n

    def actions(step):
        tokens = rng.integers(0, vocab, env.num_envs)
        return np.where(tokens == eos, (eos + 1) % vocab, tokens)  # every episode runs to max_new_tokens

    incremental, ended, seen = run_episodes(reference, env, 17, actions)
    assert ended == 3 * env.num_envs  # three autoresets of every row (steps 5, 10, 15)
    # the rows that continue are fed one token each; every autoreset of all rows encodes the batch afresh
    assert incremental.prefills == 4 and incremental.steps == 14 and incremental.splices == 0
    assert not torch.equal(seen[1], seen[2])  # the comparisons see different logits step to step


def test_rows_ending_at_different_steps(reference):
    env = make_env(max_new_tokens=6)
    rng = np.random.default_rng(1)
    eos = env.tokenizer.eos_token_id
    vocab = env.single_action_space.n
    # row r ends its episodes early with EOS at steps where (step + r) % (r + 2) == 0 (row 0 at every other step)
    schedule = np.array([[(step + row) % (row + 2) == 0 for row in range(env.num_envs)] for step in range(24)])

    def actions(step):
        tokens = rng.integers(0, vocab, env.num_envs)
        tokens = np.where(tokens == eos, (eos + 1) % vocab, tokens)
        return np.where(schedule[step], eos, tokens)

    incremental, ended, _ = run_episodes(reference, env, 24, actions)
    assert ended > 2 * env.num_envs
    assert incremental.splices > 0 and incremental.steps > 12  # rows re-encoded alone, the others stay cached


def test_unchanged_rows_another_batch_and_one_row(reference):
    env = make_env()
    incremental = reference.incremental()
    obs, _ = env.reset(seed=3)
    assert_same(reference, incremental, obs)
    obs, *_ = env.step(np.full(env.num_envs, 7))
    assert_same(reference, incremental, obs)
    steps = incremental.steps
    assert_same(reference, incremental, obs)  # the same batch again: nothing to encode
    assert incremental.steps == steps
    # rows 0 and 1 step on, rows 2 and 3 stay as they were: a masked column for them
    mixed = {key: value.copy() for key, value in obs.items()}
    obs, *_ = env.step(np.full(env.num_envs, 9))
    for key in mixed:
        mixed[key][:2] = obs[key][:2]
    assert_same(reference, incremental, mixed)
    assert_same(reference, incremental, obs)  # rows 2 and 3 catch up
    prefills = incremental.prefills
    assert_same(reference, incremental, {key: value[1:3] for key, value in obs.items()})  # another batch size
    assert_same(reference, incremental, {key: value[1] for key, value in obs.items()})  # one unbatched row
    assert incremental.prefills == prefills + 2


def test_top_k_wrapper_candidates_are_the_uncached_ones(reference):
    """The wrappers' candidates and masks, the ended rows' terminal observations' candidates included."""
    vector = make_env(max_new_tokens=4)
    venv = TopKActionsVecEnv(TextGenSB3VecEnv(vector), vector, k=K)
    masks = TopPMaskVecEnv(venv, vector, top_p=0.9)
    eos = vector.tokenizer.eos_token_id
    rng = np.random.default_rng(2)
    obs, staggered = masks.reset(), 0
    for step in range(12):
        full = reference.top_k(obs["input_ids"], obs["attention_mask"], K).numpy()
        np.testing.assert_array_equal(obs["candidates"], full)
        np.testing.assert_array_equal(
            masks.action_masks(), reference.top_p_mask(obs["input_ids"], obs["attention_mask"], 0.9).numpy())
        actions = rng.integers(0, K, vector.num_envs)
        row = step % vector.num_envs  # this row ends its episode with EOS if it may
        actions[row] = np.flatnonzero(obs["candidates"][row] == eos)[0] if eos in obs["candidates"][row] else 0
        masks.step_async(actions)
        obs, _, dones, infos = masks.step_wait()
        staggered += int(0 < dones.sum() < vector.num_envs)
        for row in np.flatnonzero(dones):
            terminal = infos[row]["terminal_observation"]
            expected = reference.top_k(terminal["input_ids"][None], terminal["attention_mask"][None], K).numpy()[0]
            np.testing.assert_array_equal(terminal["candidates"], expected)
    assert staggered > 0  # rows ended while others went on
    assert venv.rollout_reference.steps > 0 and venv.rollout_reference.splices > 0
    assert masks.rollout_reference.steps > 0


def test_single_env_wrappers_give_the_uncached_candidates_and_masks():
    """TopKActions and TopPActionMask (one env) ask their reference through the cache; at every step, across episode
    ends (reset), the candidates and the masks equal an uncached forward over the same observation."""
    import pickle

    from textgym.wrappers.action_spaces import TopKActions, TopPActionMask

    env = TopKActions(gym.make(ENV_ID), k=K)
    masked = TopPActionMask(gym.make(ENV_ID), top_p=0.9)
    rng = np.random.default_rng(0)
    episodes = 0
    obs, _ = env.reset(seed=0)
    masked.reset(seed=0)
    while episodes < 3:
        expected = env.reference.top_k(obs["input_ids"][None], obs["attention_mask"][None], K)[0].cpu().numpy()
        np.testing.assert_array_equal(obs["candidates"], expected)
        mask = masked.action_masks()
        uncached = masked.reference.top_p_mask(masked._obs["input_ids"][None], masked._obs["attention_mask"][None],
                                               0.9)[0].cpu().numpy()
        np.testing.assert_array_equal(mask, uncached)
        action = int(rng.integers(K))
        obs, _, terminated, truncated, _ = env.step(action)
        _, _, done_m, cut_m, _ = masked.step(int(rng.choice(np.flatnonzero(mask))))  # a token of the nucleus
        if terminated or truncated:
            episodes += 1
            obs, _ = env.reset(seed=episodes)
        if done_m or cut_m:
            masked.reset(seed=episodes)
    assert env.cached_reference.steps > 0  # the cache was used, not only full encodings
    pickle.loads(pickle.dumps(env))  # the wrapper still pickles mid-episode, its cache with it
