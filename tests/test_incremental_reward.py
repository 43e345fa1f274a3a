"""Decoder reward models read incrementally (a key/value cache per row, fed only the tokens the appended text adds),
and sparse episodes scored once: the incremental score is the full re-score at every prefix, for the policy's own
tokenizer and for unrelated ones; tokens are fed about once; single and batched envs agree; the horizon is checked."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym.models.incremental_reward import IncrementalScores, RowTokenizer, TailTokenizer
from textgym.models.loader import BUNDLED_MODELS, load_tokenizer
from textgym.models.reward_models import RewardModelError, load_reward_model
from textgym.tasks import RewardModelTask

pytestmark = pytest.mark.skipif(
    not (BUNDLED_MODELS["tiny-sentiment"] / "config.json").is_file(), reason="tiny-sentiment not built"
)

PROMPTS = {
    "train": ["The film was", "Our waiter seemed", "This blender is", "The hotel room felt"],
    "eval": ["The book was"],
}
CORPUS = [
    "The food was wonderful and the staff were lovely.",
    "The soup was cold, the bread was stale, and the waiter was rude.",
    "I would not go back; it's far too expensive for what you get!",
    "Great film, great cast: 10/10, would watch again.",
    "The hotel room felt small but clean, and the view of the sea was beautiful.",
    "Awful service. Never again...",
    "This blender is loud; it broke after 3 weeks.",
    "The book was a slow start, but the ending made up for it.",
    "Our waiter seemed tired, yet he was kind and quick.",
    "We've stayed here twice and we'll stay again.",
]
SPECIALS = ["<|endoftext|>", "<pad>", "<unk>"]


def save_gpt2_classifier(folder, byte_level: bool = True, n_positions: int = 512, seed: int = 0) -> str:
    """A 2-layer GPT-2 sequence classifier (random weights, seeded) with a BPE tokenizer trained here, unlike the
    policy's.

    ``byte_level``: a byte-level BPE with 300 merges of its own (its ids are read by :class:`TailTokenizer`); else a
    lowercasing, whitespace-and-punctuation-splitting BPE with an unknown token (read whole: :class:`RowTokenizer`).
    Either way the tokenizer puts ``<|endoftext|>`` before every text, as tiny-sentiment's does.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2ForSequenceClassification, PreTrainedTokenizerFast

    if byte_level:
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    else:
        backend = Tokenizer(models.BPE(unk_token="<unk>"))
        backend.normalizer = normalizers.Lowercase()
        backend.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(vocab_size=150, special_tokens=SPECIALS)
    backend.train_from_iterator(CORPUS * 3, trainer)
    bos = backend.token_to_id("<|endoftext|>")
    backend.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos)]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                        pad_token="<pad>", unk_token="<unk>", model_max_length=n_positions)
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=backend.get_vocab_size(), n_positions=n_positions, n_embd=32, n_layer=2, n_head=2,
                        num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
                        pad_token_id=backend.token_to_id("<pad>"), initializer_range=0.3)
    model = GPT2ForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def byte_bpe(tmp_path_factory) -> str:
    return save_gpt2_classifier(tmp_path_factory.mktemp("gpt2-byte-bpe"), byte_level=True)


@pytest.fixture(scope="module")
def word_bpe(tmp_path_factory) -> str:
    return save_gpt2_classifier(tmp_path_factory.mktemp("gpt2-word-bpe"), byte_level=False)


@pytest.fixture(scope="module")
def sentiment():
    return load_reward_model("tiny-sentiment", label="positive", device="cpu")


@pytest.fixture(scope="module")
def policy():
    return load_tokenizer("tiny")


def rm_kwargs(path, **extra):
    return {"task": "reward-model", "task_kwargs": {"reward_model": path, "label": "positive", "prompts": PROMPTS,
                                                      "device": "cpu", "text": "prompt+continuation", **extra}}


def policy_texts(policy, tokens) -> list[str]:
    """The text after each token, as the env's incremental decoder gives it (a half character held back)."""
    decoder, text, texts = policy.incremental_decoder(), "", []
    for token in tokens:
        text += decoder.push(int(token))
        texts.append(text)
    return texts


