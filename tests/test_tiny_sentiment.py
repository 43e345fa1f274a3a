"""The bundled reward model "tiny-sentiment" and the labelled corpus it is trained on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from textgym.models.corpus import NEG, NEU, POS, generate_documents, labelled_reviews

FOLDER = Path(__file__).resolve().parents[1] / "textgym" / "models" / "tiny-sentiment"
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "training_info.json")
# sha256 of json.dumps(generate_documents(300, 0)), computed with the corpus code the bundled
# tiny LM was trained with (before labelled_reviews was added).
DOCS_300_SEED_0_SHA256 = "76a68cefbbc0c7fdd86bd7fe1dc3a1b13e71c6ba55b5f3b18a8ee9d38c3575db"
HELDOUT_SEED = 1_000  # train_tiny_sentiment's held-out seed for its default seed 0


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(FOLDER, local_files_only=True)


@pytest.fixture(scope="module")
def model():
    m = AutoModelForSequenceClassification.from_pretrained(FOLDER, local_files_only=True)
    return m.eval()


def test_folder_is_complete_and_small():
    assert FOLDER.is_dir()
    for name in FILES:
        assert (FOLDER / name).is_file(), name
    size = sum(f.stat().st_size for f in FOLDER.iterdir() if f.is_file())
    assert size <= 5_000_000
    info = json.loads((FOLDER / "training_info.json").read_text())
    assert info["heldout_accuracy_full"] > 0.9
    assert 0.5 < info["heldout_accuracy_prefix"] <= 1.0


def test_loads_offline_with_labels_and_special_tokens(model, tokenizer):
    assert model.config.num_labels == 2
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    assert model.config.pad_token_id == tokenizer.pad_token_id == 1
    assert tokenizer.pad_token == "<pad>"
    assert tokenizer.bos_token == tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.model_max_length == 512


def test_bos_is_prepended(tokenizer):
    assert tokenizer("")["input_ids"] == [0]
    ids = tokenizer("The pasta was great")["input_ids"]
    assert ids[0] == 0 and 0 not in ids[1:] and len(ids) > 1


@torch.no_grad()
def test_padded_batch_matches_one_at_a_time(model, tokenizer):
    texts = ["", "Great", "The staff were rude and the room was filthy. Never again!",
             "I bought this blender last week and", "The soup was"]
    single = torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    assert (batch["input_ids"][:, 0] == 0).all()
    batched = model(**batch).logits
    assert torch.allclose(batched, single, atol=1e-4)


@torch.no_grad()
def test_classifies_heldout_reviews(model, tokenizer):
    reviews = labelled_reviews(20, HELDOUT_SEED, styles=("pos", "neg"))
    assert {label for _, label in reviews} == {POS, NEG}
    logits = model(**tokenizer([t for t, _ in reviews], padding=True, return_tensors="pt")).logits
    predicted = logits.argmax(-1).tolist()
    expected = [1 if label == POS else 0 for _, label in reviews]
    assert sum(p == e for p, e in zip(predicted, expected)) >= 17


def test_labelled_reviews_deterministic_and_from_the_corpus():
    first = labelled_reviews(60, 3)
    assert first == labelled_reviews(60, 3)
    assert len(first) == 60 and {label for _, label in first} <= {POS, NEG, NEU}
    docs = generate_documents(200, 3)
    texts = [t for t, _ in first]
    assert [d for d in docs if d in set(texts)][: len(texts)] == texts
    pure = labelled_reviews(30, 3, styles=("pos", "neg"))
    assert len(pure) == 30 and all(label in (POS, NEG) for _, label in pure)
    assert all(label == NEU for _, label in labelled_reviews(5, 3, styles=("neutral",)))
    with pytest.raises(ValueError):
        labelled_reviews(1, 3, styles=())


def test_generate_documents_unchanged():
    digest = hashlib.sha256(json.dumps(generate_documents(300, 0)).encode()).hexdigest()
    assert digest == DOCS_300_SEED_0_SHA256
