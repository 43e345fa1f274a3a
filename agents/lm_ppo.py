"""LM-PPO: PPO that fine-tunes the environment's causal language model on per-token rewards.

Read top to bottom: the hyper-parameters (:class:`LMPPOConfig`), the pieces of the
algorithm as plain functions (sampling, rollout, sequence scoring, KL penalty, GAE, the KL
controller), then :class:`LMPPOAgent`, which wires them into ``learn``.

Algorithm (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences";
Stiennon et al. 2020; with the implementation details of Huang et al. 2024, "The N+
Implementation Details of RLHF with PPO"):

1. **Policy and value.** The policy is a causal LM (any Hugging Face ``AutoModelForCausalLM``;
   by default the environment's own model, e.g. the bundled ``"tiny"``). The value of a
   state is a linear head on the LM's last hidden state at that position
   (``separate_critic=True``: on a separate copy of the initial LM instead, so value
   gradients never touch the policy). A frozen copy of the initial policy is the reference.
   Dropout is off throughout (the models stay in ``eval()`` mode), so the log-probabilities
   of the rollout and of the update agree.
2. **Rollout.** ``num_envs`` rows of the batched :class:`~textgym.envs.vector.TextGenVectorEnv`
   (``autoreset_mode="Disabled"``) are reset together and decoded in lock step with a KV
   cache: the right-padded prompts of the observation are turned into a left-padded batch
   (with ``position_ids`` from the attention mask), prefilled once, and then each step feeds
   only the new token. Tokens are sampled with ``temperature``, ``top_k`` and ``top_p``.
   Rows that end are frozen by the environment; the round stops when every row has ended.
   ``rollout_rounds`` rounds make one update's batch. The log-probability of each sampled
   token and the value of each state are recorded while decoding: they are the update's
   "old" policy and values (in fp32 a full forward gives the same up to float rounding), so
   only the reference model (and a separate critic) runs an extra forward over the batch.
   Under bf16 autocast the cached decoding drifts from a full forward by more than that, so
   there the update recomputes them with one full forward, and the first ratio is exactly 1.
3. **Rewards.** Each token's reward is the environment's reward (dense: the per-token
   score difference; sparse: the score at the last token) minus ``beta * KL_t``, where
   ``KL_t`` estimates the KL divergence between policy and reference at that state from the
   sampled token ``a``: ``k1 = log pi(a|s) - log pi_ref(a|s)`` (unbiased; the default, as
   in Ziegler et al.) or ``k3 = (r - 1) - log r`` with ``r = pi_ref(a|s) / pi(a|s)``
   (unbiased, never negative, lower variance; Schulman 2020, "Approximating KL divergence").
   ``beta`` is fixed (``adaptive_kl=False``) or adapted towards ``target_kl`` (nats per
   episode) by Ziegler et al.'s proportional controller:
   ``beta *= 1 + clip(KL / target_kl - 1, -0.2, 0.2) * n / kl_horizon`` with ``n`` the
   episodes in the update.
4. **Advantages.** Per-token GAE (``gamma = 1``, ``lambda = 0.95`` by default) over each
   episode; the step after the last token has value 0 (EOS ends the episode, and the
   horizon is part of the task). Advantages are whitened over the batch's tokens.
5. **Update.** ``num_epochs`` passes over the batch in ``num_minibatches`` minibatches of
   episodes (each split into ``gradient_accumulation_steps`` micro-batches): clipped policy
   loss, clipped value loss, entropy bonus, gradient clipping; the epoch loop stops early
   when the approximate KL between the old and the new policy exceeds ``target_approx_kl``.

Log-probabilities are those of the temperature-scaled full distribution; ``top_k``/``top_p``
restrict sampling only (so they make the data slightly off-policy; the defaults do not).

Tasks with their own symbol vocabulary (Copy without ``model=...``) have no language model;
there the policy is a small, randomly initialised GPT-2 seeded with the run's seed
(``GPT2Config(vocab_size=env vocab, n_positions=observation length (+1 for BOS), n_embd=64,
n_layer=2, n_head=2)``; sizes settable with ``symbol_model_*``).

Devices: ``--device cuda`` runs rollouts, environment state and updates on the GPU with
bf16 autocast (fp32 master weights); the CPU runs in fp32. Several GPUs or processes:
``torchrun -m agents.distributed`` (see :mod:`agents.distributed`).

Checkpoints (after every evaluation chunk; never on Ctrl-C, see :mod:`agents.train`) hold
the policy, value head, critic and reference weights (safetensors), the optimizer state,
every rank's sampling and shuffling generator states and environment ``np_random`` state,
the global RNG states, the KL coefficient and the update counter. That is the whole state
between two chunks: every ``learn`` ends with an update, and each rollout round resets
every row of the environment, so no episode is left unfinished. ``--resume`` continues
exactly: a run interrupted at any moment and resumed writes the same ``metrics.csv`` as an
uninterrupted one (tested on the CPU, ``tests/test_resume.py``).

Export: with every checkpoint (so also at the end of training) the run folder gets the policy
as a Hugging Face model and the value head beside it (:meth:`LMPPOAgent.export_policy`)::

    DIR/policy/                   save_pretrained of the policy LM (config.json, model.safetensors,
                                  generation_config.json) and of its tokenizer
    DIR/value_head.safetensors    the value head, a torch.nn.Linear(in_features, 1): weight, bias
    DIR/value_head.json           in_features, out_features, whose hidden states it reads ("policy"
                                  or "critic"), env_steps

``AutoModelForCausalLM.from_pretrained("DIR/policy")`` and ``AutoTokenizer.from_pretrained(...)``
load it, and ``gym.make(ID, model="DIR/policy")`` (with the run's other env arguments) makes the
task with the trained policy as its model. On symbol-vocabulary tasks the tokenizer saved is
the task's own vocabulary, wrapped as a Hugging Face fast tokenizer with the same ids, so there
too ``gym.make(ID, model="DIR/policy")`` speaks the same tokens as the task. The value of a
state is ``value_head(h)`` with ``h`` the last hidden state at that position of the policy
(``separate_critic=True``: of the critic, whose weights only the checkpoints hold). The folder
is swapped in atomically (:func:`agents.checkpoint.replace_folder_atomically`); the export
reads the weights and draws no random numbers, so it changes nothing in the run.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import gymnasium as gym
import numpy as np
import torch

from agents.base import Agent
from agents.checkpoint import (CheckpointError, LoadedCheckpoint, atomic_save_file, atomic_write_text,
                               replace_folder_atomically, rng_state, save_checkpoint, set_rng_state, torch_rng_tensors)
from agents.distributed import DistributedContext, check_replicas_identical, current_context
from agents.run import RunConfig
from textgym.devices import resolve_device

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from textgym.models.tokenizer import TextTokenizer

KL_ESTIMATORS = ("k1", "k3")
#: the run folder's exports, written beside ``checkpoints/`` (see :meth:`LMPPOAgent.export_policy`)
POLICY_FOLDER = "policy"
VALUE_HEAD_FILE = "value_head.safetensors"
VALUE_HEAD_INFO = "value_head.json"
#: rank r seeds its environment and generators with ``seed + r * RANK_SEED_STRIDE``
RANK_SEED_STRIDE = 100_003


def _help(text: str) -> dict[str, str]:
    return {"help": text}


# ---------------------------------------------------------------------------------------------
# Hyper-parameters
# ---------------------------------------------------------------------------------------------


@dataclass
class LMPPOConfig:
    """Hyper-parameters of LM-PPO (each settable with ``textgym train --set NAME=VALUE``)."""

    # optimisation
    learning_rate: float = field(default=5e-5, metadata=_help("Adam step size"))
    adam_eps: float = field(default=1e-5, metadata=_help("Adam epsilon"))
    num_epochs: int = field(default=4, metadata=_help("PPO passes over each batch (2 is faster per second, 4 learns more per env step)"))
    num_minibatches: int = field(default=4, metadata=_help("minibatches (of whole episodes) per epoch"))
    gradient_accumulation_steps: int = field(default=1, metadata=_help("micro-batches per minibatch (gradients summed before a step)"))
    max_grad_norm: float = field(default=1.0, metadata=_help("gradient clipping (global norm)"))
    # rollout
    rollout_rounds: int = field(default=1, metadata=_help("rounds of num_envs episodes per update"))
    temperature: float = field(default=1.0, metadata=_help("sampling temperature (log-probs are of the tempered policy)"))
    top_k: int = field(default=0, metadata=_help("sample from the k likeliest tokens only (0: off)"))
    top_p: float = field(default=1.0, metadata=_help("nucleus sampling mass in (0, 1] (1: off)"))
    prepend_bos: bool = field(default=True, metadata=_help("feed a BOS token (the model's, else EOS) before each prompt"))
    # advantages and losses
    gamma: float = field(default=1.0, metadata=_help("discount; 1 keeps dense and sparse returns equal"))
    gae_lambda: float = field(default=0.95, metadata=_help("GAE lambda"))
    norm_adv: bool = field(default=True, metadata=_help("whiten advantages over the batch's tokens"))
    clip_range: float = field(default=0.2, metadata=_help("PPO ratio clip"))
    clip_range_value: float = field(default=0.2, metadata=_help("value clip around the rollout's values"))
    vf_coef: float = field(default=0.1, metadata=_help("value loss weight"))
    ent_coef: float = field(default=0.0, metadata=_help("entropy bonus weight"))
    target_approx_kl: float = field(default=0.0, metadata=_help("stop the epochs when approx KL(old || new) exceeds this (0: never)"))
    # KL penalty to the reference model
    kl_coef: float = field(default=0.05, metadata=_help("initial KL penalty coefficient beta"))
    adaptive_kl: bool = field(default=True, metadata=_help("adapt beta towards target_kl (Ziegler et al.); false: fixed beta"))
    target_kl: float = field(default=6.0, metadata=_help("adaptive controller's target KL per episode (nats)"))
    kl_horizon: int = field(default=10_000, metadata=_help("adaptive controller's horizon (episodes)"))
    kl_estimator: str = field(default="k1", metadata=_help("per-token KL estimate: k1 (log-ratio) or k3 ((r-1) - log r)"))
    # models
    separate_critic: bool = field(default=False, metadata=_help("value head on a separate copy of the initial LM"))
    bf16: bool = field(default=True, metadata=_help("bf16 autocast on CUDA (the CPU always runs fp32)"))
    symbol_model_width: int = field(default=64, metadata=_help("symbol-vocabulary tasks: n_embd of the random GPT-2 policy"))
    symbol_model_layers: int = field(default=2, metadata=_help("symbol-vocabulary tasks: n_layer of the random GPT-2 policy"))
    symbol_model_heads: int = field(default=2, metadata=_help("symbol-vocabulary tasks: n_head of the random GPT-2 policy"))

    def __post_init__(self) -> None:
        def require(ok: bool, name: str, allowed: str) -> None:
            if not ok:
                raise ValueError(f"lm-ppo: {name}={getattr(self, name)!r} is invalid; allowed: {allowed}")

        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"lm-ppo: {name}={value!r} is not a number")
            return float(value)

        def integer(name: str) -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"lm-ppo: {name}={value!r} is not an integer")
            return value

        require(number("learning_rate") > 0, "learning_rate", "a number > 0")
        require(number("adam_eps") > 0, "adam_eps", "a number > 0")
        for name in ("num_epochs", "num_minibatches", "gradient_accumulation_steps", "rollout_rounds", "kl_horizon",
                     "symbol_model_width", "symbol_model_layers", "symbol_model_heads"):
            require(integer(name) >= 1, name, "an integer >= 1")
        require(integer("top_k") >= 0, "top_k", "an integer >= 0 (0: off)")
        require(0 < number("top_p") <= 1, "top_p", "a number in (0, 1]")
        require(number("temperature") > 0, "temperature", "a number > 0")
        require(0 <= number("gamma") <= 1, "gamma", "a number in [0, 1]")
        require(0 <= number("gae_lambda") <= 1, "gae_lambda", "a number in [0, 1]")
        require(number("clip_range") > 0, "clip_range", "a number > 0")
        require(number("clip_range_value") > 0, "clip_range_value", "a number > 0")
        require(number("max_grad_norm") > 0, "max_grad_norm", "a number > 0")
        for name in ("vf_coef", "ent_coef", "target_approx_kl", "kl_coef"):
            require(number(name) >= 0, name, "a number >= 0")
        require(number("target_kl") > 0, "target_kl", "a number > 0")
        require(self.kl_estimator in KL_ESTIMATORS, "kl_estimator", f"one of {list(KL_ESTIMATORS)}")
        require(self.symbol_model_width % self.symbol_model_heads == 0, "symbol_model_width",
                f"a multiple of symbol_model_heads={self.symbol_model_heads}")


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


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


def cache_keyword(model: torch.nn.Module) -> str:
    """The forward argument that takes the KV cache: ``cache`` (transformers >= 5.x) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def output_cache(output) -> Any:
    return output["cache"] if "cache" in output else output["past_key_values"]


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
    """A Hugging Face fast tokenizer with the same ids as an environment's :class:`~textgym.models.tokenizer.TextTokenizer`.

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


# ---------------------------------------------------------------------------------------------
# Sampling and rollout
# ---------------------------------------------------------------------------------------------


def sample_tokens(logits: torch.Tensor, temperature: float, top_k: int, top_p: float,
                  generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one token per row; return ``(tokens, log pi(token))`` under the tempered full distribution."""
    logits = logits.float() / temperature
    logprobs = torch.log_softmax(logits, dim=-1)
    filtered = logits
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(filtered, top_k, dim=-1).values[..., -1:]
        filtered = filtered.masked_fill(filtered < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(filtered, dim=-1, descending=True)
        sorted_probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = sorted_probs.cumsum(-1) - sorted_probs  # keep a token while the mass before it is < top_p
        remove = mass_before >= top_p
        filtered = filtered.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    # inverse-CDF sampling: one uniform number per row (torch.multinomial is ~20x slower on the CPU)
    cdf = torch.softmax(filtered, dim=-1, dtype=torch.float64).cumsum(-1)
    uniform = torch.rand((logits.shape[0], 1), generator=generator, device=logits.device, dtype=torch.float64)
    tokens = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True).squeeze(1).clamp(max=logits.shape[-1] - 1)
    return tokens, logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)


