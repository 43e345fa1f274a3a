"""RewardModelTask(score_every=...): a bidirectional (BERT-like) classifier re-scores only at word ends or every k
tokens, holds the score in between and always scores the final text, so dense still sums to sparse; the forwards happen
only at those steps; the single and the batched env agree row by row; a bad value is a clear error."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reward_model import PROMPTS, save_bert_classifier

from textgym.models.loader import BUNDLED_MODELS
from textgym.task import TaskError
from textgym.tasks import RewardModelTask
from textgym.tasks.reward_model import score_due

WORDS = [" the", " film", " was", " good", ".", " and", " awful", "!", " very", " bad"]


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> str:
    return save_bert_classifier(tmp_path_factory.mktemp("bert-rm"))


def rm_kwargs(path, max_new_tokens=8, **extra):
    return {"task": "reward-model", "task_kwargs": {"reward_model": path, "label": "positive", "prompts": PROMPTS,
                                                      "device": "cpu", "text": "prompt+continuation", **extra},
            "max_new_tokens": max_new_tokens}


def word_tokens(env) -> list[int]:
    tokenizer = env.unwrapped.tokenizer
    ids = [tokenizer.encode(word) for word in WORDS]
    assert all(len(i) == 1 for i in ids), ids  # one policy token each, so the forwards' steps are known
    return [i[0] for i in ids]


def due_steps(score_every, texts: list[str]) -> list[bool]:
    """Reference of when a step scores, from the step texts alone (written apart from the task's score_due)."""
    due, scored_at = [], 0
    for t in range(1, len(texts)):
        previous, text = texts[t - 1], texts[t]
        if text == previous:
            due.append(False)
            continue
        if score_every == "token":
            hit = True
        elif score_every == "word":
            joined = (previous[-1:] or " ") + text[len(previous):]
            hit = any(a.strip() and b.isspace() for a, b in zip(joined, joined[1:]))
        else:
            hit = t // score_every > scored_at // score_every
        if hit:
            scored_at = t
        due.append(hit)
    return due


def assert_held_contract(dense_env, sparse_env, seed, actions, score_every, score_tolerance=1e-5):
    """The reward contract with held scores: each dense reward is the change of the score of the text last scored
    (at a due step, or the final text at the end); sparse is 0 then the final score; dense sums to sparse (1e-9)."""
    dense = reward_contract.play_episode(dense_env, seed, actions)
    sparse = reward_contract.play_episode(sparse_env, seed, actions)
    task, tokenizer = dense_env.unwrapped.task, dense_env.unwrapped.tokenizer
    assert dense.actions == sparse.actions and dense.done == sparse.done and dense.info["text"] == sparse.info["text"]
    texts = reward_contract.step_texts(tokenizer, dense.actions, dense.done)
    scores = reward_contract.reference_scores(task, dense.prompt, texts)
    held, potentials = scores[0], [0.0]
    for t, due in enumerate(due_steps(score_every, texts), start=1):
        if due or (dense.done and t == len(texts) - 1):
            held = scores[t]
        potentials.append(held)
    for t, reward in enumerate(dense.rewards):
        assert reward == pytest.approx(potentials[t + 1] - potentials[t], abs=score_tolerance), (
            f"dense reward of step {t}"
        )
    assert all(r == 0.0 for r in sparse.rewards[:-1])
    if dense.done:
        assert sparse.rewards[-1] == pytest.approx(scores[-1], abs=score_tolerance)
        assert sum(dense.rewards) == pytest.approx(sum(sparse.rewards), abs=1e-9)
        for episode in (dense, sparse):
            reward_contract.assert_final_text_and_score(
                task, tokenizer, episode.prompt, episode.actions, episode.info, score_tolerance
            )


@pytest.mark.parametrize("score_every", ["word", 3])
def test_reward_contract_with_held_scores(bert, score_every):
    envs = {mode: gym.make("textgym/TextGenEnv-v0", reward_mode=mode, **rm_kwargs(bert, score_every=score_every))
            for mode in ("dense", "sparse")}
    tokenizer = envs["dense"].unwrapped.tokenizer
    useful = word_tokens(envs["dense"])
    action = st.one_of(
        reward_contract.actions_strategy(tokenizer, envs["dense"].action_space.n), st.sampled_from(useful)
    )

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(actions=st.lists(action, min_size=1, max_size=9), seed=st.integers(0, 2**16))
    def check(actions, seed):
        assert_held_contract(envs["dense"], envs["sparse"], seed, actions, score_every)

    check()


def test_k_of_one_passes_the_shared_contract_check(bert):
    """k=1 scores every step, as "token" does: the shared check, which compares every reward with the change of the
    text's own score, holds unchanged (with "word" or k > 1 the held steps differ from it by design: see above)."""
    envs = {
        mode: gym.make("textgym/TextGenEnv-v0", reward_mode=mode, **rm_kwargs(bert, score_every=1))
        for mode in ("dense", "sparse")
    }
    the, film, was, good = word_tokens(envs["dense"])[:4]
    eos = envs["dense"].unwrapped.tokenizer.eos_token_id
    for seed, actions in enumerate([[film, eos], [the, good, was, film, eos], [good, was, film]]):
        reward_contract.assert_dense_sums_to_sparse(
            envs["dense"], envs["sparse"], seed, actions, tolerance=1e-9, score_tolerance=1e-5
        )


def count_forwards(monkeypatch, reward_model) -> list[int]:
    calls: list[int] = []
    original = reward_model.model.forward
    monkeypatch.setattr(
        reward_model.model, "forward", lambda *a, **k: calls.append(k["input_ids"].shape[0]) or original(*a, **k)
    )
    return calls


@pytest.mark.parametrize(("score_every", "expected"), [
    # reset, then steps " the" " film" " was" "." " good" " and" " bad" EOS; "word" scores when a space follows a word;
    # at EOS the single env scores only a held text (with "token" and "word" the last step scored " ... bad" already)
    ("token", [1, 1, 1, 1, 1, 1, 1, 1, 0]),
    ("word", [1, 0, 1, 1, 0, 1, 1, 1, 0]),
    (3, [1, 0, 0, 1, 0, 0, 1, 0, 1]),
])
def test_forwards_only_where_due_in_both_envs(bert, monkeypatch, score_every, expected):
    """Forwards per reset and per step in the single env, and at the same steps in the batched env, one forward for all
    rows; the batched env scores the ending rows in a forward of their own in any case (as sparse mode does, so that the
    final score is the same number in both modes)."""
    single = gym.make("textgym/TextGenEnv-v0", **rm_kwargs(bert, score_every=score_every))
    the, film, was, good, stop, and_, _, _, _, bad = word_tokens(single)
    eos = single.unwrapped.tokenizer.eos_token_id
    actions = [the, film, was, stop, good, and_, bad, eos]
    calls = count_forwards(monkeypatch, single.unwrapped.task.reward_model)
    counts = []
    single.reset(seed=0)
    counts.append(len(calls))
    for action in actions:
        before = len(calls)
        _, _, done, _, _ = single.step(action)
        counts.append(len(calls) - before)
    assert done and counts == expected

    num_envs = 4
    batched = gym.make_vec("textgym/TextGenEnv-v0", num_envs=num_envs, vectorization_mode="vector_entry_point",
                           **rm_kwargs(bert, score_every=score_every))
    calls.clear()
    batched.reset(seed=0)
    counts = [len(calls)]
    for action in actions:
        before = len(calls)
        _, _, terminated, _, _ = batched.step(np.full(num_envs, action))
        counts.append(len(calls) - before)
        if terminated.all():  # the ending rows start again in the same step: one more forward, for their empty texts
            counts[-1] -= 1
    assert counts == expected[:-1] + [1]
    assert set(calls) == {num_envs}  # every forward holds all rows
    batched.close()


def test_horizon_end_scores_the_held_text(bert):
    """An episode ended by max_new_tokens on a step that holds the score still ends on the final text's score."""
    env = gym.make("textgym/TextGenEnv-v0", **rm_kwargs(bert, score_every="word", max_new_tokens=2))
    good, stop = word_tokens(env)[3:5]
    task = env.unwrapped.task
    _, info = env.reset(seed=0)
    prompt = task.prompts("train")[info["prompt_index"]]
    _, r1, done, _, info = env.step(good)
    assert not done and info["score"] == pytest.approx(task.score(prompt, ""), abs=1e-5) and r1 == info["score"]  # held
    _, r2, done, _, info = env.step(stop)
    assert done and info["text"] == " good." and info["score"] == pytest.approx(task.score(prompt, " good."), abs=1e-5)
    assert r1 + r2 == pytest.approx(info["score"], abs=1e-12)


@pytest.mark.parametrize("score_every", ["word", 3])
@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_single_and_batched_agree_row_by_row(bert, score_every, mode):
    kwargs = rm_kwargs(bert, score_every=score_every)
    num_envs, steps = 4, 18
    batched = gym.make_vec("textgym/TextGenEnv-v0", num_envs=num_envs, vectorization_mode="vector_entry_point",
                           reward_mode=mode, **kwargs)
    singles = [gym.make("textgym/TextGenEnv-v0", reward_mode=mode, **kwargs) for _ in range(num_envs)]
    tokenizer = singles[0].unwrapped.tokenizer
    rng = np.random.default_rng(1)
    actions = reward_contract.random_actions(
        rng, tokenizer, batched.single_action_space.n, (steps, num_envs), eos_rate=0.12
    )
    words = np.array(word_tokens(singles[0]))
    actions = np.where(
        rng.random(actions.shape) < 0.5, rng.choice(words, size=actions.shape), actions
    )  # words, to complete some
    seeds = [20, 21, 22, 23]
    _, info = batched.reset(seed=seeds)
    for row, env in enumerate(singles):
        _, single_info = env.reset(seed=seeds[row])
        assert single_info["score"] == pytest.approx(info["score"][row], abs=1e-5)
    ended = held = 0
    for t in range(steps):
        _, rewards, terminated, _, info = batched.step(actions[t])
        for row, env in enumerate(singles):
            _, reward, done, _, single_info = env.step(int(actions[t, row]))
            assert reward == pytest.approx(rewards[row], abs=1e-5), f"step {t} row {row}"
            held += mode == "dense" and reward == 0.0 and not done
            assert done == terminated[row]
            if done:
                ended += 1
                assert info["final_info"]["text"][row] == single_info["text"]
                assert info["final_info"]["score"][row] == pytest.approx(single_info["score"], abs=1e-5)
                env.reset()
            else:
                assert info["score"][row] == pytest.approx(single_info["score"], abs=1e-5)
    assert ended >= num_envs
    assert mode == "sparse" or held > 0  # some steps held the score
    batched.close()


def test_score_due_rule():
    assert score_due("word", "", " the", 1, 0) is False  # a leading space ends no word
    assert score_due("word", " the", " film", 2, 0) is True  # the space after "the" completes it
    assert score_due("word", " the", "m", 2, 0) is False
    assert score_due("word", " the ", " film", 2, 0) is False  # the space after "the" came before
    assert score_due("word", " the", ".\n", 2, 0) is True
    assert score_due(3, " a", " b", 2, 0) is False and score_due(3, " a b", " c", 3, 0) is True
    assert score_due(3, " a b c", " d", 4, 3) is False and score_due(3, "x", "y", 7, 5) is True  # crossed 6


@pytest.mark.parametrize("value", ["sentence", 0, -2, 1.5, True, None, "Token"])
def test_bad_score_every_is_named(bert, value):
    with pytest.raises(TaskError, match=r"unknown score_every .*allowed: 'token' .*'word' .*positive int k"):
        RewardModelTask(bert, label="positive", prompts=PROMPTS, device="cpu", score_every=value)
    with pytest.raises(TaskError, match=repr(value).replace("(", r"\(")):
        RewardModelTask(bert, label="positive", prompts=PROMPTS, device="cpu", score_every=value)


def test_k_one_is_token(bert):
    assert (
        RewardModelTask(bert, label="positive", prompts=PROMPTS, device="cpu", score_every=np.int64(1)).score_every == 1
    )


@pytest.mark.skipif(not (BUNDLED_MODELS["tiny-sentiment"] / "config.json").is_file(), reason="tiny-sentiment not built")
def test_decoder_read_incrementally_takes_score_every():
    """A decoder classifier read incrementally holds too: the held tokens are fed at the next scoring step; single and
    batched agree and the contract holds."""
    kwargs = {
        "task": "sentiment-rm",
        "task_kwargs": {"device": "cpu", "score_every": "word", "prompts": PROMPTS},
        "max_new_tokens": 8,
    }
    dense, sparse = (gym.make("textgym/TextGenEnv-v0", reward_mode=mode, **kwargs) for mode in ("dense", "sparse"))
    assert dense.unwrapped.task.incremental
    tokens = word_tokens(dense)
    eos = dense.unwrapped.tokenizer.eos_token_id
    for seed, actions in enumerate([tokens[:5] + [eos], tokens[3:9], [tokens[1], eos]]):
        assert_held_contract(dense, sparse, seed, actions, "word")
    batched = gym.make_vec("textgym/TextGenEnv-v0", num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    singles = [gym.make("textgym/TextGenEnv-v0", **kwargs) for _ in range(3)]
    batched.reset(seed=[0, 1, 2])
    for row, env in enumerate(singles):
        env.reset(seed=row)
    rng = np.random.default_rng(0)
    for _ in range(8):
        actions = rng.choice(tokens, size=3)
        _, rewards, terminated, _, _ = batched.step(actions)
        for row, env in enumerate(singles):
            _, reward, done, _, _ = env.step(int(actions[row]))
            assert reward == pytest.approx(rewards[row], abs=1e-5) and done == terminated[row]
    batched.close()
