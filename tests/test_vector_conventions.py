"""The batched env follows Gymnasium's vector conventions: per-row seeds as ``SyncVectorEnv`` takes them,
and the layout of same-step autoreset's ``final_obs`` and ``final_info``, checked against
``gymnasium.vector.SyncVectorEnv`` over single ``TextGenEnv`` fed the same actions."""

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from textgym import TextGenVectorEnv

SEEDS = [3, 14, 15, 92]


def all_eos(env):
    return np.full(env.num_envs, env.tokenizer.eos_token_id, dtype=np.int64)


def single_env_prompts(env_id, seed, episodes, **kwargs):
    """The prompt indices of ``episodes`` successive episodes of a ``TextGenEnv`` reset once with ``seed``."""
    env = gym.make(env_id, **kwargs)
    indices = [env.reset(seed=seed)[1]["prompt_index"]]
    indices += [env.reset()[1]["prompt_index"] for _ in range(episodes - 1)]
    return indices


@pytest.mark.parametrize("arrays", ["numpy", "torch"])
def test_seed_list_gives_each_row_the_prompts_of_a_single_env_with_its_seed(arrays):
    vec = TextGenVectorEnv(task="copy", num_envs=len(SEEDS), device="cpu", arrays=arrays)
    _, info = vec.reset(seed=SEEDS)
    seen = [info["prompt_index"].copy()]
    for _ in range(5):  # EOS ends every row: each step starts new episodes from each row's own generator
        _, _, terminated, _, info = vec.step(all_eos(vec))
        assert terminated.all()
        seen.append(info["prompt_index"].copy())
    seen = np.array(seen)
    for row, seed in enumerate(SEEDS):
        assert seen[:, row].tolist() == single_env_prompts("textgym/Copy-v0", seed, 6)
    # reset() without a seed goes on with each row's generator, like the single envs' reset()
    _, info = vec.reset()
    assert info["prompt_index"].tolist() == [single_env_prompts("textgym/Copy-v0", s, 7)[-1] for s in SEEDS]


def test_seed_list_rows_match_sync_vector_env_of_single_envs():
    sync = SyncVectorEnv(
        [lambda: gym.make("textgym/Sentiment-v0") for _ in SEEDS], autoreset_mode=AutoresetMode.SAME_STEP
    )
    vec = gym.make_vec(
        "textgym/Sentiment-v0", num_envs=len(SEEDS), vectorization_mode="vector_entry_point", device="cpu"
    )
    for env in (sync, vec):
        env.reset(seed=SEEDS)
    for _ in range(3):
        eos = np.zeros(len(SEEDS), dtype=np.int64)  # EOS of the tiny vocabulary
        _, _, _, _, sync_info = sync.step(eos)
        _, _, _, _, vec_info = vec.step(eos)
        np.testing.assert_array_equal(vec_info["prompt_index"], sync_info["prompt_index"])


def test_int_seed_keeps_one_generator_for_the_batch():
    """An int seeds one generator whose draws give all rows' prompts, in row order (not Sync's seed + i per env)."""
    vec = TextGenVectorEnv(task="copy", num_envs=5, device="cpu")
    _, info = vec.reset(seed=7)
    generator = seeding.np_random(7)[0]
    count = len(vec.task.prompts("train"))
    assert info["prompt_index"].tolist() == generator.integers(count, size=5).tolist()
    # after a seed list, an int seed goes back to the one generator
    vec.reset(seed=[1, 2, 3, 4, 5])
    _, info = vec.reset(seed=7)
    assert info["prompt_index"].tolist() == seeding.np_random(7)[0].integers(count, size=5).tolist()


def test_seed_list_of_the_wrong_length_is_a_clear_error():
    vec = TextGenVectorEnv(task="copy", num_envs=3, device="cpu")
    with pytest.raises(ValueError, match=r"seed is a list of 2 seeds, but num_envs=3: pass 3 seeds, one per env"):
        vec.reset(seed=[1, 2])
    with pytest.raises(ValueError, match=r"seed list entries must be non-negative ints or None, got 'a'"):
        vec.reset(seed=[1, 2, "a"])
    vec.reset(seed=[1, None, np.int64(3)])  # None: a fresh random seed for that row, as in SyncVectorEnv


