"""What every LM agent does the same way: build the env and the models, collect rollouts, run minibatch
passes, checkpoint. An algorithm subclasses :class:`LMAgent` and writes only ``update`` (its advantage
and loss), plus its config dataclass.

- **Policy.** A causal LM (any Hugging Face ``AutoModelForCausalLM``; by default the env's own
  model, e.g. the bundled ``"tiny"``). Dropout is off throughout (the models stay in ``eval()``
  mode), so the log-probabilities of the rollout and of the update agree. Tasks with their own
  symbol vocabulary (Copy without ``model=...``) have no language model: there the policy is a
  small, randomly initialised GPT-2 seeded with the run's seed (``GPT2Config(vocab_size=env
  vocab, n_positions=observation length (+1 for BOS), n_embd=64, n_layer=2, n_head=2)``; sizes
  settable with ``symbol_model_*``).
- **Reference.** A frozen copy of the initial policy (:mod:`textgym_agents.lm.reference`).
- **Value** (agents with ``uses_value_head``): a linear head on the LM's last hidden state
  (``separate_critic``: on a separate copy of the initial LM).
- **Rollout.** ``rollout_rounds`` rounds of ``num_envs`` episodes, decoded in lock step with a KV
  cache on the batched env (:mod:`textgym_agents.lm.rollout`). Group agents (GRPO, RLOO) put
  ``group_size`` consecutive rows on one prompt, drawn from the env's own generator.
- **Credit.** The per-token reward is the env's, or the final score redistributed
  (``credit="uniform"`` or ``"attention"``, :mod:`textgym_agents.lm.credit`).
- **Conversations.** On a multi-turn env (an observation with ``agent_mask``) the user's tokens
  are context: the rollout feeds them through the KV cache and every forward attends to them
  (:attr:`Rollout.attention_mask`), but only the agent's tokens (``response_mask``) enter the
  losses, the KL, the entropy and the statistics, and what runs over steps (GAE, per-step
  baselines) runs over the agent's steps (:class:`~textgym_agents.lm.losses.AgentSteps`).
- **Devices.** ``--device cuda`` runs rollouts, env state and updates on the GPU with bf16
  autocast (fp32 master weights); the CPU runs fp32. Several processes: ``torchrun -m
  textgym_agents.distributed``.
- **State.** Checkpoints and the exported policy: :mod:`textgym_agents.lm.state`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from textgym.devices import resolve_device
from textgym_agents.base import Agent
from textgym_agents.checkpoint import LoadedCheckpoint
from textgym_agents.distributed import DistributedContext, check_replicas_identical, current_context
from textgym_agents.lm import state
from textgym_agents.lm.config import LMConfig
from textgym_agents.lm.credit import check_credit, credited_rewards, task_of
from textgym_agents.lm.losses import masked_whiten
from textgym_agents.lm.models import autocast_for, build_symbol_policy, disable_dropout, hidden_size_of, lora_wrap
from textgym_agents.lm.parallel import DataParallel, global_masked_whiten
from textgym_agents.lm.reference import AdaptiveKLController, FixedKLController, frozen_copy, reference_logprobs
from textgym_agents.lm.rollout import (
    GreedyDecoder,
    Rollout,
    collect_rollout,
    forward_responses,
    greedy_tokens,
    token_logprobs,
)
from textgym_agents.run import RunConfig


@dataclass
class LossTerms:
    """What an algorithm's loss gives the minibatch loop, per token of a micro-batch."""

    loss: torch.Tensor  # [b, w] the loss per token (averaged over the minibatch's tokens by the loop)
    stats: tuple[torch.Tensor, ...]  # [b, w] each: per-token statistics to average (no gradient)
    logprobs: torch.Tensor  # [b, w] the current log pi of the tokens (to check them against the rollout's)


