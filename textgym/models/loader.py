"""Load a causal language model and its tokenizer by name: bundled, Hugging Face, or local path."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from textgym.devices import resolve_device
from textgym.models.tokenizer import TextTokenizer

_HERE = Path(__file__).resolve().parent

#: Models that ship inside the package and never need a network: the policy LM ``"tiny"`` and the reward model
#: ``"tiny-sentiment"`` (a sequence classifier) of the v0 tasks, and ``"tiny-v1"`` and ``"tiny-sentiment-v1"``,
#: pretrained on the seeded world's corpus, of the v1 tasks, and ``"tiny-v2"``, ``"tiny-v1"`` after a stage on the
#: world's skills, of the v2 tasks (see textgym.tasks.versions).
BUNDLED_MODELS: dict[str, Path] = {
    name: _HERE / name for name in ("tiny", "tiny-sentiment", "tiny-v1", "tiny-sentiment-v1", "tiny-v2")
}

#: the command that rebuilds each bundled model
_BUILD_SCRIPTS = {
    "tiny": "textgym.models.train_tiny",
    "tiny-sentiment": "textgym.models.train_tiny_sentiment",
    "tiny-v1": "textgym.models.train_tiny --corpus world",
    "tiny-sentiment-v1": "textgym.models.train_tiny_sentiment --base tiny-v1",
    "tiny-v2": "textgym.models.train_skills",
}


class ModelNotFoundError(ValueError):
    """The named model is neither bundled, nor a local folder, nor obtainable from the hub."""


@dataclass
class LanguageModel:
    """A causal LM with the tokenizer it was trained with.

    Attributes:
        name: what was passed to :func:`load`.
        model: the ``transformers`` causal LM (``AutoModelForCausalLM``).
        tokenizer: the environment-facing :class:`TextTokenizer`.
        hf_tokenizer: the Hugging Face tokenizer object, for ``generate`` and saving.
        device: where the weights live.
    """

    name: str
    model: torch.nn.Module
    tokenizer: TextTokenizer
    hf_tokenizer: object
    device: torch.device

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write weights (safetensors), config and tokenizer so that ``load(path)`` reads them back."""
        self.model.save_pretrained(path, safe_serialization=True)
        self.hf_tokenizer.save_pretrained(path)

    @property
    def context_length(self) -> int:
        """The most positions the model can attend to."""
        return model_context_length(self.model.config)


def model_context_length(config: object) -> int:
    """Context length from a transformers config (GPT-2 ``n_positions`` or ``max_position_embeddings``)."""
    for attribute in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1 << 30


def _is_offline() -> bool:
    return any(
        os.environ.get(var, "").lower() in ("1", "true", "yes") for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _source(name: str) -> tuple[str, bool]:
    """Return ``(what to pass to from_pretrained, is_local)`` for a model name."""
    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(
            f"model must be a non-empty string, got {name!r}; use 'tiny' (bundled), a Hugging Face name or a local path"
        )
    if name in BUNDLED_MODELS:
        path = BUNDLED_MODELS[name]
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"bundled model {name!r} is missing its files in {path}; rebuild it with: python -m "
                f"{_BUILD_SCRIPTS[name]}"
            )
        return str(path), True
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or os.sep in name and path.exists()
    if path.is_dir():
        if not (path / "config.json").is_file() and adapter_base(path) is None:
            raise ModelNotFoundError(
                f"local model folder {name!r} has no config.json; save a model there with save_pretrained()"
            )
        return str(path), True
    if looks_like_path:
        raise ModelNotFoundError(f"local model path {name!r} is not a model folder (it does not exist or is a file)")
    return name, False


def adapter_base(folder: str | Path) -> str | None:
    """The base model a peft adapter folder names (``adapter_config.json``), or ``None`` for other folders.

    Such a folder (a LoRA policy exported with ``lora_export=adapter``) loads like a model: transformers
    loads the base model and applies the adapter when peft is installed.
    """
    config = Path(folder) / "adapter_config.json"
    if (Path(folder) / "config.json").is_file() or not config.is_file():
        return None
    import json

    try:
        base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        base = None
    if not isinstance(base, str) or not base:
        raise ModelNotFoundError(
            f"adapter folder {str(folder)!r}: adapter_config.json names no base_model_name_or_path"
        )
    return base


