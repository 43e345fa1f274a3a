"""textgym in the RL libraries people already use.

Every RL library takes an environment through a few generic doors: it pickles the env (to
ship it to a worker process, to checkpoint it, or, as Gymnasium's own test-suite does, to
check that it can), it builds it from ``env.spec``, it runs Gymnasium's ``check_env`` on it, or
it steps it in a subprocess with ``AsyncVectorEnv``. These tests go through those doors the
way the libraries do; a section per door, so that tests for more clients can be added below.

Sections:

1. Pickling: Gymnasium's pickle check, and an env pickled mid-episode (single and batched)
   that goes on exactly as the original (same observations, rewards and infos).
2. Subprocess vector envs: ``gymnasium.vector.AsyncVectorEnv`` with ``spawn`` and ``forkserver``.
3. Wrappers: ``check_env``, ``env.spec`` and ``spec.make()`` on textgym's own wrappers.

Then the env options those libraries need:

4. ``render_mode="rgb_array"``: fixed-size frames, tokens coloured by reward, the batched env's
   tuple of frames, SB3's ``make_vec_env`` (which asks for ``rgb_array``) and PPO on it, and
   Gymnasium's ``RecordVideo`` (with moviepy).
5. ``autoreset_mode="NextStep"`` on the batched env: row for row what ``SyncVectorEnv`` of
   single envs gives in NEXT_STEP, and the vector observation wrappers that need that mode.
6. ``observation="input_ids"``: a plain ``Box`` of token ids (tianshou, CleanRL), single and batched.
7. torchrl's ``GymEnv`` (single, and ``num_envs=4`` with ``info_text=False``).
8. tianshou's ``DummyVectorEnv``, ``Collector`` and its PPO training loop (``OnPolicyTrainer``).

Libraries that are not installed are skipped (``pytest.importorskip``).
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import time
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import batch_space

import textgym
from textgym import rendering
from textgym.arrays import ArrayBackend
from textgym.envs.vector import TextGenVectorEnv
from textgym.models.loader import ModelNotFoundError
from textgym.models.tokenizer import IncrementalDecoder
from textgym.wrappers import TopKActions, TopPActionMask

#: the horizon of the pickling tests: short, so that episodes end and the copies reset too
HORIZON = 6


def make_or_skip(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make(env_id, **kwargs)``, or a skip when the env's model is not on this machine."""
    try:
        return gym.make(env_id, **kwargs)
    except ModelNotFoundError as error:
        pytest.skip(f"{env_id}: {error}")


def make_vec_or_skip(env_id: str, num_envs: int, **kwargs: Any) -> gym.vector.VectorEnv:
    """The batched env of ``env_id`` (``vector_entry_point``), or a skip when its model is missing."""
    try:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    except ModelNotFoundError as error:
        pytest.skip(f"{env_id}: {error}")


def same(a: Any, b: Any) -> bool:
    """Gymnasium's ``data_equivalence``, exact (no float tolerance)."""
    return data_equivalence(a, b, exact=True)


def assert_single_envs_go_on_alike(original: gym.Env, twin: gym.Env, actions: np.ndarray) -> None:
    """Step both envs with ``actions``, resetting both (without a seed) when an episode ends; all results must match."""
    for t, action in enumerate(actions.tolist()):
        expected, got = original.step(action), twin.step(action)
        assert same(expected, got), f"step {t} (action {action}): the copy gave {got}, the original {expected}"
        if expected[2] or expected[3]:
            expected, got = original.reset(), twin.reset()  # the copy's RNG must draw the same next prompt
            assert same(expected, got), f"reset after step {t}: the copy gave {got}, the original {expected}"


def assert_vector_envs_go_on_alike(
    original: gym.vector.VectorEnv, twin: gym.vector.VectorEnv, actions: np.ndarray
) -> None:
    """Step both batched envs with the rows of ``actions`` (autoreset included); every result must match."""
    for t, row in enumerate(actions):
        expected, got = original.step(row), twin.step(row)
        assert same(expected, got), f"step {t} (actions {row.tolist()}): the copy gave {got}, the original {expected}"


# -- 1. Pickling ---------------------------------------------------------------------------------
#
# Gymnasium's test-suite checks every registered env with (tests/envs/test_envs.py, test_pickle_env):
#     env_reset = env.reset(seed=123); env_step = env.step(action)
#     pickled_env = pickle.loads(pickle.dumps(env))          # mid-episode
#     assert data_equivalence(env_reset, pickled_env.reset(seed=123))
#     assert data_equivalence(env_step, pickled_env.step(action))
# Libraries also pickle envs mid-episode without resetting the copy (checkpoints, worker
# hand-offs), so the copies below must also go on exactly as the original, from any point.


def _env_ids() -> list[str]:
    return textgym.env_ids()


@pytest.mark.parametrize("env_id", _env_ids())
def test_gymnasium_pickle_check(env_id):
    env = make_or_skip(env_id)
    action = env.action_space.sample()
    env_reset = env.reset(seed=123)
    env_step = env.step(action)
    pickled_env = pickle.loads(pickle.dumps(env))
    assert same(env_reset, pickled_env.reset(seed=123))
    assert same(env_step, pickled_env.step(action))
    env.close()
    pickled_env.close()


