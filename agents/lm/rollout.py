"""The LM agents' rollout: KV-cached lock-step decoding on the batched env, and scoring a rollout's tokens.

:func:`collect_rollout` resets every row of a :class:`~textgym.envs.vector.TextGenVectorEnv`
(``autoreset_mode="Disabled"``) and decodes one episode per row in lock step with a KV
cache: the right-padded prompts of the observation become a left-padded batch (with
``position_ids`` from the attention mask), prefilled once; each step feeds only the new
token. Rows that end are frozen by the environment; the round stops when every row has
ended. The log-probability of each sampled token (and, with a value head, the value of
each state) is recorded while decoding.

Multi-turn envs (an observation with ``agent_mask``, as ``textgym/Conversation-v0``) append the
other speaker's tokens to a row's observation after some of the agent's tokens: each step then
feeds the decoder the agent's token followed by the user tokens the env appended (rows differ in
how many: a left-padded chunk whose padding is masked out of attention), so the cache holds the
whole conversation. The rollout's response columns hold both speakers' tokens; only the agent's
are actions (see :class:`Rollout`).

:func:`forward_responses` and :func:`token_logprobs` score a finished rollout with one full
forward (the update's current policy, the reference, a critic).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from textgym.models.kv_cache import cache_keyword, output_cache
from textgym_agents.lm.models import left_pad, position_ids_from


class SamplingSettings(Protocol):
    """What :func:`collect_rollout` reads from an agent's config."""

    temperature: float
    top_k: int
    top_p: float