def policy_actions(policy, max_size: int):
    """Policy tokens: any token, words of the corpus (BPE merges across the old end), partial characters, specials."""
    useful = sorted({i for sentence in CORPUS for i in policy.encode(sentence)})
    partial = reward_contract.partial_character_tokens(policy)
    token = st.one_of(st.integers(0, policy.vocab_size - 1), st.sampled_from(useful), st.sampled_from(useful),
                      st.sampled_from(partial or useful))
    return st.lists(token, min_size=1, max_size=max_size)


# -- the score of every prefix ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny-sentiment", "byte-bpe", "word-bpe"])
def test_incremental_score_is_the_full_rescore_at_every_prefix(which, sentiment, byte_bpe, word_bpe, policy):
    """Rows grow by decoded policy tokens and start again at random; at every update each row's score is
    ``RewardModel.score`` of its text, whatever the classifier's tokenizer does to the appended text."""
    rm = (
        sentiment
        if which == "tiny-sentiment"
        else load_reward_model({"byte-bpe": byte_bpe, "word-bpe": word_bpe}[which], label="positive", device="cpu")
    )
    assert rm.decoder_problem() is None
    expected_tokenizer = RowTokenizer if which == "word-bpe" else TailTokenizer
    num_rows = 3

    @settings(
        max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    )
    @given(episodes=st.lists(policy_actions(policy, 14), min_size=num_rows, max_size=num_rows + 3), data=st.data())
    def check(episodes, data):
        rows = IncrementalScores(rm, num_rows)
        assert type(rows.tokenizer) is expected_tokenizer
        prompts = data.draw(
            st.lists(st.sampled_from(PROMPTS["train"] + [""]), min_size=len(episodes), max_size=len(episodes))
        )
        # episode i runs in row i % num_rows, after the episode before it there; rows step together
        queues = [
            [(prompts[i], policy_texts(policy, tokens)) for i, tokens in enumerate(episodes) if i % num_rows == row]
            for row in range(num_rows)
        ]
        current = [None] * num_rows
        while any(queues) or any(current):
            rows_now, texts_now = [], []
            for row in range(num_rows):
                if current[row] is None or current[row][1] >= len(current[row][2]):
                    if not queues[row]:
                        current[row] = None
                        continue
                    prompt, texts = queues[row].pop(0)
                    rows.reset_rows([row])
                    current[row] = [prompt, 0, [""] + texts]
                prompt, t, texts = current[row]
                rows_now.append(row)
                texts_now.append(prompt + texts[t])
                current[row][1] += 1
            if rows_now:
                got = rows.scores(rows_now, texts_now)
                np.testing.assert_allclose(got, rm.score(texts_now), atol=1e-5, rtol=0)
                full = RowTokenizer(rm.tokenizer, num_rows)
                for row, text in zip(rows_now, texts_now):  # the ids the row holds are the tokenizer's own of its text
                    assert rows.classifier.ids[row] == full.encode([row], [text])[0]

    check()