@dataclass
class Rollout:
    """One update's episodes (``B`` rows, horizon ``H``), all tensors on the device.

    ``response_mask[b, t]`` is True where token ``t`` of episode ``b`` was a real transition
    (the episode was still running); rewards after an episode's end are 0.
    """

    prompt_ids: torch.Tensor  # [B, P] left-padded prompts (with BOS when configured)
    prompt_mask: torch.Tensor  # [B, P]
    response_ids: torch.Tensor  # [B, H] sampled tokens
    response_mask: torch.Tensor  # [B, H] bool
    env_rewards: torch.Tensor  # [B, H] float32
    sample_logprobs: torch.Tensor  # [B, H] log pi(token) computed while decoding (KV cache)
    values: torch.Tensor  # [B, H] value of the state before each token, while decoding (0 without a value head)

    @property
    def live_steps(self) -> torch.Tensor:
        return self.response_mask.sum()

    def episodes(self, rows: torch.Tensor | slice) -> "Rollout":
        """The episodes ``rows``, without the columns that are padding in every one of them.

        Prompts are left-padded and responses right-padded, so the prompt columns before the
        longest prompt and the response columns after the longest episode are dropped (at
        least one of each is kept). Attention never sees padding: the remaining tokens score
        the same, and a forward over fewer columns costs less.
        """
        prompt_mask, response_mask = self.prompt_mask[rows], self.response_mask[rows]
        prompt_width = max(1, int(prompt_mask.sum(1).max().item()))
        response_width = max(1, int(response_mask.sum(1).max().item()))
        return Rollout(
            self.prompt_ids[rows][:, -prompt_width:], prompt_mask[:, -prompt_width:],
            *(getattr(self, f.name)[rows][:, :response_width] for f in dataclasses.fields(Rollout)[2:]),
        )

    @staticmethod
    def concatenate(parts: list["Rollout"]) -> "Rollout":
        if len(parts) == 1:
            return parts[0]
        return Rollout(*[torch.cat([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(Rollout)])


@torch.no_grad()
def collect_rollout(
    env,
    model: torch.nn.Module,
    config: LMPPOConfig,
    generator: torch.Generator | None,
    bos_token_id: int | None,
    vocab_size: int,
    use_kv_cache: bool = True,
    logits_processor: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    value_head: torch.nn.Module | None = None,
) -> Rollout:
    """Reset every row of ``env`` and decode one episode per row in lock step.

    With ``use_kv_cache`` (the default) the prompts are prefilled once and each step feeds
    only the new token; without it every step re-encodes the whole prefix (for comparison
    in benchmarks). ``logits_processor(logits, step)`` may edit the logits before sampling
    (benchmarks use it to suppress EOS). With ``value_head``, the value of each state (the
    head on the model's last hidden state) is recorded too.
    """
    device = env.device
    n, horizon = env.num_envs, env.max_new_tokens
    obs, _ = env.reset(options={"reset_mask": torch.ones(n, dtype=torch.bool, device=device)})
    width = env.setup.max_prompt_tokens + (bos_token_id is not None)
    prompt_ids, prompt_mask = left_pad(obs["input_ids"], obs["attention_mask"], width, env.tokenizer.pad_token_id, bos_token_id)

    response_ids = torch.full((n, horizon), env.tokenizer.pad_token_id, dtype=torch.long, device=device)
    response_mask = torch.zeros((n, horizon), dtype=torch.bool, device=device)
    env_rewards = torch.zeros((n, horizon), dtype=torch.float32, device=device)
    sample_logprobs = torch.zeros((n, horizon), dtype=torch.float32, device=device)
    values = torch.zeros((n, horizon), dtype=torch.float32, device=device)
    cache_arg = cache_keyword(model)
    want_hidden = value_head is not None

    ids, mask = prompt_ids, prompt_mask
    output = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from(mask), use_cache=use_kv_cache,
                   logits_to_keep=1, output_hidden_states=want_hidden)
    cache = output_cache(output) if use_kv_cache else None
    next_position = mask.sum(1, keepdim=True)  # position of the next token, per row
    for t in range(horizon):
        logits = output.logits[:, -1, :vocab_size]
        if logits_processor is not None:
            logits = logits_processor(logits, t)
        tokens, logprobs = sample_tokens(logits, config.temperature, config.top_k, config.top_p, generator)
        live = ~env.ended
        _, rewards, _, _, _ = env.step(tokens)
        response_ids[:, t] = tokens
        response_mask[:, t] = live
        env_rewards[:, t] = torch.where(live, rewards.float(), 0.0)
        sample_logprobs[:, t] = torch.where(live, logprobs, 0.0)
        if value_head is not None:
            values[:, t] = torch.where(live, value_head(output.hidden_states[-1][:, -1]).squeeze(-1).float(), 0.0)
        if t + 1 == horizon or bool(env.ended.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        if use_kv_cache:
            output = model(input_ids=tokens.unsqueeze(1), attention_mask=mask, position_ids=next_position,
                           use_cache=True, logits_to_keep=1, output_hidden_states=want_hidden, **{cache_arg: cache})
            cache = output_cache(output)
        else:
            ids = torch.cat([ids, tokens.unsqueeze(1)], dim=1)
            output = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from(mask), use_cache=False,
                           logits_to_keep=1, output_hidden_states=want_hidden)
        next_position = next_position + 1
    return Rollout(prompt_ids, prompt_mask, response_ids, response_mask, env_rewards, sample_logprobs, values)


@torch.no_grad()
def greedy_tokens(model: torch.nn.Module, observation: dict[str, Any], pad_token_id: int, bos_token_id: int | None,
                  vocab_size: int, device: torch.device) -> torch.Tensor:
    """The argmax next token for each row of a (right-padded, numpy or torch) observation batch."""
    input_ids = torch.as_tensor(observation["input_ids"], device=device)
    attention_mask = torch.as_tensor(observation["attention_mask"], device=device)
    width = input_ids.shape[1] + (bos_token_id is not None)
    ids, mask = left_pad(input_ids, attention_mask, width, pad_token_id, bos_token_id)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from(mask), use_cache=False,
                   logits_to_keep=1).logits[:, -1, :vocab_size]
    return logits.argmax(-1)


