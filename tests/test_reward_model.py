"""Any Hugging Face sequence classifier as the score: a tiny local BERT-style classifier with its own
WordPiece tokenizer, unrelated to the policy's, as the reward of a tiny-model env."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textgym.models.loader import BUNDLED_MODELS
from textgym.models.reward_models import RewardModelError
from textgym.task import TaskError
from textgym.tasks import RewardModelTask

PROMPTS = {
    "train": ["The film was", "Our waiter seemed", "This blender is", "The hotel room felt"],
    "eval": ["The book was"],
}
WORDS = "the a film was good great bad awful terrible lovely room waiter blender book hotel it is not very and".split()


def save_bert_classifier(folder, seed: int = 0, poison: bool = False) -> str:
    """A 2-layer BERT sequence classifier (labels negative/positive) with a WordPiece tokenizer of its own."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = list("abcdefghijklmnopqrstuvwxyz.,!?'0123456789")
    vocab = specials + WORDS + letters + ["##" + c for c in letters]
    backend = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=2,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
        pad_token_id=0,
    )
    model = BertForSequenceClassification(config).eval()
    if poison:
        with torch.no_grad():
            model.classifier.bias.fill_(float("nan"))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> str:
    return save_bert_classifier(tmp_path_factory.mktemp("bert-rm"))


def rm_kwargs(path, **extra):
    return {"task": "reward-model", "task_kwargs": {"reward_model": path, "label": "positive", "prompts": PROMPTS,
                                                      "device": "cpu", **extra}, "max_new_tokens": 6}


