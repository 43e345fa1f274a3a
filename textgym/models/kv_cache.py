"""Where a Hugging Face model's forward takes and returns its key/value cache.

transformers 5 renamed the forward argument that carries the key/value cache, and the output field that returns
it, from ``past_key_values`` to ``cache``; both spellings occur among the versions textgym supports
(``transformers >= 5.0``). Every cached forward in textgym and its agents (the LM agents' rollout, the incremental
reward models, the coherence judge) names the cache through these two functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch

#: the forward argument and output field of the key/value cache: the current name, then the older one
CACHE_NAMES = ("cache", "past_key_values")


def cache_keyword(model: torch.nn.Module) -> str:
    """The argument of ``model``'s forward that takes the key/value cache: ``"cache"`` or ``"past_key_values"``.

    Read from the forward of the model's class, so a hook that replaces an instance's ``forward`` with a
    ``(*args, **kwargs)`` wrapper cannot hide it; a peft model (whose forward takes ``**kwargs``) is asked through
    its base model.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    parameters = inspect.signature(type(base).forward).parameters
    return CACHE_NAMES[0] if CACHE_NAMES[0] in parameters else CACHE_NAMES[1]


def output_cache(output: Mapping[str, Any]) -> Any:
    """The key/value cache a forward returned (its ``cache`` or ``past_key_values`` field)."""
    for name in CACHE_NAMES:
        if name in output:
            return output[name]
    raise KeyError(f"the model's output holds no key/value cache (no field among {list(CACHE_NAMES)}); "
                   f"its fields are {list(output)}: call the forward with use_cache=True")
