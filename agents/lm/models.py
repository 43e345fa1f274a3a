"""The LM agents' models: the policy for symbol-vocabulary tasks, padding, precision, LoRA, export tokenizers.

The KV-cache keyword of a model's forward is :mod:`textgym.models.kv_cache`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from textgym.models.tokenizer import TextTokenizer


def build_symbol_policy(vocab_size: int, n_positions: int, eos_token_id: int, pad_token_id: int, seed: int,
                        width: int = 64, layers: int = 2, heads: int = 2) -> torch.nn.Module:
    """A small randomly initialised GPT-2 for tasks with their own symbol vocabulary (seeded)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=width, n_layer=layers, n_head=heads,
                        bos_token_id=eos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT2LMHeadModel(config)


def hidden_size_of(model: torch.nn.Module) -> int:
    """Width of the model's last hidden state."""
    size = getattr(model.config, "hidden_size", None)
    return int(size) if isinstance(size, int) else int(model.get_input_embeddings().embedding_dim)


def position_ids_from(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions 0, 1, ... over the real tokens of a left-padded batch (pads get 0)."""
    return (attention_mask.cumsum(1) - 1).clamp(min=0)


def left_pad(input_ids: torch.Tensor, attention_mask: torch.Tensor, width: int, pad_token_id: int,
             bos_token_id: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn a right-padded batch (real tokens first) into a left-padded one of ``width`` columns.

    With ``bos_token_id``, a BOS token is put before each row's tokens (counted in ``width``).
    """
    if bos_token_id is not None:
        bos = torch.full_like(input_ids[:, :1], bos_token_id)
        input_ids = torch.cat([bos, input_ids], dim=1)
        attention_mask = torch.cat([torch.ones_like(attention_mask[:, :1]), attention_mask], dim=1)
    lengths = attention_mask.sum(1, keepdim=True)
    source = torch.arange(width, device=input_ids.device).unsqueeze(0) - (width - lengths)
    valid = source >= 0
    ids = torch.where(valid, input_ids.gather(1, source.clamp(min=0, max=input_ids.shape[1] - 1)), pad_token_id)
    return ids, valid.long()


def hf_tokenizer_of(tokenizer: TextTokenizer, model_max_length: int | None = None) -> PreTrainedTokenizerFast:
    """A Hugging Face fast tokenizer with the same ids as an environment's
    :class:`~textgym.models.tokenizer.TextTokenizer`.

    For vocabularies that come with no Hugging Face tokenizer (a task's own symbols): its
    ``tokenizers`` backend (copied) with the end-of-sequence and padding tokens named.
    """
    from transformers import PreTrainedTokenizerFast

    backend = tokenizer.backend
    kwargs: dict[str, Any] = {"eos_token": backend.id_to_token(tokenizer.eos_token_id),
                              "pad_token": backend.id_to_token(tokenizer.pad_token_id)}
    if model_max_length is not None:
        kwargs["model_max_length"] = model_max_length
    return PreTrainedTokenizerFast(tokenizer_object=backend, **kwargs)


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """Silence transformers' (and the hub's) progress bars, e.g. "Writing model shards", then restore them."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled():
        yield
        return
    hub_was_disabled = are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
        if hub_was_disabled:
            disable_progress_bars()


def autocast_for(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA; nothing (fp32) on the CPU."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def disable_dropout(model: torch.nn.Module) -> None:
    """Set every dropout probability to 0, so that the model computes the same in ``train()`` and ``eval()``
    mode (gradient checkpointing in transformers is active only in ``train()`` mode)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def lora_wrap(model: torch.nn.Module, rank: int, alpha: float, target_modules: str) -> torch.nn.Module:
    """``model`` with LoRA adapters (peft): only the adapters train; ``disable_adapter()`` gives back the base model.

    Raises :class:`textgym.extras.MissingExtraError` (naming ``textgym[peft]``) without peft.
    """
    from textgym.extras import require

    peft = require("peft", "peft", "lora=true")
    targets = [name.strip() for name in target_modules.split(",") if name.strip()] or None
    # GPT-2's projections are Conv1D layers, whose weights are stored transposed (in x out)
    conv1d = any(type(module).__name__ == "Conv1D" for module in model.modules())
    config = peft.LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                             target_modules=targets, fan_in_fan_out=conv1d)
    try:
        return peft.get_peft_model(model, config)
    except ValueError as error:  # e.g. no module of that name, or no default targets for the architecture
        raise ValueError(f"lora: {str(error).splitlines()[0]} (set lora_target_modules to module names of "
                         f"{type(model).__name__})") from None