class LMAgent(Agent):
    """The shared body of the LM agents (see the module docstring).

    Args:
        run: the run (env id, reward mode, seed, device, ``num_envs`` rows per round...).
        config: the algorithm's :class:`~textgym_agents.lm.config.LMConfig` subclass.
        model: an initial policy to use instead of the environment's model (its vocabulary
            must cover the environment's); benchmarks pass random GPT-2-sized models here.
    """

    Config: ClassVar[type[LMConfig]]
    #: whether the algorithm learns a value function (PPO, NLPO) or uses group baselines (GRPO, RLOO)
    uses_value_head: ClassVar[bool] = False
    #: whether FSDP2 can shard it (not when another model decodes beside the policy, as NLPO's mask policy)
    supports_fsdp: ClassVar[bool] = True

    def __init__(self, run: RunConfig, config: LMConfig, model: torch.nn.Module | None = None) -> None:
        super().__init__(run, config)
        self.dist: DistributedContext = current_context()
        self.device = resolve_device(run.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", torch.cuda.current_device())
        rank_seed = run.seed + self.dist.rank * state.RANK_SEED_STRIDE
        if run.num_envs % self.dist.world_size:
            raise ValueError(
                f"{self.name}: --num-envs {run.num_envs} is not a multiple of the world size {self.dist.world_size}: "
                f"each of the {self.dist.world_size} data-parallel ranks steps num_envs / world_size rows; use "
                f"--num-envs {self.dist.world_size * max(1, run.num_envs // self.dist.world_size)} or another number "
                f"of processes"
            )
        rows = run.num_envs // self.dist.world_size
        self.check_batch(rows)

        # environment: one batched env per rank (num_envs / world_size rows), tensors on our device, finished rows
        # frozen until reset
        self.env = gym.make_vec(
            run.env_id, num_envs=rows, vectorization_mode="vector_entry_point", device=self.device,
            output="torch", autoreset_mode="Disabled", reward_mode=run.reward_mode, **run.env_kwargs,
        )
        self.env.reset(seed=rank_seed)
        check_credit(config.credit, *task_of(self.env))
        self.vocab_size = self.env.vocab_size
        tokenizer = self.env.tokenizer

        # policy, reference, value
        self.hf_tokenizer: Any = None  # the model's Hugging Face tokenizer, for the export; None: built from the env's
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
                model, self.hf_tokenizer = language_model.model, language_model.hf_tokenizer
        self.policy_model = model.to(self.device).float().eval()  # eval(): no dropout
        model_vocab = self.policy_model.get_output_embeddings().weight.shape[0]
        if model_vocab < self.vocab_size:
            raise ValueError(
                f"the policy's vocabulary ({model_vocab}) is smaller than the environment's ({self.vocab_size})"
            )
        bos = getattr(self.policy_model.config, "bos_token_id", None)
        self.bos_token_id = (bos if isinstance(bos, int) and 0 <= bos < self.vocab_size else tokenizer.eos_token_id) \
            if config.prepend_bos else None
        if config.gradient_checkpointing:
            disable_dropout(self.policy_model)  # the update runs it in train() mode, where checkpointing is active
            self.policy_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.base_model = self.env.setup.model or "symbol policy (seeded)"  # what the weights start from
        if config.lora:
            self.policy_model = lora_wrap(
                self.policy_model, config.lora_rank, config.lora_alpha, config.lora_target_modules
            )
            self.policy_model.eval()
        if config.bf16_weights:
            self.policy_model.to(torch.bfloat16)
        # the reference: under LoRA the base model itself (adapters disabled), else a frozen copy; none at all when the
        # KL coefficient is fixed at 0 (no update reads its log-probabilities)
        self.kl_controller = self.make_kl_controller()
        self.reference = None if config.lora or not self.uses_reference else frozen_copy(self.policy_model)
        self.critic: torch.nn.Module | None = None
        self.value_head: torch.nn.Linear | None = None
        if self.uses_value_head:
            self.critic = copy.deepcopy(self.policy_model) if getattr(config, "separate_critic", False) else None
            self.value_head = torch.nn.Linear(hidden_size_of(self.policy_model), 1).to(self.device)
            torch.nn.init.zeros_(self.value_head.weight)  # values start at 0 and value gradients start off the LM
            torch.nn.init.zeros_(self.value_head.bias)
        self.dist.broadcast_parameters(self.trainable_modules())
        # several processes: DistributedDataParallel (or FSDP2) over the trained modules; the rollout decodes with the
        # plain modules, the update's forwards go through the wrappers (forward_module)
        self.parallel = DataParallel(self.dist, self.device, fsdp=config.fsdp)
        self.lora_names = (
            [name for name, p in self.policy_model.named_parameters() if p.requires_grad] if config.lora else []
        )
        if config.fsdp:
            if not self.supports_fsdp:
                raise ValueError(f"{self.name} does not support fsdp=true; use DDP (fsdp=false)")
            self.parallel.keep_evaluation_copy(self.policy_model)  # rank 0 evaluates and exports an unsharded copy
            if self.reference is not None:
                self.parallel.wrap([self.reference])
        self.parallel.wrap(self.trainable_modules())
        self.trained_container = torch.nn.ModuleList(self.trainable_modules())  # FSDP2's optimizer state names
        # fused: one kernel for all parameters (the per-tensor loop costs as much as a minibatch's backward on the CPU)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=config.learning_rate, eps=config.adam_eps,
                                          fused=self.device.type in ("cpu", "cuda") and not config.fsdp)

        self.sample_generator = torch.Generator(self.device).manual_seed(rank_seed)
        self.shuffle_generator = torch.Generator("cpu").manual_seed(rank_seed)
        self.updates = 0
        self._env_steps = 0
        self.rank_states: list[dict[str, Any]] | None = None  # every rank's random streams, after learn()
        self.last_fingerprint: str | None = None
        self.greedy_decoder: GreedyDecoder | None = None  # the evaluation's KV cache (dropped when the weights change)
        self.gather_whole_state()  # FSDP2: rank 0's whole copies for the evaluation and checkpoint at step 0

    # -- hooks for the algorithms -------------------------------------------------------------------

    def check_batch(self, num_envs: int) -> None:
        """Raise a clear error when one update's batch cannot be split as the config asks."""
        c = self.config
        episodes = num_envs * c.rollout_rounds
        if episodes < c.num_minibatches * c.gradient_accumulation_steps:
            raise ValueError(
                f"{self.name}: a batch of num_envs * rollout_rounds = {episodes} episodes cannot be split into "
                f"num_minibatches={c.num_minibatches} x gradient_accumulation_steps={c.gradient_accumulation_steps} "
                f"non-empty parts; "
                f"raise --num-envs or rollout_rounds, or lower those two"
            )
        group_size = getattr(c, "group_size", None)
        if group_size is not None and num_envs % group_size:
            raise ValueError(
                f"{self.name}: num_envs={num_envs} is not a multiple of group_size={group_size}; each prompt is "
                f"sampled group_size times in one round: use a num_envs in "
                f"{[group_size * k for k in range(1, 5)]}... or a group_size that divides {num_envs}"
            )

    def make_kl_controller(self) -> Any:
        return FixedKLController(self.config.kl_coef)

    def update(self, rollout: Rollout) -> dict[str, float]:
        """One update on ``rollout``; returns statistics. Each algorithm writes its own."""
        raise NotImplementedError

    def entropy_grad(self) -> bool:
        """Whether the entropy enters the loss (else it is only a statistic, kept out of the graph)."""
        return False

    def extra_modules(self) -> dict[str, torch.nn.Module]:
        """Algorithm-specific models the checkpoints hold (NLPO's mask policy)."""
        return {}

    # -- modules ------------------------------------------------------------------------------------

    def trainable_modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.policy_model, self.value_head, self.critic) if m is not None]

    def checkpoint_modules(self) -> dict[str, torch.nn.Module]:
        """The models a checkpoint holds: the trained ones and any algorithm-specific one, never the frozen
        reference (every run rebuilds it from the base model). Under LoRA the policy entry holds the adapters only
        (see :meth:`trainable_weights`)."""
        modules: dict[str, torch.nn.Module] = {"policy": self.policy_model}
        if self.value_head is not None:
            modules["value_head"] = self.value_head
        if self.critic is not None:
            modules["critic"] = self.critic
        return {**modules, **self.extra_modules()}

    def trainable_weights(self, module: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The weights of ``module`` that train (all of them, or only a LoRA model's adapters)."""
        return {name: p.detach() for name, p in module.named_parameters() if p.requires_grad}

    def parameters(self) -> list[torch.nn.Parameter]:
        seen, params = set(), []
        for module in self.trainable_modules():
            for p in module.parameters():
                if id(p) not in seen and p.requires_grad:
                    seen.add(id(p))
                    params.append(p)
        return params

    def autocast(self):
        return autocast_for(self.device, self.config.bf16)

    @property
    def low_precision(self) -> bool:
        """Whether the forwards run in bf16 (autocast on CUDA with ``bf16``, or ``bf16_weights``): then the KV-cached
        decoding drifts from a full forward by more than float rounding, and the update recomputes the old policy."""
        return (self.device.type == "cuda" and self.config.bf16) or self.config.bf16_weights

    def whiten(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Whiten over the tokens of every rank's batch (one process: this batch's)."""
        return global_masked_whiten(values, mask, self.dist) if self.dist.enabled else masked_whiten(values, mask)

    @property
    def per_token_rewards(self) -> bool:
        """Whether the rewards carry per-token information: dense, or redistributed by ``credit``; ``False`` for the
        env's sparse reward (only the final score). GRPO and RLOO choose their advantage by it."""
        return not (self.run.reward_mode == "sparse" and self.config.credit == "env")

    @property
    def env_steps(self) -> int:
        return self._env_steps

    def restore_env_steps(self, env_steps: int) -> None:
        self._env_steps = env_steps

    # -- rollout ------------------------------------------------------------------------------------

    def round_prompts(self) -> np.ndarray | None:
        """Prompt indices for a round: ``None`` (the env draws one per row) or, for group agents,
        ``num_envs / group_size`` draws from the env's generator, each repeated ``group_size`` times."""
        group_size = getattr(self.config, "group_size", None)
        if group_size is None:
            return None
        draws = self.env.np_random.integers(len(self.env.setup.prompts), size=self.env.num_envs // group_size)
        return np.repeat(draws, group_size)

    def sampling_mask(self) -> dict[str, Any]:
        """Extra :func:`~textgym_agents.lm.rollout.collect_rollout` arguments that restrict sampling (NLPO)."""
        return {}

    def assign_credit(self, rollout: Rollout) -> Rollout:
        """The rollout with its per-token rewards as ``config.credit`` says (called before the env is reset)."""
        if self.config.credit == "env":
            return rollout
        if rollout.context_mask is not None and self.config.credit == "attention":
            raise ValueError("credit='attention' reads a single-turn continuation; on a multi-turn env (user tokens "
                             "between the agent's) use credit='env' or 'uniform'")
        rewards = credited_rewards(self.config.credit, self.env, rollout.env_rewards, rollout.response_ids,
                                   rollout.response_mask)
        return dataclasses.replace(rollout, env_rewards=rewards)

    def all_ended(self, ended: torch.Tensor) -> bool:
        """Whether the round is over: every row here ended (under FSDP2 every rank's, since each decoding step is a
        collective that all ranks must join)."""
        if self.config.fsdp:
            return bool(self.dist.all_reduce_sum((~ended).sum()).item() == 0)
        return bool(ended.all())

    def collect(self) -> Rollout:
        """``rollout_rounds`` rounds of ``num_envs`` episodes; counts the env steps (over all ranks)."""
        parts = []
        with self.autocast():
            for _ in range(self.config.rollout_rounds):
                part = collect_rollout(
                    self.env,
                    self.policy_model,
                    self.config,
                    self.sample_generator,
                    self.bos_token_id,
                    self.vocab_size,
                    value_head=self.value_head if self.critic is None else None,
                    prompt_index=self.round_prompts(),
                    all_ended=self.all_ended,
                    **self.sampling_mask(),
                )
                parts.append(self.assign_credit(part))
        rollout = Rollout.concatenate(parts)
        self._env_steps += int(self.dist.all_reduce_sum(rollout.live_steps.clone()).item())
        return rollout

    # -- scoring the rollout ------------------------------------------------------------------------

    def critic_values(self, rollout: Rollout) -> torch.Tensor:
        """The separate critic's values of the rollout's states."""
        _, hidden = forward_responses(
            self.parallel.forward_module(self.critic),
            rollout.prompt_ids,
            rollout.prompt_mask,
            rollout.response_ids,
            rollout.attention_mask,
            want_hidden=True,
            want_logits=False,
        )
        return self.values_from(hidden)

    def values_from(self, hidden: torch.Tensor) -> torch.Tensor:
        """The value head on last hidden states (through its data-parallel wrapper; fp32 out)."""
        return (
            self.parallel.forward_module(self.value_head)(hidden.to(self.value_head.weight.dtype)).squeeze(-1).float()
        )

    def evaluate_tokens(
        self, rollout: Rollout, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Current ``log pi``, entropy and values (``None`` without a value head) of the rollout's tokens."""
        shared_values = self.value_head is not None and self.critic is None
        logits, hidden = forward_responses(self.parallel.forward_module(self.policy_model), rollout.prompt_ids,
                                           rollout.prompt_mask, rollout.response_ids, rollout.attention_mask,
                                           want_hidden=shared_values)
        logprobs, entropy = token_logprobs(
            logits,
            rollout.response_ids,
            self.config.temperature,
            self.vocab_size,
            with_entropy,
            entropy_grad=self.entropy_grad(),
            blocked=rollout.blocked,
        )
        if self.value_head is None:
            values = None
        else:
            values = self.values_from(hidden) if shared_values else self.critic_values(rollout)
        return logprobs, entropy, values

    @property
    def uses_reference(self) -> bool:
        """Whether the updates need the reference's log-probabilities: not when ``kl_coef=0`` (fixed, or adaptive,
        whose controller only ever multiplies it: it stays 0), where the KL term is 0 whatever they are; then no
        frozen copy is built, no reference forward runs, and the KL statistics (``train/kl``, GRPO's
        ``train/kl_loss``) are left out of the training scalars (not measured)."""
        return not (self.config.kl_coef == 0
                    and isinstance(self.kl_controller, FixedKLController | AdaptiveKLController))

    def reference_logprobs(self, rollout: Rollout) -> torch.Tensor | None:
        """``log pi_ref`` of the rollout's tokens (call under ``no_grad`` and :meth:`autocast`); under LoRA, the
        policy with its adapters disabled; ``None`` without :attr:`uses_reference`."""
        if not self.uses_reference:
            return None
        if self.reference is None:
            with self.policy_model.disable_adapter():
                return reference_logprobs(self.parallel.forward_module(self.policy_model), rollout,
                                          self.config.temperature, self.vocab_size)
        return reference_logprobs(self.reference, rollout, self.config.temperature, self.vocab_size)

    def old_and_reference_logprobs(self, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor | None]:
        """For agents without a value function: the sampling policy's ``log pi`` of the rollout's tokens (recorded
        while decoding; recomputed by one full forward in low precision, see :attr:`low_precision`) and
        ``log pi_ref`` (``None`` without :attr:`uses_reference`)."""
        old_logprobs = rollout.sample_logprobs
        with torch.no_grad(), self.autocast():
            if self.low_precision:
                old_logprobs = self.evaluate_tokens(rollout, with_entropy=False)[0]
            return old_logprobs, self.reference_logprobs(rollout)

    @contextlib.contextmanager
    def update_mode(self):
        """The policy in ``train()`` mode while gradients flow, where gradient checkpointing is on (dropout is 0)."""
        if not self.config.gradient_checkpointing:
            yield
            return
        self.policy_model.train()
        try:
            yield
        finally:
            self.policy_model.eval()

    # -- the update's minibatch loop ----------------------------------------------------------------

    def minibatch_passes(self, rollout: Rollout, per_token: dict[str, torch.Tensor], passes: int,
                         loss: Callable[[Rollout, dict[str, torch.Tensor]], LossTerms], num_stats: int,
                         stop_after_pass: Callable[[torch.Tensor], bool] | None = None,
                         ) -> tuple[torch.Tensor, int, torch.Tensor]:
        """``passes`` shuffled passes over the episodes in ``num_minibatches`` minibatches, one optimizer step each.

        Each minibatch is split into ``gradient_accumulation_steps`` micro-batches, trimmed to
        their longest prompt and response; ``loss(part, batch)`` gets a micro-batch and the
        matching slices of ``per_token``. The loss is the token mean over the minibatch (the
        micro-batches' sums add up to it). ``stop_after_pass(stats)`` (the pass's minibatch
        statistics, ``[minibatches, num_stats]``) may end the passes early. Returns the mean of
        every minibatch's statistics, the passes done, and the largest difference between the
        current and the rollout's log-probabilities before the first step.

        Data parallel: each rank's minibatch ``i`` is its part of the global minibatch ``i``; its
        loss is divided by the global minibatch's token count (and multiplied by the world size,
        since DDP averages the gradients), so ``world_size`` ranks with ``B`` episodes each make
        the update one process makes with ``world_size * B`` (``tests/test_data_parallel.py``).
        """
        c = self.config
        fmask = rollout.response_mask.float()
        episodes = fmask.shape[0]
        params = self.parameters()
        minibatch_stats: list[torch.Tensor] = []  # per minibatch: token means of the statistics
        rollout_mismatch = torch.zeros((), device=self.device)  # max |log pi - rollout's log pi| before the first step
        passes_done = 0
        for _ in range(passes):
            order = torch.randperm(episodes, generator=self.shuffle_generator).to(self.device)
            pass_stats = []
            for minibatch in order.tensor_split(c.num_minibatches):
                # the token count of this minibatch over every rank: the loss is the token mean of the global minibatch
                tokens_in_minibatch = self.dist.all_reduce_sum(fmask[minibatch].sum()).clamp(min=1)
                totals = torch.zeros(num_stats, device=self.device)
                self.optimizer.zero_grad(set_to_none=True)
                micros = minibatch.tensor_split(c.gradient_accumulation_steps)
                for index, micro in enumerate(micros):
                    part = rollout.episodes(micro)  # trimmed to these episodes' longest prompt and response
                    width = part.response_ids.shape[1]
                    batch = {name: x[micro, :width] for name, x in per_token.items()}
                    m = part.response_mask.float()
                    with self.update_mode(), self.parallel.sync_gradients(index == len(micros) - 1):
                        terms = loss(part, batch)
                        # summed over tokens / the minibatch's token count: micro-batches add up to the minibatch mean
                        micro_loss = (terms.loss * m).sum() / tokens_in_minibatch
                        if self.dist.enabled:  # DDP averages the ranks' gradients; their sum is the global mean's
                            micro_loss = micro_loss * self.dist.world_size
                        micro_loss.backward()
                    with torch.no_grad():
                        if not minibatch_stats and not pass_stats:  # no step yet: the policy is the rollout's
                            drift = (
                                terms.logprobs - part.sample_logprobs
                            ).abs()  # (under bf16 the old log-probs are not the rollout's)
                            rollout_mismatch = torch.maximum(rollout_mismatch, (drift * m).max())
                        totals += torch.stack([(x * m).sum() for x in terms.stats]) / tokens_in_minibatch
                torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm)
                self.optimizer.step()
                pass_stats.append(totals)
            minibatch_stats.extend(pass_stats)
            passes_done += 1
            if stop_after_pass is not None and stop_after_pass(torch.stack(pass_stats)):
                break
        means = torch.stack(minibatch_stats).mean(0)
        return self.dist.all_reduce_sum(means), passes_done, rollout_mismatch  # each rank's share of the global means

    # -- training loop and evaluation ---------------------------------------------------------------

    def learn(self, env_steps: int) -> dict[str, float]:
        target = self._env_steps + env_steps
        self.greedy_decoder = None  # the weights change: the evaluation's KV cache starts afresh
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
            self.rank_states = self.dist.all_gather_object(self.random_streams().state())
            self.gather_whole_state()
            if not self.config.fsdp:
                self.last_fingerprint = check_replicas_identical(self.dist, self.trainable_modules())
        return scalars

    def policy(self, observation, vector_env) -> torch.Tensor:
        """Greedy next tokens for a batch of observations, decoded with a KV cache over each batch of episodes
        (:class:`~textgym_agents.lm.rollout.GreedyDecoder`: the tokens of a full forward over each observation); under
        FSDP2, of rank 0's CPU copy of the policy gathered at the end of the last ``learn``."""
        if self.greedy_decoder is None:
            self.greedy_decoder = GreedyDecoder()
        if self.config.fsdp:
            tokens = self.greedy_decoder(self.parallel.evaluation_policy, observation,
                                         vector_env.tokenizer.pad_token_id, self.bos_token_id, self.vocab_size,
                                         torch.device("cpu"), vector_env=vector_env)
            return tokens.to(self.device)
        with self.autocast():
            return self.greedy_decoder(self.policy_model, observation, vector_env.tokenizer.pad_token_id,
                                       self.bos_token_id, self.vocab_size, self.device, vector_env=vector_env,
                                       **self.sampling_mask())

    def full_forward_policy(self, observation, vector_env) -> torch.Tensor:
        """:meth:`policy` without the KV cache: a full forward over each observation (for comparisons)."""
        if self.config.fsdp:
            tokens = greedy_tokens(self.parallel.evaluation_policy, observation, vector_env.tokenizer.pad_token_id,
                                   self.bos_token_id, self.vocab_size, torch.device("cpu"))
            return tokens.to(self.device)
        with self.autocast():
            return greedy_tokens(self.policy_model, observation, vector_env.tokenizer.pad_token_id, self.bos_token_id,
                                 self.vocab_size, self.device, **self.sampling_mask())

    # -- checkpoints and export (the files: textgym_agents.lm.state) ----------------------------------------

    def random_streams(self) -> state.RandomStreams:
        """This rank's random streams: the sampling and shuffling generators and the env's ``np_random``."""
        return state.RandomStreams(self.sample_generator, self.shuffle_generator, self.env.np_random)

    def checkpoint_owner(self) -> state.CheckpointOwner:
        return state.CheckpointOwner(self.name, self.config.lora, self.dist.world_size, self.dist.rank)

    def gather_whole_state(self) -> None:
        """Under FSDP2 (on every rank): gather rank 0's whole copies of the weights and optimizer state, which its
        evaluation, checkpoints and export read (:meth:`DataParallel.gather`); nothing otherwise."""
        if self.config.fsdp:  # (NLPO's mask policy, among the checkpoint modules, does not exist yet at __init__)
            self.parallel.gather(self.checkpoint_modules(), self.optimizer, self.trained_container,
                                 self.lora_names if self.config.lora else None)

    def checkpoint_weights(self) -> dict[str, Any]:
        """What a checkpoint stores per model: the module, or under LoRA the policy's trainable weights only
        (under FSDP2 the whole tensors gathered at the end of the last ``learn``)."""
        if self.parallel.gathered is not None:
            return self.parallel.gathered.weights
        return {key: self.trainable_weights(module) if key == "policy" and self.config.lora else module
                for key, module in self.checkpoint_modules().items()}

    def save(self, folder: Path) -> Path:
        """Export the policy into ``folder``'s parent (the run folder), then write a checkpoint into ``folder``.

        The export comes first: ``DIR/policy`` is never older than the newest checkpoint, and a run
        resumed from a checkpoint redoes, and so rewrites, anything exported after it.
        """
        self.export_policy(Path(folder).parent)
        gathered = self.parallel.gathered
        rank_states = self.rank_states if self.dist.enabled and self.rank_states is not None \
            else [self.random_streams().state()]
        return state.save(
            folder, self.checkpoint_owner(), state.Progress(self.updates, self.kl_controller.value, self.env_steps),
            self.checkpoint_weights(), gathered.optimizer if gathered is not None else self.optimizer.state_dict(),
            rank_states, self.config, self.base_model,
        )

    def load(self, checkpoint: LoadedCheckpoint) -> None:
        """Restore what :meth:`save` wrote; a checkpoint of another agent or world size is a clear error."""
        progress = state.load(checkpoint, self.checkpoint_owner(), self.checkpoint_modules(), self.random_streams(),
                              self.optimizer, self.trained_container, self.parallel)
        self.kl_controller.value = progress.kl_coef
        self.updates = progress.updates
        self.restore_env_steps(progress.env_steps)
        self.greedy_decoder = None
        self.gather_whole_state()

    def export_tokenizer(self) -> Any:
        """The tokenizer saved with the policy: the model's Hugging Face tokenizer, else one built from the env's
        (once)."""
        if self.hf_tokenizer is None:
            self.hf_tokenizer = state.export_tokenizer(self.env.tokenizer, self.policy_model.config)
        return self.hf_tokenizer

    def export_policy(self, folder: Path) -> Path:
        """Write the policy to ``folder/policy`` (and the value head beside it): see :mod:`textgym_agents.lm.state`.
        Under FSDP2, rank 0's copy gathered at the end of the last ``learn``."""
        gathered = self.parallel.gathered
        tokenizer = self.export_tokenizer()
        model = self.parallel.evaluation_policy if gathered is not None else self.policy_model
        value_head = None
        if self.value_head is not None:
            value_head = state.ValueHeadExport(
                weights=gathered.weights["value_head"] if gathered is not None else self.value_head.state_dict(),
                in_features=self.value_head.in_features,
                out_features=self.value_head.out_features,
                reads="critic" if self.critic is not None else "policy",
                env_steps=self.env_steps,
            )
        return state.export_policy(folder, model, tokenizer, self.config.lora_export if self.config.lora else None,
                                   value_head)

    def close(self) -> None:
        self.env.close()
        if self.config.fsdp:  # the sharded modules and their optimizer hold the process group: free them before it
            self.policy_model = self.reference = self.critic = self.value_head = None
            self.trained_container = self.optimizer = None
        self.parallel.close()


def summary_scalars(tensors: dict[str, torch.Tensor], numbers: dict[str, float]) -> dict[str, float]:
    """One device-to-host copy for all of an update's tensor statistics, then the plain numbers."""
    scalars = dict(zip(tensors, torch.stack([v.float().reshape(()) for v in tensors.values()]).tolist()))
    scalars.update(numbers)
    return scalars