# ---------------------------------------------------------------------------------------------
# Scoring sequences, KL penalty, advantages
# ---------------------------------------------------------------------------------------------


def forward_responses(model: torch.nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                      response_ids: torch.Tensor, response_mask: torch.Tensor, want_hidden: bool = False,
                      want_logits: bool = True) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """One full forward over ``[prompt | response]``.

    Returns ``(logits, hidden)`` at the positions that predict each response token
    (``[B, T, V]`` and ``[B, T, D]``: position ``t`` is the state before action ``t``).
    """
    width = response_ids.shape[1]
    ids = torch.cat([prompt_ids, response_ids], dim=1)
    mask = torch.cat([prompt_mask, response_mask.long()], dim=1)
    output = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from(mask), use_cache=False,
                   output_hidden_states=want_hidden, logits_to_keep=width + 1 if want_logits else 1)
    logits = output.logits[:, :-1] if want_logits else None
    hidden = output.hidden_states[-1][:, -(width + 1):-1] if want_hidden else None
    return logits, hidden


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float, vocab_size: int,
                   with_entropy: bool = False, entropy_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``log pi(token)`` (and the entropy) of the tempered distribution over the env's vocabulary.

    ``entropy_grad=False`` leaves the entropy out of the autograd graph (when it is only a
    statistic, its backward over the whole vocabulary would be wasted).
    """
    logits = logits[..., :vocab_size].float()
    if temperature != 1.0:
        logits = logits / temperature
    logprobs_all = torch.log_softmax(logits, dim=-1)
    logprobs = logprobs_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(torch.is_grad_enabled() and entropy_grad):
            entropy = -(logprobs_all.exp() * logprobs_all).sum(-1)
    return logprobs, entropy


def kl_per_token(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the sampled token (see the module docstring)."""
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        ratio = torch.exp(-log_ratio)  # pi_ref / pi
        return (ratio - 1) + log_ratio
    raise ValueError(f"unknown kl_estimator {estimator!r}; allowed: {list(KL_ESTIMATORS)}")


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
                gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation per token; returns ``(advantages, returns)``.

    ``rewards``, ``values``, ``mask`` are ``[B, T]``; each row's real tokens are a prefix
    (``mask`` True), and the state after the last real token has value 0.
    """
    mask = mask.to(values.dtype)
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        next_value = values[:, t + 1] if t + 1 < values.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * gae_lambda * last) * mask[:, t]
        advantages[:, t] = last
    return advantages, (advantages + values) * mask


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit variance over the entries where ``mask`` is True (others set to 0)."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + eps) * mask.to(values.dtype)


class AdaptiveKLController:
    """Ziegler et al. (2019): ``beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * n_steps / horizon``."""

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        self.value, self.target, self.horizon = float(init_kl_coef), float(target), int(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        proportional_error = float(np.clip(current_kl / self.target - 1.0, -0.2, 0.2))
        self.value *= 1.0 + proportional_error * n_steps / self.horizon


class FixedKLController:
    """A constant ``beta``."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------------


