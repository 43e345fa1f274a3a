"""Shared checks of the reward contract (docs/design.md, section 2), used by the per-task tests.

The checks go through the environment's public behaviour only: the actions played, the
rewards and infos it returns, and, as the independent reference, the task's ``score`` and the
tokenizer's ``decode`` applied to the generated ids. Nothing is read from the env's running
score or text, so a scorer or decoder that drifts from the task's definition fails here.

The text of the first ``t`` generated tokens (what ``s_t`` scores) is the tokenizer's decode
of them; two details of a byte-level BPE vocabulary are spelled out in :func:`prefix_texts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

#: what a decoder gives for the bytes of an incomplete UTF-8 character
REPLACEMENT = "\ufffd"


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


@dataclass
class Episode:
    """One episode as the env's public interface shows it."""

    prompt: Any  # the task's Prompt, found from reset's info["prompt_index"]
    actions: list[int]  # the actions the env took (up to the end of the episode)
    rewards: list[float]
    done: bool
    info: dict  # the last step's info
    observation: dict = field(repr=False)


def play_episode(env, seed, actions) -> Episode:
    """Play ``actions`` from ``reset(seed=seed)`` until the episode ends or the actions run out."""
    observation, info = env.reset(seed=seed)
    task = env.unwrapped.task
    prompt = task.prompts(env.unwrapped.setup.split)[info["prompt_index"]]
    assert prompt.text == info["prompt"]
    taken, rewards, done = [], [], False
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        taken.append(int(action))
        rewards.append(reward)
        if terminated or truncated:
            done = True
            break
    return Episode(prompt, taken, rewards, done, info, observation)


def generated_ids(actions, eos_token_id: int) -> list[int]:
    """The tokens the agent generated: its actions, without the EOS that ends an episode."""
    actions = [int(a) for a in actions]
    return actions[:-1] if actions and actions[-1] == eos_token_id else actions


def prefix_texts(tokenizer, ids, ended: bool) -> list[str]:
    """``texts[t]``: the text of the first ``t`` of ``ids`` (``t = 0 .. len(ids)``), from ``tokenizer.decode`` alone.

    ``decode`` skips special tokens (EOS, padding). A byte-level BPE token may hold only the
    first bytes of a character, which the next token completes; decoded alone those bytes
    give U+FFFD, which the next token's decode replaces by the character. So before the
    end, the text of the first ``t`` tokens is the decode of the longest ``ids[:k]``,
    ``k <= t``, that ends on a whole character (not on U+FFFD): the text as far as it is
    known. When the episode has ended, the last text is the full decode, U+FFFD included.
    """
    texts, known = [""], ""
    for t in range(1, len(ids) + 1):
        text = tokenizer.decode(ids[:t])
        if not text.endswith(REPLACEMENT):
            known = text
        texts.append(known)
    if ended:
        texts[-1] = tokenizer.decode(ids)
    return texts


def reference_scores(task, prompt, texts) -> list[float]:
    """``task.score(prompt, text)`` of every text (each distinct text scored once)."""
    scored: dict[str, float] = {}
    for text in texts:
        if text not in scored:
            scored[text] = float(task.score(prompt, text))
    return [scored[text] for text in texts]


def step_texts(tokenizer, actions, ended: bool) -> list[str]:
    """The reference text after each step ``t = 0 .. len(actions)`` of an episode that played ``actions``."""
    eos = tokenizer.eos_token_id
    # decode skips special tokens: the text is the same with or without the EOS that ended the episode
    assert tokenizer.decode(generated_ids(actions, eos)) == tokenizer.decode(actions)
    return prefix_texts(tokenizer, [int(a) for a in actions], ended)


def assert_final_text_and_score(task, tokenizer, prompt, actions, info, tolerance=1e-9):
    """At the end of an episode: ``text`` is the decode of the generated ids, ``score`` the task's score of it."""
    assert info["text"] == tokenizer.decode(generated_ids(actions, tokenizer.eos_token_id))
    assert info["score"] == pytest.approx(task.score(prompt, info["text"]), abs=tolerance)


def assert_dense_sums_to_sparse(dense_env, sparse_env, seed, actions, tolerance=1e-9, score_tolerance=1e-6):
    """Play ``actions`` in dense and in sparse mode and check both against the task's own score.

    - the same steps are taken (same end) and the same final text comes out;
    - every dense reward is ``score(text_{t+1}) - score(text_t)``, with the texts and scores
      computed here from the tokenizer and the task (see :func:`prefix_texts`), except the
      first, ``score(text_1)``: the potential before the first token is 0;
    - sparse rewards are 0 before the last step; at the end the sparse return is the final
      score, and the dense rewards sum to it;
    - at the end, ``info["text"]`` is the decode of the generated ids and ``info["score"]``
      the task's score of that text.

    ``tolerance`` bounds the identities between the env's own numbers (the dense rewards'
    sum and the sparse return); ``score_tolerance`` the comparisons with the task's score
    computed here from scratch, which an incremental scorer may reach by another float path
    (a KV-cached float32 judge LM differs from a full forward by ~1e-7).
    """
    dense = play_episode(dense_env, seed, actions)
    sparse = play_episode(sparse_env, seed, actions)
    task, tokenizer = dense_env.unwrapped.task, dense_env.unwrapped.tokenizer
    assert dense.actions == sparse.actions and dense.done == sparse.done
    assert dense.prompt == sparse.prompt
    assert dense.info["text"] == sparse.info["text"]
    scores = reference_scores(task, dense.prompt, step_texts(tokenizer, dense.actions, dense.done))
    potentials = [0.0] + scores[1:]  # the potential before the first token is 0, whatever the empty text scores
    for t, reward in enumerate(dense.rewards):
        assert reward == pytest.approx(potentials[t + 1] - potentials[t], abs=score_tolerance), (
            f"dense reward of step {t}"
        )
    assert all(r == 0.0 for r in sparse.rewards[:-1])
    if dense.done:
        assert sparse.rewards[-1] == pytest.approx(scores[-1], abs=score_tolerance)
        assert sum(dense.rewards) == pytest.approx(sum(sparse.rewards), abs=tolerance)
        for episode in (dense, sparse):
            assert_final_text_and_score(task, tokenizer, episode.prompt, episode.actions, episode.info, score_tolerance)
    else:
        assert sparse.rewards[-1] == 0.0
        assert sum(dense.rewards) == pytest.approx(scores[-1], abs=score_tolerance)