@pytest.mark.parametrize("env_id", _env_ids())
def test_single_env_pickled_mid_episode_goes_on_as_the_original(env_id):
    env = make_or_skip(env_id, max_new_tokens=HORIZON)
    tokenizer = env.unwrapped.tokenizer
    rng = np.random.default_rng(0)
    actions = reward_contract.random_actions(rng, tokenizer, env.action_space.n, 40)
    env.reset(seed=3)
    env.step(int(actions[0]))
    twin = pickle.loads(pickle.dumps(env))
    assert_single_envs_go_on_alike(env, twin, actions[1:])
    # deepcopy (SB3 and others copy envs) takes the same path
    assert_single_envs_go_on_alike(env, copy.deepcopy(env), actions[:20])


@pytest.mark.parametrize("env_id", _env_ids())
def test_batched_env_pickled_mid_episode_goes_on_as_the_original(env_id):
    envs = make_vec_or_skip(env_id, 3, max_new_tokens=HORIZON)
    tokenizer = envs.unwrapped.tokenizer
    rng = np.random.default_rng(1)
    actions = reward_contract.random_actions(rng, tokenizer, envs.single_action_space.n, (16, 3))
    envs.reset(seed=3)
    envs.step(actions[0])
    twin = pickle.loads(pickle.dumps(envs))
    assert_vector_envs_go_on_alike(envs, twin, actions[1:])


@pytest.mark.parametrize("task", ["copy", "sentiment"])
def test_batched_env_with_torch_arrays_pickles(task):
    """The accelerator code path (state as torch tensors, ``arrays="torch"``) pickles too."""
    envs = TextGenVectorEnv(task, num_envs=2, max_new_tokens=HORIZON, arrays="torch", device="cpu")
    rng = np.random.default_rng(2)
    actions = reward_contract.random_actions(rng, envs.tokenizer, envs.single_action_space.n, (12, 2))
    envs.reset(seed=0)
    envs.step(actions[0])
    twin = pickle.loads(pickle.dumps(envs))
    assert twin.arrays.xp is envs.arrays.xp
    assert_vector_envs_go_on_alike(envs, twin, actions[1:])


