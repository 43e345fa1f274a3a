"""QATask: SQuAD-style F1 plus exact match, ended by a newline."""

import functools
import json

import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv
from textgym.tasks.data import DATA_DIR
from textgym.tasks.qa import QATask, all_questions, answer_tokens, generate_prompt_set

HAMLET = Prompt(
    "Q: Who wrote Hamlet? A:", target="William Shakespeare", data={"answers": ["William Shakespeare", "Shakespeare"]}
)
FRANCE = Prompt("Q: What is the capital of France? A:", target="Paris", data={"answers": ["Paris"]})


def one_prompt_task(prompt):
    class OnePrompt(QATask):
        def load_prompts(self, split):
            return [prompt]

    return OnePrompt()


@functools.cache
def env(mode):
    return TextGenEnv(task=QATask(), reward_mode=mode)


#: words whose tokens reach the interesting scores of this task
ANSWER_WORDS = [" Paris", " The", " euro", " Europe", " the", "\n", ".", " ", " Spanish", " Asia"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(data, seed):
    actions = data.draw(reward_contract.action_lists(env("dense"), ANSWER_WORDS, max_size=20), label="actions")
    reward_contract.assert_dense_sums_to_sparse(env("dense"), env("sparse"), seed, actions)


@pytest.mark.parametrize(
    "prompt, text, expected",
    [
        (HAMLET, "", 0.0),
        (HAMLET, " Shakespeare", 1.0),
        (HAMLET, " William Shakespeare\n", 1.0),
        (HAMLET, " The Shakespeare.", 1.0),  # articles and punctuation drop out
        (HAMLET, " William", 0.5 * (2 / 3)),  # F1 2/3 against "William Shakespeare", no exact match
        # "mr shakespeare": F1 1/2 against "william shakespeare", 2/3 against "shakespeare"
        (HAMLET, " Mr. Shakespeare\nyes", 0.5 * (2 / 3)),
        (HAMLET, "\nShakespeare", 0.0),  # the answer ends at the first newline
        (HAMLET, " Shakespeare Shakespeare", 0.5 * (2 / 3)),  # P 1/2, R 1
        (HAMLET, " Marlowe", 0.0),
        (FRANCE, " paris!", 1.0),
        (Prompt("Q: What is the capital of Colombia? A:", target="Bogota"), " Bogotá", 1.0),  # accents removed
    ],
)
def test_score_by_hand(prompt, text, expected):
    assert QATask().score(prompt, text) == pytest.approx(expected, abs=1e-12)


def test_answer_tokens_normalise_like_squad():
    assert answer_tokens(" The  Washington, D.C.!") == ["washington", "dc"]
    assert answer_tokens("an a the") == []
    assert answer_tokens("Berners-Lee") == ["bernerslee"]


def test_is_finished_at_newline():
    task = QATask()
    assert not task.is_finished(FRANCE, " Paris")
    assert task.is_finished(FRANCE, " Paris\n")


@given(chunks=st.lists(st.text(alphabet="ParisWlmShkeptT .,-\n\u00e9", max_size=4), max_size=12))
def test_incremental_scorer_equals_full_score(chunks):
    task = QATask()
    for prompt in [HAMLET, FRANCE] + task.prompts("train")[:3]:
        scorer, text = task.scorer(prompt), ""
        assert scorer.update("", "") == 0.0
        for chunk in chunks:
            text += chunk
            assert scorer.update(text, chunk) == task.score(prompt, text)


@pytest.mark.parametrize(
    "prompt, chunks, expected_scores",
    [
        (FRANCE, [" The", " Paris", "\n"], [0.0, 1.0, 1.0]),
        (HAMLET, [" William", " Shakespeare", "\n"], [1 / 3, 1.0, 1.0]),
    ],
)
def test_worked_example_of_the_docstring(prompt, chunks, expected_scores):
    for mode in ("dense", "sparse"):
        e = TextGenEnv(task=one_prompt_task(prompt), reward_mode=mode)
        e.reset(seed=0)
        rewards = []
        for chunk, expected in zip(chunks, expected_scores):
            steps = [e.step(i) for i in e.tokenizer.encode(chunk)]
            rewards += [s[1] for s in steps]
            assert steps[-1][4]["score"] == pytest.approx(expected, abs=1e-12)
            if mode == "dense":
                assert sum(rewards) == pytest.approx(expected, abs=1e-12)
        assert steps[-1][2] is True  # the newline terminates
        if mode == "sparse":
            assert rewards[-1] == 1.0 and all(r == 0.0 for r in rewards[:-1])


def test_unfinished_word_counts_as_written():
    task = QATask()
    assert task.score(HAMLET, " William S") == pytest.approx(0.25)  # "s" is a wrong second token


def test_question_bank_and_splits():
    questions = all_questions()
    assert len({q for q, _ in questions}) == len(questions) >= 250
    task = QATask()
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (310, 77)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    for prompt in train + evaluation:
        assert prompt.text.startswith("Q: ") and prompt.text.endswith(" A:")
        assert prompt.target == prompt.data["answers"][0]
        assert task.score(prompt, " " + prompt.target + "\n") == 1.0
    shipped = json.loads((DATA_DIR / "qa.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(generate_prompt_set(0)))


def test_some_facts():
    facts = dict(all_questions())
    assert facts["What is the capital of Australia?"][0] == "Canberra"
    assert facts["What is the currency of Japan?"][0] == "yen"
    assert facts["On which continent is Brazil?"][0] == "South America"
    assert facts["Ottawa is the capital of which country?"][0] == "Canada"
    assert facts["In which year did the Berlin Wall fall?"] == ("1989",)


def test_prompt_without_answer_raises():
    with pytest.raises(TaskError, match="answers"):
        QATask().score(Prompt("Q: Why? A:"), "because")


def test_env_checker_passes():
    check_env(TextGenEnv(task=QATask(), render_mode="ansi"))
