"""The batched env's prompt draws come from a block drawn ahead: the same values and generator states as plain draws."""

import pickle

import numpy as np
import pytest
from gymnasium.utils import seeding

from textgym import TextGenVectorEnv
from textgym.envs.prompt_draws import PrefetchedIntegers


def same_state(a, b) -> bool:
    """Bit generator states equal (some hold arrays: MT19937's key, Philox's counter)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64])
@pytest.mark.parametrize("high", [1, 7, 100, 2**31 + 12345, 2**32 - 5])
def test_prefetched_draws_equal_plain_draws_and_leave_the_same_state(high, bit_generator):
    sizes = np.random.default_rng(high % 1000).integers(0, 40, size=60).tolist()
    plain, fetched = np.random.Generator(bit_generator(11)), np.random.Generator(bit_generator(11))
    plain.integers(5), fetched.integers(5)  # an odd number of 32-bit words used before
    draws = PrefetchedIntegers(block=64)
    for i, size in enumerate(sizes):
        np.testing.assert_array_equal(draws.integers(fetched, high, size), plain.integers(high, size=size))
        if i % 7 == 3:  # an outside draw from the settled generator, as LM agents make
            draws.settle()
            assert same_state(fetched.bit_generator.state, plain.bit_generator.state)
            np.testing.assert_array_equal(fetched.integers(1000, size=3), plain.integers(1000, size=3))
    draws.settle()
    assert same_state(fetched.bit_generator.state, plain.bit_generator.state)


def _unbuffered_prompts(seed: int, count: int, num_envs: int, ends: list[int]) -> list[list[int]]:
    generator = seeding.np_random(seed)[0]
    return [generator.integers(count, size=num_envs).tolist()] + [
        generator.integers(count, size=k).tolist() for k in ends
    ]


def test_env_prompts_and_generator_state_match_unbuffered_draws():
    env = TextGenVectorEnv(task="copy", num_envs=6, device="cpu")
    count = len(env.setup.prompts)
    _, info = env.reset(seed=3)
    drawn = [info["prompt_index"].tolist()]
    ends, actions = [], np.random.default_rng(0)
    for step in range(40):
        _, _, terminated, _, info = env.step(actions.integers(0, env.single_action_space.n, size=6))
        if terminated.any():
            drawn.append(info["prompt_index"][terminated].tolist())
            ends.append(int(terminated.sum()))
        if step == 20:  # reading the generator mid-run gives it where the prompts used so far leave it
            expected = seeding.np_random(3)[0]
            expected.integers(count, size=6)
            for k in ends:
                expected.integers(count, size=k)
            assert env.np_random.bit_generator.state == expected.bit_generator.state
    assert sum(ends) > 10  # rows ended at mixed steps
    assert drawn == _unbuffered_prompts(3, count, 6, ends)
    # a pickled env carries the generator at the same position
    clone = pickle.loads(pickle.dumps(env))
    assert clone.np_random.bit_generator.state == env.np_random.bit_generator.state


def test_setting_the_generator_state_replays_the_same_prompts():
    env = TextGenVectorEnv(task="copy", num_envs=4, device="cpu")
    env.reset(seed=1)
    state = env.np_random.bit_generator.state
    eos = np.full(4, env.tokenizer.eos_token_id)
    first = [env.step(eos)[4]["prompt_index"].tolist() for _ in range(5)]
    env.np_random.bit_generator.state = state
    again = [env.step(eos)[4]["prompt_index"].tolist() for _ in range(5)]
    assert first == again