@pytest.mark.parametrize("task", ["copy", "sentiment"])
def test_batched_env_on_cuda_pickles_mid_episode(task):
    """State as CUDA tensors: the copy's tensors are on the GPU again, and it goes on as the original."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    envs = TextGenVectorEnv(task, num_envs=3, max_new_tokens=HORIZON, device="cuda")
    rng = np.random.default_rng(3)
    actions = reward_contract.random_actions(rng, envs.tokenizer, envs.single_action_space.n, (12, 3))
    envs.reset(seed=0)
    envs.step(actions[0])
    twin = pickle.loads(pickle.dumps(envs))
    assert twin.arrays.xp is torch and twin.input_ids.device.type == "cuda"
    assert_vector_envs_go_on_alike(envs, twin, actions[1:])


@pytest.mark.parametrize("kind", ["auto", "numpy", "torch"])
def test_array_backend_pickles_and_rederives_its_array_module(kind):
    import torch

    backend = ArrayBackend(torch.device("cpu"), kind)
    twin = pickle.loads(pickle.dumps(backend))
    assert (twin.kind, twin.device, twin.is_numpy) == (backend.kind, backend.device, backend.is_numpy)
    assert twin.xp is backend.xp is (torch if kind == "torch" else np)


def _half_character_actions(tokenizer) -> list[int]:
    """A Sentiment episode of ``HORIZON`` tokens: " great", then 日 over three byte tokens, then half of 本.

    The last token is the first byte of a three-byte character, so the episode ends on half
    a character (decoded as U+FFFD), and after the second token the decoder holds bytes of
    an unfinished character: the copies below are made at every point in between.
    """
    ids = tokenizer.encode(" great 日本")
    actions = ids[:HORIZON]
    assert len(actions) == HORIZON and actions[-1] in reward_contract.partial_character_tokens(tokenizer)
    assert tokenizer.decode(actions).endswith(reward_contract.REPLACEMENT)
    return actions


@pytest.mark.parametrize("cut", range(HORIZON))
def test_sentiment_pickled_inside_a_multibyte_character_goes_on_as_the_original(cut):
    env = gym.make("textgym/Sentiment-v0", max_new_tokens=HORIZON)
    tokenizer = env.unwrapped.tokenizer
    actions = _half_character_actions(tokenizer)
    env.reset(seed=0)
    for action in actions[:cut]:
        env.step(action)
    twin = pickle.loads(pickle.dumps(env))
    final = None
    for t, action in enumerate(actions[cut:], start=cut):
        expected, got = env.step(action), twin.step(action)
        assert same(expected, got), f"step {t}: the copy gave {got}, the original {expected}"
        final = expected
    assert final[2] and final[4]["end_reason"] == "max_new_tokens"
    assert final[4]["text"] == tokenizer.decode(actions)  # ends in U+FFFD: the half character


@pytest.mark.parametrize("cut", range(HORIZON))
def test_batched_sentiment_pickled_inside_a_multibyte_character_goes_on_as_the_original(cut):
    envs = make_vec_or_skip("textgym/Sentiment-v0", 2, max_new_tokens=HORIZON)
    tokenizer = envs.unwrapped.tokenizer
    actions = _half_character_actions(tokenizer)
    rows = np.array([actions, actions[::-1]], dtype=np.int64).T  # row 1: the same tokens, reversed
    envs.reset(seed=0)
    for row in rows[:cut]:
        envs.step(row)
    twin = pickle.loads(pickle.dumps(envs))
    assert_vector_envs_go_on_alike(envs, twin, rows[cut:-1])
    expected, got = envs.step(rows[-1]), twin.step(rows[-1])
    assert same(expected, got)
    final_info = expected[4]["final_info"]
    assert final_info["_text"].all()
    assert final_info["text"][0] == tokenizer.decode(actions)


def _decoder_ids(tokenizer) -> list[int]:
    """Whole and split characters, then half of one at the end."""
    ids = tokenizer.encode(" café 😀 great 日本 naïve €")
    partial = reward_contract.partial_character_tokens(tokenizer)
    return ids + [partial[0]]


def test_incremental_decoder_pickled_anywhere_decodes_as_the_original():
    tokenizer = gym.make("textgym/Sentiment-v0").unwrapped.tokenizer
    ids = _decoder_ids(tokenizer)
    for cut in range(len(ids) + 1):
        decoder = tokenizer.incremental_decoder()
        for i in ids[:cut]:
            decoder.push(i)
        twin = pickle.loads(pickle.dumps(decoder))
        assert isinstance(twin, IncrementalDecoder)
        for i in ids[cut:]:
            assert twin.push(i) == decoder.push(i), f"cut {cut}, token {i}"
        rest = decoder.flush()
        assert twin.flush() == rest, f"cut {cut}: flush"
    # the chunks and the flushed rest are the full decode (the copy's contract is the original's)
    decoder = tokenizer.incremental_decoder()
    chunks = [decoder.push(i) for i in ids[:5]]
    decoder = copy.deepcopy(decoder)
    chunks += [decoder.push(i) for i in ids[5:]]
    assert "".join(chunks) + decoder.flush() == tokenizer.decode(ids)


def test_incremental_decoder_pickled_after_flush_stays_flushed():
    tokenizer = gym.make("textgym/Sentiment-v0").unwrapped.tokenizer
    ids = _decoder_ids(tokenizer)
    decoder = tokenizer.incremental_decoder()
    for i in ids:
        decoder.push(i)
    decoder.flush()
    twin = pickle.loads(pickle.dumps(decoder))
    assert twin.flush() == decoder.flush() == ""


# -- 2. Subprocess vector envs ---------------------------------------------------------------------


@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_async_vector_env_in_fresh_processes(context):
    """``AsyncVectorEnv`` with a start method that imports textgym afresh in each worker steps as ``SyncVectorEnv``."""
    if context not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {context!r} start method on this platform")
    asynchronous = gym.make_vec(
        "textgym/Copy-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"context": context}
    )
    synchronous = gym.make_vec("textgym/Copy-v0", num_envs=2, vectorization_mode="sync")
    try:
        assert same(asynchronous.reset(seed=0), synchronous.reset(seed=0))
        rng = np.random.default_rng(0)
        for _ in range(10):
            actions = rng.integers(0, asynchronous.single_action_space.n, size=2)
            assert same(asynchronous.step(actions), synchronous.step(actions))
    finally:
        asynchronous.close()
        synchronous.close()


# -- 3. Wrappers ------------------------------------------------------------------------------------
#
# Gymnasium's convention: a wrapper records its constructor arguments
# (``gym.utils.RecordConstructorArgs``), so ``env.spec`` lists it with them and ``spec.make()``
# rebuilds the whole stack; ``check_env`` relies on that to remake the env in each render mode.

WRAPPERS = [(TopKActions, {"k": 4}), (TopPActionMask, {"top_p": 0.8})]


@pytest.mark.parametrize("wrapper, kwargs", WRAPPERS, ids=[w.__name__ for w, _ in WRAPPERS])
def test_wrappers_pass_check_env(wrapper, kwargs):
    env = wrapper(gym.make("textgym/Sentiment-v0"), **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    # check_env always notes that a wrapped env is not its unwrapped self; nothing else may come up
    others = [str(w.message) for w in caught if "is different from the unwrapped version" not in str(w.message)]
    assert not others


@pytest.mark.parametrize("wrapper, kwargs", WRAPPERS, ids=[w.__name__ for w, _ in WRAPPERS])
def test_wrappers_are_in_the_spec_and_spec_make_rebuilds_them(wrapper, kwargs):
    env = wrapper(gym.make("textgym/Sentiment-v0", max_new_tokens=HORIZON), **kwargs)
    recorded = env.spec.additional_wrappers[-1]
    assert recorded.name == wrapper.__name__
    assert recorded.entry_point == f"textgym.wrappers.action_spaces:{wrapper.__name__}"
    assert recorded.kwargs == {**kwargs, "model": None, "device": "cpu"}
    remade = env.spec.make()
    assert isinstance(remade, wrapper) and remade.spec == env.spec
    assert remade.action_space == env.action_space and remade.observation_space == env.observation_space
    # the remade stack is the same MDP: same observations, rewards and infos for the same actions
    assert same(env.reset(seed=5), remade.reset(seed=5))
    for _ in range(HORIZON):
        action = int(env.action_space.sample())
        expected, got = env.step(action), remade.step(action)
        assert same(expected, got)
        if wrapper is TopPActionMask:
            assert same(env.action_masks(), remade.action_masks())
        if expected[2] or expected[3]:
            break


@pytest.mark.parametrize("wrapper, kwargs", WRAPPERS, ids=[w.__name__ for w, _ in WRAPPERS])
def test_wrappers_pickle_mid_episode(wrapper, kwargs):
    env = wrapper(gym.make("textgym/Sentiment-v0", max_new_tokens=HORIZON), **kwargs)
    env.reset(seed=0)
    env.step(1)  # not EOS: the episode goes on
    twin = pickle.loads(pickle.dumps(env))
    actions = np.random.default_rng(0).integers(0, env.action_space.n, size=12)
    assert_single_envs_go_on_alike(env, twin, actions)


# == 4-8: the env options other libraries need ==========================================================

COPY = "textgym/Copy-v0"
SEEDS = [100, 101, 102, 103]


def make_vec(env_id: str, num_envs: int, **kwargs) -> TextGenVectorEnv:
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device="cpu", **kwargs)


def below_title(frame: np.ndarray) -> np.ndarray:
    """A frame without its title line (the batched env's titles name the row)."""
    return frame[rendering.MARGIN + rendering.LINE_HEIGHT :]


# -- 1. render_mode="rgb_array" -------------------------------------------------------------------


@pytest.mark.parametrize("env_id", [COPY, "textgym/Sentiment-v0"])
def test_rgb_array_frames_keep_one_shape_through_an_episode(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    assert "rgb_array" in env.metadata["render_modes"] and env.metadata["render_fps"] > 0
    before = env.unwrapped.render()  # before reset: a frame of the same size that says so
    env.reset(seed=0)
    frames = [before, env.render()]
    rng = np.random.default_rng(0)
    actions = reward_contract.random_actions(rng, env.unwrapped.tokenizer, env.action_space.n, 200, eos_rate=0.0)
    for action in actions.tolist():
        _, _, terminated, truncated, _ = env.step(action)
        frames.append(env.render())
        if terminated or truncated:
            break
    assert terminated
    for frame in frames:
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape == rendering.FRAME_SHAPE
    assert not np.array_equal(frames[1], frames[-1])  # the continuation shows


def test_rgb_array_colours_each_token_by_its_instant_reward():
    colours = rendering.reward_colours(np.array([2.0, -2.0, 0.0, 1.0]), scale=2.0)
    assert colours.tolist() == [rendering.GREEN.tolist(), rendering.RED.tolist(), [255, 255, 255], [140, 204, 168]]
    env = gym.make(COPY, render_mode="rgb_array", max_new_tokens=12)
    _, info = env.reset(seed=0)
    target = env.unwrapped.tokenizer.encode(info["prompt"].rstrip("="))
    rewards = [env.step(token)[1] for token in target]  # each right symbol: +1/len
    rewards.append(env.step(target[0])[1])  # one symbol too many: the score drops
    good, bad = rewards[0], rewards[-1]
    assert good > 0 > bad
    frame = env.render()
    pixels = {tuple(p) for p in frame.reshape(-1, 3).tolist()}
    scale = max(abs(good), abs(bad))
    assert tuple(rendering.reward_colours(np.array([good]), scale)[0].tolist()) in pixels
    assert tuple(rendering.reward_colours(np.array([bad]), scale)[0].tolist()) in pixels


def test_rgb_array_frame_takes_a_few_milliseconds():
    env = gym.make("textgym/Sentiment-v0", render_mode="rgb_array", max_new_tokens=64)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for action in rng.integers(2, env.action_space.n, size=63).tolist():
        env.step(action)
    env.render()  # the font is loaded once
    times = []
    for _ in range(5):
        start = time.perf_counter()
        env.render()
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.1, times  # about 15 ms on one CPU core; loose for shared machines


@pytest.mark.parametrize("mode", ["SameStep", "NextStep"])
def test_batched_rgb_array_gives_one_frame_per_row_as_sync_vector_env(mode):
    """``render()`` returns a tuple of frames, row ``i``'s the frame of a single env fed the same actions."""
    n = len(SEEDS)
    sync = SyncVectorEnv([lambda: gym.make(COPY, render_mode="rgb_array", max_new_tokens=5) for _ in range(n)],
                         autoreset_mode=AutoresetMode(mode))
    vec = make_vec(COPY, n, render_mode="rgb_array", max_new_tokens=5, autoreset_mode=mode)
    assert vec.metadata["render_fps"] == sync.metadata["render_fps"]
    sync.reset(seed=SEEDS)
    vec.reset(seed=SEEDS)
    rng = np.random.default_rng(3)
    actions = reward_contract.random_actions(rng, vec.tokenizer, vec.single_action_space.n, (12, n), eos_rate=0.1)
    for row_actions in actions:
        sync.step(row_actions)
        vec.step(row_actions)
        theirs, ours = sync.render(), vec.render()
        assert isinstance(ours, tuple) and len(ours) == len(theirs) == n
        for row in range(n):
            assert ours[row].shape == theirs[row].shape == rendering.FRAME_SHAPE
            assert np.array_equal(below_title(ours[row]), below_title(theirs[row])), row
    assert [frame.shape for frame in vec.render_rgb(rows=[1])] == [rendering.FRAME_SHAPE]


def test_sb3_make_vec_env_and_ppo_learn():
    """SB3's ``make_vec_env`` makes its envs with ``render_mode="rgb_array"``."""
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env

    vec_env = make_vec_env(COPY, n_envs=8, seed=0)
    assert vec_env.render_mode == "rgb_array"
    vec_env.reset()
    images = vec_env.get_images()
    assert len(images) == 8 and all(image.shape == rendering.FRAME_SHAPE for image in images)
    assert vec_env.render().ndim == 3  # DummyVecEnv tiles the frames
    model = sb3.PPO("MultiInputPolicy", vec_env, n_steps=8, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    assert model.num_timesteps >= 64
    # the plain-Box observation goes with the MLP policy
    vec_env = make_vec_env(COPY, n_envs=4, seed=0, env_kwargs={"observation": "input_ids"})
    sb3.PPO("MlpPolicy", vec_env, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(32)


def test_record_video(tmp_path):
    pytest.importorskip("moviepy")
    from gymnasium.wrappers import RecordVideo

    env = RecordVideo(
        gym.make(COPY, render_mode="rgb_array"),
        str(tmp_path / "videos"),
        episode_trigger=lambda episode: True,
        disable_logger=True,
    )
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    episodes = 0
    while episodes < 2:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(2, env.action_space.n)))
        if terminated or truncated:
            episodes += 1
            env.reset()
    env.close()
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) >= 2 and all(video.stat().st_size > 0 for video in videos)


# -- 2. autoreset_mode="NextStep" -------------------------------------------------------------------


def assert_same(ours, theirs, key):
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype and ours.shape == theirs.shape, (
        key,
        ours,
        theirs,
    )
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, atol=1e-12, err_msg=key)
    else:
        assert ours.tolist() == theirs.tolist(), key


