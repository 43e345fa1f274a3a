"""IncrementalVader / VaderScorer: after every append, exactly vader_compound(text so far)."""

import functools

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vaderSentiment import vaderSentiment as vs

from textgym.task import Prompt
from textgym.tasks.sentiment import SentimentTask, vader, vader_compound
from textgym.tasks.vader_incremental import _FAR, IncrementalVader, VaderScorer, _FlagCache

LEXICON = sorted(vader().lexicon)
EMOJIS = sorted(e for e in vader().emojis if len(e) == 1)
RULE_WORDS = sorted(
    set(vs.BOOSTER_DICT) | set(vs.NEGATE) | set(vs.SPECIAL_CASES)
    | {"but", "But", "BUT", "kind of", "kind", "of", "no", "No", "or", "nor", "least", "at", "very",
       "never", "so", "this", "without", "doubt", "the", "I", "A", "OK", ":)", ":(", "..."}
)
FILLER = ["the", "a", "it", "was", "food", "and", "is", "we", "room", "x"]
SEPARATORS = ["", " ", " ", " ", "\n", "  ", "\t", " \n "]
PUNCTUATION = ["!", "?", ".", ",", "!!", "??", "?!", "...", "'", '"']


@st.composite
def pieces(draw):
    word = draw(
        st.one_of(
            st.sampled_from(LEXICON),
            st.sampled_from(RULE_WORDS),
            st.sampled_from(FILLER),
            st.sampled_from(EMOJIS),
            st.sampled_from(PUNCTUATION),
        )
    )
    case = draw(st.sampled_from(["keep", "keep", "keep", "upper", "title"]))
    word = word.upper() if case == "upper" else word.title() if case == "title" else word
    return draw(st.sampled_from(SEPARATORS)) + word + draw(st.sampled_from(["", "", "", ",", "!", "?", "."]))


@st.composite
def chunked_texts(draw):
    """A text of random pieces, cut into chunks at random places (words split across chunks)."""
    text = "".join(draw(st.lists(pieces(), min_size=1, max_size=40)))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=len(text)))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def check_appends(chunks):
    scorer = VaderScorer(SentimentTask(), Prompt("The pasta was"))
    assert scorer.update("", "") == 0.0
    text = ""
    for chunk in chunks:
        text += chunk
        got = scorer.update(text, chunk)
        expected = vader_compound(text)
        assert got == expected, (text, got, expected)
        assert type(got) is float
    return scorer


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=chunked_texts())
def test_every_prefix_scores_exactly_like_vader(chunks):
    check_appends(chunks)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.sampled_from([0, 0.0, -0.0, 1, 2, 3, 4, 6, 0.5, 0.25, 0.75, 1.5, 2.25, -1, -2, -0.5, -3]),
        min_size=1,
        max_size=14,
    ),
    data=st.data(),
)
def test_but_check_quirk_is_reproduced(values, data):
    """Frozen prefix plus tail steps equal VADER's _but_check (``sentiments.index`` quirk included)."""
    n = len(values)
    bi = data.draw(st.integers(0, n - 1), label="but index")
    frozen = data.draw(st.integers(0, n), label="frozen words")
    words = ["x"] * n
    words[bi] = "but"
    expected = vs.SentimentIntensityAnalyzer._but_check(words, list(values))
    cache = _FlagCache(True)
    for value in values[:frozen]:
        cache.push(value, bi if bi < frozen else _FAR)
    got = IncrementalVader._but_tail(cache, frozen, values[frozen:], bi)
    assert got == expected
    assert [type(x) for x in got] == [type(x) for x in expected]


def test_examples():
    iv = IncrementalVader()
    assert [iv.append(t) for t in (" really", " great", ".")] == [0.0, 0.659, 0.659]
    for text in ["VADER is VERY SMART, handsome, and FUNNY!!!", "Today only kinda sux! But I'll get by, lol",
                 "good good but good good bad but great", "no no no good", "I", "I am", "I AM", "   ", "😀😁x 😂",
                 "The book was only kind of good.", "At least it isn't a horrible book.", "yeah right, the bomb!!??"]:
        check_appends(list(text))  # one character at a time
        check_appends([text])


def test_cap_differential_flips_fall_back_once_per_flag_value():
    iv = IncrementalVader()
    text = ""
    for chunk in ["good", " nice", " fine", " ok", " great", " BAD", "ly", " awful", " GOOD", "ish", " happy"]:
        text += chunk
        assert iv.append(chunk) == vader_compound(text)
    assert iv.full_recomputations <= 2


def test_out_of_order_continuation_is_rescored():
    scorer = VaderScorer(SentimentTask(), Prompt("x"))
    scorer.update(" bad", " bad")
    assert scorer.update(" really great", " great") == vader_compound(" really great")
    assert scorer.update(" really great!", "!") == vader_compound(" really great!")


def test_sentiment_task_uses_the_incremental_scorer():
    task = SentimentTask()
    assert isinstance(task.scorer(task.prompts("train")[0]), VaderScorer)


@functools.lru_cache(maxsize=1)
def model_chunks(samples=4, tokens=80, seed=0):
    """Token-by-token text chunks of a few continuations sampled from the bundled model."""
    from textgym.models import load_frozen

    lm = load_frozen("tiny", "cpu")
    tokenizer = lm.tokenizer
    out = []
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for prompt in SentimentTask().prompts("train")[:samples]:
            ids = torch.tensor([tokenizer.encode(prompt.text)])
            generated = lm.model.generate(
                ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=0, max_new_tokens=tokens,
                min_new_tokens=tokens, pad_token_id=tokenizer.pad_token_id,
            )[0, ids.shape[1] :].tolist()
            decoder = tokenizer.incremental_decoder()
            out.append([c for c in (decoder.push(t) for t in generated) if c])
    return out


def test_model_samples_token_by_token():
    for chunks in model_chunks():
        check_appends(chunks)


def test_no_emoji_is_ascii():
    """IncrementalVader passes ASCII text through its emoji step untouched: VADER's emoji table has no ASCII key."""
    assert not any(key.isascii() for key in vader().emojis)