def test_rows_hold_what_the_models_own_forward_reads(sentiment):
    """The cache bookkeeping alone, on token ids: 12 rows grow by one token mostly, by several now and then, are cut
    back, or start again from nothing; every row's output is the model's own logits of its ids, read whole, whichever
    forward fed it: one over all rows, one of a few rows' own (their caches gathered and written back), or one of rows
    that hold nothing (no past). Each example opens with a step that needs all three, then takes random steps."""
    from textgym.models.incremental_reward import IncrementalClassifier

    num_rows = 12
    model = sentiment.model

    @settings(
        max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    )
    @given(seed=st.integers(0, 2**16))
    def check(seed):
        rng = np.random.default_rng(seed)
        rows = IncrementalClassifier(model, num_rows, model.config.pad_token_id, 512)
        forwards = []  # per forward: "all rows", "gathered" (a few rows' own, with their past) or "fresh" (no past)
        forward, gather = rows._forward, rows.store.gather

        def spy_forward(store, feeds):
            if store is rows.store:
                forwards.append("all rows")
            elif forwards and forwards[-1] == "gathering":
                forwards[-1] = "gathered"
            else:
                forwards.append("fresh")
            forward(store, feeds)

        def spy_gather(*args, **kwargs):
            forwards.append("gathering")
            return gather(*args, **kwargs)

        rows._forward, rows.store.gather = spy_forward, spy_gather

        def new_ids(size) -> list[int]:
            return rng.integers(2, 4000, size=size).tolist()  # id 1 is the pad id: see the appended ids below

        def check_rows(chosen: list[int], ids: list[list[int]]) -> None:
            got = rows.set_ids(chosen, [ids[row] for row in chosen])
            with torch.no_grad():
                for i, row in enumerate(chosen):
                    theirs = model(input_ids=torch.tensor([ids[row]])).logits[0]
                    torch.testing.assert_close(got[i], theirs, atol=1e-5, rtol=0)

        # the opening: half the rows start; then those grow by one token, but one by eight (fed apart from the others,
        # gathered), while the other half start (fed without past)
        ids: list[list[int]] = [[] for _ in range(num_rows)]
        half = num_rows // 2
        for row in range(half):
            ids[row] = [0] + new_ids(rng.integers(0, 6))
        check_rows(list(range(half)), ids)
        assert forwards == ["fresh"]
        for row in range(num_rows):
            ids[row] = ids[row] + new_ids(8 if row == 0 else 1) if row < half else [0] + new_ids(rng.integers(0, 6))
        check_rows(list(range(num_rows)), ids)
        assert sorted(forwards[1:]) == ["all rows", "fresh", "gathered"], forwards
        for _ in range(10):
            chosen = sorted(rng.choice(num_rows, size=rng.integers(1, num_rows + 1), replace=False).tolist())
            for row in chosen:
                kind = rng.random()
                if kind < 0.1:  # start again from nothing, as a new episode in the row does
                    rows.reset_rows([row])
                    ids[row] = [0] + new_ids(rng.integers(0, 6))
                elif kind < 0.25:  # cut back (down to the first id at most) and grow by several
                    ids[row] = ids[row][: max(1, len(ids[row]) - rng.integers(0, 4))] + new_ids(rng.integers(2, 9))
                else:  # grow by one, now and then the pad id: the head skips it, as the model does
                    ids[row] = ids[row] + [int(rng.integers(1, 4000))]
            check_rows(chosen, ids)
        assert rows.forwards == len(forwards)

    check()


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                "The",
                " food",
                " was",
                "  ",
                " ",
                "\n",
                "\n\n",
                "!",
                "'s",
                " 's",
                "'",
                "12",
                "3",
                " 4",
                "é",
                " naïve",
                "\t",
                "<pad>",
                "<|endoftext|>",
                "wonder",
                "ful",
                ",",
                " and",
                "x",
            ]
        ),
        min_size=1,
        max_size=25,
    )
)
def test_tail_tokenizer_gives_the_tokenizers_own_ids(pieces):
    """Tokenising each text only after its last safe point (a space between two non-spaces) gives the ids of the whole
    text."""
    rm = load_reward_model("tiny-sentiment", label="positive", device="cpu")
    tail, full = TailTokenizer(rm.tokenizer, 1), RowTokenizer(rm.tokenizer, 1)
    text = ""
    for piece in pieces:
        text += piece
        assert tail.encode([0], [text]) == full.encode([0], [text]), repr(text)


def test_tail_tokenizer_applies_to_byte_level_bpe_only(sentiment, byte_bpe, word_bpe):
    assert TailTokenizer.applies_to(sentiment.tokenizer)
    assert TailTokenizer.applies_to(load_reward_model(byte_bpe, label=1, device="cpu").tokenizer)
    assert not TailTokenizer.applies_to(
        load_reward_model(word_bpe, label=1, device="cpu").tokenizer
    )  # a normalizer, another split


# -- through the envs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny-sentiment", "word-bpe"])
def test_a_dense_episode_feeds_each_token_about_once(which, word_bpe, policy):
    """Reward-model tokens fed over dense episodes: at most 1.3x their final reward-model token counts (BPE merges
    across the old end of the text re-feed a token or two, and the episode's start reads the prompt once)."""
    num_envs, horizon = 8, 24
    kwargs = {} if which == "tiny-sentiment" else rm_kwargs(word_bpe)
    env_id = "textgym/SentimentRM-v0" if which == "tiny-sentiment" else "textgym/TextGenEnv-v0"
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", max_new_tokens=horizon,
                       reward_mode="dense", **kwargs)
    task = env.unwrapped.task
    assert task.incremental and not task.scores_lazily("dense")
    rng = np.random.default_rng(0)
    actions = reward_contract.random_actions(rng, policy, policy.vocab_size, (horizon, num_envs), eos_rate=0.0)
    actions[actions == policy.eos_token_id] = policy.encode(" good")[0]
    env.reset(seed=0)
    rows = env.unwrapped.scorer._rows
    fed_before = rows.tokens_fed
    prompts = [task.prompts("train")[i] for i in env.unwrapped.prompt_indices.tolist()]
    finals = []
    for step_actions in actions:
        _, _, terminated, _, info = env.step(step_actions)
        finals += [(prompts[row], info["final_info"]["text"][row]) for row in np.flatnonzero(terminated)]
    assert len(finals) == num_envs  # every row ended at the horizon, at the last step
    final_tokens = sum(task.reward_model.token_counts([task.classifier_input(p, text) for p, text in finals]))
    fed = (
        rows.tokens_fed
        - fed_before
        + sum(task.reward_model.token_counts([task.classifier_input(p, "") for p in prompts]))
    )
    # the last step's autoreset already fed the next episodes' prompts: counted out, as the first prompts were
    # counted in
    fed -= sum(task.reward_model.token_counts([task.classifier_input(task.prompts("train")[i], "")
                                               for i in env.unwrapped.prompt_indices.tolist()]))
    assert final_tokens <= fed <= 1.3 * final_tokens, (fed, final_tokens)
    env.close()