@pytest.mark.parametrize(
    "env_id, arrays, observation",
    [
        (COPY, "numpy", "dict"),
        (COPY, "torch", "input_ids"),
        ("textgym/Sentiment-v0", "numpy", "dict"),
        ("textgym/Keywords-v0", "numpy", "input_ids"),
    ],
)
def test_next_step_autoreset_matches_sync_vector_env(env_id, arrays, observation):
    n, horizon = len(SEEDS), 5
    sync = SyncVectorEnv([lambda: gym.make(env_id, max_new_tokens=horizon, observation=observation) for _ in range(n)],
                         autoreset_mode=AutoresetMode.NEXT_STEP)
    vec = make_vec(env_id, n, max_new_tokens=horizon, observation=observation, autoreset_mode="NextStep", arrays=arrays)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP == sync.metadata["autoreset_mode"]
    assert vec.observation_space == sync.observation_space
    sync_obs, sync_info = sync.reset(seed=SEEDS)
    vec_obs, vec_info = vec.reset(seed=SEEDS)
    rng = np.random.default_rng(0)
    actions = reward_contract.random_actions(rng, vec.tokenizer, vec.single_action_space.n, (24, n), eos_rate=0.15)
    endings = restarts = 0
    for t, row_actions in enumerate(actions):
        if t:
            sync_obs, sync_rewards, sync_terms, sync_truncs, sync_info = sync.step(row_actions)
            vec_obs, vec_rewards, vec_terms, vec_truncs, vec_info = vec.step(row_actions)
            assert_same(vec_rewards, sync_rewards, "rewards")
            assert_same(vec_terms, sync_terms, "terminated")
            assert_same(vec_truncs, sync_truncs, "truncated")
            assert not {"final_obs", "final_info"} & (set(vec_info) | set(sync_info))
            # end_reason at every step ("" while a row runs), valid in every row, as SyncVectorEnv of TextGenEnv has it
            assert_same(vec_info["end_reason"], sync_info["end_reason"], "end_reason")
            assert_same(vec_info["_end_reason"], sync_info["_end_reason"], "_end_reason")
            ended = sync_info["end_reason"] != ""
            assert ended.tolist() == sync_terms.tolist()
            endings += int(ended.sum())
            assert vec_info["_text"].tolist() == ended.tolist()  # the batched env gives the ending rows' text
            assert vec_info["text"][ended].tolist() == sync_info["text"][ended].tolist()
            restarts += int(((sync_info["num_generated"] == 0) & (sync_rewards == 0)).sum())
        if observation == "dict":
            for key in ("input_ids", "attention_mask"):
                assert_same(vec_obs[key], sync_obs[key], key)
        else:
            assert_same(vec_obs, sync_obs, "obs")
        for key in ("score", "num_generated", "prompt_index", "length"):
            assert_same(vec_info[key], sync_info[key], key)
    assert endings >= 6 and restarts >= 6


