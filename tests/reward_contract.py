"""Shared checks of the reward contract (DESIGN section 2), used by the per-task tests."""

import pytest
from hypothesis import strategies as st


def play(env, seed, actions):
    """Reset ``env`` with ``seed`` and take ``actions`` until the episode ends.

    Returns ``(rewards, scores, done, info)``; ``scores`` starts with the score after reset,
    ``info`` is the last step's.
    """
    _, info = env.reset(seed=seed)
    rewards, scores = [], [info["score"]]
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        scores.append(info["score"])
        if terminated or truncated:
            return rewards, scores, True, info
    return rewards, scores, False, info


def assert_dense_sums_to_sparse(dense_env, sparse_env, seed, actions, tolerance=1e-9):
    """Dense rewards are score differences, sparse ones 0 until the end, and both sum to the final score."""
    dense, dense_scores, done, _ = play(dense_env, seed, actions)
    sparse, sparse_scores, _, _ = play(sparse_env, seed, actions)
    assert dense_scores == sparse_scores
    for t in range(len(dense)):
        assert dense[t] == pytest.approx(dense_scores[t + 1] - dense_scores[t], abs=1e-12)
    assert all(r == 0.0 for r in sparse[:-1])
    if done:
        assert sum(dense) == pytest.approx(sparse[-1], abs=tolerance)
    assert sum(dense) == pytest.approx(dense_scores[-1], abs=tolerance)


def action_lists(env, words, max_size, with_eos=True):
    """Action sequences mixing any token with the tokens of ``words`` (and EOS), which reach the task's interesting scores."""
    tokenizer = env.unwrapped.tokenizer
    useful = {i for w in words for i in tokenizer.encode(w)} | ({tokenizer.eos_token_id} if with_eos else set())
    action = st.one_of(st.integers(0, env.action_space.n - 1), st.sampled_from(sorted(useful)))
    return st.lists(action, min_size=1, max_size=max_size)