@cache
def _partial_character_tokens(tokenizer) -> tuple[int, ...]:
    return tuple(i for i in range(tokenizer.vocab_size) if tokenizer.decode([i]).endswith(REPLACEMENT))


def partial_character_tokens(tokenizer) -> list[int]:
    """Tokens that decode to an incomplete character alone (byte-level BPE bytes of a multi-byte character)."""
    return list(_partial_character_tokens(tokenizer))


def stop_tokens(tokenizer) -> list[int]:
    """The tokens of a full stop and a newline (stop conditions of several tasks), where the vocabulary has them."""
    tokens = set()
    for text in (".", "\n"):
        try:
            tokens.update(tokenizer.encode(text))
        except Exception:  # a symbol vocabulary cannot encode them
            pass
    return sorted(tokens)


def actions_strategy(tokenizer, vocab_size: int, useful=()):
    """One action: any token (half the time), else EOS, a stop token, one of ``useful``, or a token holding part of a
    multi-byte character."""
    special = sorted({tokenizer.eos_token_id, *stop_tokens(tokenizer), *useful})
    any_token = st.integers(0, vocab_size - 1)
    choices = [any_token, any_token, st.sampled_from(special)]
    partial = partial_character_tokens(tokenizer)
    if partial:
        choices.append(st.sampled_from(partial))
    return st.one_of(*choices)


def action_lists(env, words, max_size, with_eos=True):
    """Action sequences mixing any token with the tokens of ``words`` (and EOS), which reach the task's interesting
    scores, and tokens that split a character over several tokens."""
    tokenizer = env.unwrapped.tokenizer
    useful = {i for w in words for i in tokenizer.encode(w)} | ({tokenizer.eos_token_id} if with_eos else set())
    choices = [st.integers(0, env.action_space.n - 1), st.sampled_from(sorted(useful))]
    partial = partial_character_tokens(tokenizer)
    if partial:
        choices.append(st.sampled_from(partial))
    return st.lists(st.one_of(*choices), min_size=1, max_size=max_size)


def random_actions(
    rng: np.random.Generator, tokenizer, vocab_size: int, shape, eos_rate=0.05, partial_rate=0.15
) -> np.ndarray:
    """Random token ids of ``shape``, with EOS and partial-character tokens mixed in at the given rates."""
    actions = rng.integers(0, vocab_size, size=shape)
    partial = partial_character_tokens(tokenizer)
    draw = rng.random(shape)
    if partial:
        picks = rng.choice(partial, size=shape)
        actions = np.where(draw < partial_rate, picks, actions)
    actions = np.where(draw > 1 - eos_rate, tokenizer.eos_token_id, actions)
    return actions.astype(np.int64)


@dataclass
class SideBySide:
    """What :func:`play_side_by_side` saw: every row's steps, as the single env of that row gave them."""

    ended: int  # episodes that ended, all rows together
    steps: list = field(default_factory=list)  # (t, row, reward, done, the single env's info) per row per step


def play_side_by_side(batched, singles, actions, seeds, tolerance: float = 1e-5) -> SideBySide:
    """Play ``actions[t, row]`` in the batched env and in one single env per row (row ``i`` seeded ``seeds[i]``, as the
    batched env's per-row seeds promise) and check them row by row: the reset scores, every reward and end, the final
    text and score of every ended episode, and the running score between ends. Single envs reset when their row ends.
    """
    _, info = batched.reset(seed=list(seeds))
    for row, env in enumerate(singles):
        _, single_info = env.reset(seed=seeds[row])
        assert single_info["score"] == pytest.approx(info["score"][row], abs=tolerance), f"reset row {row}"
    seen = SideBySide(ended=0)
    for t, step_actions in enumerate(actions):
        _, rewards, terminated, _, info = batched.step(np.asarray(step_actions))
        for row, env in enumerate(singles):
            _, reward, done, _, single_info = env.step(int(step_actions[row]))
            assert reward == pytest.approx(rewards[row], abs=tolerance), f"step {t} row {row}"
            assert done == terminated[row], f"step {t} row {row}"
            if done:
                seen.ended += 1
                assert info["final_info"]["text"][row] == single_info["text"]
                assert info["final_info"]["score"][row] == pytest.approx(single_info["score"], abs=tolerance)
            else:
                assert info["score"][row] == pytest.approx(single_info["score"], abs=tolerance)
            seen.steps.append((t, row, reward, done, single_info))
            if done:
                env.reset()
    return seen
