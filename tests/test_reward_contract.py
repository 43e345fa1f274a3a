"""docs/design.md, section 2, checked through the env: dense rewards are differences of the task's score of
the decoded text and sum to the sparse return; at the end ``info`` holds the decoded text and its score.

The reference numbers come from ``task.score`` and ``tokenizer.decode`` applied to the actions
played (see ``reward_contract``), never from the env's running score.
"""

import gymnasium as gym
import pytest
import reward_contract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import textgym
from textgym import Task
from textgym.tasks import RewardModelTask

#: the generic id, given a task of its own: a user score over the tiny model's vocabulary that
#: counts vowels and penalises U+FFFD, so a half character left out of the final text shows
VOWELS = Task(
    "vowels",
    prompts={"train": ["Say something:", "Tell me a story:", "Describe the sea:"], "eval": ["Say hello:"]},
    score=lambda prompt, text: (sum(ch in "aeiou" for ch in text) - 2 * text.count(reward_contract.REPLACEMENT)) / 10,
    max_new_tokens=12,
)


def env_cases():
    """(env id, keyword arguments) of every registered id."""
    return [(env_id, {"task": VOWELS} if env_id == "textgym/TextGenEnv-v0" else {}) for env_id in textgym.env_ids()]


ENV_CASES = env_cases()
IDS = [env_id for env_id, _ in ENV_CASES]

#: tasks whose score runs a judge LM: few examples, short episodes, and a float32 tolerance against
#: the score recomputed from scratch (the env's judge decodes with a KV cache)
JUDGED = {env_id: 1e-5 for env_id in textgym.env_ids()
          if env_id.startswith(("textgym/Coherence-", "textgym/SentimentRM-"))}


#: a short horizon, so that random episodes also end there (with a character cut in half, often)
SHORT_HORIZON = 5


@pytest.mark.parametrize("env_id, kwargs", ENV_CASES, ids=IDS)
def test_reward_contract_through_the_env(env_id, kwargs):
    envs = {
        (mode, short): gym.make(
            env_id, reward_mode=mode, **kwargs, **({"max_new_tokens": SHORT_HORIZON} if short else {})
        )
        for mode in ("dense", "sparse")
        for short in (False, True)
    }
    tokenizer = envs["dense", False].unwrapped.tokenizer
    tolerance = JUDGED.get(env_id, 1e-9)
    max_size = 10 if env_id in JUDGED else 40
    action = reward_contract.actions_strategy(tokenizer, envs["dense", False].action_space.n)

    @settings(max_examples=4 if env_id in JUDGED else 16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(actions=st.lists(action, min_size=1, max_size=max_size), seed=st.integers(0, 2**16), short=st.booleans())
    def check(actions, seed, short):
        reward_contract.assert_dense_sums_to_sparse(envs["dense", short], envs["sparse", short], seed, actions,
                                                    tolerance=1e-9, score_tolerance=tolerance)

    check()


def test_character_split_over_the_last_tokens_is_in_the_final_text_and_reward():
    """'é' is two byte-level tokens in the tiny vocabulary; an episode that ends after the first has U+FFFD at the
    end."""
    env = gym.make("textgym/TextGenEnv-v0", task=VOWELS, reward_mode="dense", max_new_tokens=3)
    tokenizer = env.unwrapped.tokenizer
    first_byte, second_byte = tokenizer.encode("é")
    caf = tokenizer.encode("caf")
    assert tokenizer.decode([first_byte]) == reward_contract.REPLACEMENT and len(caf) == 2
    env.reset(seed=0)
    rewards = []
    for token in [*caf, first_byte]:
        _, reward, terminated, _, info = env.step(token)
        rewards.append(reward)
    assert terminated and info["end_reason"] == "max_new_tokens"
    assert info["text"] == "caf\ufffd" == tokenizer.decode([*caf, first_byte])
    assert info["score"] == pytest.approx(VOWELS.score(None, "caf\ufffd")) == pytest.approx(-0.1)
    assert rewards[-1] == pytest.approx(-0.2) and sum(rewards) == pytest.approx(info["score"])
    # completed by the next token, the character is text like any other
    env = gym.make("textgym/TextGenEnv-v0", task=VOWELS, reward_mode="sparse", max_new_tokens=4)
    env.reset(seed=0)
    for token in [*caf, first_byte, second_byte]:
        _, reward, terminated, _, info = env.step(token)
    assert info["text"] == "café" and reward == pytest.approx(0.1)


@pytest.mark.parametrize("env_id, kwargs", ENV_CASES, ids=IDS)
def test_score_of_empty_continuation_is_zero(env_id, kwargs):
    """Every rule-based task scores the empty text 0; a reward model need not (its first instant reward carries it)."""
    task = gym.make(env_id, **kwargs).unwrapped.task
    if isinstance(task, RewardModelTask):
        pytest.skip("a classifier's score of the empty text is its own number")
    for prompt in task.prompts("train")[:20] + task.prompts("eval")[:20]:
        assert task.score(prompt, "") == 0.0


def test_incremental_scorer_matches_full_score():
    task = textgym.make_task("copy")
    for prompt in task.prompts("train")[:30]:
        scorer = task.scorer(prompt)
        text = ""
        for chunk in ["a", "bc", "", "d", "eab", "c"]:
            text += chunk
            assert scorer.update(text, chunk) == pytest.approx(task.score(prompt, text))
