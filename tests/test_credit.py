"""Credit assignment of the LM agents (agents/lm/credit.py): uniform and attention-based (ABC) credit.

The attention checks play known token sequences through ``textgym/SentimentRM-v0`` and compare
with the reward model's attention computed here directly, by a separate eager copy loaded from
the bundled folder: once where the policy's tokens are the reward model's (the authors' setting,
their formula), once where they differ (a reward-model token split over several policy tokens,
a character split over two byte tokens, EOS).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import textgym.models
from textgym_agents.lm.credit import (
    CREDIT_MODES,
    attention_credit,
    check_credit,
    credited_rewards,
    task_of,
    uniform_credit,
)

H = 12
EOS = 0


def make_env(reward_mode: str = "dense", task_id: str = "textgym/SentimentRM-v0", num_envs: int = 4):
    return gym.make_vec(
        task_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        device="cpu",
        output="torch",
        autoreset_mode="Disabled",
        reward_mode=reward_mode,
        max_new_tokens=H,
    )


@pytest.fixture(scope="module")
def env():
    return make_env()


@pytest.fixture(scope="module")
def direct_model():
    """The bundled classifier with eager attention, loaded on its own (not the env's nor credit.py's copy)."""
    from transformers import AutoModelForSequenceClassification

    folder = Path(textgym.models.__file__).parent / "tiny-sentiment"
    return AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()


def play(env, sequences: list[list[int]], prompt_index: int | list[int] = 0):
    """Reset every row on ``prompt_index`` and step row ``i`` through ``sequences[i]`` (each ends with EOS or reaches
    H).

    Returns ``response_ids``, ``response_mask``, ``env_rewards`` as the LM rollout lays them out.
    """
    n = env.num_envs
    env.reset(options={"reset_mask": torch.ones(n, dtype=torch.bool), "prompt_index": prompt_index})
    ids = torch.full((n, H), 1, dtype=torch.long)
    mask = torch.zeros((n, H), dtype=torch.bool)
    rewards = torch.zeros((n, H), dtype=torch.float32)
    for t in range(H):
        tokens = torch.tensor([seq[t] if t < len(seq) else 2 for seq in sequences])
        live = ~env.ended
        _, reward, _, _, _ = env.step(tokens)
        ids[:, t], mask[:, t] = tokens, live
        rewards[:, t] = torch.where(live, reward.float(), 0.0)
        if bool(env.ended.all()):
            break
    assert bool(env.ended.all())
    return ids, mask, rewards


def random_sequences(seed: int) -> list[list[int]]:
    """Four rows of random tokens: EOS first (empty continuation), EOS midway, two that run to the horizon."""
    rng = np.random.default_rng(seed)
    rows = [rng.integers(2, 4096, size=H).tolist() for _ in range(4)]
    rows[0] = [EOS]
    rows[1] = rows[1][:5] + [EOS]
    return rows


# -- check_credit ------------------------------------------------------------------------------------------


def test_check_credit_errors():
    sentiment = make_env(task_id="textgym/Sentiment-v0", num_envs=2)
    for mode in ("env", "uniform"):
        check_credit(mode, *task_of(sentiment))
    with pytest.raises(ValueError) as error:
        check_credit("attention", *task_of(sentiment))
    message = str(error.value)
    assert "credit='attention' needs a reward-model task" in message
    assert "textgym/Sentiment-v0's task 'sentiment' has no reward model" in message
    assert "allowed here: 'env', 'uniform'" in message
    with pytest.raises(ValueError, match=r"unknown credit='abc'; allowed: 'env', 'uniform', 'attention'"):
        check_credit("abc", *task_of(sentiment))
    assert CREDIT_MODES == ("env", "uniform", "attention")


def test_check_credit_accepts_attention_on_a_reward_model_task(env):
    for mode in CREDIT_MODES:
        check_credit(mode, *task_of(env))


# -- uniform -------------------------------------------------------------------------------------------------


def test_uniform_credit_spreads_the_final_score():
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    dense = torch.tensor([[0.5, -2.0, 0.25, 0, 0], [1.0, 1.0, 1.0, 1.0, -0.5], [-3.0, 0, 0, 0, 0]])
    sparse = torch.zeros_like(dense)
    sparse[[0, 1, 2], [2, 4, 0]] = dense.sum(1)  # the same final scores, at each episode's last step
    expected = torch.tensor([[-1.25 / 3] * 3 + [0, 0], [0.7] * 5, [-3.0, 0, 0, 0, 0]])
    for rewards in (dense, sparse):
        credit = uniform_credit(rewards, mask)
        assert credit.dtype == torch.float32
        torch.testing.assert_close(credit, expected)
        torch.testing.assert_close(credit.sum(1), rewards.sum(1))
        shares = credit / rewards.sum(1, keepdim=True)
        assert bool((shares >= 0).all())
        assert bool((credit[~mask] == 0).all())


# -- attention: invariants on random rollouts -------------------------------------------------------------


def test_attention_credit_invariants_on_random_tokens(env):
    ids, mask, rewards = play(env, random_sequences(0), prompt_index=[0, 3, 7, 11])
    finals = rewards.sum(1)
    credit = attention_credit(env, rewards, ids, mask)
    assert credit.shape == rewards.shape and credit.dtype == torch.float32
    torch.testing.assert_close(credit.sum(1), finals, atol=1e-5, rtol=0)
    shares = credit / finals.unsqueeze(1)
    assert bool((shares >= 0).all())
    assert bool((credit[~mask] == 0).all())
    # an empty continuation: the whole score on the last (only) token, EOS
    assert mask[0].sum() == 1 and float(credit[0, 0]) == pytest.approx(float(finals[0]), abs=1e-6)
    # EOS after some text adds no character: no attention credit; the tokens before it share the score
    assert float(credit[1, 5]) == 0.0 and bool((shares[1, :5] > 0).any())
    # a full-length row is spread, not concentrated on its last token
    assert int((shares[2] > 1e-3).sum()) > 1
    again = attention_credit(env, rewards, ids, mask)
    assert torch.equal(credit, again)
    assert torch.equal(credited_rewards("attention", env, rewards, ids, mask), credit)
    assert torch.equal(credited_rewards("env", env, rewards, ids, mask), rewards)


def test_attention_credit_same_in_dense_and_sparse_mode(env):
    sequences = random_sequences(1)
    ids, mask, dense_rewards = play(env, sequences, prompt_index=5)
    dense_credit = attention_credit(env, dense_rewards, ids, mask)
    sparse_env = make_env("sparse")
    ids_s, mask_s, sparse_rewards = play(sparse_env, sequences, prompt_index=5)
    assert torch.equal(ids, ids_s) and torch.equal(mask, mask_s)
    assert bool((sparse_rewards[:, :-1][mask[:, 1:]] == 0).all())  # sparse: nothing before the last step
    sparse_credit = attention_credit(sparse_env, sparse_rewards, ids_s, mask_s)
    torch.testing.assert_close(sparse_credit, dense_credit, atol=1e-5, rtol=0)


def test_attention_credit_beta_mixes_with_the_sparse_reward(env):
    ids, mask, rewards = play(env, random_sequences(2), prompt_index=2)
    pure = attention_credit(env, rewards, ids, mask)
    mixed = attention_credit(env, rewards, ids, mask, beta=0.25)
    last = mask.sum(1) - 1
    expected = 0.25 * pure
    expected[torch.arange(4), last] += 0.75 * rewards.sum(1)
    torch.testing.assert_close(mixed, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(mixed.sum(1), rewards.sum(1), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="beta"):
        attention_credit(env, rewards, ids, mask, beta=1.5)


def test_attention_credit_refuses_a_reset_env(env):
    ids, mask, rewards = play(env, random_sequences(3), prompt_index=1)
    env.reset(options={"reset_mask": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="before the env is reset"):
        attention_credit(env, rewards, ids, mask)


# -- attention: the mapping, against the reward model's attention computed directly -------------------------


def direct_attention(model, tokenizer, text: str) -> tuple[list[str], torch.Tensor, float]:
    """The reward model's tokens of ``text`` (one row, no padding), the last layer's head-averaged attention
    matrix ``[T, T]``, and the positive logit (read at the last token)."""
    batch = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    return tokens, out.attentions[-1].mean(1)[0].double(), float(out.logits[0, 1])


def test_attention_credit_matches_the_authors_formula_when_tokenizers_agree(env, direct_model):
    """The bundled policy and classifier share their byte-pair vocabulary (the classifier adds a BOS), so a
    canonically tokenised continuation is the classifier's own tokens: ABC is then the authors'
    ``get_attention_distribution`` (the scoring row of the response block, renormalised)."""
    prompt = env.setup.prompts[0].text
    continuation = " was really great and the food was lovely"
    policy_ids = env.tokenizer.encode(continuation)
    n = len(policy_ids)
    query = [EOS] + env.tokenizer.encode(prompt)  # the classifier's BOS, then the prompt
    rm_tokenizer = env.task.reward_model.tokenizer
    assert rm_tokenizer(prompt + continuation)["input_ids"] == query + policy_ids  # the premise
    sequences = [policy_ids + [EOS], policy_ids[:3] + [EOS], policy_ids + [EOS], policy_ids[:1] + [EOS]]
    ids, mask, rewards = play(env, sequences, prompt_index=0)
    credit = attention_credit(env, rewards, ids, mask)
    for row, k in ((0, n), (1, 3), (3, 1)):
        _, attention, logit = direct_attention(
            direct_model, rm_tokenizer, prompt + env.tokenizer.decode(policy_ids[:k])
        )
        final = float(rewards[row].sum())
        assert logit == pytest.approx(final, abs=1e-4)  # the same text, read at the same position, as the env scored
        q = len(query)
        block = attention[q : q + k, q : q + k]
        distribution = block[-1] / block[-1].sum()
        expected = torch.zeros(H, dtype=torch.float64)
        expected[:k] = final * distribution  # EOS (column k) adds no character: 0
        torch.testing.assert_close(credit[row].double(), expected, atol=1e-5, rtol=0)


def test_attention_credit_maps_reward_model_tokens_to_policy_tokens(env, direct_model):
    """Policy tokens that do not match the classifier's: " great" as six one-character tokens (one classifier
    token, split evenly), " food" as one, then "é" as two byte tokens (the first adds no character: both
    classifier byte tokens' weight goes to the second), then EOS (nothing)."""
    vocab = env.tokenizer.backend.get_vocab()
    pieces = ["Ġ", "g", "r", "e", "a", "t", "Ġfood", "Ã", "©"]
    sequence = [vocab[p] for p in pieces] + [EOS]
    prompt = env.setup.prompts[4].text
    rm_tokenizer = env.task.reward_model.tokenizer
    tokens, attention, _ = direct_attention(direct_model, rm_tokenizer, prompt + " great foodé")
    assert tokens[-4:] == ["Ġgreat", "Ġfood", "Ã", "©"]  # the premise
    scoring = attention[-1]  # the last token's row: where the head reads
    w_great, w_food, w_a, w_b = scoring[-4:].tolist()
    ids, mask, rewards = play(env, [sequence] * 4, prompt_index=4)
    assert env.texts()[0] == " great foodé"
    weights = torch.tensor([w_great / 6] * 6 + [w_food, 0.0, w_a + w_b, 0.0] + [0.0] * (H - 10), dtype=torch.float64)
    expected = rewards.sum(1, keepdim=True).double() * weights / weights.sum()
    credit = attention_credit(env, rewards, ids, mask)
    torch.testing.assert_close(credit.double(), expected, atol=1e-5, rtol=0)
