"""TranslateTask: the Glossa rules, chrF, and the reward contract."""

import functools
import json
import random

import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv
from textgym.tasks.data import DATA_DIR
from textgym.tasks.translate import (
    ADJECTIVES,
    NOUNS,
    VERBS,
    TranslateTask,
    chrf,
    generate_prompt_set,
    parse_english,
    random_clause,
    translate_to_glossa,
)

ENGLISH = "the big dog eats bread."
PROMPT = Prompt(f"Translate to Glossa: {ENGLISH} =>", target="lo kibema sedufi tula ko gefu.")


class OnePrompt(TranslateTask):
    def load_prompts(self, split):
        return [PROMPT]


@functools.cache
def env(mode):
    return TextGenEnv(task=TranslateTask(), reward_mode=mode)


#: words whose tokens reach the interesting scores of this task
GLOSSA_WORDS = [" lo", " u", " ko", " ne", "li", "ta", ".", " kibema", " gefu", " "]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(data, seed):
    actions = data.draw(reward_contract.action_lists(env("dense"), GLOSSA_WORDS, max_size=50), label="actions")
    reward_contract.assert_dense_sums_to_sparse(env("dense"), env("sparse"), seed, actions)


@pytest.mark.parametrize(
    "english, glossa",
    [
        (ENGLISH, "lo kibema sedufi tula ko gefu."),
        # plural -li, adjective after the noun, postposition, object particle, negation, past -ta
        ("the old dogs did not eat my bread near the river.", "lo kibemali fanani lo fina apo mi tula ko ne gefuta."),
        ("a dog ate an apple.", "u kibema u lido ko gefuta."),
        ("these dogs sleep.", "sa kibemali mevobu."),
        (
            "my happy girls did not help a kind teacher in the kitchen.",
            "mi guburali pinoni lo boba ena u gapa pidigi ko ne saruta.",
        ),
    ],
)
def test_glossa_rules(english, glossa):
    assert translate_to_glossa(english) == glossa


def test_glossa_word_order_and_morphology():
    dictionary = {entry.english: entry.glossa for entry in NOUNS + ADJECTIVES + VERBS}
    out = translate_to_glossa("my happy girls did not help a kind teacher in the kitchen.")
    expected = (
        f"mi {dictionary['girl']}li {dictionary['happy']} lo {dictionary['kitchen']} ena "
        f"u {dictionary['teacher']} {dictionary['kind']} ko ne {dictionary['help']}ta."
    )
    assert out == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "the dog eat bread.",
        "a girl reads.",
        "the big dog eats bread",
        "dog eats bread.",
        "a dogs sleep.",
        "the dog eats bread bread.",
    ],
)
def test_sentences_outside_the_fragment_raise(sentence):
    with pytest.raises(TaskError, match="cannot translate"):
        translate_to_glossa(sentence)


def test_generated_sentences_parse_back():
    rng = random.Random(0)
    for _ in range(500):
        clause = random_clause(rng)
        assert parse_english(clause.english()) == clause


def test_dictionary_is_unambiguous():
    words = [e.glossa for e in NOUNS + ADJECTIVES + VERBS]
    assert len(words) == len(set(words)) >= 200
    assert {"lo", "u", "mi", "sa", "ko", "ne", "ena", "apo", "dore", "suba", "kon"}.isdisjoint(words)


@pytest.mark.parametrize(
    "hypothesis, reference, expected",
    [
        ("", "abc", 0.0),
        ("abc", "abc", 1.0),
        ("a b c", "abc", 1.0),  # whitespace is ignored
        ("xyz", "abc", 0.0),
        # orders 1-3 (the reference has no 4-grams): P = (1 + 1 + 0) / 3, R = (2/3 + 1/2 + 0) / 3;
        # 5PR / (4P + R) = 14/33
        ("ab", "abc", 14 / 33),
        # orders 1-3: P = (3/4 + 2/3 + 1/2) / 3 = 23/36, R = 1; 5PR / (4P + R) = (115/36) / (128/36) = 115/128
        ("abcd", "abc", 115 / 128),
    ],
)
def test_chrf_by_hand(hypothesis, reference, expected):
    assert chrf(hypothesis, reference) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "text, expected",
    [("", 0.0), (" lo kibema sedufi tula ko gefu.", 1.0), ("lo kibema sedufi tula ko gefu.", 1.0), ("   ", 0.0)],
)
def test_score_by_hand(text, expected):
    assert TranslateTask().score(PROMPT, text) == pytest.approx(expected, abs=1e-12)


@given(chunks=st.lists(st.text(alphabet="lokibemasedufi .\n", max_size=4), max_size=12))
def test_incremental_scorer_equals_full_score(chunks):
    task = TranslateTask()
    for prompt in [PROMPT] + task.prompts("train")[:3]:
        scorer, text = task.scorer(prompt), ""
        assert scorer.update("", "") == 0.0
        for chunk in chunks:
            text += chunk
            assert scorer.update(text, chunk) == task.score(prompt, text)


def test_worked_example_of_the_docstring():
    chunks = [" lo", " kibema", " sedufi", " tula", " ko", " gefu", "."]
    expected_scores = [0.025, 0.2831, 0.5637, 0.7329, 0.8128, 0.9639, 1.0]
    for mode in ("dense", "sparse"):
        e = TextGenEnv(task=OnePrompt(), reward_mode=mode)
        e.reset(seed=0)
        rewards = []
        for chunk, expected in zip(chunks, expected_scores):
            steps = [e.step(i) for i in e.tokenizer.encode(chunk)]
            rewards += [s[1] for s in steps]
            assert steps[-1][4]["score"] == pytest.approx(expected, abs=1e-4)
            assert not steps[-1][2]
            if mode == "dense":
                assert sum(rewards) == pytest.approx(expected, abs=1e-4)
        _, last, terminated, _, _ = e.step(e.tokenizer.eos_token_id)
        assert terminated
        if mode == "dense":
            assert last == 0.0 and sum(rewards) == pytest.approx(1.0)
        else:
            assert last == pytest.approx(1.0) and all(r == 0.0 for r in rewards)


def test_splits_disjoint_sized_and_shipped():
    task = TranslateTask()
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (400, 100)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    for prompt in train + evaluation:
        assert prompt.text == f"Translate to Glossa: {prompt.data['english']} =>"
        assert prompt.target == translate_to_glossa(prompt.data["english"])
    shipped = json.loads((DATA_DIR / "translate.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(generate_prompt_set(0)))


def test_env_checker_passes():
    check_env(TextGenEnv(task=TranslateTask(), render_mode="ansi"))
