"""Argument checking and prompt tokenisation shared by the single and the batched environment."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from textgym.models.loader import _load_hf_tokenizer, context_length_of, load_tokenizer
from textgym.models.tokenizer import TextTokenizer
from textgym.rewards import check_reward_mode
from textgym.task import SPLITS, Prompt, Task, TaskError
from textgym.tasks import make_task

RENDER_MODES = ("ansi", "human", "rgb_array")
#: what an observation is: ``"dict"`` (``input_ids`` and ``attention_mask``) or ``"input_ids"`` (a plain ``Box`` of
#: the ids)
OBSERVATIONS = ("dict", "input_ids")


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_render_mode(render_mode: object) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"unknown render_mode {render_mode!r}; allowed: {list(RENDER_MODES)} or None")
    return render_mode


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def fit_prompt_width(longest: int, max_prompt_tokens: int | None, holder: str, prompt: str = "prompt") -> int:
    """``max_prompt_tokens`` checked against the ``longest`` prompt (of both splits, so that the observation's length
    does not depend on the split); ``None``: exactly that longest. ``holder`` and ``prompt`` name them in the error
    (``"task 'qa' has a"``, ``"prompt"``)."""
    if max_prompt_tokens is None:
        return longest
    max_prompt_tokens = check_positive_int("max_prompt_tokens", max_prompt_tokens)
    if longest > max_prompt_tokens:
        raise ValueError(
            f"{holder} {prompt} of {longest} tokens, more than max_prompt_tokens={max_prompt_tokens}; raise it or "
            f"pass None to fit the longest {prompt}"
        )
    return max_prompt_tokens


@dataclass
class TextGenSetup:
    """Everything an environment needs, checked once: task, vocabulary, horizon, tokenised prompts."""

    task: Task
    model: str | None
    tokenizer: TextTokenizer
    reward_mode: str
    split: str
    max_new_tokens: int
    max_prompt_tokens: int
    prompts: list[Prompt]
    prompt_ids: list[np.ndarray]
    #: whether each prompt was wrapped in the model's chat template before tokenising
    chat_template: bool = False
    #: ``"dict"`` (``input_ids`` and ``attention_mask``) or ``"input_ids"`` (a plain ``Box`` of the ids)
    observation: str = "dict"
    #: whether infos carry the strings ``text``, ``prompt`` and ``end_reason`` (``False``: numbers only)
    info_text: bool = True

    @property
    def obs_length(self) -> int:
        return self.max_prompt_tokens + self.max_new_tokens

    def observation_space(self) -> spaces.Dict | spaces.Box:
        high = self.tokenizer.vocab_size - 1
        input_ids = spaces.Box(0, high, (self.obs_length,), np.int64)
        if self.observation == "input_ids":
            return input_ids
        return spaces.Dict({"input_ids": input_ids, "attention_mask": spaces.Box(0, 1, (self.obs_length,), np.int64)})

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.tokenizer.vocab_size)

    def prompt_index(self, options: Mapping[str, Any] | None, rng: np.random.Generator) -> int:
        """Which prompt an episode starts from: ``options["prompt_index"]`` or a seeded draw."""
        if options:
            unknown = set(options) - {"prompt_index"}
            if unknown:
                raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: ['prompt_index']")
            index = options["prompt_index"]
            if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(self.prompts):
                raise ValueError(
                    f"prompt_index={index!r} is outside [0, {len(self.prompts)}) for the {self.split!r} split"
                )
            return int(index)
        return int(rng.integers(len(self.prompts)))


def build_setup(
    task: str | Task,
    model: str | None,
    reward_mode: str,
    max_new_tokens: int | None,
    max_prompt_tokens: int | None,
    split: str,
    task_kwargs: Mapping[str, Any] | None,
    chat_template: bool = False,
    observation: str = "dict",
    info_text: bool = True,
) -> TextGenSetup:
    """Check every constructor argument and tokenise the split's prompts.

    With ``chat_template=True`` each prompt's text is first wrapped in the model
    tokenizer's chat template as one user turn, with the generation prompt appended
    (:func:`chat_prompt_text`); the task still scores against the original prompt.
    ``observation`` picks the observation space (:data:`OBSERVATIONS`); ``info_text=False``
    leaves the strings out of the infos.
    """
    if observation not in OBSERVATIONS:
        raise ValueError(f"unknown observation {observation!r}; allowed: {list(OBSERVATIONS)}")
    info_text = check_bool("info_text", info_text)
    task_obj = make_task(task, task_kwargs)
    chat_template = check_bool("chat_template", chat_template)
    reward_mode = check_reward_mode(reward_mode)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {list(SPLITS)}")
    max_new_tokens = check_positive_int(
        "max_new_tokens", task_obj.max_new_tokens if max_new_tokens is None else max_new_tokens
    )

    tokenizer = task_obj.tokenizer() if model is None else None
    model_name = None if tokenizer is not None else (task_obj.model if model is None else model)
    if tokenizer is None:
        if model_name is None:
            raise TaskError(f"task {task_obj.name!r} names no default model and brings no vocabulary; pass model=...")
        tokenizer = load_tokenizer(model_name)
    wrap = chat_wrapper(task_obj, model_name) if chat_template else None

    def encode(prompt: Prompt) -> np.ndarray:
        # a template's special tokens (BOS, turn markers) are in its text: encode adds none
        text = prompt.text if wrap is None else wrap(prompt.text)
        try:
            return np.asarray(tokenizer.encode(text), dtype=np.int64)
        except Exception as error:  # a symbol vocabulary cannot encode foreign characters
            raise TaskError(
                f"task {task_obj.name!r}: prompt {prompt.text!r} cannot be encoded by {tokenizer.name!r}: {error}"
            ) from None

    prompts = task_obj.prompts(split)
    prompt_ids = [encode(prompt) for prompt in prompts]
    # the observation length must not depend on the split: fit the longest prompt of both
    other = [encode(prompt) for prompt in task_obj.prompts(next(s for s in SPLITS if s != split))]
    longest = max(len(ids) for ids in prompt_ids + other)
    max_prompt_tokens = fit_prompt_width(longest, max_prompt_tokens, f"task {task_obj.name!r} has a")
    if model_name is not None:
        context = context_length_of(model_name)
        if max_prompt_tokens + max_new_tokens > context:
            raise ValueError(
                f"max_prompt_tokens + max_new_tokens = {max_prompt_tokens} + {max_new_tokens} exceeds the context "
                f"length {context} of model {model_name!r}; shorten the horizon or the prompts"
            )
    task_obj.check_horizon(
        max_new_tokens, tokenizer
    )  # a reward model's context, say: refused here, never truncated later
    return TextGenSetup(
        task_obj,
        model_name,
        tokenizer,
        reward_mode,
        split,
        max_new_tokens,
        max_prompt_tokens,
        prompts,
        prompt_ids,
        chat_template,
        observation,
        info_text,
    )


def chat_prompt_text(hf_tokenizer: Any, text: str) -> str:
    """``text`` as one user turn of ``hf_tokenizer``'s chat template, ready for the assistant's reply."""
    return hf_tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )


def chat_wrapper(task: Task, model_name: str | None) -> Callable[[str], str]:
    """The function that wraps a prompt text in ``model_name``'s chat template, checked.

    Raises:
        ValueError: the task brings its own symbol vocabulary (no model, so no template),
            or the model's tokenizer has no chat template.
    """
    if model_name is None:
        raise ValueError(
            f"chat_template=True needs a model's tokenizer, but task {task.name!r} brings its own symbol vocabulary "
            f"(no chat template); pass model=NAME of a model whose tokenizer has one, or chat_template=False"
        )
    hf_tokenizer = _load_hf_tokenizer(model_name, False)
    if not getattr(hf_tokenizer, "chat_template", None):
        raise ValueError(
            f"chat_template=True, but the tokenizer of model {model_name!r} has no chat template; use a model whose "
            f"tokenizer defines one (chat_template in tokenizer_config.json, or chat_template.jinja) "
            f"or chat_template=False"
        )

    def wrap(text: str) -> str:
        try:
            wrapped = chat_prompt_text(hf_tokenizer, text)
        except Exception as error:  # a template may reject a conversation (jinja raise_exception)
            raise ValueError(f"the chat template of model {model_name!r} fails on prompt {text!r}: {error}") from None
        if not isinstance(wrapped, str):
            raise ValueError(
                f"the chat template of model {model_name!r} gave {type(wrapped).__name__}, not text, "
                f"for prompt {text!r}"
            )
        return wrapped

    return wrap