def test_next_step_reset_drops_the_pending_restart():
    vec = TextGenVectorEnv(task="copy", num_envs=2, device="cpu", autoreset_mode="NextStep")
    vec.reset(seed=0)
    eos = vec.tokenizer.eos_token_id
    _, _, terminated, _, info = vec.step(np.array([eos, 2]))
    assert terminated.tolist() == [True, False] and vec.ended.tolist() == [True, False]
    assert info["num_generated"].tolist() == [1, 1] and info["end_reason"][0] == "eos"
    _, rewards, terminated, _, info = vec.step(np.array([2, 2]))  # row 0 restarts: its action is ignored
    assert info["num_generated"].tolist() == [0, 2] and rewards[0] == 0.0 and not terminated.any()
    vec.step(np.array([eos, 2]))
    vec.reset()  # an explicit reset starts every row: the next step restarts none
    _, _, _, _, info = vec.step(np.array([2, 2]))
    assert info["num_generated"].tolist() == [1, 1]


def test_vector_observation_wrappers_that_need_next_step():
    from gymnasium.wrappers import vector as vector_wrappers

    # NormalizeObservation refuses same-step autoreset (the final observation would escape it)
    with pytest.raises(ValueError, match="NEXT_STEP"):
        vector_wrappers.NormalizeObservation(make_vec(COPY, 3, observation="input_ids"))

    n = len(SEEDS)
    sync = SyncVectorEnv([lambda: gym.make(COPY) for _ in range(n)], autoreset_mode=AutoresetMode.NEXT_STEP)
    vec = make_vec(COPY, n, autoreset_mode="NextStep")
    theirs = vector_wrappers.DtypeObservation(vector_wrappers.FlattenObservation(sync), np.float32)
    ours = vector_wrappers.DtypeObservation(vector_wrappers.FlattenObservation(vec), np.float32)
    assert ours.observation_space == theirs.observation_space
    ours = vector_wrappers.NormalizeObservation(ours)
    theirs = vector_wrappers.NormalizeObservation(theirs)
    ours = vector_wrappers.TransformObservation(ours, lambda obs: obs * 2)
    theirs = vector_wrappers.TransformObservation(theirs, lambda obs: obs * 2)
    our_obs, _ = ours.reset(seed=SEEDS)
    their_obs, _ = theirs.reset(seed=SEEDS)
    np.testing.assert_allclose(our_obs, their_obs, rtol=1e-5)
    rng = np.random.default_rng(0)
    for row_actions in reward_contract.random_actions(
        rng, vec.tokenizer, vec.single_action_space.n, (15, n), eos_rate=0.2
    ):
        our_obs, our_rewards, *_ = ours.step(row_actions)
        their_obs, their_rewards, *_ = theirs.step(row_actions)
        np.testing.assert_allclose(our_obs, their_obs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(our_rewards, their_rewards, atol=1e-12)


def test_sb3_adapter_takes_same_step_only():
    pytest.importorskip("stable_baselines3")
    from textgym_agents.sb3.vec_env import TextGenSB3VecEnv

    with pytest.raises(ValueError, match="autoreset_mode='SameStep'"):
        TextGenSB3VecEnv(TextGenVectorEnv(task="copy", num_envs=2, device="cpu", autoreset_mode="NextStep"))


# -- 3. observation="input_ids" ---------------------------------------------------------------------


@pytest.mark.parametrize("env_id", [COPY, "textgym/Sentiment-v0"])
def test_input_ids_observation_passes_check_env(env_id):
    env = gym.make(env_id, observation="input_ids")
    length = env.unwrapped.setup.obs_length
    vocab = env.unwrapped.tokenizer.vocab_size
    assert env.observation_space == gym.spaces.Box(0, vocab - 1, (length,), np.int64)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert (obs[info["length"] :] == env.unwrapped.tokenizer.pad_token_id).all()


def test_input_ids_are_the_dict_observations_ids_and_length_counts_the_mask():
    plain, full = gym.make(COPY, observation="input_ids"), gym.make(COPY)
    obs, info = plain.reset(seed=5)
    expected, expected_info = full.reset(seed=5)
    rng = np.random.default_rng(5)
    for action in [None] + rng.integers(0, plain.action_space.n, size=30).tolist():
        if action is not None:
            obs, _, terminated, _, info = plain.step(action)
            expected, _, _, _, expected_info = full.step(action)
        assert np.array_equal(obs, expected["input_ids"])
        assert info == expected_info
        assert info["length"] == expected["attention_mask"].sum()
        if action is not None and terminated:
            obs, info = plain.reset()
            expected, expected_info = full.reset()


def test_unknown_observation_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown observation 'ids'; allowed: \['dict', 'input_ids'\]"):
        gym.make(COPY, observation="ids")
    with pytest.raises(ValueError, match="info_text must be True or False"):
        TextGenVectorEnv(task="copy", info_text="no")


@pytest.mark.parametrize("mode", ["SameStep", "Disabled"])
def test_batched_input_ids_observation(mode):
    n = 3
    vec = make_vec(COPY, n, observation="input_ids", autoreset_mode=mode)
    dict_vec = make_vec(COPY, n, autoreset_mode=mode)
    assert vec.observation_space == batch_space(vec.single_observation_space, n)
    assert vec.single_observation_space == gym.make(COPY, observation="input_ids").observation_space
    obs, _ = vec.reset(seed=SEEDS[:n])
    expected, _ = dict_vec.reset(seed=SEEDS[:n])
    rng = np.random.default_rng(2)
    for row_actions in reward_contract.random_actions(
        rng, vec.tokenizer, vec.single_action_space.n, (10, n), eos_rate=0.2
    ):
        obs, _, terminated, _, info = vec.step(row_actions)
        expected, _, _, _, expected_info = dict_vec.step(row_actions)
        assert vec.observation_space.contains(obs)
        assert np.array_equal(obs, expected["input_ids"])
        assert info["length"].tolist() == expected["attention_mask"].sum(axis=1).tolist()
        if "final_obs" in info:
            for row in np.flatnonzero(info["_final_obs"]):
                assert np.array_equal(info["final_obs"][row], expected_info["final_obs"][row]["input_ids"])
                assert info["final_info"]["length"][row] == expected_info["final_obs"][row]["attention_mask"].sum()
        if mode == "Disabled" and terminated.any():
            vec.reset(options={"reset_mask": terminated})
            dict_vec.reset(options={"reset_mask": terminated})


def test_info_text_false_leaves_only_numbers():
    env = gym.make(COPY, info_text=False)
    _, info = env.reset(seed=0)
    keys = {"score", "prompt_index", "num_generated", "length"}
    assert set(info) == keys
    _, _, terminated, _, info = env.step(env.unwrapped.tokenizer.eos_token_id)
    assert terminated and set(info) == keys
    vec = make_vec(COPY, 2, info_text=False)
    vec.reset(seed=0)
    _, _, terminated, _, info = vec.step(np.full(2, vec.tokenizer.eos_token_id))
    assert terminated.all()
    assert set(info["final_info"]) == keys | {f"_{key}" for key in keys}
    for value in list(info.values()) + list(info["final_info"].values()):
        assert not (isinstance(value, np.ndarray) and value.dtype == object and any(isinstance(v, str) for v in value))
    for mode in ("NextStep", "Disabled"):
        vec = make_vec(COPY, 2, info_text=False, autoreset_mode=mode)
        vec.reset(seed=0)
        _, _, terminated, _, info = vec.step(np.full(2, vec.tokenizer.eos_token_id))
        assert terminated.all() and set(info) == keys


# -- 4. torchrl -------------------------------------------------------------------------------------
#
# torchrl's GymEnv(ID, num_envs=N) wraps gymnasium.vector.AsyncVectorEnv of gym.make(ID) and turns
# every info key into a tensor; strings cannot be, so its vector form needs info_text=False (with
# the strings, torchrl's spec check fails with "KeyError: keys in TensorDict(...) mismatch").


@pytest.fixture
def torchrl_gym_env():
    pytest.importorskip("torchrl")
    from torchrl.envs import GymEnv

    return GymEnv


def test_torchrl_gym_env_single(torchrl_gym_env):
    env = torchrl_gym_env(COPY)
    rollout = env.rollout(10)
    steps = rollout.batch_size[0]
    assert 1 <= steps <= 10 and rollout["next", "done"][-1].item() == (steps < 10)
    assert rollout["input_ids"].shape[-1] == env.observation_spec["input_ids"].shape[-1]
    env = torchrl_gym_env(COPY, observation="input_ids")
    assert env.rollout(10)["observation"].dtype.is_floating_point is False


def test_torchrl_gym_env_num_envs(torchrl_gym_env):
    # torchrl makes multiprocessing spawn its workers: a worker imports textgym (which registers the
    # ids) through the "module:" prefix of the id here, through a script's own `import textgym` elsewhere
    env = torchrl_gym_env(f"textgym:{COPY}", num_envs=4, info_text=False)
    try:
        rollout = env.rollout(10)
        assert rollout.batch_size[0] == 4 and 1 <= rollout.batch_size[1] <= 10
        for key in ("score", "num_generated", "prompt_index", "length", "reward", "input_ids"):
            assert ("next", key) in rollout.keys(include_nested=True), key
        rollout = env.rollout(20, break_when_any_done=False)  # across the ends of episodes
        assert tuple(rollout.batch_size) == (4, 20) and rollout["next", "done"].any()
    finally:
        env.close()


# -- 5. tianshou ------------------------------------------------------------------------------------


def test_tianshou_dummy_vector_env_and_collector():
    pytest.importorskip("tianshou")
    from tianshou.algorithm.algorithm_base import RandomActionPolicy
    from tianshou.data import Batch, Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv

    envs = DummyVectorEnv([lambda: gym.make(COPY, observation="input_ids") for _ in range(4)])
    obs, info = envs.reset()
    length = gym.make(COPY).unwrapped.setup.obs_length
    assert obs.shape == (4, length) and obs.dtype == np.int64 and len(info) == 4
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(20):
        obs, rewards, terminated, truncated, info = envs.step(rng.integers(0, 8, size=4))
        assert obs.shape == (4, length) and rewards.shape == (4,)
        done = np.flatnonzero(terminated | truncated)
        if len(done):
            ends += len(done)
            envs.reset(done)
    assert ends > 0

    class RandomTokenPolicy(RandomActionPolicy):
        """tianshou's random policy, with integer actions (its own gives floats, which no Discrete space contains)."""

        def forward(self, batch, state=None, **kwargs):
            out = super().forward(batch, state, **kwargs)
            return Batch(act=out.act.long(), state=out.state)

    collector = Collector(RandomTokenPolicy(envs.action_space[0]), envs, VectorReplayBuffer(400, 4))
    collector.reset()
    stats = collector.collect(n_episode=8)
    assert stats.n_collected_episodes >= 8 and stats.n_collected_steps >= 8
    envs.close()


def test_tianshou_ppo_trainer_on_input_ids():
    """tianshou's own PPO training loop (Collector, VectorReplayBuffer, OnPolicyTrainer) on Copy with
    ``observation="input_ids"``: it trains, and the greedy score rises.

    tianshou stores every step's info in its replay buffer and its trainer checks the buffer for NaNs after each
    collection: an info key present at some steps only (as ``end_reason`` once was, at an episode's last step) becomes
    NaN elsewhere and stops training with ``MalformedBufferError: Encountered NaNs in buffer``.
    """
    pytest.importorskip("tianshou")
    import torch
    from tianshou.algorithm import PPO
    from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv
    from tianshou.trainer import OnPolicyTrainerParams
    from tianshou.utils.net.common import ModuleWithVectorOutput
    from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

    class OneHotMLP(ModuleWithVectorOutput):
        """The token ids one-hot encoded, then one tanh layer: tianshou's preprocessing-net interface."""

        def __init__(self, vocab_size: int, length: int, hidden: int = 64) -> None:
            super().__init__(hidden)
            self.vocab_size = vocab_size
            self.body = torch.nn.Sequential(torch.nn.Linear(vocab_size * length, hidden), torch.nn.Tanh())

        def forward(self, obs, state=None, info=None):
            ids = torch.as_tensor(obs, dtype=torch.long)
            return self.body(torch.nn.functional.one_hot(ids, self.vocab_size).flatten(1).float()), state

    def make():
        return gym.make(COPY, observation="input_ids")

    env = make()
    length, vocab = env.observation_space.shape[0], int(env.action_space.n)
    train_envs = DummyVectorEnv([make for _ in range(8)])
    test_envs = DummyVectorEnv([make for _ in range(8)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: one thread is fastest, and the run is the same on every machine
    try:
        torch.manual_seed(0)
        train_envs.seed(0)
        test_envs.seed(100)
        actor = DiscreteActor(preprocess_net=OneHotMLP(vocab, length), action_shape=vocab, softmax_output=False)
        critic = DiscreteCritic(preprocess_net=OneHotMLP(vocab, length))
        policy = ProbabilisticActorPolicy(
            actor=actor, dist_fn=lambda logits: torch.distributions.Categorical(logits=logits),
            action_space=env.action_space, action_scaling=False, action_bound_method=None, deterministic_eval=True,
        )
        algorithm = PPO(policy=policy, critic=critic, optim=AdamOptimizerFactory(lr=3e-3), gamma=1.0, ent_coef=0.0)
        training_collector = Collector(algorithm, train_envs, VectorReplayBuffer(4096, 8))
        test_collector = Collector(algorithm, test_envs)

        def greedy_score() -> float:
            test_collector.reset()
            algorithm.policy.eval()
            return float(test_collector.collect(n_episode=64).returns_stat.mean)

        before = greedy_score()
        stats = algorithm.run_training(
            OnPolicyTrainerParams(
                training_collector=training_collector, test_collector=None, max_epochs=1, epoch_num_steps=8192,
                collection_step_num_env_steps=256, update_step_num_repetitions=4, batch_size=64,
                show_progress=False, verbose=False,
            )
        )
        after = greedy_score()
    finally:
        torch.set_num_threads(threads)
        train_envs.close()
        test_envs.close()
    assert stats.train_step >= 8192 and stats.train_episode > 0
    assert not training_collector.buffer.hasnull()
    # a uniform random policy scores about 0.09 on Copy; the trained greedy policy well above it, and above its start
    assert after > max(before + 0.05, 0.17), (before, after)
