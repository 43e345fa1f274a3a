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
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import reward_contract
import textgym
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
    """Step both envs with ``actions``, resetting both (without a seed) when an episode ends; every result must match."""
    for t, action in enumerate(actions.tolist()):
        expected, got = original.step(action), twin.step(action)
        assert same(expected, got), f"step {t} (action {action}): the copy gave {got}, the original {expected}"
        if expected[2] or expected[3]:
            expected, got = original.reset(), twin.reset()  # the copy's RNG must draw the same next prompt
            assert same(expected, got), f"reset after step {t}: the copy gave {got}, the original {expected}"


def assert_vector_envs_go_on_alike(original: gym.vector.VectorEnv, twin: gym.vector.VectorEnv, actions: np.ndarray) -> None:
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
    asynchronous = gym.make_vec("textgym/Copy-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"context": context})
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