def direct_logit(path, text: str, label: int = 1) -> float:
    """What transformers itself gives: the classifier's logit of ``text`` (no textgym code)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        return float(model(**tokenizer(text, return_tensors="pt")).logits[0, label])


def test_score_is_the_classifiers_own_number(bert):
    task = RewardModelTask(bert, label="positive", text="prompt+continuation", prompts=PROMPTS, device="cpu")
    prompt = task.prompts("train")[0]
    for continuation in ["", " good", " awful and bad"]:
        assert task.score(prompt, continuation) == pytest.approx(
            direct_logit(bert, prompt.text + continuation), abs=1e-5
        )
    only = RewardModelTask(bert, label=1, prompts=PROMPTS, device="cpu")
    assert only.score(prompt, " good") == pytest.approx(direct_logit(bert, " good"), abs=1e-5)


def test_transforms_and_baseline(bert):
    def make(**kw):
        return RewardModelTask(bert, label="positive", prompts=PROMPTS, device="cpu", text="prompt+continuation", **kw)

    logit, prob, logprob, relative = make(), make(transform="prob"), make(transform="logprob"), make(baseline="prompt")
    prompt = logit.prompts("train")[1]
    p = prob.score(prompt, " lovely")
    assert 0.0 < p < 1.0 and logprob.score(prompt, " lovely") == pytest.approx(np.log(p), abs=1e-9)
    assert logit.score(prompt, "") != 0.0  # a classifier is not 0 on the empty continuation
    assert relative.score(prompt, "") == 0.0
    assert relative.score(prompt, " lovely") == pytest.approx(
        logit.score(prompt, " lovely") - logit.score(prompt, ""), abs=1e-12
    )
    assert prob.score_range == (0.0, 1.0) and relative.score_range == (-np.inf, np.inf)


@pytest.mark.parametrize("baseline", ["none", "prompt"])
def test_reward_contract(bert, baseline):
    envs = {
        mode: gym.make(
            "textgym/TextGenEnv-v0", reward_mode=mode, **rm_kwargs(bert, baseline=baseline, text="prompt+continuation")
        )
        for mode in ("dense", "sparse")
    }
    tokenizer = envs["dense"].unwrapped.tokenizer
    action = reward_contract.actions_strategy(tokenizer, envs["dense"].action_space.n)

    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(actions=st.lists(action, min_size=1, max_size=8), seed=st.integers(0, 2**16))
    def check(actions, seed):
        reward_contract.assert_dense_sums_to_sparse(
            envs["dense"], envs["sparse"], seed, actions, tolerance=1e-9, score_tolerance=1e-5
        )

    check()


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_single_and_batched_agree_row_by_row(bert, mode):
    """Rows end at mixed times (EOS, the horizon) and start again; each reward matches a single env playing that row."""
    kwargs = rm_kwargs(bert, text="prompt+continuation")
    num_envs, steps = 5, 20
    batched = gym.make_vec("textgym/TextGenEnv-v0", num_envs=num_envs, vectorization_mode="vector_entry_point",
                           reward_mode=mode, **kwargs)
    singles = [gym.make("textgym/TextGenEnv-v0", reward_mode=mode, **kwargs) for _ in range(num_envs)]
    tokenizer = singles[0].unwrapped.tokenizer
    rng = np.random.default_rng(0)
    actions = reward_contract.random_actions(
        rng, tokenizer, batched.single_action_space.n, (steps, num_envs), eos_rate=0.15
    )
    seen = reward_contract.play_side_by_side(batched, singles, actions, [10, 11, 12, 13, 14])
    task = singles[0].unwrapped.task
    assert (
        task.score(task.prompts("train")[0], "") != 0.0
    )  # rows start from a nonzero score, carried by the first reward
    assert seen.ended >= num_envs  # rows ended and started again
    batched.close()


def test_batched_env_makes_one_classifier_forward_per_step(bert, monkeypatch):
    env = gym.make_vec("textgym/TextGenEnv-v0", num_envs=8, vectorization_mode="vector_entry_point", **rm_kwargs(bert))
    rm = env.unwrapped.task.reward_model
    env.reset(seed=0)
    calls = []
    original = rm.model.forward
    monkeypatch.setattr(rm.model, "forward", lambda *a, **k: calls.append(k["input_ids"].shape[0]) or original(*a, **k))
    word = env.unwrapped.tokenizer.encode(" good")[0]
    env.step(np.full(8, word))
    assert calls == [8]
    env.close()


def test_causal_lm_is_not_a_reward_model():
    with pytest.raises(RewardModelError, match=r"reward model 'tiny' is a GPT2LMHeadModel, not a sequence classifier"):
        RewardModelTask("tiny", prompts=PROMPTS)


def test_unknown_label_names_the_labels(bert):
    with pytest.raises(
        RewardModelError, match=r"has no label 'joy'; its labels are 0 \('negative'\), 1 \('positive'\)"
    ):
        RewardModelTask(bert, label="joy", prompts=PROMPTS)
    with pytest.raises(RewardModelError, match=r"has no label 5"):
        RewardModelTask(bert, label=5, prompts=PROMPTS)
    with pytest.raises(RewardModelError, match=r"has 2 labels; pass label= one of them"):
        RewardModelTask(bert, prompts=PROMPTS)


def test_bad_options_are_named(bert):
    with pytest.raises(RewardModelError, match=r"unknown transform 'softmax'; allowed: \['logit', 'prob', 'logprob'\]"):
        RewardModelTask(bert, label=1, transform="softmax", prompts=PROMPTS)
    with pytest.raises(TaskError, match=r"unknown text 'prompt'; allowed"):
        RewardModelTask(bert, label=1, text="prompt", prompts=PROMPTS)
    with pytest.raises(TaskError, match=r"unknown baseline 'mean'; allowed"):
        RewardModelTask(bert, label=1, baseline="mean", prompts=PROMPTS)
    with pytest.raises(TaskError, match=r"task 'reward-model' needs task_kwargs \['reward_model'\]"):
        gym.make("textgym/TextGenEnv-v0", task="reward-model", task_kwargs={"label": 1})
    with pytest.raises(TaskError, match=r"has no prompts"):
        gym.make("textgym/TextGenEnv-v0", task="reward-model", task_kwargs={"reward_model": bert, "label": 1})


def test_nan_output_is_a_clear_error(tmp_path):
    path = save_bert_classifier(tmp_path / "nan-rm", poison=True)
    env = gym.make("textgym/TextGenEnv-v0", **rm_kwargs(path))
    with pytest.raises(RewardModelError, match=r"output nan \(not finite\) for the text"):
        env.reset(seed=0)


def test_missing_head_is_refused(tmp_path, bert):
    """A checkpoint saved without its classification head (a base encoder) is not a reward model."""
    from transformers import AutoModel

    base = tmp_path / "base"
    AutoModel.from_pretrained(bert).save_pretrained(base)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (base / name).write_text((__import__("pathlib").Path(bert) / name).read_text())
    config = json.loads((base / "config.json").read_text())
    config["architectures"] = None  # nothing in the config says what it is
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(RewardModelError, match=r"has no trained classification head"):
        RewardModelTask(str(base), label=1, prompts=PROMPTS)


@pytest.mark.skipif(not (BUNDLED_MODELS["tiny-sentiment"] / "config.json").is_file(), reason="tiny-sentiment not built")
def test_sentiment_rm_scores_positive_text_higher():
    env = gym.make("textgym/SentimentRM-v0")
    task = env.unwrapped.task
    prompt = task.prompts("eval")[0]
    good = task.score(prompt, " wonderful, and the staff were lovely. Highly recommended.")
    bad = task.score(prompt, " awful, and the staff were rude. Avoid it.")
    assert good > bad
