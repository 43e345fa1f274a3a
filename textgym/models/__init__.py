"""Language models and vocabularies: the bundled ``"tiny"`` model, Hugging Face models, symbol vocabularies."""

from textgym.models.loader import (
    BUNDLED_MODELS,
    LanguageModel,
    ModelNotFoundError,
    load,
    load_frozen,
    load_tokenizer,
    model_context_length,
)
from textgym.models.tokenizer import EOS_TOKEN, PAD_TOKEN, IncrementalDecoder, TextTokenizer, symbol_tokenizer

__all__ = [
    "BUNDLED_MODELS",
    "EOS_TOKEN",
    "PAD_TOKEN",
    "IncrementalDecoder",
    "LanguageModel",
    "ModelNotFoundError",
    "TextTokenizer",
    "load",
    "load_frozen",
    "load_tokenizer",
    "model_context_length",
    "symbol_tokenizer",
]