def test_reset_mask_reseeds_only_the_masked_rows():
    vec = TextGenVectorEnv(task="copy", num_envs=3, device="cpu", autoreset_mode="Disabled")
    vec.reset(seed=[1, 2, 3])
    vec.step(all_eos(vec))
    _, info = vec.reset(seed=[10, 20, 30], options={"reset_mask": np.array([False, True, False])})
    assert info["prompt_index"][1] == single_env_prompts("textgym/Copy-v0", 20, 1)[0]
    vec.step(all_eos(vec))
    _, info = vec.reset(options={"reset_mask": np.ones(3, dtype=bool)})  # rows 0 and 2 go on with seeds 1 and 3
    assert info["prompt_index"].tolist() == [
        single_env_prompts("textgym/Copy-v0", 1, 2)[1],
        single_env_prompts("textgym/Copy-v0", 20, 2)[1],
        single_env_prompts("textgym/Copy-v0", 3, 2)[1],
    ]


def assert_same_layout(ours, theirs, keys):
    """Arrays of the same dtype and shape, equal (floats to 1e-12; object arrays entry by entry)."""
    for key in keys:
        a, b = ours[key], theirs[key]
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, (key, a, b)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, atol=1e-12, err_msg=key)
        else:
            assert a.tolist() == b.tolist(), key


@pytest.mark.parametrize("env_id", ["textgym/Copy-v0", "textgym/Sentiment-v0", "textgym/Keywords-v0"])
def test_final_obs_and_final_info_follow_sync_vector_env(env_id):
    n, horizon = 4, 5
    sync = SyncVectorEnv([lambda: gym.make(env_id, max_new_tokens=horizon) for _ in range(n)],
                         autoreset_mode=AutoresetMode.SAME_STEP)
    vec = gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", device="cpu", max_new_tokens=horizon
    )
    seeds = list(range(100, 100 + n))
    sync_obs, _ = sync.reset(seed=seeds)
    vec_obs, _ = vec.reset(seed=seeds)
    rng = np.random.default_rng(0)
    actions = reward_contract.random_actions(rng, vec.tokenizer, vec.single_action_space.n, (16, n), eos_rate=0.15)
    endings = 0
    for step_actions in actions:
        sync_step = sync.step(step_actions)
        vec_step = vec.step(step_actions)
        (sync_obs, sync_rewards, sync_terms, sync_truncs, sync_info) = sync_step
        (vec_obs, vec_rewards, vec_terms, vec_truncs, vec_info) = vec_step
        np.testing.assert_allclose(vec_rewards, sync_rewards, atol=1e-12)
        np.testing.assert_array_equal(vec_terms, sync_terms)
        np.testing.assert_array_equal(vec_truncs, sync_truncs)
        assert_same_layout(vec_obs, sync_obs, ["input_ids", "attention_mask"])
        final_keys = {"final_obs", "_final_obs", "final_info", "_final_info"}
        assert final_keys & set(vec_info) == final_keys & set(sync_info)
        # what the batched env reports at every step, it reports as Sync does (Sync has more: text, prompt)
        assert_same_layout(vec_info, sync_info, ["score", "num_generated", "prompt_index"])
        if "final_obs" not in sync_info:
            continue
        endings += int(sync_info["_final_obs"].sum())
        assert_same_layout(vec_info, sync_info, ["_final_obs", "_final_info"])
        ours, theirs = vec_info["final_obs"], sync_info["final_obs"]
        assert ours.dtype == theirs.dtype == object and ours.shape == theirs.shape == (n,)
        for row in range(n):
            if theirs[row] is None:
                assert ours[row] is None
            else:
                assert ours[row].keys() == theirs[row].keys()
                assert_same_layout(ours[row], theirs[row], theirs[row].keys())
        assert vec_info["final_info"].keys() == sync_info["final_info"].keys()
        assert_same_layout(vec_info["final_info"], sync_info["final_info"], sync_info["final_info"].keys())
    assert endings >= 6


def test_final_obs_with_torch_output_holds_tensors():
    vec = TextGenVectorEnv(task="copy", num_envs=3, device="cpu", output="torch")
    vec.reset(seed=0)
    _, _, terminated, _, info = vec.step(torch.tensor([0, 2, 0]))
    assert info["final_obs"][1] is None
    for row in (0, 2):
        final = info["final_obs"][row]
        assert (
            isinstance(final["input_ids"], torch.Tensor)
            and tuple(final["input_ids"].shape) == vec.single_observation_space["input_ids"].shape
        )