def _from_pretrained(factory, name: str, **kwargs):
    """Call ``factory.from_pretrained`` cache-first; offline and missing gives a one-line error."""
    source, is_local = _source(name)
    if is_local:
        base = adapter_base(source)
        if base is not None:
            from transformers import AutoConfig

            if factory is AutoConfig:  # an adapter has the base model's architecture
                return _from_pretrained(factory, base, **kwargs)
            from textgym.extras import require

            require("peft", "peft", f"the LoRA adapter folder {name!r}")
        return factory.from_pretrained(source, **kwargs)
    try:
        return factory.from_pretrained(source, local_files_only=True, **kwargs)
    except (OSError, ValueError) as cached_error:
        if _is_offline():
            raise ModelNotFoundError(
                f"model {name!r} is not bundled (bundled: {', '.join(BUNDLED_MODELS)}) and not in the local Hugging "
                f"Face cache, and downloads are off (HF_HUB_OFFLINE); fetch it once with network (`hf download "
                f"{name}`) or use model='tiny'"
            ) from cached_error
    try:
        return factory.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(
            f"model {name!r} is not bundled (bundled: {', '.join(BUNDLED_MODELS)}), not a local folder, and could not "
            f"be downloaded ({type(error).__name__}); fetch it with network (`hf download {name}`), pass a local path, "
            f"or use model='tiny'"
        ) from error


def _text_tokenizer(hf_tokenizer, name: str) -> TextTokenizer:
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelNotFoundError(f"model {name!r} has no fast tokenizer (tokenizers backend); textgym needs one")
    eos = hf_tokenizer.eos_token_id
    if eos is None:
        raise ModelNotFoundError(f"model {name!r} has no end-of-sequence token; textgym needs one to end episodes")
    pad = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else eos
    return TextTokenizer(backend, eos_token_id=eos, pad_token_id=pad, name=name)


@functools.lru_cache(maxsize=16)
def _load_hf_tokenizer(name: str, trust_remote_code: bool):
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name, trust_remote_code=trust_remote_code)


def load_tokenizer(name: str = "tiny", trust_remote_code: bool = False) -> TextTokenizer:
    """The :class:`TextTokenizer` of a model, without loading its weights (cached)."""
    return _text_tokenizer(_load_hf_tokenizer(name, trust_remote_code), name)


@functools.lru_cache(maxsize=16)
def context_length_of(name: str, trust_remote_code: bool = False) -> int:
    """The context length of a model, read from its config alone (cached)."""
    from transformers import AutoConfig

    return model_context_length(_from_pretrained(AutoConfig, name, trust_remote_code=trust_remote_code))


def load(
    name: str = "tiny",
    device: str | torch.device = "auto",
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
) -> LanguageModel:
    """Load a causal LM and its tokenizer.

    Args:
        name: ``"tiny"`` (the bundled model), a Hugging Face name such as ``"gpt2"`` (from the
            local cache, or downloaded when a network is there), or a local folder written
            by ``save_pretrained``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        dtype: weight dtype; ``None`` keeps the checkpoint's (float32 for ``"tiny"``).
        trust_remote_code: run code shipped with a hub model; off unless you ask.

    Returns:
        A fresh :class:`LanguageModel` (a new copy of the weights on every call).

    Raises:
        ModelNotFoundError: in one line, naming the model and how to get it.
    """
    from transformers import AutoModelForCausalLM

    torch_device = resolve_device(device)
    hf_tokenizer = _load_hf_tokenizer(name, trust_remote_code)
    kwargs = {"trust_remote_code": trust_remote_code}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = _from_pretrained(AutoModelForCausalLM, name, **kwargs).to(torch_device)
    model.eval()
    return LanguageModel(name, model, _text_tokenizer(hf_tokenizer, name), hf_tokenizer, torch_device)


@functools.lru_cache(maxsize=8)
def _frozen(name: str, device: torch.device) -> LanguageModel:
    lm = load(name, device)
    lm.model.requires_grad_(False)
    return lm


def load_frozen(name: str = "tiny", device: str | torch.device = "auto") -> LanguageModel:
    """A shared, frozen, eval-mode copy (one per name and device), for judges and reference models."""
    return _frozen(name, resolve_device(device))