def nucleus_mask(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """``True`` for the tokens outside the top-``top_p`` nucleus of ``logits`` (a token is kept
    while the probability mass before it is below ``top_p``; the likeliest token is always kept)."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    sorted_probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = sorted_probs.cumsum(-1) - sorted_probs
    remove = mass_before >= top_p
    return remove.scatter(-1, order, remove)


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
        filtered = filtered.masked_fill(nucleus_mask(filtered, top_p), float("-inf"))
    # inverse-CDF sampling: one uniform number per row (torch.multinomial is ~20x slower on the CPU)
    cdf = torch.softmax(filtered, dim=-1, dtype=torch.float64).cumsum(-1)
    uniform = torch.rand((logits.shape[0], 1), generator=generator, device=logits.device, dtype=torch.float64)
    tokens = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True).squeeze(1).clamp(max=logits.shape[-1] - 1)
    return tokens, logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)


@dataclass
class Rollout:
    """One update's episodes (``B`` rows, horizon ``H``), all tensors on the device.

    ``response_mask[b, t]`` is True where token ``t`` of episode ``b`` was a real transition
    (the agent's action while the episode was still running); rewards after an episode's end
    are 0. ``blocked`` (NLPO only) marks, per state, the tokens outside the mask policy's nucleus.

    On a multi-turn env the response columns also hold the other speaker's tokens, which are
    context, not actions: ``context_mask`` is True at every real token (the agent's and the
    user's), ``response_mask`` at the agent's only; rewards, log-probabilities, values and
    ``blocked`` live on the agent's columns (0 elsewhere). Single-turn rollouts have no
    ``context_mask`` (``None``: every real token is an action). Either way the real tokens of
    a row are a prefix of its columns, and :attr:`attention_mask` is what a forward attends to.
    """

    prompt_ids: torch.Tensor  # [B, P] left-padded prompts (with BOS when configured)
    prompt_mask: torch.Tensor  # [B, P]
    response_ids: torch.Tensor  # [B, H] sampled tokens
    response_mask: torch.Tensor  # [B, H] bool
    env_rewards: torch.Tensor  # [B, H] float32
    sample_logprobs: torch.Tensor  # [B, H] log pi(token) computed while decoding (KV cache)
    values: torch.Tensor  # [B, H] value of the state before each token, while decoding (0 without a value head)
    blocked: torch.Tensor | None = None  # [B, H, V] bool: tokens the sampling policy could not choose
    context_mask: torch.Tensor | None = None  # [B, H] bool: every real token, the agent's and the user's (multi-turn)

    @property
    def attention_mask(self) -> torch.Tensor:
        """``[B, H]`` the response tokens a forward attends to: :attr:`context_mask`, else :attr:`response_mask`."""
        return self.response_mask if self.context_mask is None else self.context_mask

    @property
    def live_steps(self) -> torch.Tensor:
        """The number of the agent's actions (env steps) in the rollout."""
        return self.response_mask.sum()

    def episodes(self, rows: torch.Tensor | slice) -> Rollout:
        """The episodes ``rows``, without the columns that are padding in every one of them.

        Prompts are left-padded and responses right-padded, so the prompt columns before the
        longest prompt and the response columns after the longest episode are dropped (at
        least one of each is kept). Attention never sees padding: the remaining tokens score
        the same, and a forward over fewer columns costs less.
        """
        prompt_mask, attention_mask = self.prompt_mask[rows], self.attention_mask[rows]
        prompt_width = max(1, int(prompt_mask.sum(1).max().item()))
        response_width = max(1, int(attention_mask.sum(1).max().item()))
        per_token = [getattr(self, f.name) for f in dataclasses.fields(Rollout)[2:]]
        return Rollout(
            self.prompt_ids[rows][:, -prompt_width:], prompt_mask[:, -prompt_width:],
            *(None if x is None else x[rows][:, :response_width] for x in per_token),
        )

    @staticmethod
    def concatenate(parts: list[Rollout]) -> Rollout:
        if len(parts) == 1:
            return parts[0]
        return Rollout(*[None if getattr(parts[0], f.name) is None else torch.cat([getattr(p, f.name) for p in parts])
                         for f in dataclasses.fields(Rollout)])


@torch.no_grad()
def collect_rollout(
    env,
    model: torch.nn.Module,
    config: SamplingSettings,
    generator: torch.Generator | None,
    bos_token_id: int | None,
    vocab_size: int,
    use_kv_cache: bool = True,
    logits_processor: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    value_head: torch.nn.Module | None = None,
    prompt_index: Any = None,
    mask_model: torch.nn.Module | None = None,
    mask_top_p: float = 1.0,
    all_ended: Callable[[torch.Tensor], bool] | None = None,
) -> Rollout:
    """Reset every row of ``env`` and decode one episode per row in lock step.

    With ``use_kv_cache`` (the default) the prompts are prefilled once and each step feeds
    only the new token; without it every step re-encodes the whole prefix (for comparison
    in benchmarks). ``logits_processor(logits, step)`` may edit the logits before sampling
    (benchmarks use it to suppress EOS). With ``value_head``, the value of each state (the
    head on the model's last hidden state) is recorded too. ``prompt_index`` (one per row)
    chooses the prompts instead of the env's own draw (GRPO and RLOO sample groups of rows
    on one prompt). With ``mask_model`` (NLPO), a second model decodes in lock step with its
    own KV cache, and the policy may only choose tokens inside its top-``mask_top_p``
    nucleus: the log-probabilities are those of the policy renormalised over that set,
    and the blocked tokens are recorded in :attr:`Rollout.blocked`. ``all_ended(env.ended)``
    says when the round is over (by default: when every row ended; FSDP2 waits for every rank).
    """
    device = env.device
    n, horizon = env.num_envs, env.max_new_tokens
    options: dict[str, Any] = {"reset_mask": torch.ones(n, dtype=torch.bool, device=device)}
    if prompt_index is not None:
        options["prompt_index"] = prompt_index
    obs, _ = env.reset(options=options)
    width = env.setup.max_prompt_tokens + (bos_token_id is not None)
    prompt_ids, prompt_mask = left_pad(
        obs["input_ids"], obs["attention_mask"], width, env.tokenizer.pad_token_id, bos_token_id
    )
    conversation = "agent_mask" in obs  # a multi-turn env: it appends the user's tokens to the observation

    response_ids = torch.full((n, horizon), env.tokenizer.pad_token_id, dtype=torch.long, device=device)
    response_mask = torch.zeros((n, horizon), dtype=torch.bool, device=device)
    env_rewards = torch.zeros((n, horizon), dtype=torch.float32, device=device)
    sample_logprobs = torch.zeros((n, horizon), dtype=torch.float32, device=device)
    values = torch.zeros((n, horizon), dtype=torch.float32, device=device)
    blocked = torch.zeros((n, horizon, vocab_size), dtype=torch.bool, device=device) if mask_model is not None else None
    context_mask = torch.zeros((n, horizon), dtype=torch.bool, device=device) if conversation else None
    turns = ConversationColumns(env, obs) if conversation else None
    want_hidden = value_head is not None
    decoders = [Decoder(model, prompt_ids, prompt_mask, use_kv_cache, want_hidden)]
    if mask_model is not None:
        decoders.append(Decoder(mask_model, prompt_ids, prompt_mask, use_kv_cache, False))

    for t in range(horizon):
        logits = decoders[0].output.logits[:, -1, :vocab_size]
        if logits_processor is not None:
            logits = logits_processor(logits, t)
        outside = None
        if mask_model is not None:
            outside = nucleus_mask(
                decoders[1].output.logits[:, -1, :vocab_size].float() / config.temperature, mask_top_p
            )
            logits = logits.masked_fill(outside, float("-inf"))
        tokens, logprobs = sample_tokens(logits, config.temperature, config.top_k, config.top_p, generator)
        live = ~env.ended
        obs, rewards, _, _, _ = env.step(tokens)
        # the agent's token goes to column t (single-turn), or to each row's next free column (multi-turn)
        put = turns.writer() if turns is not None else ColumnWriter(t)
        put(response_ids, tokens)
        put(response_mask, live)
        put(env_rewards, torch.where(live, rewards.float(), 0.0))
        put(sample_logprobs, torch.where(live, logprobs, 0.0))
        if outside is not None:
            put(blocked, outside)
        if value_head is not None:
            hidden = decoders[0].output.hidden_states[-1][:, -1].to(value_head.weight.dtype)
            put(values, torch.where(live, value_head(hidden).squeeze(-1).float(), 0.0))
        chunk, chunk_mask = tokens, None
        if turns is not None:
            put(context_mask, live)
            chunk, chunk_mask = turns.append_user_tokens(obs, live, tokens, response_ids, context_mask)
        if t + 1 == horizon or (all_ended(env.ended) if all_ended is not None else bool(env.ended.all())):
            break
        for decoder in decoders:
            decoder.feed(chunk, chunk_mask)
    if blocked is not None:
        blocked &= response_mask.unsqueeze(-1)  # nothing is blocked after an episode's end
    return Rollout(prompt_ids, prompt_mask, response_ids, response_mask, env_rewards, sample_logprobs, values, blocked,
                   context_mask)


class ColumnWriter:
    """Writes one step's per-row values (``[B]`` or ``[B, V]``) into column ``t`` of a ``[B, H(, V)]`` buffer."""

    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self, buffer: torch.Tensor, values: torch.Tensor) -> None:
        buffer[:, self.t] = values


class RowColumnWriter:
    """Writes one step's per-row values into each row's own column ``columns[b]`` (rows whose ``skip`` is True keep
    what their column holds)."""

    def __init__(self, columns: torch.Tensor, skip: torch.Tensor) -> None:
        self.rows, self.columns, self.skip = torch.arange(len(columns), device=columns.device), columns, skip

    def __call__(self, buffer: torch.Tensor, values: torch.Tensor) -> None:
        skip = self.skip.view(-1, *([1] * (values.dim() - 1)))
        buffer[self.rows, self.columns] = torch.where(skip, buffer[self.rows, self.columns], values)


class ConversationColumns:
    """Where each row of a multi-turn rollout writes: the agent's token of a step goes to the row's next free response
    column, and the user tokens the env appended at that step (read from the observation) to the columns after it.

    Every row advances by one column per step (an ended row too, writing only into columns past its end, as a
    single-turn rollout does) plus its user tokens; an ended row past the last column writes nothing.
    """

    def __init__(self, env: Any, obs: dict[str, Any]) -> None:
        self.horizon, self.pad_token_id = env.max_new_tokens, env.tokenizer.pad_token_id
        self.lengths = obs["attention_mask"].sum(1)  # each row's observed tokens (prompt and conversation so far)
        self.columns = torch.zeros_like(self.lengths)  # each row's next free response column

    def writer(self) -> RowColumnWriter:
        """The writer of this step's agent tokens (before :meth:`append_user_tokens`)."""
        return RowColumnWriter(self.columns.clamp(max=self.horizon - 1), self.columns >= self.horizon)

    def append_user_tokens(self, obs: dict[str, Any], live: torch.Tensor, tokens: torch.Tensor,
                           response_ids: torch.Tensor, context_mask: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Copy the user tokens each live row's observation gained after the agent's token into the response columns
        after it; return what the decoders take next: the step's new tokens per row, ``[B]`` (no user tokens) or a
        left-padded chunk ``[B, 1 + k]`` (the agent's token, then the user's) with its attention mask."""
        ids, mask = obs["input_ids"], obs["attention_mask"]
        new_lengths = mask.sum(1)
        counts = torch.where(live, new_lengths - self.lengths - 1, 0)  # user tokens after the agent's
        at = self.lengths.clamp(max=ids.shape[1] - 1).unsqueeze(1)
        agent_token_seen = (obs["agent_mask"].gather(1, at).squeeze(1) == 1) & (ids.gather(1, at).squeeze(1) == tokens)
        bad = live & ((counts < 0) | ~agent_token_seen | (self.columns + 1 + counts > self.horizon))
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"multi-turn rollout: after step(), row {row}'s observation does not continue as the conversation "
                f"contract says (its previous {int(self.lengths[row])} tokens, then the agent's token "
                f"{int(tokens[row])} marked in agent_mask, then the user's tokens, all within "
                f"max_new_tokens={self.horizon} after the prompt): it has {int(new_lengths[row])} tokens, the "
                f"rollout's response so far {int(self.columns[row])} columns"
            )
        width = int(counts.max())
        chunk, chunk_mask = tokens, None
        if width > 0:
            offsets = torch.arange(width, device=ids.device).unsqueeze(0)
            valid = offsets < counts.unsqueeze(1)
            where = (self.lengths.unsqueeze(1) + 1 + offsets).clamp(max=ids.shape[1] - 1)
            user = torch.where(valid, ids.gather(1, where), self.pad_token_id)
            rows, k = valid.nonzero(as_tuple=True)
            response_ids[rows, self.columns[rows] + 1 + k] = user[rows, k]
            context_mask[rows, self.columns[rows] + 1 + k] = True
            right_padded = torch.cat([tokens.unsqueeze(1), user], dim=1)
            right_mask = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1).long()
            chunk, chunk_mask = left_pad(right_padded, right_mask, width + 1, self.pad_token_id, None)
        self.lengths = new_lengths
        self.columns = self.columns + 1 + counts
        return chunk, chunk_mask


class Decoder:
    """One model decoding a left-padded batch token by token (with a KV cache, or re-encoding the prefix)."""

    def __init__(self, model: torch.nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, use_kv_cache: bool,
                 want_hidden: bool) -> None:
        self.model, self.use_kv_cache, self.want_hidden = model, use_kv_cache, want_hidden
        self.cache_arg = cache_keyword(model)
        self.ids, self.mask = prompt_ids, prompt_mask
        self.output = model(
            input_ids=prompt_ids,
            attention_mask=prompt_mask,
            position_ids=position_ids_from(prompt_mask),
            use_cache=use_kv_cache,
            logits_to_keep=1,
            output_hidden_states=want_hidden,
        )
        self.cache = output_cache(self.output) if use_kv_cache else None
        self.next_position = prompt_mask.sum(1, keepdim=True)  # position of the next token, per row

    def feed(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Feed each row's new tokens: one token per row (``tokens`` ``[B]``), or a left-padded chunk (``tokens``
        ``[B, k]`` with its ``mask``: the padding is masked out of attention, each row's last column is real)."""
        chunk = tokens.unsqueeze(1) if tokens.dim() == 1 else tokens
        mask = torch.ones_like(self.mask[:, :chunk.shape[1]]) if mask is None else mask.to(self.mask.dtype)
        self.mask = torch.cat([self.mask, mask], dim=1)
        if self.use_kv_cache:
            self.output = self.model(
                input_ids=chunk,
                attention_mask=self.mask,
                position_ids=self.next_position + (mask.cumsum(1) - 1).clamp(min=0),
                use_cache=True,
                logits_to_keep=1,
                output_hidden_states=self.want_hidden,
                **{self.cache_arg: self.cache},
            )
            self.cache = output_cache(self.output)
        else:
            self.ids = torch.cat([self.ids, chunk], dim=1)
            self.output = self.model(
                input_ids=self.ids,
                attention_mask=self.mask,
                position_ids=position_ids_from(self.mask),
                use_cache=False,
                logits_to_keep=1,
                output_hidden_states=self.want_hidden,
            )
        self.next_position = self.next_position + mask.sum(1, keepdim=True)


@torch.no_grad()
def greedy_tokens(model: torch.nn.Module, observation: dict[str, Any], pad_token_id: int, bos_token_id: int | None,
                  vocab_size: int, device: torch.device, mask_model: torch.nn.Module | None = None,
                  mask_top_p: float = 1.0) -> torch.Tensor:
    """The argmax next token for each row of a (right-padded, numpy or torch) observation batch
    (with ``mask_model``: the argmax over that model's top-``mask_top_p`` nucleus, NLPO's policy)."""
    input_ids = torch.as_tensor(observation["input_ids"], device=device)
    attention_mask = torch.as_tensor(observation["attention_mask"], device=device)
    width = input_ids.shape[1] + (bos_token_id is not None)
    ids, mask = left_pad(input_ids, attention_mask, width, pad_token_id, bos_token_id)

    def last_logits(m: torch.nn.Module) -> torch.Tensor:
        return m(input_ids=ids, attention_mask=mask, position_ids=position_ids_from(mask), use_cache=False,
                 logits_to_keep=1).logits[:, -1, :vocab_size]

    logits = last_logits(model)
    if mask_model is not None:
        logits = logits.masked_fill(nucleus_mask(last_logits(mask_model).float(), mask_top_p), float("-inf"))
    return logits.argmax(-1)


def _cache_layers(cache: Any) -> list[Any] | None:
    """The layers of a key/value cache whose ``keys`` and ``values`` tensors (``[B, heads, L, d]``) can be edited per
    row (a ``DynamicCache``); ``None`` for a cache of another kind."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(isinstance(getattr(x, "keys", None), torch.Tensor) and isinstance(
            getattr(x, "values", None), torch.Tensor) for x in layers):
        return None
    return list(layers)


class GreedyDecoder:
    """Greedy next tokens for a batch of observations, decoded with a KV cache across the calls of one episode batch.

    It is :func:`greedy_tokens` (the same tokens), but the prompts are prefilled once and each
    later call feeds only the tokens each row appended. Which rows continue is read from the
    observations themselves (right-padded, as the env gives them), compared with the previous
    call's: a row whose observation is the previous one plus the token returned for it (and,
    on a multi-turn env, the user's tokens the env appended after it) *continues* (one cached
    step, the new tokens fed as a left-padded chunk); a row whose observation did not change (an ended row,
    frozen by the env) gets its previous token again; any other row (a reset or autoreset
    row, a row stepped with another action) is re-encoded from its observation and spliced
    into the cache. When no row continues (a new batch of prompts: every row of the env at
    ``num_generated == 0``, another batch shape) the whole batch is prefilled afresh.
    :meth:`reset` drops the cache (call it whenever the weights change).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the cached batch: the next call prefills every row."""
        self.models: tuple[torch.nn.Module, ...] = ()
        self.caches: list[Any] = []
        self.ids: torch.Tensor | None = None  # [B, W] the previous call's observation (right-padded)
        self.obs_mask: torch.Tensor | None = None  # [B, W]
        self.mask: torch.Tensor | None = None  # [B, L] the cache's attention mask (left-padded columns)
        self.next_position: torch.Tensor | None = None  # [B, 1]
        self.logits: torch.Tensor | None = None  # [B, V] the (masked) next-token logits of the previous call
        self.tokens: torch.Tensor | None = None  # [B] the tokens returned by the previous call
        self.prefills = 0  # whole-batch prefills
        self.splices = 0  # rows re-encoded into the cache

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, observation: dict[str, Any], pad_token_id: int,
                 bos_token_id: int | None, vocab_size: int, device: torch.device,
                 mask_model: torch.nn.Module | None = None, mask_top_p: float = 1.0,
                 vector_env: Any = None) -> torch.Tensor:
        """The argmax next token of each row (see :func:`greedy_tokens` for the arguments); ``vector_env`` (optional)
        is asked for ``num_generated``: all zero means a new batch of episodes."""
        ids = torch.as_tensor(observation["input_ids"], device=device).long()
        obs_mask = torch.as_tensor(observation["attention_mask"], device=device).long()
        ids = torch.where(obs_mask.bool(), ids, pad_token_id)
        models = (model,) if mask_model is None else (model, mask_model)
        self.settings = (pad_token_id, bos_token_id, vocab_size, mask_top_p)
        fresh = (self.ids is None or self.ids.shape != ids.shape or self.ids.device != ids.device
                 or len(models) != len(self.models) or any(a is not b for a, b in zip(models, self.models))
                 or self.mask.shape[1] >= 2 * (ids.shape[1] + 1 + (bos_token_id is not None)))
        if not fresh and vector_env is not None and hasattr(vector_env, "num_generated"):
            fresh = bool((torch.as_tensor(vector_env.num_generated) == 0).all())
        if not fresh:
            lengths, new_lengths = self.obs_mask.sum(1), obs_mask.sum(1)
            at = lengths.clamp(max=ids.shape[1] - 1).unsqueeze(1)
            positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
            # the previous observation, then the token returned for the row, then (multi-turn) any other new tokens
            continues = ((new_lengths > lengths) & ((ids == self.ids) | ~self.obs_mask.bool()).all(1)
                         & (obs_mask == (positions < new_lengths.unsqueeze(1))).all(1)
                         & (ids.gather(1, at).squeeze(1) == self.tokens))
            frozen = ~continues & (ids == self.ids).all(1) & (obs_mask == self.obs_mask).all(1)
            fresh = not bool(continues.any())  # no row continues: prefill them all
        if fresh:
            self._prefill(models, ids, obs_mask)
        else:
            # one cached step: continuing rows attend to their new tokens (the token returned for them and, on a
            # multi-turn env, the user's after it; a left-padded chunk), the others get masked columns
            grown = torch.where(continues, new_lengths - lengths, 0)
            width = int(grown.max())
            offsets = torch.arange(width, device=ids.device).unsqueeze(0)
            new_ids = ids.gather(1, (lengths.unsqueeze(1) + offsets).clamp(max=ids.shape[1] - 1))
            fed, chunk_mask = left_pad(new_ids, (offsets < grown.unsqueeze(1)).long(), width, pad_token_id, None)
            self.mask = torch.cat([self.mask, chunk_mask], dim=1)
            chunk_positions = self.next_position + (chunk_mask.cumsum(1) - 1).clamp(min=0)
            outputs = [self._forward(m, fed, self.mask, chunk_positions, cache) for m, cache in
                       zip(models, self.caches)]
            self.caches = [output_cache(o) for o in outputs]
            self.next_position = self.next_position + chunk_mask.sum(1, keepdim=True)
            self.logits = torch.where(continues.unsqueeze(1), self._logits(outputs), self.logits)
            redo = ~continues & ~frozen
            if redo.any() and not self._splice(redo.nonzero().squeeze(1), ids, obs_mask):
                self._prefill(models, ids, obs_mask)  # a cache whose rows cannot be replaced: start afresh
        self.ids, self.obs_mask = ids, obs_mask
        self.tokens = self.logits.argmax(-1)
        return self.tokens

    def _forward(self, model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 cache: Any = None) -> Any:
        extra = {} if cache is None else {cache_keyword(model): cache}
        return model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1,
                     **extra)

    def _logits(self, outputs: list[Any]) -> torch.Tensor:
        vocab_size, mask_top_p = self.settings[2], self.settings[3]
        logits = outputs[0].logits[:, -1, :vocab_size]
        if len(outputs) > 1:
            outside = nucleus_mask(outputs[1].logits[:, -1, :vocab_size].float(), mask_top_p)
            logits = logits.masked_fill(outside, float("-inf"))
        return logits

    def _prefill(self, models: tuple[torch.nn.Module, ...], ids: torch.Tensor, obs_mask: torch.Tensor) -> None:
        """Encode every row from its observation: a new cache."""
        pad_token_id, bos_token_id = self.settings[0], self.settings[1]
        self.models, self.prefills = models, self.prefills + 1
        # as wide as the longest row (the observations' right padding is not encoded)
        width = max(1, int(obs_mask.sum(1).max())) + (bos_token_id is not None)
        left_ids, self.mask = left_pad(ids, obs_mask, width, pad_token_id, bos_token_id)
        outputs = [self._forward(m, left_ids, self.mask, position_ids_from(self.mask)) for m in models]
        self.caches = [output_cache(o) for o in outputs]
        self.next_position = self.mask.sum(1, keepdim=True)
        self.logits = self._logits(outputs)

    def _splice(self, rows: torch.Tensor, ids: torch.Tensor, obs_mask: torch.Tensor) -> bool:
        """Re-encode ``rows`` from their observations, left-padded to the cache's width, into the cache; ``False``
        (nothing changed) for a cache whose rows cannot be replaced (no per-layer ``keys``/``values`` tensors of the
        mask's length, as a sliding-window cache)."""
        pad_token_id, bos_token_id = self.settings[0], self.settings[1]
        if any(_cache_layers(cache) is None for cache in self.caches):
            return False
        needed = int(obs_mask[rows].sum(1).max()) + (bos_token_id is not None)
        if needed > self.mask.shape[1]:  # a row longer than the cache: widen every row's cache with masked columns
            extra = needed - self.mask.shape[1]
            for cache in self.caches:
                for layer in _cache_layers(cache):
                    shape = (*layer.keys.shape[:-2], extra, layer.keys.shape[-1])
                    layer.keys = torch.cat([layer.keys.new_zeros(shape), layer.keys], dim=-2)
                    shape = (*layer.values.shape[:-2], extra, layer.values.shape[-1])
                    layer.values = torch.cat([layer.values.new_zeros(shape), layer.values], dim=-2)
            self.mask = torch.cat([self.mask.new_zeros((self.mask.shape[0], extra)), self.mask], dim=1)
        width = self.mask.shape[1]
        row_ids, row_mask = left_pad(ids[rows], obs_mask[rows], width, pad_token_id, bos_token_id)
        outputs = [self._forward(m, row_ids, row_mask, position_ids_from(row_mask)) for m in self.models]
        pairs = []
        for cache, output in zip(self.caches, outputs):
            layers, new_layers = _cache_layers(cache), _cache_layers(output_cache(output))
            if layers is None or new_layers is None or len(layers) != len(new_layers) or any(
                    new.keys.shape[1:] != layer.keys.shape[1:] or new.values.shape[1:] != layer.values.shape[1:]
                    for layer, new in zip(layers, new_layers)):
                return False
            pairs.extend(zip(layers, new_layers))
        for layer, new in pairs:
            layer.keys[rows] = new.keys.to(layer.keys.dtype)
            layer.values[rows] = new.values.to(layer.values.dtype)
        self.splices += len(rows)
        self.mask[rows] = row_mask
        self.next_position[rows] = row_mask.sum(1, keepdim=True)
        self.logits[rows] = self._logits(outputs).to(self.logits.dtype)
        return True


def forward_responses(model: torch.nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                      response_ids: torch.Tensor, response_attention: torch.Tensor, want_hidden: bool = False,
                      want_logits: bool = True) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """One full forward over ``[prompt | response]``, attending to the response tokens where ``response_attention``
    is True (a rollout's :attr:`Rollout.attention_mask`: on a multi-turn env, the user's tokens too).

    Returns ``(logits, hidden)`` at the positions that predict each response token
    (``[B, T, V]`` and ``[B, T, D]``: position ``t`` is the state before token ``t``).
    """
    width = response_ids.shape[1]
    ids = torch.cat([prompt_ids, response_ids], dim=1)
    mask = torch.cat([prompt_mask, response_attention.long()], dim=1)
    output = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from(mask), use_cache=False,
                   output_hidden_states=want_hidden, logits_to_keep=width + 1 if want_logits else 1)
    logits = output.logits[:, :-1] if want_logits else None
    hidden = output.hidden_states[-1][:, -(width + 1):-1] if want_hidden else None
    return logits, hidden


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float, vocab_size: int,
                   with_entropy: bool = False, entropy_grad: bool = True,
                   blocked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``log pi(token)`` (and the entropy) of the tempered distribution over the env's vocabulary.

    ``entropy_grad=False`` leaves the entropy out of the autograd graph (when it is only a
    statistic, its backward over the whole vocabulary would be wasted). ``blocked`` (NLPO)
    renormalises the distribution over the tokens not blocked.
    """
    logits = logits[..., :vocab_size].float()
    if temperature != 1.0:
        logits = logits / temperature
    if blocked is not None:
        logits = logits.masked_fill(blocked, float("-inf"))
    logprobs_all = torch.log_softmax(logits, dim=-1)
    logprobs = logprobs_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(torch.is_grad_enabled() and entropy_grad):
            # blocked tokens have probability 0: their term is 0 (not 0 * -inf)
            entropy = -(logprobs_all.exp() * logprobs_all.clamp(min=torch.finfo(logprobs_all.dtype).min)).sum(-1) \
                if blocked is not None else -(logprobs_all.exp() * logprobs_all).sum(-1)
    return logprobs, entropy
