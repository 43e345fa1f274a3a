"""The bundled model and the loader: offline, round-trip, safe."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textgym import models
from textgym.models import ModelNotFoundError


def test_tiny_model_is_bundled_and_small():
    folder = models.BUNDLED_MODELS["tiny"]
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt")), "weights ship as safetensors only"
    assert sum(f.stat().st_size for f in folder.iterdir()) < 20 * 2**20
    lm = models.load("tiny", device="cpu")
    params = sum(p.numel() for p in lm.model.parameters())
    assert 1_000_000 <= params <= 5_000_000
    assert 2000 <= lm.tokenizer.vocab_size <= 8000
    assert lm.tokenizer.eos_token_id != lm.tokenizer.pad_token_id
    assert lm.model.config.model_type == "gpt2"


def test_round_trip_same_logits(tmp_path):
    lm = models.load("tiny", device="cpu")
    ids = torch.tensor([lm.tokenizer.encode("The hotel was clean and the staff")])
    with torch.no_grad():
        before = lm.model(ids).logits
    lm.save_pretrained(tmp_path / "copy")
    again = models.load(str(tmp_path / "copy"), device="cpu")
    with torch.no_grad():
        after = again.model(ids).logits
    torch.testing.assert_close(before, after)
    assert (tmp_path / "copy" / "model.safetensors").is_file()
    assert again.tokenizer.encode("good food") == lm.tokenizer.encode("good food")


def test_tokenizer_round_trip_and_incremental_decoding():
    tok = models.load_tokenizer("tiny")
    text = "I loved the film, but the ending was a little slow!"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    decoder = tok.incremental_decoder()
    assert "".join(decoder.push(i) for i in ids) == text


def test_symbol_tokenizer():
    tok = models.symbol_tokenizer("abc=")
    assert tok.vocab_size == 6 and tok.eos_token_id == 0 and tok.pad_token_id == 1
    assert tok.decode(tok.encode("cab=")) == "cab="
    with pytest.raises(ValueError, match="distinct"):
        models.symbol_tokenizer("aab")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), rows=st.integers(1, 6), width=st.integers(1, 12))
def test_decode_spans_matches_decoding_each_row(data, rows, width):
    """The one-character fast path (code points as fixed-width strings) and the BPE path equal per-row decode."""
    for tok in (models.symbol_tokenizer("abc=xyz"), models.load_tokenizer("tiny")):
        vocab = min(tok.vocab_size, 40)  # ids 0 and 1 are EOS and pad: special tokens, often mid-span
        ids = np.array(
            data.draw(st.lists(st.integers(0, vocab - 1), min_size=rows * width, max_size=rows * width))
        ).reshape(rows, width)
        starts = np.array(data.draw(st.lists(st.integers(0, width), min_size=rows, max_size=rows)))
        ends = np.array([data.draw(st.integers(int(s), width)) for s in starts])
        expected = [tok.decode(ids[i, starts[i] : ends[i]].tolist()) for i in range(rows)]
        assert tok.decode_spans(ids, starts, ends) == expected


def test_hub_name_offline_gives_one_line_error():
    with pytest.raises(ModelNotFoundError) as error:
        models.load("gpt2-not-cached-anywhere-xyz", device="cpu")
    assert "\n" not in str(error.value) and "HF_HUB_OFFLINE" in str(error.value)


def test_local_folder_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        models.load(str(tmp_path / "empty"))


def test_training_info_records_the_run():
    info = json.loads((models.BUNDLED_MODELS["tiny"] / "training_info.json").read_text())
    assert info["heldout_perplexity"] > 1 and info["seed"] == 0


def test_remote_code_is_off_by_default(monkeypatch):
    seen = {}
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.update(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(spy))
    models.load("tiny", device="cpu")
    assert seen.get("trust_remote_code") is False


def test_tiny_v2_is_bundled_small_and_records_its_stage():
    folder = models.BUNDLED_MODELS["tiny-v2"]
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    assert sum(f.stat().st_size for f in folder.iterdir()) < 20 * 2**20
    info = json.loads((folder / "training_info.json").read_text())
    assert info["base"] == "tiny-v1" and info["steps"] == 800 and info["seed"] == 0 and info["threads"] == 1
    assert info["heldout_perplexity"] > 1 and info["train_seconds"] + info["base_train_seconds"] < 2 * 3600
    # the same tokenizer as its base: the -v1 and -v2 ids share token ids
    base_tokenizer = models.BUNDLED_MODELS["tiny-v1"] / "tokenizer.json"
    assert (folder / "tokenizer.json").read_bytes() == base_tokenizer.read_bytes()


def test_the_skills_stage_is_seeded_and_changes_the_model(tmp_path):
    """One step of the stage on one section, twice: the same bytes, and weights other than the base's."""
    from safetensors.torch import load_file

    from textgym.models.train_skills import continue_training

    base = models.BUNDLED_MODELS["tiny-v1"]
    for name in ("a", "b"):
        continue_training(base, ["concepts"], {1: tmp_path / name}, seed=0, log=lambda msg: None)
    first, again = (load_file(tmp_path / name / "model.safetensors") for name in ("a", "b"))
    before = load_file(base / "model.safetensors")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], before[k]) for k in first)
    assert models.load(str(tmp_path / "a"), device="cpu").tokenizer.vocab_size == 4096
    with pytest.raises(ValueError, match=r"unknown world sections \['nowhere'\]; allowed: world, facts"):
        continue_training(base, ["nowhere"], {1: tmp_path / "c"})
