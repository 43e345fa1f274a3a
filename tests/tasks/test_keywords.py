"""KeywordsTask: concept coverage and fluency of one sentence."""

import functools
import json

import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv
from textgym.tasks.data import DATA_DIR
from textgym.tasks.keywords import CONCEPT_NOUNS, CONCEPT_VERBS, KeywordsTask, generate_prompt_set, word_forms

PROMPT = Prompt("Write a sentence with: dog, park, run.", data={"concepts": ["dog", "park", "run"]})


class OnePrompt(KeywordsTask):
    def load_prompts(self, split):
        return [PROMPT]


@functools.cache
def env(mode):
    return TextGenEnv(task=KeywordsTask(), reward_mode=mode)


#: words whose tokens reach the interesting scores of this task
KEYWORD_WORDS = [" The", " dog", "s", " park", " runs", "ing", " ran", ".", "!", " ", "-", " a", " ball"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(data, seed):
    actions = data.draw(
        reward_contract.action_lists(env("dense"), KEYWORD_WORDS, max_size=40, with_eos=False), label="actions"
    )
    reward_contract.assert_dense_sums_to_sparse(env("dense"), env("sparse"), seed, actions)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0.0),
        (" The dog runs in the park.", 1.0),
        (" The dogs were running around the parks!", 1.0),
        # coverage 1, fluency (distinct 1 + length 3/6 + ended 1) / 3
        (" dog park run.", 0.8 + 0.2 * 2.5 / 3),
        # coverage 1/3, fluency (distinct 1/3 + length 3/6 + no end) / 3
        (" dog dog dog", 0.8 / 3 + 0.2 * (1 / 3 + 0.5) / 3),
        # "dogma" is no form of "dog": coverage 0, fluency (1 + 2/6 + 0) / 3
        (" The dogma", 0.2 * (1 + 1 / 3) / 3),
        # the sentence ends at the first full stop: "park run" does not count
        (" A dog. park run", 0.8 / 3 + 0.2 * (1 + 2 / 6 + 1) / 3),
        (".", 0.0),
        (" DOG, Park and RAN", 0.8 + 0.2 * (1 + 4 / 6) / 3),
    ],
)
def test_score_by_hand(text, expected):
    assert KeywordsTask().score(PROMPT, text) == pytest.approx(expected, abs=1e-12)


def test_word_forms():
    assert {"run", "runs", "running", "ran"} <= word_forms("run")
    assert {"bake", "bakes", "baked", "baking"} <= word_forms("bake")
    assert {"fly", "flies", "flew"} <= word_forms("fly")
    assert {"box", "boxes"} <= word_forms("box") and "boxxed" not in word_forms("box")
    assert {"child", "children"} <= word_forms("child")
    assert "dogma" not in word_forms("dog")


@given(chunks=st.lists(st.text(alphabet="dogparkunsiAT .!,-'é\n", max_size=4), max_size=12))
def test_incremental_scorer_equals_full_score(chunks):
    task = KeywordsTask()
    for prompt in [PROMPT] + task.prompts("train")[:3]:
        scorer, text = task.scorer(prompt), ""
        assert scorer.update("", "") == 0.0
        for chunk in chunks:
            text += chunk
            assert scorer.update(text, chunk) == task.score(prompt, text)


def test_worked_example_of_the_docstring():
    chunks = [" The", " dog", " runs", " in", " the", " park", "."]
    expected_scores = [7 / 90, 0.3556, 0.6333, 0.6444, 0.6556, 0.9333, 1.0]
    for mode in ("dense", "sparse"):
        e = TextGenEnv(task=OnePrompt(), reward_mode=mode)
        e.reset(seed=0)
        total = 0.0
        for chunk, expected in zip(chunks, expected_scores):
            rewards = [e.step(i) for i in e.tokenizer.encode(chunk)]
            total += sum(r[1] for r in rewards)
            assert rewards[-1][4]["score"] == pytest.approx(expected, abs=1e-4)
            if mode == "dense":
                assert total == pytest.approx(expected, abs=1e-4)
        assert rewards[-1][2] is True  # the full stop terminates
        assert rewards[-1][1] == pytest.approx(1.0 if mode == "sparse" else 1.0 - 0.9333, abs=1e-4)


def test_splits_disjoint_sized_and_shipped():
    task = KeywordsTask()
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (400, 100)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    concept_sets = [frozenset(p.data["concepts"]) for p in train + evaluation]
    assert len(set(concept_sets)) == len(concept_sets)
    vocabulary = set(CONCEPT_NOUNS) | set(CONCEPT_VERBS)
    for prompt in train + evaluation:
        concepts = prompt.data["concepts"]
        assert 3 <= len(concepts) <= 4 and set(concepts) <= vocabulary
        assert ", ".join(concepts) in prompt.text
    shipped = json.loads((DATA_DIR / "keywords.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(generate_prompt_set(0)))


def test_prompt_without_concepts_raises():
    with pytest.raises(TaskError, match="concepts"):
        KeywordsTask().score(Prompt("Write a sentence with: dog."), "dog")


def test_env_checker_passes():
    check_env(TextGenEnv(task=KeywordsTask(), render_mode="ansi"))
