"""``TextGenVectorEnv``: ``num_envs`` episodes stepped together, state as torch tensors on a device."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from textgym.devices import resolve_device
from textgym.envs.setup import RENDER_MODES, build_setup, check_positive_int
from textgym.envs.textgen import EpisodeFinishedError
from textgym.task import Task

OUTPUTS = ("numpy", "torch")


def _autoreset_mode(mode) -> AutoresetMode:
    allowed = [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED]
    for candidate in allowed:
        if mode == candidate or mode == candidate.value or mode == candidate.name.lower():
            return candidate
    raise ValueError(f"unsupported autoreset_mode {mode!r}; allowed: {[m.value for m in allowed]}")


class TextGenVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :class:`~textgym.envs.textgen.TextGenEnv` in one batched environment.

    The MDP of each row is exactly that of ``TextGenEnv`` (same observation, rewards,
    termination); ``gym.make_vec(ID, num_envs=N, vectorization_mode="vector_entry_point")``
    returns this class for every textgym id.

    State lives in ``[num_envs, L]`` int64 tensors on ``device``. A step writes the
    ``num_envs`` tokens by index, scores all rows in one batch (a tensor operation for
    tasks with a token-level score such as Copy; the task's incremental per-row scorer
    otherwise), and resets finished rows.

    Autoreset (``metadata["autoreset_mode"] = AutoresetMode.SAME_STEP``): when a row ends,
    the observation returned for it is already the first observation of its next episode;
    the final observation and info are in ``info["final_obs"]`` (a batched dict, valid where
    ``info["_final_obs"]``) and ``info["final_info"]`` (with ``text`` and ``score``, valid
    where ``info["_final_info"]``).

    With ``autoreset_mode="Disabled"`` (``AutoresetMode.DISABLED``) a finished row is frozen
    instead: its later actions are ignored (no write, reward 0, both flags False) until
    ``reset(options={"reset_mask": mask})`` restarts it; ``env.ended`` says which rows
    wait, and the step that ends a row gives its ``text`` in ``info["text"]``. Agents that
    decode in lock step with a KV cache (LM-PPO) use this mode.

    Info at every step: ``score`` (the running score of every row), ``num_generated``,
    ``prompt_index``. The current continuations are decoded only on demand by
    :meth:`texts`, so no step pays for decoding that no score needs.

    Args:
        task, model, reward_mode, max_new_tokens, max_prompt_tokens, split, task_kwargs,
            render_mode: as for ``TextGenEnv``.
        num_envs: number of rows.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        output: ``"numpy"`` (Gymnasium's convention: arrays on the host) or ``"torch"``
            (observations, rewards and flags as tensors on ``device``: no copy at all).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": list(RENDER_MODES)}

    def __init__(
        self,
        task: str | Task = "sentiment",
        num_envs: int = 1,
        model: str | None = None,
        reward_mode: str = "dense",
        max_new_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
        split: str = "train",
        device: str | torch.device = "auto",
        output: str = "numpy",
        render_mode: str | None = None,
        task_kwargs: Mapping[str, Any] | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
    ) -> None:
        self.num_envs = check_positive_int("num_envs", num_envs)
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; allowed: {list(OUTPUTS)}")
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"unknown render_mode {render_mode!r}; allowed: {list(RENDER_MODES)} or None")
        self.device = resolve_device(device)
        self.output = output
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = render_mode
        self.setup = build_setup(task, model, reward_mode, max_new_tokens, max_prompt_tokens, split, task_kwargs)
        self.task, self.tokenizer = self.setup.task, self.setup.tokenizer
        self.reward_mode, self.max_new_tokens = self.setup.reward_mode, self.setup.max_new_tokens
        self.single_observation_space = self.setup.observation_space()
        self.single_action_space = self.setup.action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.vocab_size = self.tokenizer.vocab_size

        n, length, dev = self.num_envs, self.setup.obs_length, self.device
        prompt_count = len(self.setup.prompts)
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        table = torch.full((prompt_count, length), pad, dtype=torch.int64)
        lengths = torch.zeros(prompt_count, dtype=torch.int64)
        for i, ids in enumerate(self.setup.prompt_ids):
            table[i, : len(ids)] = torch.from_numpy(ids)
            lengths[i] = len(ids)
        self._prompt_table = table.to(dev)
        self._prompt_lengths = lengths.to(dev)
        self._columns = torch.arange(length, device=dev)
        self._rows = torch.arange(n, device=dev)
        self._eos = torch.tensor(eos, device=dev)

        self.input_ids = torch.full((n, length), pad, dtype=torch.int64, device=dev)
        self.attention_mask = torch.zeros((n, length), dtype=torch.int64, device=dev)
        self.positions = torch.zeros(n, dtype=torch.int64, device=dev)
        self.num_generated = torch.zeros(n, dtype=torch.int64, device=dev)
        self.prompt_indices = torch.zeros(n, dtype=torch.int64, device=dev)
        self.scorer = self.task.batch_scorer(self.tokenizer, n, dev, self.setup.prompts)
        #: rows whose episode has ended and that wait for ``reset(options={"reset_mask": ...})`` (DISABLED mode)
        self.ended = torch.zeros(n, dtype=torch.bool, device=dev)
        self._started = False

    # -- Gymnasium API ---------------------------------------------------------------------

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if isinstance(seed, (list, tuple)):
            seed = int(seed[0]) if seed else None
        super().reset(seed=seed)
        options = dict(options or {})
        rows = self._rows
        if "reset_mask" in options:
            mask = options.pop("reset_mask")
            mask = mask.to(self.device) if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask), device=self.device)
            if mask.shape != (self.num_envs,) or mask.dtype != torch.bool:
                raise ValueError(f"reset_mask must be {self.num_envs} booleans, got shape {tuple(mask.shape)} and dtype {mask.dtype}")
            if not self._started and not bool(mask.all()):
                raise ValueError("the first reset() must reset every row; omit reset_mask")
            rows = torch.nonzero(mask).flatten()
        indices = self._prompt_indices_from(options, len(rows))
        self._start_rows(rows, indices)
        self.ended[rows] = False
        self._started = True
        return self._observation(), self._info()

    def step(self, actions):
        if not self._started:
            raise EpisodeFinishedError("step() called before reset(); call reset() first")
        tokens = self.check_actions(actions)
        disabled = self.autoreset_mode == AutoresetMode.DISABLED
        if disabled:  # ended rows are frozen: their actions are ignored until they are reset
            live = ~self.ended
            rows = torch.nonzero(live).flatten()
            positions = self.positions[rows]
            self.input_ids[rows, positions] = tokens[rows]
            self.attention_mask[rows, positions] = 1
            self.positions[rows] += 1
            self.num_generated[rows] += 1
        else:
            live = None
            self.input_ids[self._rows, self.positions] = tokens
            self.attention_mask[self._rows, self.positions] = 1
            self.positions += 1
            self.num_generated += 1

        previous = self.scorer.scores
        eos = tokens == self._eos
        writes = ~eos if live is None else ~eos & live
        scores = self.scorer.step(tokens, writes)
        terminated = eos | self.scorer.finished
        truncated = ~terminated & (self.num_generated >= self.max_new_tokens)
        if live is not None:
            terminated, truncated = terminated & live, truncated & live
        done = terminated | truncated
        if self.reward_mode == "dense":
            rewards = scores - previous
        else:
            rewards = torch.where(done, scores, torch.zeros_like(scores))

        infos: dict[str, Any] = {}
        done_rows = torch.nonzero(done).flatten()
        if done_rows.numel():
            if disabled:
                self.ended |= done
                texts = np.full(self.num_envs, None, dtype=object)
                texts[done_rows.tolist()] = self.texts(done_rows.tolist())
                infos = {"text": texts, "_text": done.cpu().numpy()}
            else:
                infos = self._final_infos(done, done_rows, scores)
                self._start_rows(done_rows, self._draw_prompts(done_rows.numel()))
        infos.update(self._info())
        return self._observation(), self._convert(rewards), self._convert(terminated), self._convert(truncated), infos

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        prompts = [self.setup.prompts[i].text for i in self.prompt_indices.tolist()]
        lines = [f"[{row}] {prompt} | {text}" for row, (prompt, text) in enumerate(zip(prompts, self.texts()))]
        text = "\n".join(lines)
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None

    # -- public helpers ----------------------------------------------------------------------

    def check_actions(self, actions) -> torch.Tensor:
        """``actions`` as an int64 tensor of shape ``(num_envs,)`` on the device, or a clear error."""
        if isinstance(actions, torch.Tensor):
            if actions.dtype.is_floating_point or actions.dtype == torch.bool or actions.is_complex():
                raise ValueError(f"actions must be integer token ids, got dtype {actions.dtype}; allowed: integers in [0, {self.vocab_size})")
            tokens = actions.to(self.device, torch.int64)
            if tuple(tokens.shape) != (self.num_envs,):
                raise ValueError(f"actions must have shape ({self.num_envs},), one token id per env, got {tuple(tokens.shape)}")
            if bool(((tokens < 0) | (tokens >= self.vocab_size)).any()):
                self._raise_out_of_range(tokens.cpu().numpy())
            return tokens
        array = np.asarray(actions)
        if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"actions must be integer token ids, got dtype {array.dtype}; allowed: integers in [0, {self.vocab_size})")
        if array.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), one token id per env, got {array.shape}")
        if array.min() < 0 or array.max() >= self.vocab_size:  # checked on the host: no device round trip
            self._raise_out_of_range(array)
        return torch.from_numpy(array.astype(np.int64, copy=False)).to(self.device)

    def _raise_out_of_range(self, values: np.ndarray) -> None:
        rows = np.flatnonzero((values < 0) | (values >= self.vocab_size))[:5].tolist()
        raise ValueError(f"actions out of range at env(s) {rows}: {values[rows].tolist()}; allowed: integers in [0, {self.vocab_size})")

    def texts(self, rows=None) -> list[str]:
        """The current continuations (decoded from the generated tokens of each row)."""
        kept = self.scorer.texts(rows)
        if kept is not None:
            return kept
        rows = list(range(self.num_envs)) if rows is None else [int(r) for r in rows]
        if not rows:
            return []
        index = torch.as_tensor(rows, device=self.device)
        ids = self.input_ids[index].cpu().numpy()
        starts = self._prompt_lengths[self.prompt_indices[index]].cpu().numpy()
        ends = self.positions[index].cpu().numpy()
        decode = self.tokenizer.backend.decode  # per row: decode_batch's thread pool costs more on short texts
        return [decode(ids[i, starts[i] : ends[i]].tolist(), skip_special_tokens=True) for i in range(len(rows))]

    # -- internals ----------------------------------------------------------------------------

    def _prompt_indices_from(self, options, rows: int) -> torch.Tensor:
        if not options:
            return self._draw_prompts(rows)
        unknown = set(options) - {"prompt_index"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: ['prompt_index', 'reset_mask']")
        index = options["prompt_index"]
        indices = np.broadcast_to(np.asarray(index), (rows,)) if np.ndim(index) == 0 else np.asarray(index)
        count = len(self.setup.prompts)
        if indices.shape != (rows,) or not np.issubdtype(indices.dtype, np.integer) or (indices < 0).any() or (indices >= count).any():
            raise ValueError(f"prompt_index={index!r} must be an int or {rows} ints (one per reset row) in [0, {count}) for the {self.setup.split!r} split")
        return torch.as_tensor(indices.astype(np.int64), device=self.device)

    def _draw_prompts(self, count: int) -> torch.Tensor:
        indices = self.np_random.integers(len(self.setup.prompts), size=count)
        return torch.as_tensor(indices, dtype=torch.int64, device=self.device)

    def _start_rows(self, rows: torch.Tensor, indices: torch.Tensor) -> None:
        self.input_ids[rows] = self._prompt_table[indices]
        lengths = self._prompt_lengths[indices]
        self.attention_mask[rows] = (self._columns.unsqueeze(0) < lengths.unsqueeze(1)).long()
        self.positions[rows] = lengths
        self.num_generated[rows] = 0
        self.prompt_indices[rows] = indices
        index_list = indices.tolist()
        self.scorer.reset_rows(rows.tolist(), [self.setup.prompts[i] for i in index_list], indices)

    def _final_infos(self, done: torch.Tensor, done_rows: torch.Tensor, scores: torch.Tensor) -> dict[str, Any]:
        rows = done_rows.tolist()
        mask = done.cpu().numpy()
        texts = np.full(self.num_envs, None, dtype=object)
        texts[rows] = self.texts(rows)
        final_info = {
            "text": texts,
            "_text": mask,
            "score": scores.cpu().numpy() * mask,
            "_score": mask,
            "num_generated": self.num_generated.cpu().numpy() * mask,
            "_num_generated": mask,
        }
        final_obs = {"input_ids": self._convert(self.input_ids.clone()), "attention_mask": self._convert(self.attention_mask.clone())}
        return {"final_obs": final_obs, "_final_obs": mask, "final_info": final_info, "_final_info": mask}

    def _info(self) -> dict[str, Any]:
        return {
            "score": self._convert(self.scorer.scores),
            "num_generated": self._convert(self.num_generated),
            "prompt_index": self._convert(self.prompt_indices),
        }

    def _observation(self) -> dict[str, Any]:
        return {"input_ids": self._convert(self.input_ids), "attention_mask": self._convert(self.attention_mask)}

    def _convert(self, tensor: torch.Tensor):
        if self.output == "torch":
            return tensor.clone()
        return tensor.cpu().numpy().copy()