@pytest.mark.parametrize("mode", ["dense", "sparse"])
@pytest.mark.parametrize("which", ["tiny-sentiment", "byte-bpe"])
def test_single_and_batched_agree_row_by_row(which, mode, byte_bpe, policy):
    """Rows end at mixed times (EOS, the horizon) and start again without touching the others' caches; every reward,
    score and final text matches a single env playing that row."""
    if which == "tiny-sentiment":
        env_id, kwargs = "textgym/SentimentRM-v0", {"max_new_tokens": 7}
    else:
        env_id, kwargs = "textgym/TextGenEnv-v0", {**rm_kwargs(byte_bpe), "max_new_tokens": 7}
    num_envs, steps = 5, 24
    batched = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", reward_mode=mode, **kwargs
    )
    singles = [gym.make(env_id, reward_mode=mode, **kwargs) for _ in range(num_envs)]
    assert batched.unwrapped.task.incremental
    rng = np.random.default_rng(1)
    actions = reward_contract.random_actions(rng, policy, policy.vocab_size, (steps, num_envs), eos_rate=0.12)
    seen = reward_contract.play_side_by_side(batched, singles, actions, [20, 21, 22, 23, 24])
    task = singles[0].unwrapped.task
    for _, _, _, done, single_info in seen.steps:
        if done:  # the final score is the model's own read of the final text
            prompt = task.prompts("train")[single_info["prompt_index"]]
            assert single_info["score"] == pytest.approx(task.score(prompt, single_info["text"]), abs=1e-5)
    assert seen.ended >= num_envs
    batched.close()


def test_incremental_and_full_rescore_give_the_same_rewards(policy):
    num_envs, steps = 4, 12
    rng = np.random.default_rng(2)
    actions = reward_contract.random_actions(rng, policy, policy.vocab_size, (steps, num_envs), eos_rate=0.1)
    rewards = {}
    for incremental in (True, False):
        env = gym.make_vec(
            "textgym/SentimentRM-v0",
            num_envs=num_envs,
            vectorization_mode="vector_entry_point",
            max_new_tokens=6,
            task_kwargs={"incremental": incremental},
        )
        assert env.unwrapped.task.incremental is incremental
        env.reset(seed=3)
        rewards[incremental] = np.array([env.step(a)[1] for a in actions])
    np.testing.assert_allclose(rewards[True], rewards[False], atol=1e-5, rtol=0)


