"""textgym.models.kv_cache: the one place that names a Hugging Face model's key/value-cache argument and output."""

from __future__ import annotations

import inspect

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from textgym.models.kv_cache import CACHE_NAMES, cache_keyword, output_cache


def small_gpt2() -> GPT2LMHeadModel:
    config = GPT2Config(vocab_size=17, n_positions=16, n_embd=8, n_layer=1, n_head=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return GPT2LMHeadModel(config).eval()


def test_the_keyword_is_the_one_the_forward_takes_and_a_cached_step_matches_a_full_forward():
    model = small_gpt2()
    keyword = cache_keyword(model)
    assert keyword in CACHE_NAMES and keyword in inspect.signature(type(model).forward).parameters
    ids = torch.tensor([[3, 5, 7, 11]])
    with torch.no_grad():
        cache = output_cache(model(input_ids=ids[:, :-1], use_cache=True))
        step = model(input_ids=ids[:, -1:], use_cache=True, **{keyword: cache}).logits[:, -1]
        whole = model(input_ids=ids, use_cache=False).logits[:, -1]
    torch.testing.assert_close(step, whole)


def test_an_instance_level_forward_wrapper_does_not_hide_the_keyword():
    model = small_gpt2()
    expected = cache_keyword(model)
    original = model.forward

    def hooked(*args, **kwargs):  # a (*args, **kwargs) signature, as accelerate-style hooks have
        return original(*args, **kwargs)

    model.forward = hooked
    assert "cache" not in inspect.signature(model.forward).parameters
    assert cache_keyword(model) == expected


def test_a_peft_model_is_asked_through_its_base_model():
    peft = pytest.importorskip("peft")
    model = small_gpt2()
    expected = cache_keyword(model)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["c_attn"], fan_in_fan_out=True))
    assert cache_keyword(wrapped) == expected


def test_an_output_without_a_cache_is_a_clear_error():
    model = small_gpt2()
    with torch.no_grad():
        output = model(input_ids=torch.tensor([[1, 2]]), use_cache=False)
    with pytest.raises(KeyError, match="no key/value cache.*use_cache=True"):
        output_cache(output)