class LMPPOAgent(Agent):
    """PPO on the environment's causal LM with a value head, a KL penalty and a KV-cached rollout.

    Args:
        run: the run (env id, reward mode, seed, device, ``num_envs`` rows per round...).
        config: :class:`LMPPOConfig`.
        model: an initial policy to use instead of the environment's model (its vocabulary
            must cover the environment's); benchmarks pass random GPT-2-sized models here.
    """

    name = "lm-ppo"
    Config = LMPPOConfig

    def __init__(self, run: RunConfig, config: LMPPOConfig, model: torch.nn.Module | None = None) -> None:
        super().__init__(run, config)
        self.dist: DistributedContext = current_context()
        self.device = resolve_device(run.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", torch.cuda.current_device())
        rank_seed = run.seed + self.dist.rank * RANK_SEED_STRIDE
        episodes = run.num_envs * config.rollout_rounds
        if episodes < config.num_minibatches * config.gradient_accumulation_steps:
            raise ValueError(
                f"lm-ppo: a batch of num_envs * rollout_rounds = {episodes} episodes cannot be split into num_minibatches="
                f"{config.num_minibatches} x gradient_accumulation_steps={config.gradient_accumulation_steps} non-empty parts; "
                f"raise --num-envs or rollout_rounds, or lower those two"
            )

        # environment: one batched env, tensors on our device, finished rows frozen until reset
        self.env = gym.make_vec(
            run.env_id, num_envs=run.num_envs, vectorization_mode="vector_entry_point", device=self.device,
            output="torch", autoreset_mode="Disabled", reward_mode=run.reward_mode, **run.env_kwargs,
        )
        self.env.reset(seed=rank_seed)
        self.vocab_size = self.env.vocab_size
        tokenizer = self.env.tokenizer

        # policy, reference, value
        self._hf_tokenizer: Any = None  # the model's Hugging Face tokenizer, for the export; None: built from the env's
        if model is None:
            if self.env.setup.model is None:  # symbol vocabulary: a small random GPT-2
                model = build_symbol_policy(
                    self.vocab_size, self.env.setup.obs_length + int(config.prepend_bos), tokenizer.eos_token_id,
                    tokenizer.pad_token_id, run.seed, config.symbol_model_width, config.symbol_model_layers,
                    config.symbol_model_heads,
                )
            else:
                from textgym.models import load

                language_model = load(self.env.setup.model, "cpu")
                model, self._hf_tokenizer = language_model.model, language_model.hf_tokenizer
        self.policy_model = model.to(self.device).float().eval()  # eval(): no dropout
        model_vocab = self.policy_model.get_output_embeddings().weight.shape[0]
        if model_vocab < self.vocab_size:
            raise ValueError(f"the policy's vocabulary ({model_vocab}) is smaller than the environment's ({self.vocab_size})")
        bos = getattr(self.policy_model.config, "bos_token_id", None)
        self.bos_token_id = (bos if isinstance(bos, int) and 0 <= bos < self.vocab_size else tokenizer.eos_token_id) \
            if config.prepend_bos else None
        self.reference = copy.deepcopy(self.policy_model).requires_grad_(False)
        self.critic = copy.deepcopy(self.policy_model) if config.separate_critic else None
        self.value_head = torch.nn.Linear(hidden_size_of(self.policy_model), 1).to(self.device)
        torch.nn.init.zeros_(self.value_head.weight)  # values start at 0 and value gradients start off the LM
        torch.nn.init.zeros_(self.value_head.bias)
        self.dist.broadcast_parameters(self.trainable_modules())
        # fused: one kernel for all parameters (the per-tensor loop costs as much as a minibatch's backward on the CPU)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=config.learning_rate, eps=config.adam_eps,
                                          fused=self.device.type in ("cpu", "cuda"))

        self.kl_controller = (AdaptiveKLController(config.kl_coef, config.target_kl, config.kl_horizon)
                              if config.adaptive_kl else FixedKLController(config.kl_coef))
        self.sample_generator = torch.Generator(self.device).manual_seed(rank_seed)
        self.shuffle_generator = torch.Generator("cpu").manual_seed(rank_seed)
        self.updates = 0
        self._env_steps = 0
        self._rank_states: list[dict[str, Any]] | None = None  # every rank's random streams, after learn()
        self.last_fingerprint: str | None = None

    # -- modules ----------------------------------------------------------------------------------

    def trainable_modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.policy_model, self.value_head, self.critic) if m is not None]

    def parameters(self) -> list[torch.nn.Parameter]:
        seen, params = set(), []
        for module in self.trainable_modules():
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def autocast(self):
        return autocast_for(self.device, self.config.bf16)

    @property
    def low_precision(self) -> bool:
        """Whether the forwards run under bf16 autocast (CUDA with ``bf16``)."""
        return self.device.type == "cuda" and self.config.bf16

    @property
    def env_steps(self) -> int:
        return self._env_steps

    # -- rollout and update -------------------------------------------------------------------------

    def collect(self) -> Rollout:
        """``rollout_rounds`` rounds of ``num_envs`` episodes; counts the env steps (over all ranks)."""
        parts = []
        with self.autocast():
            for _ in range(self.config.rollout_rounds):
                parts.append(collect_rollout(self.env, self.policy_model, self.config, self.sample_generator,
                                             self.bos_token_id, self.vocab_size,
                                             value_head=self.value_head if self.critic is None else None))
        rollout = Rollout.concatenate(parts)
        self._env_steps += int(self.dist.all_reduce_sum(rollout.live_steps.clone()).item())
        return rollout

    def critic_values(self, rollout: Rollout) -> torch.Tensor:
        """The separate critic's values of the rollout's states."""
        _, hidden = forward_responses(self.critic, rollout.prompt_ids, rollout.prompt_mask, rollout.response_ids,
                                      rollout.response_mask, want_hidden=True, want_logits=False)
        return self.value_head(hidden).squeeze(-1).float()

    def evaluate_tokens(self, rollout: Rollout, with_entropy: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Current ``log pi``, entropy and values of the rollout's tokens."""
        logits, hidden = forward_responses(self.policy_model, rollout.prompt_ids, rollout.prompt_mask, rollout.response_ids,
                                           rollout.response_mask, want_hidden=self.critic is None)
        logprobs, entropy = token_logprobs(logits, rollout.response_ids, self.config.temperature, self.vocab_size, with_entropy,
                                           entropy_grad=self.config.ent_coef > 0)
        values = self.value_head(hidden).squeeze(-1).float() if self.critic is None else self.critic_values(rollout)
        return logprobs, entropy, values

    def update(self, rollout: Rollout) -> dict[str, float]:
        """One PPO update on ``rollout``; returns statistics."""
        c = self.config
        rollout = rollout.episodes(slice(None))  # drop columns that are padding in every episode
        mask = rollout.response_mask

        # old log-probs and values: the rollout's (in fp32 its KV-cached decoding matches a full forward up to
        # float rounding; under bf16 it does not, so a full forward in the update's layout recomputes them);
        # a separate critic's values and the reference log-probs: one full forward each
        old_logprobs, old_values = rollout.sample_logprobs, rollout.values
        with torch.no_grad(), self.autocast():
            if self.low_precision:
                old_logprobs, _, old_values = self.evaluate_tokens(rollout, with_entropy=False)
            elif self.critic is not None:
                old_values = self.critic_values(rollout)
            ref_logits, _ = forward_responses(self.reference, rollout.prompt_ids, rollout.prompt_mask, rollout.response_ids, mask)
            ref_logprobs, _ = token_logprobs(ref_logits, rollout.response_ids, c.temperature, self.vocab_size)
        fmask = mask.float()
        kl = kl_per_token(old_logprobs, ref_logprobs, c.kl_estimator) * fmask
        beta = self.kl_controller.value
        rewards = rollout.env_rewards - beta * kl
        advantages, returns = compute_gae(rewards, old_values, mask, c.gamma, c.gae_lambda)
        if c.norm_adv:
            advantages = masked_whiten(advantages, mask)

        episodes = mask.shape[0]
        params = self.parameters()
        stat_names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
        minibatch_stats: list[torch.Tensor] = []  # per minibatch: token means of stat_names
        rollout_mismatch = torch.zeros((), device=self.device)  # max |log pi - rollout's log pi| before the first step
        epochs_done = 0
        for _epoch in range(c.num_epochs):
            order = torch.randperm(episodes, generator=self.shuffle_generator).to(self.device)
            epoch_stats = []
            for minibatch in order.tensor_split(c.num_minibatches):
                tokens_in_minibatch = fmask[minibatch].sum().clamp(min=1)
                totals = torch.zeros(len(stat_names), device=self.device)
                self.optimizer.zero_grad(set_to_none=True)
                for micro in minibatch.tensor_split(c.gradient_accumulation_steps):
                    part = rollout.episodes(micro)  # trimmed to these episodes' longest prompt and response
                    width = part.response_ids.shape[1]
                    mb_old_logprobs, mb_old_values, mb_advantages, mb_returns = (
                        x[micro, :width] for x in (old_logprobs, old_values, advantages, returns))
                    m = part.response_mask.float()
                    with self.autocast():
                        logprobs, entropy, values = self.evaluate_tokens(part, with_entropy=True)
                    log_ratio = logprobs - mb_old_logprobs
                    ratio = log_ratio.exp()
                    policy_loss = torch.max(-mb_advantages * ratio, -mb_advantages * ratio.clamp(1 - c.clip_range, 1 + c.clip_range))
                    values_clipped = mb_old_values + (values - mb_old_values).clamp(-c.clip_range_value, c.clip_range_value)
                    value_loss = 0.5 * torch.max((values - mb_returns) ** 2, (values_clipped - mb_returns) ** 2)
                    loss_per_token = policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy
                    # summed over tokens / the minibatch's token count: micro-batches add up to the minibatch mean
                    ((loss_per_token * m).sum() / tokens_in_minibatch).backward()
                    with torch.no_grad():
                        if not minibatch_stats and not epoch_stats:  # no step yet: the policy is the rollout's
                            drift = (logprobs - part.sample_logprobs).abs()  # (under bf16 the old log-probs are not the rollout's)
                            rollout_mismatch = torch.maximum(rollout_mismatch, (drift * m).max())
                        approx_kl = (ratio - 1) - log_ratio  # k3 estimate of KL(old || new)
                        clipped = ((ratio - 1).abs() > c.clip_range).float()
                        parts = (policy_loss, value_loss, entropy, approx_kl, clipped)
                        totals += torch.stack([(x * m).sum() for x in parts]) / tokens_in_minibatch
                self.dist.average_gradients(params)
                torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm)
                self.optimizer.step()
                epoch_stats.append(totals)
            minibatch_stats.extend(epoch_stats)
            epochs_done += 1
            if c.target_approx_kl > 0:
                epoch_approx_kl = self.dist.all_reduce_mean(torch.stack(epoch_stats)[:, 3].mean().reshape(1)).item()
                if epoch_approx_kl > c.target_approx_kl:
                    break

        # the KL controller sees the mean KL per episode over every rank's batch
        episode_kl = self.dist.all_reduce_mean(kl.sum(1).mean().reshape(1)).item()
        self.kl_controller.update(episode_kl, episodes * self.dist.world_size)
        self.updates += 1

        explained_variance = 1 - masked_mean((returns - old_values) ** 2, mask) / masked_mean(
            (returns - masked_mean(returns, mask)) ** 2, mask).clamp(min=1e-8)
        summary = {
            "train/episode_return": rollout.env_rewards.sum(1).mean(),
            "train/episode_length": fmask.sum(1).mean(),
            "train/explained_variance": explained_variance,
            "train/logprob_rollout_mismatch": rollout_mismatch,
        }
        means = torch.stack(minibatch_stats).mean(0)
        summary.update({f"train/{name}": means[i] for i, name in enumerate(stat_names)})
        numbers = dict(zip(summary, torch.stack([v.float().reshape(()) for v in summary.values()]).tolist()))
        numbers.update({"train/kl": episode_kl, "train/kl_coef": beta, "train/epochs": float(epochs_done)})
        return numbers

    def learn(self, env_steps: int) -> dict[str, float]:
        target = self._env_steps + env_steps
        history: list[dict[str, float]] = []
        start, steps_before, rollout_seconds = time.perf_counter(), self._env_steps, 0.0
        while self._env_steps < target:
            tick = time.perf_counter()
            rollout = self.collect()
            rollout_seconds += time.perf_counter() - tick
            history.append(self.update(rollout))
        scalars = {key: float(np.mean([h[key] for h in history])) for key in history[0]} if history else {}
        elapsed = time.perf_counter() - start
        scalars["time/env_steps_per_second"] = (self._env_steps - steps_before) / max(elapsed, 1e-9)
        scalars["time/rollout_fraction"] = rollout_seconds / max(elapsed, 1e-9)
        if self.dist.enabled:
            self._rank_states = self.dist.all_gather_object(self._random_state())
            self.last_fingerprint = check_replicas_identical(self.dist, self.trainable_modules())
        return scalars

    # -- evaluation ----------------------------------------------------------------------------------

    def policy(self, observation, vector_env) -> torch.Tensor:
        """Greedy next tokens for a batch of observations (a full forward over each observation)."""
        with self.autocast():
            return greedy_tokens(self.policy_model, observation, vector_env.tokenizer.pad_token_id, self.bos_token_id,
                                 self.vocab_size, self.device)

    # -- checkpoints ----------------------------------------------------------------------------------

    def _random_state(self) -> dict[str, Any]:
        """This rank's random streams: sampling and shuffling generators, the env's prompt draws."""
        return {"sample": self.sample_generator.get_state(), "shuffle": self.shuffle_generator.get_state(),
                "env": self.env.np_random.bit_generator.state}

    def save(self, folder: Path) -> Path:
        """Export the policy into ``folder``'s parent (the run folder, see :meth:`export_policy`), then write
        a checkpoint into ``folder`` (``DIR/checkpoints``).

        The export comes first: ``DIR/policy`` is never older than the newest checkpoint, and a run
        resumed from a checkpoint redoes, and so rewrites, anything exported after it.
        """
        self.export_policy(Path(folder).parent)
        rank_states = self._rank_states if self.dist.enabled and self._rank_states is not None else [self._random_state()]
        modules = {"policy": self.policy_model, "value_head": self.value_head, "reference": self.reference}
        if self.critic is not None:
            modules["critic"] = self.critic
        tensors = {
            "optimizer": self.optimizer.state_dict(),
            **torch_rng_tensors(),
            "generators": [{"sample": s["sample"], "shuffle": s["shuffle"]} for s in rank_states],
        }
        state = {
            "agent": self.name,
            "updates": self.updates,
            "kl_coef": self.kl_controller.value,
            "world_size": self.dist.world_size,
            "env_rng": [s["env"] for s in rank_states],
            "rng": rng_state(),
            "config": dataclasses.asdict(self.config),
        }
        return save_checkpoint(folder, self._env_steps, modules, tensors, state)

    def export_tokenizer(self) -> Any:
        """The tokenizer saved with the policy: the model's Hugging Face tokenizer, else one built from the env's."""
        if self._hf_tokenizer is None:
            from textgym.models.loader import model_context_length

            self._hf_tokenizer = hf_tokenizer_of(self.env.tokenizer, model_context_length(self.policy_model.config))
        return self._hf_tokenizer

    def export_policy(self, folder: Path) -> Path:
        """Write the policy as a Hugging Face model to ``folder/policy`` and the value head beside it.

        ``folder/policy`` holds ``save_pretrained`` of the policy LM and of :meth:`export_tokenizer`,
        written into a temporary sibling and swapped in (an older ``folder/policy`` is replaced,
        never left half-written); ``folder/value_head.safetensors`` holds the value head's
        ``weight`` ``[1, in_features]`` and ``bias`` ``[1]`` and ``folder/value_head.json`` what
        rebuilds it. Only reads the weights: no random numbers are drawn and no state changes.
        Returns ``folder/policy``.
        """
        folder = Path(folder)
        tokenizer = self.export_tokenizer()

        def write(tmp: Path) -> None:
            with no_progress_bars():
                self.policy_model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)

        policy = replace_folder_atomically(folder / POLICY_FOLDER, write)
        atomic_save_file(dict(self.value_head.state_dict()), folder / VALUE_HEAD_FILE)
        info = {
            "module": "torch.nn.Linear",
            "in_features": self.value_head.in_features,
            "out_features": self.value_head.out_features,
            # the LM whose last hidden state at a state's position the head maps to that state's value:
            # the policy (in policy/), or the separate critic (whose weights only the checkpoints hold)
            "reads": "critic" if self.critic is not None else "policy",
            "env_steps": self._env_steps,
        }
        atomic_write_text(folder / VALUE_HEAD_INFO, json.dumps(info, indent=2) + "\n")
        return policy

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        state = checkpoint.state
        if state.get("agent") != self.name:
            raise CheckpointError(f"checkpoint {checkpoint.path} was written by agent {state.get('agent')!r}, not {self.name!r}")
        checkpoint.load_module("policy", self.policy_model)
        checkpoint.load_module("value_head", self.value_head)
        checkpoint.load_module("reference", self.reference)
        if self.critic is not None:
            checkpoint.load_module("critic", self.critic)
        try:
            self.optimizer.load_state_dict(checkpoint.tensors("optimizer"))
        except (ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(f"checkpoint {checkpoint.path}: optimizer state does not match this model ({error})") from None
        generators = checkpoint.tensors("generators")
        updates = int(state["updates"])
        if self.dist.rank < len(generators):
            try:
                self.sample_generator.set_state(generators[self.dist.rank]["sample"])
                self.shuffle_generator.set_state(generators[self.dist.rank]["shuffle"])
                self.env.np_random.bit_generator.state = state["env_rng"][self.dist.rank]
            except (RuntimeError, ValueError, TypeError, KeyError) as error:
                raise CheckpointError(f"checkpoint {checkpoint.path}: random-number state is damaged ({error})") from None
        elif updates > 0:  # before the first update every rank's streams are still their seeded start
            raise CheckpointError(f"checkpoint {checkpoint.path} holds {len(generators)} rank(s)' random state; "
                                  f"this run has world size {self.dist.world_size}: resume with the same number of processes")
        set_rng_state(state["rng"], None)
        checkpoint.set_torch_rng_state()
        self.kl_controller.value = float(state["kl_coef"])
        self.updates = updates
        self._env_steps = checkpoint.env_steps

    def close(self) -> None:
        self.env.close()