def test_prompt_baseline_is_exactly_zero_at_the_start(policy):
    """baseline='prompt' read incrementally: each row's own empty-text score is its baseline (0 at reset, exactly)."""
    kwargs = {"max_new_tokens": 5, "task_kwargs": {"baseline": "prompt"}}
    single = gym.make("textgym/SentimentRM-v0", **kwargs)
    batched = gym.make_vec("textgym/SentimentRM-v0", num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    _, info = single.reset(seed=0)
    _, batched_info = batched.reset(seed=[0, 1, 2])
    assert info["score"] == 0.0 and (batched_info["score"] == 0.0).all()
    task = single.unwrapped.task
    for word in (" The", " food", " was"):
        _, _, _, _, info = single.step(policy.encode(word)[0])
        _, _, _, _, batched_info = batched.step(np.full(3, policy.encode(word)[0]))
    prompt = task.prompts("train")[info["prompt_index"]]
    assert info["score"] == pytest.approx(task.score(prompt, info["text"]), abs=1e-5)
    assert batched_info["score"][0] == pytest.approx(info["score"], abs=1e-5)


def test_batched_env_makes_one_forward_per_step_for_rows_with_new_tokens(policy, monkeypatch):
    env = gym.make_vec("textgym/SentimentRM-v0", num_envs=6, vectorization_mode="vector_entry_point", max_new_tokens=20)
    env.reset(seed=0)
    rows = env.unwrapped.scorer._rows
    calls = []
    original = rows.classifier.base.forward
    monkeypatch.setattr(
        rows.classifier.base, "forward", lambda *a, **k: calls.append(tuple(k["input_ids"].shape)) or original(*a, **k)
    )
    for word in (" good", " and", " lovely"):
        env.step(np.full(6, policy.encode(word)[0]))
    assert len(calls) == 3 and all(shape[0] == 6 for shape in calls)
    assert all(shape[1] <= 2 for shape in calls)  # the appended token (and one a merge rewrote), not the whole text
    env.close()


def test_pickled_batched_env_goes_on_as_the_original(policy):
    env = gym.make_vec("textgym/SentimentRM-v0", num_envs=3, vectorization_mode="vector_entry_point", max_new_tokens=8)
    env.reset(seed=5)
    for word in (" The", " food"):
        env.step(np.full(3, policy.encode(word)[0]))
    copy = pickle.loads(pickle.dumps(env))
    for word in (" was", " good"):
        a, b = env.step(np.full(3, policy.encode(word)[0])), copy.step(np.full(3, policy.encode(word)[0]))
        np.testing.assert_array_equal(a[1], b[1])


# -- which models, and their context ---------------------------------------------------------------------


def test_incremental_on_an_encoder_classifier_is_a_clear_error(tmp_path):
    from test_reward_model import save_bert_classifier

    bert = save_bert_classifier(tmp_path / "bert")
    task = RewardModelTask(bert, label="positive", prompts=PROMPTS, device="cpu")
    assert task.incremental is False and task.lazy_sparse  # read whole: sparse episodes scored once
    with pytest.raises(
        RewardModelError,
        match=r"incremental=True needs a decoder classifier .* is not one: BertForSequenceClassification "
        r"has no linear head named 'score'.*pass incremental=False",
    ):
        RewardModelTask(bert, label="positive", prompts=PROMPTS, device="cpu", incremental=True)


def test_a_bidirectional_model_fails_the_probe(tmp_path, byte_bpe):
    """A model laid out as a decoder classifier whose attention sees the future is caught by the token-by-token
    probe."""
    from textgym.models.incremental_reward import decoder_classifier_problem

    rm = load_reward_model(byte_bpe, label=1, device="cpu")
    model = type(rm.model)(rm.model.config).eval()
    model.load_state_dict(rm.model.state_dict())
    assert decoder_classifier_problem(model, rm.tokenizer) is None
    model = type(rm.model)(rm.model.config).eval()
    model.load_state_dict(rm.model.state_dict())
    causal = model.transformer.forward

    def bidirectional(input_ids=None, *args, attention_mask=None, **kwargs):
        if (
            attention_mask is None or attention_mask.dim() == 2
        ):  # reading a whole text: every token sees all, later ones too
            attention_mask = torch.zeros(input_ids.shape[0], 1, input_ids.shape[1], input_ids.shape[1])
        return causal(input_ids, *args, attention_mask=attention_mask, **kwargs)

    model.transformer.forward = bidirectional  # nothing in its config or layout says so
    problem = decoder_classifier_problem(model, rm.tokenizer)
    assert problem is not None and "differs from its score of the text read whole" in problem


def test_horizon_past_the_context_is_refused_at_construction(tmp_path, policy):
    short = save_gpt2_classifier(tmp_path / "short", n_positions=40)
    with pytest.raises(
        RewardModelError,
        match=r"prompt plus horizon can take (\d+) tokens of reward model .* more than the 40 it reads",
    ):
        gym.make("textgym/TextGenEnv-v0", max_new_tokens=40, **rm_kwargs(short))
    with pytest.raises(RewardModelError, match=r"more than the 40 it reads"):
        gym.make_vec(
            "textgym/TextGenEnv-v0",
            num_envs=2,
            vectorization_mode="vector_entry_point",
            max_new_tokens=40,
            **rm_kwargs(short),
        )
    env = gym.make("textgym/TextGenEnv-v0", max_new_tokens=1, **rm_kwargs(short))  # fits
    env.reset(seed=0)
    rows = IncrementalScores(env.unwrapped.task.reward_model, 1)
    with pytest.raises(
        RewardModelError,
        match=r"reads at most 40 tokens, but the text .* takes \d+ of its tokens; "
        r"textgym never scores a truncated text",
    ):
        rows.scores([0], ["word " * 40])
    with pytest.raises(RewardModelError, match=r"reads at most 40 tokens"):
        RewardModelTask(short, label=1, prompts=PROMPTS, device="cpu", incremental=False).score_batch(
            [env.unwrapped.task.prompts("train")[0]], ["word " * 40], truncate=False)


def test_sentiment_rm_fits_a_long_horizon():
    """tiny-sentiment reads 512 tokens; the tiny policy's tokens take one of its tokens each: 256 new tokens fit."""
    env = gym.make("textgym/SentimentRM-v0", max_new_tokens=256)
    room = (
        512 - env.unwrapped.setup.max_prompt_tokens
    )  # what the policy's context leaves: one token too many for the classifier (its BOS)
    with pytest.raises(
        RewardModelError, match=rf"max_new_tokens={room} tokens of 'tiny' at up to 1 each\), more than the 512 it reads"
    ):
        gym.make("textgym/SentimentRM-v0", max_new_tokens=room)


# -- sparse mode scores once -----------------------------------------------------------------------------


def count_forwards(monkeypatch, model):
    calls = []
    original = model.forward
    monkeypatch.setattr(
        model, "forward", lambda *a, **k: calls.append(tuple(k["input_ids"].shape)) or original(*a, **k)
    )
    return calls


def test_sparse_batched_env_scores_each_episode_once(monkeypatch, policy):
    """Read whole (incremental=False), a sparse row is scored when it ends: one forward for the rows ending at a step,
    none at the other steps; before the end info['score'] stays the start score."""
    num_envs, horizon = 4, 5
    env = gym.make_vec(
        "textgym/SentimentRM-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        reward_mode="sparse",
        max_new_tokens=horizon,
        task_kwargs={"incremental": False},
    )
    assert env.unwrapped.scorer.lazy
    _, info = env.reset(seed=0)
    start = info["score"].copy()
    task = env.unwrapped.task
    task.start_scores(task.prompts("train"))  # the start scores of restarting rows: cached per prompt, warmed here
    calls = count_forwards(monkeypatch, task.reward_model.model)
    word, eos = policy.encode(" good")[0], policy.eos_token_id
    plan = [[word] * 4, [word, eos, word, word], [word] * 4, [word] * 4, [word] * 4]
    for t, step_actions in enumerate(plan):
        _, rewards, terminated, _, info = env.step(np.array(step_actions))
        if t == 0:
            assert calls == []  # nothing ended: nothing scored
            np.testing.assert_array_equal(info["score"], start)
        if t == 1:
            assert calls == [(1, calls[0][1])]  # row 1 ended (EOS): one forward, that row alone
        assert (rewards[~terminated] == 0).all()
    assert len(calls) == 2 and calls[1][0] == 3  # the three rows reaching the horizon together: one forward
    env.close()


def test_sparse_single_env_updates_only_at_the_end(monkeypatch, policy):
    env = gym.make("textgym/SentimentRM-v0", reward_mode="sparse", max_new_tokens=6, task_kwargs={"incremental": False})
    env.reset(seed=1)
    calls = count_forwards(monkeypatch, env.unwrapped.task.reward_model.model)
    for word in (" The", " food", " was", " good", ".", " Yes"):
        _, reward, terminated, _, info = env.step(policy.encode(word)[0])
    assert terminated and len(calls) == 1
    assert (
        reward
        == info["score"]
        == pytest.approx(
            env.unwrapped.task.score(env.unwrapped.task.prompts("train")[info["prompt_index"]], info["text"]), abs=1e-6
        )
    )


def finished_returns(env, actions) -> np.ndarray:
    """Every row's rewards summed over its episodes that ended (an episode still running at the end left out)."""
    total, running = np.zeros(env.num_envs), np.zeros(env.num_envs)
    for step_actions in actions:
        _, rewards, terminated, _, _ = env.step(step_actions)
        running += rewards
        total[terminated] += running[terminated]
        running[terminated] = 0.0
    return total


@pytest.mark.parametrize("incremental", [False, True])
def test_dense_sums_to_sparse_exactly_in_the_batched_env(incremental, policy):
    """The final score is the same number in both modes: read whole, both score the ending rows in one forward; read
    incrementally, sparse episodes are fed like dense ones."""
    num_envs, steps = 5, 16
    rng = np.random.default_rng(4)
    actions = reward_contract.random_actions(rng, policy, policy.vocab_size, (steps, num_envs), eos_rate=0.15)
    returns = {}
    for mode in ("dense", "sparse"):
        env = gym.make_vec(
            "textgym/SentimentRM-v0",
            num_envs=num_envs,
            vectorization_mode="vector_entry_point",
            reward_mode=mode,
            max_new_tokens=6,
            task_kwargs={"incremental": incremental},
        )
        assert env.unwrapped.scorer.lazy is (mode == "sparse" and not incremental)
        env.reset(seed=9)
        returns[mode] = finished_returns(env, actions)
    np.testing.assert_allclose(returns["dense"], returns["sparse"], atol=1e-9, rtol=0)


def test_lazy_sparse_on_an_incremental_model_agrees_to_float_precision(policy):
    """lazy_sparse=True scores an incrementally read model's sparse episodes with one forward at the end: the same score
    up to float32 rounding."""
    num_envs, steps = 4, 14
    rng = np.random.default_rng(5)
    actions = reward_contract.random_actions(rng, policy, policy.vocab_size, (steps, num_envs), eos_rate=0.15)
    returns = {}
    for mode, lazy in (("dense", None), ("sparse", True)):
        env = gym.make_vec(
            "textgym/SentimentRM-v0",
            num_envs=num_envs,
            vectorization_mode="vector_entry_point",
            reward_mode=mode,
            max_new_tokens=6,
            task_kwargs={"lazy_sparse": lazy},
        )
        assert env.unwrapped.scorer.lazy is (mode == "sparse")
        env.reset(seed=2)
        returns[mode] = finished_returns(env, actions)
    np.testing.assert_allclose(returns["dense"], returns["sparse"], atol=1e-5, rtol=0)


# -- the benchmark runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", [False, True])
def test_reward_cost_benchmark_runs(env, monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import reward_cost

    reward_cost.main(["--n", "2", "--t", "3", "--rounds", "1"] + (["--env"] if env else []))
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 2 | 3 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert all(float(cells[i]) > 0 for i in (2, 3, 4)) and float(cells[7]) < 1e-4  # times; the ways agree


def test_env_steps_table_shows_the_reward_model_forwards_inside_the_step(monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import reward_cost

    reward_cost.main(["--env-steps", "--env-rows", "4", "--env-ids", "textgym/Copy-v0", "textgym/SentimentRM-v0",
                      "--env-seconds", "0.05", "--env-rounds", "1"])
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.strip("|").split("|")]
            for line in capsys.readouterr().out.splitlines() if line.startswith("| textgym/")}
    step, model = float(rows["textgym/SentimentRM-v0"][1]), float(rows["textgym/SentimentRM-v0"][2])
    assert 0 < model < step  # the classifier's forwards are part of the step
    assert rows["textgym/Copy-v0"][2] == "-" and float(rows["textgym/Copy-v0"][1]) > 0  # no reward model


@pytest.mark.skipif(not (BUNDLED_MODELS["tiny-sentiment"] / "config.json").is_file(), reason="tiny-sentiment not built")
def test_full_reads_between_incremental_steps_leave_the_rows_exact():
    """A padded batch read through the Hugging Face tokenizer leaves padding on its backend; the rows' own
    encoding must not see it (it padded the tails with <pad> ids, and the rows read the wrong tokens)."""
    model = load_reward_model("tiny-sentiment", label="positive", device="cpu")
    policy = load_tokenizer("tiny")
    rows = IncrementalScores(model, 3)
    rng = np.random.default_rng(0)
    texts = ["The food was", "This hotel", "I bought this"]
    for _ in range(12):
        texts = [text + policy.decode([int(rng.integers(2, policy.vocab_size))]) for text in texts]
        incremental = rows.scores([0, 1, 2], texts)
        full = model.score(texts)  # padding=True: leaves padding set on the shared backend tokenizer
        np.testing.assert_allclose(incremental, full, atol=1e-5)
