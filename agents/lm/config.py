"""Hyper-parameters every LM agent shares, and the checks that give each bad value a clear error.

Each algorithm's dataclass extends :class:`LMConfig` with its own fields (and may change a
shared field's default by declaring it again). Each field's ``metadata["help"]`` is its
one-line help; every field is settable with ``textgym train --set NAME=VALUE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from textgym_agents.lm.credit import CREDIT_MODES
from textgym_agents.lm.reference import KL_ESTIMATORS

#: what ``DIR/policy`` holds for a LoRA policy
LORA_EXPORTS = ("merged", "adapter")


def help_text(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class LMConfig:
    """What every LM agent has: optimiser, sampling, KL to the reference, credit assignment, models."""

    agent: ClassVar[str] = "lm"

    # optimisation
    learning_rate: float = field(default=5e-5, metadata=help_text("Adam step size"))
    adam_eps: float = field(default=1e-5, metadata=help_text("Adam epsilon"))
    num_minibatches: int = field(
        default=4, metadata=help_text("minibatches (of whole episodes) per pass over the batch")
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata=help_text("micro-batches per minibatch (gradients summed before a step)")
    )
    max_grad_norm: float = field(default=1.0, metadata=help_text("gradient clipping (global norm)"))
    # rollout
    rollout_rounds: int = field(default=1, metadata=help_text("rounds of num_envs episodes per update"))
    temperature: float = field(
        default=1.0, metadata=help_text("sampling temperature (log-probs are of the tempered policy)")
    )
    top_k: int = field(default=0, metadata=help_text("sample from the k likeliest tokens only (0: off)"))
    top_p: float = field(default=1.0, metadata=help_text("nucleus sampling mass in (0, 1] (1: off)"))
    prepend_bos: bool = field(
        default=True, metadata=help_text("feed a BOS token (the model's, else EOS) before each prompt")
    )
    # KL to the reference model
    kl_coef: float = field(default=0.05, metadata=help_text("KL coefficient beta"))
    kl_estimator: str = field(
        default="k1", metadata=help_text("per-token KL estimate: k1 (log-ratio) or k3 ((r-1) - log r)")
    )
    # credit assignment
    credit: str = field(default="env", metadata=help_text(
        "the per-token reward: env (the env's, dense or sparse), uniform (final score spread evenly over the tokens), "
        "attention (final score spread by the reward model's attention; reward-model tasks)"))
    # models and memory
    bf16: bool = field(
        default=True, metadata=help_text("bf16 autocast on CUDA (the CPU always runs fp32 unless bf16_weights)")
    )
    bf16_weights: bool = field(default=False, metadata=help_text(
        "keep the policy's weights (and so Adam's states) in bf16, not only autocast: half the memory; on any device"))
    gradient_checkpointing: bool = field(
        default=False,
        metadata=help_text(
            "recompute each layer's activations in the backward pass instead of keeping them (less memory, ~1/3 more "
            "compute)"
        ),
    )
    lora: bool = field(default=False, metadata=help_text(
        "train LoRA adapters (peft; pip install \"textgym[peft]\") instead of every weight; the reference is the base "
        "model with its adapters disabled, and checkpoints hold only the trainable weights"))
    lora_rank: int = field(default=8, metadata=help_text("LoRA rank r"))
    lora_alpha: float = field(default=16.0, metadata=help_text("LoRA scaling alpha (the update is alpha / r * B A)"))
    lora_target_modules: str = field(default="", metadata=help_text(
        "comma-separated module names to adapt (empty: peft's default for the architecture, e.g. c_attn for GPT-2)"))
    lora_export: str = field(default="merged", metadata=help_text(
        "what DIR/policy holds under LoRA: merged (a plain Hugging Face model) or adapter (a peft adapter folder)"))
    fsdp: bool = field(default=False, metadata=help_text(
        "shard the policy over the data-parallel ranks with FSDP2 (torch.distributed.fsdp.fully_shard) instead of DDP"))
    symbol_model_width: int = field(
        default=64, metadata=help_text("symbol-vocabulary tasks: n_embd of the random GPT-2 policy")
    )
    symbol_model_layers: int = field(
        default=2, metadata=help_text("symbol-vocabulary tasks: n_layer of the random GPT-2 policy")
    )
    symbol_model_heads: int = field(
        default=2, metadata=help_text("symbol-vocabulary tasks: n_head of the random GPT-2 policy")
    )

    # -- checks (subclasses call super().__post_init__() and add their own) ------------------------

    def require(self, ok: bool, name: str, allowed: str) -> None:
        if not ok:
            raise ValueError(f"{self.agent}: {name}={getattr(self, name)!r} is invalid; allowed: {allowed}")

    def number(self, name: str) -> float:
        value: Any = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError(f"{self.agent}: {name}={value!r} is not a number")
        return float(value)

    def integer(self, name: str) -> int:
        value: Any = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.agent}: {name}={value!r} is not an integer")
        return value

    def __post_init__(self) -> None:
        self.require(self.number("learning_rate") > 0, "learning_rate", "a number > 0")
        self.require(self.number("adam_eps") > 0, "adam_eps", "a number > 0")
        for name in ("num_minibatches", "gradient_accumulation_steps", "rollout_rounds",
                     "symbol_model_width", "symbol_model_layers", "symbol_model_heads"):
            self.require(self.integer(name) >= 1, name, "an integer >= 1")
        self.require(self.integer("top_k") >= 0, "top_k", "an integer >= 0 (0: off)")
        self.require(0 < self.number("top_p") <= 1, "top_p", "a number in (0, 1]")
        self.require(self.number("temperature") > 0, "temperature", "a number > 0")
        self.require(self.number("max_grad_norm") > 0, "max_grad_norm", "a number > 0")
        self.require(self.number("kl_coef") >= 0, "kl_coef", "a number >= 0")
        self.require(self.kl_estimator in KL_ESTIMATORS, "kl_estimator", f"one of {list(KL_ESTIMATORS)}")
        self.require(self.credit in CREDIT_MODES, "credit", f"one of {list(CREDIT_MODES)}")
        self.require(self.integer("lora_rank") >= 1, "lora_rank", "an integer >= 1 (the rank of the LoRA update)")
        self.require(self.number("lora_alpha") > 0, "lora_alpha", "a number > 0")
        self.require(self.lora_export in LORA_EXPORTS, "lora_export", f"one of {list(LORA_EXPORTS)}")
        self.require(self.symbol_model_width % self.symbol_model_heads == 0, "symbol_model_width",
                     f"a multiple of symbol_model_heads={self.symbol_model_heads}")


@dataclass
class GroupConfig(LMConfig):
    """GRPO and RLOO: ``group_size`` completions of each prompt in a batch."""

    group_size: int = field(default=4, metadata=help_text("completions per prompt (num_envs must be a multiple of it)"))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require(self.integer("group_size") >= 2, "group_size",
                     "an integer >= 2 (the baseline of each completion is computed from the others of its group)")
