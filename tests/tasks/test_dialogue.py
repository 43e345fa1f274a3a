"""DialogueTask: intent fit plus politeness minus rudeness, ended by a newline."""

import functools
import json
from collections import Counter

import pytest
import reward_contract
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym import Prompt, TaskError, TextGenEnv
from textgym.tasks.data import DATA_DIR
from textgym.tasks.dialogue import INTENTS, DialogueTask, generate_prompt_set

THANKS = Prompt("User: Thanks a lot for fixing my order!\nAssistant:", data={"intent": "thanks"})


def prompt_of(intent):
    return Prompt("User: ...\nAssistant:", data={"intent": intent})


class OnePrompt(DialogueTask):
    def load_prompts(self, split):
        return [THANKS]


@functools.cache
def env(mode):
    return TextGenEnv(task=DialogueTask(), reward_mode=mode)


#: words whose tokens reach the interesting scores of this task
REPLY_WORDS = [
    " welcome",
    " glad",
    " sorry",
    " please",
    " thank",
    " you",
    " hi",
    "s",
    " stupid",
    " whatever",
    " shut",
    " up",
    "\n",
    "!",
    " ",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_dense_rewards_sum_to_sparse_return(data, seed):
    actions = data.draw(reward_contract.action_lists(env("dense"), REPLY_WORDS, max_size=30), label="actions")
    reward_contract.assert_dense_sums_to_sparse(env("dense"), env("sparse"), seed, actions)


@pytest.mark.parametrize(
    "intent, text, expected",
    [
        ("thanks", "", 0.0),
        ("thanks", " You're welcome, glad to help!", 1.0),
        ("thanks", " You\u2019re welcome.", 0.5),  # curly apostrophe; an intent cue, no politeness cue
        ("thanks", " Please hold.", 0.5),  # a politeness cue only
        ("thanks", " Whatever.", -1.0),
        ("thanks", " You're welcome, whatever", 0.5 - 1.0),
        ("thanks", " Welcome, stupid, thanks", 0.5 + 0.5 - 1.0),
        ("thanks", " Shut up", -1.0),  # a two-word rude phrase
        ("thanks", " Shut the door", 0.0),  # "shut" alone is not rude
        ("greeting", " hi", 0.5),
        ("greeting", " his", 0.0),  # whole words only
        ("greeting", " Hello! How can I help you?", 0.5),
        ("complaint", " Sorry\nplease", 0.5),  # the reply ends at the first newline
        ("complaint", " I am so sorry, please send us a photo.", 1.0),
        ("question", " Yes, we do. Thank you for asking!", 1.0),
        ("farewell", " Goodbye, and thank you!", 1.0),
        ("request", " Sure, I will do that right away. Thanks!", 1.0),
        ("greeting", " Good morning! Glad you wrote.", 1.0),
    ],
)
def test_score_by_hand(intent, text, expected):
    assert DialogueTask().score(prompt_of(intent), text) == pytest.approx(expected, abs=1e-12)


def test_is_finished_at_newline():
    task = DialogueTask()
    assert not task.is_finished(THANKS, " Glad to help!")
    assert task.is_finished(THANKS, " Glad to help!\nUser:")


@given(
    chunks=st.lists(st.text(alphabet="welcomgladsryphitu' \u2019.,!\n", max_size=4), max_size=12),
    intent=st.sampled_from(INTENTS),
)
def test_incremental_scorer_equals_full_score(chunks, intent):
    task = DialogueTask()
    prompt = prompt_of(intent)
    scorer, text = task.scorer(prompt), ""
    assert scorer.update("", "") == 0.0
    for chunk in chunks:
        text += chunk
        assert scorer.update(text, chunk) == task.score(prompt, text)


def test_incremental_scorer_on_phrases_split_across_updates():
    task = DialogueTask()
    replies = [
        ("thanks", " you're welcome"),
        ("thanks", " happy to help"),
        ("farewell", " have a nice day"),
        ("thanks", " shut up"),
    ]
    for intent, reply in replies:
        prompt = prompt_of(intent)
        for cut in range(len(reply) + 1):
            scorer = task.scorer(prompt)
            scorer.update(reply[:cut], reply[:cut])
            assert scorer.update(reply, reply[cut:]) == task.score(prompt, reply)


def test_worked_example_of_the_docstring():
    chunks = [" You're", " welcome", ",", " glad", " to help!", "\n"]
    expected_scores = [0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    for mode in ("dense", "sparse"):
        e = TextGenEnv(task=OnePrompt(), reward_mode=mode)
        e.reset(seed=0)
        rewards = []
        for chunk, expected in zip(chunks, expected_scores):
            steps = [e.step(i) for i in e.tokenizer.encode(chunk)]
            rewards += [s[1] for s in steps]
            assert steps[-1][4]["score"] == expected
            if mode == "dense":
                assert sum(rewards) == pytest.approx(expected, abs=1e-12)
        assert steps[-1][2] is True  # the newline terminates
        if mode == "sparse":
            assert rewards[-1] == 1.0 and all(r == 0.0 for r in rewards[:-1])


def test_splits_disjoint_sized_and_shipped():
    task = DialogueTask()
    train, evaluation = task.prompts("train"), task.prompts("eval")
    assert (len(train), len(evaluation)) == (300, 72)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    assert Counter(p.data["intent"] for p in train) == {intent: 50 for intent in INTENTS}
    assert Counter(p.data["intent"] for p in evaluation) == {intent: 12 for intent in INTENTS}
    for prompt in train + evaluation:
        assert prompt.text.startswith("User: ") and prompt.text.endswith("\nAssistant:")
    shipped = json.loads((DATA_DIR / "dialogue.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(generate_prompt_set(0)))


def test_prompt_without_intent_raises():
    with pytest.raises(TaskError, match="intent"):
        DialogueTask().score(Prompt("User: hi\nAssistant:", data={"intent": "joke"}), "hello")


def test_env_checker_passes():
    check_env(TextGenEnv(task=DialogueTask(), render_mode="ansi"))
