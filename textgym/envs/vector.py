"""``TextGenVectorEnv``: ``num_envs`` episodes stepped together, state as torch tensors on a device."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from textgym.arrays import ArrayBackend
from textgym.devices import resolve_device
from textgym.envs.prompt_draws import PrefetchedIntegers
from textgym.envs.setup import RENDER_MODES, build_setup, check_positive_int, check_render_mode
from textgym.envs.textgen import EpisodeFinishedError
from textgym.task import Task

OUTPUTS = ("numpy", "torch")
_MASK_KEYS = {
    key: f"_{key}" for key in ("text", "score", "prompt", "prompt_index", "num_generated", "length", "end_reason")
}
_MAXIMUM = np.maximum.reduce  # ``array.max()`` without the method's Python wrapper
#: ``final_info["end_reason"]`` by code: not ended (``None``, as ``SyncVectorEnv`` fills the rows without a value),
#: horizon, stop condition, EOS
_END_REASONS = np.array([None, "max_new_tokens", "stop", "eos"], dtype=object)
#: a step's ``info["end_reason"]`` by the same code: ``""`` while a row's episode runs, as ``TextGenEnv`` gives it
_STEP_END_REASONS = np.array(["", "max_new_tokens", "stop", "eos"], dtype=object)


def _autoreset_mode(mode) -> AutoresetMode:
    allowed = [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED]
    for candidate in allowed:
        if mode == candidate or mode == candidate.value or mode == candidate.name.lower():
            return candidate
    raise ValueError(
        f"unsupported autoreset_mode {mode!r}; allowed: {[m.value for m in allowed]} (or the AutoresetMode members)"
    )


class TextGenVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :class:`~textgym.envs.textgen.TextGenEnv` in one batched environment.

    The MDP of each row is exactly that of ``TextGenEnv`` (same observation, rewards,
    termination); ``gym.make_vec(ID, num_envs=N, vectorization_mode="vector_entry_point")``
    returns this class for every textgym id.

    State lives in ``[num_envs, L]`` int64 arrays: numpy arrays on the CPU, where numpy's
    per-operation cost is a few times below torch's, and torch tensors on any other device
    (see :mod:`textgym.arrays`); the attributes ``input_ids``, ``attention_mask``,
    ``positions``, ``num_generated``, ``prompt_indices``, ``ended`` and ``scores`` are torch
    tensors on ``device`` either way (views of the CPU arrays, no copy). A step writes the
    ``num_envs`` tokens by index, scores all rows in one batch (an array operation for
    tasks with a token-level score such as Copy; the task's incremental per-row scorer
    otherwise), and resets finished rows.

    A row's episode ends with ``terminated=True`` (EOS, the task's stop condition, or the
    ``max_new_tokens`` horizon, which is part of the task); ``truncated`` is always False
    here and left to outer time limits. ``end_reason`` (in ``final_info``, or in the info
    of the ending step with NEXT_STEP or DISABLED autoreset) says which: ``"eos"``, ``"stop"``
    or ``"max_new_tokens"`` (``""`` in the rows that did not end at that step).

    Autoreset (default: ``metadata["autoreset_mode"] = AutoresetMode.SAME_STEP``): when a row ends,
    the observation returned for it is already the first observation of its next episode;
    the final observation and info are laid out as Gymnasium's own ``SyncVectorEnv`` lays
    them out in same-step autoreset: ``info["final_obs"]`` is an object array of
    ``num_envs`` entries, row ``i``'s final observation (a dict of ``(L,)`` arrays, or the
    ``(L,)`` ids with ``observation="input_ids"``, as ``TextGenEnv`` returns) where
    ``info["_final_obs"][i]``, else ``None``; ``info["final_info"]`` holds the ending step's
    info of ``TextGenEnv`` batched key by key (``text``, ``score``, ``prompt``,
    ``prompt_index``, ``num_generated``, ``length``, ``end_reason``, each with its ``_key``
    mask), valid where ``info["_final_info"]``. Both are absent at a step where no row ends,
    as ``SyncVectorEnv`` leaves them out.

    At the end of an episode ``text`` is the full decode of the row's generated ids and
    ``score`` its score (see ``TextGenEnv``'s *Info*: a character split over byte-level BPE
    tokens and never completed decodes to U+FFFD there, and the last reward includes it).

    Seeding: ``reset(seed=int)`` seeds one generator that draws the prompts of every row
    (all rows at the first reset, the ending rows at each autoreset). ``reset(seed=[s_0,
    ..., s_{N-1}])`` gives each row its own generator, as ``SyncVectorEnv`` resets each
    sub-env with its seed: row ``i`` then sees the prompt sequence of a ``TextGenEnv`` reset
    with ``seed=s_i``. (``SyncVectorEnv`` turns an int seed ``s`` into ``[s, s + 1, ...]``;
    this env keeps one generator for an int, whose draws are one array operation per step.)

    With ``autoreset_mode="NextStep"`` (``AutoresetMode.NEXT_STEP``, the default of
    Gymnasium's ``SyncVectorEnv``) the step that ends a row returns its final observation,
    reward and info in the normal outputs (``terminated=True``; ``info["end_reason"]`` and
    ``info["text"]`` of the ending rows, each with its ``_key`` mask), and the row's next
    step resets it: that step's action for the row is ignored, its reward is 0, both flags
    are False, and its observation and info are the first of the new episode (as
    ``SyncVectorEnv`` of ``TextGenEnv`` gives them, row for row, for the same actions and
    per-row seeds). ``env.ended`` says which rows the next step resets. The vector
    observation wrappers that need this mode (``NormalizeObservation``, the vector
    ``TransformObservation``) work on it.

    With ``autoreset_mode="Disabled"`` (``AutoresetMode.DISABLED``) a finished row is frozen
    instead: its later actions are ignored (no write, reward 0, both flags False) until
    ``reset(options={"reset_mask": mask})`` restarts it; ``env.ended`` says which rows
    wait, and the step that ends a row gives its ``text`` and ``end_reason`` in the info, as
    in NEXT_STEP. Agents that decode in lock step with a KV cache (LM-PPO) use this mode.

    Info: one schema from ``reset()`` on. The infos of ``reset()`` and of every step hold the
    same keys, each an array of ``num_envs`` entries of the same dtype at every step (beside
    them, in same-step autoreset, ``final_obs`` and ``final_info`` at the steps where a row
    ends, as above):

    - ``score`` (float64: the running score of every row), ``num_generated``,
      ``prompt_index``, ``length`` (int64: the real tokens in each row's observation, prompt
      plus generated);
    - ``end_reason`` (object: ``""`` while a row's episode runs; with NEXT_STEP or DISABLED
      autoreset the ending rows' ``"eos"``, ``"stop"`` or ``"max_new_tokens"`` at the step
      that ends them, as ``TextGenEnv``'s info gives it) and its mask ``_end_reason`` (all
      True: every row holds a value, as ``SyncVectorEnv`` of ``TextGenEnv`` gives it);
    - with NEXT_STEP or DISABLED autoreset, ``text`` (object: the ending rows' final text at
      the step that ends them, ``None`` in the other rows) and its mask ``_text`` (the ending
      rows). The current continuations are decoded only on demand by :meth:`texts`, so no
      step pays for decoding that no score needs.

    With ``info_text=False`` no info holds a string: ``text``, ``prompt`` and ``end_reason``
    (and their masks) are left out of every info and of ``final_info``.

    Observation: with ``observation="dict"`` (default) a dict of ``[num_envs, L]`` arrays
    ``input_ids`` and ``attention_mask``; with ``observation="input_ids"`` the ``[num_envs,
    L]`` array of ids alone (``observation_space`` is ``batch_space`` of the single
    ``Box``; see ``TextGenEnv``'s *Observation Space* for the padding and ``length``).

    Rendering: ``render_mode="ansi"`` returns one line per row, ``"human"`` prints them,
    ``"rgb_array"`` returns a tuple of ``num_envs`` frames, one per row, as
    ``SyncVectorEnv.render`` returns one per sub-env (each the frame ``TextGenEnv`` draws:
    the prompt, the tokens on the colours of their instant rewards, the score; some
    milliseconds a row, so render a few rows with :meth:`render_rgb` on large batches).
    In ``rgb_array`` mode each step also keeps the rows' instant rewards on the host.

    Args:
        task, model, reward_mode, max_new_tokens, max_prompt_tokens, split, task_kwargs,
            render_mode, chat_template, observation, info_text: as for ``TextGenEnv``
            (``chat_template=True``: each prompt wrapped in the model tokenizer's chat
            template as one user turn; ``observation="input_ids"``: the ids alone;
            ``info_text=False``: no strings in the infos).
        num_envs: number of rows.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        output: ``"numpy"`` (Gymnasium's convention: arrays on the host) or ``"torch"``
            (observations, rewards and flags as tensors on ``device``: no host transfer).
        arrays: where the state lives: ``"auto"`` (numpy on the CPU, torch tensors on any
            other device), ``"torch"`` (torch tensors on every device, the CPU included: the
            accelerator code path) or ``"numpy"`` (CPU only).
        autoreset_mode: ``"SameStep"`` (default), ``"NextStep"`` or ``"Disabled"`` (or the
            ``AutoresetMode`` members); ``metadata["autoreset_mode"]`` reflects it.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": list(RENDER_MODES), "render_fps": 4}

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
        arrays: str = "auto",
        chat_template: bool = False,
        observation: str = "dict",
        info_text: bool = True,
    ) -> None:
        self.num_envs = check_positive_int("num_envs", num_envs)
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; allowed: {list(OUTPUTS)}")
        check_render_mode(render_mode)
        self.device = resolve_device(device)
        self.output = output
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = render_mode
        self.setup = build_setup(
            task, model, reward_mode, max_new_tokens, max_prompt_tokens, split, task_kwargs,
            chat_template=chat_template, observation=observation, info_text=info_text,
        )
        self.task, self.tokenizer = self.setup.task, self.setup.tokenizer
        self.reward_mode, self.max_new_tokens = self.setup.reward_mode, self.setup.max_new_tokens
        self.single_observation_space = self.setup.observation_space()
        self.single_action_space = self.setup.action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.vocab_size = self.tokenizer.vocab_size

        n, length = self.num_envs, self.setup.obs_length
        prompt_count = len(self.setup.prompts)
        pad = self.tokenizer.pad_token_id
        table = np.full((prompt_count, length), pad, dtype=np.int64)
        lengths = np.array([len(ids) for ids in self.setup.prompt_ids], dtype=np.int64)
        for i, ids in enumerate(self.setup.prompt_ids):
            table[i, : len(ids)] = ids
        #: the state's arrays: numpy on the CPU (shared with the tensor views below), tensors elsewhere
        self.arrays = backend = ArrayBackend(self.device, arrays)
        mask_table = (np.arange(length) < lengths[:, None]).astype(np.int64)
        self._prompt_table = backend.from_host(table)
        self._prompt_mask_table = backend.from_host(mask_table)
        self._prompt_lengths = backend.from_host(lengths)
        # what a row starts from, one gather each: ids and mask ``[P, 2, L]``; prompt index, 0 tokens, position
        # ``[3, P]``
        self._prompt_start_tokens = backend.from_host(np.stack([table, mask_table], axis=1))
        self._prompt_start_meta = backend.from_host(
            np.stack([np.arange(prompt_count), np.zeros(prompt_count, dtype=np.int64), lengths])
        )
        self._rows = backend.arange(n)
        self._row_starts = self._rows * (2 * length)  # where each row's ids begin in the flat ``_tokens``
        self._length = length
        self._eos = self.tokenizer.eos_token_id
        #: ``[num_envs, 2, L]``: the ids and the attention mask of every row (``_input_ids``, ``_attention_mask`` are
        #: views)
        self._tokens = backend.zeros((n, 2, length))
        self._tokens[:, 0] = pad
        #: ``[3, num_envs]``: prompt index, tokens generated, position of every row (views below); a row (re)starts
        #: with one write of each of these two arrays, and the infos copy them in one operation
        self._meta = backend.zeros((3, n))
        self._bind_views()
        self._ended = backend.zeros(n, "bool")
        self.scorer = self.task.batch_scorer(self.tokenizer, n, backend, self.setup.prompts)
        self.scorer.lazy = self.task.scores_lazily(
            self.reward_mode
        )  # sparse mode: an expensive score only at episode ends
        self._prompt_texts = [prompt.text for prompt in self.setup.prompts]
        #: the prompt texts as an object array, then ``None``: ``final_info["prompt"]`` is one lookup (index
        #: ``prompt_count`` where no row ended)
        self._prompt_text_table = np.array([*self._prompt_texts, None], dtype=object)
        self._prompt_count = prompt_count
        self._action_shape = (n,)
        self._started = False
        #: one prompt generator per row after ``reset(seed=[...])``; ``None``: ``np_random`` draws for all rows
        self._row_generators: list[np.random.Generator] | None = None
        #: the batch generator's prompt draws, made a block ahead (exactly the same draws; see :mod:`.prompt_draws`)
        self._prompt_draws = PrefetchedIntegers()
        #: ``rgb_array`` mode: the instant reward of each generated token of every row's episode, on the host
        self._episode_rewards = np.zeros((n, self.max_new_tokens)) if render_mode == "rgb_array" else None
        #: the string keys of an info where no row ends, and their masks (each info takes copies; see :meth:`_info`)
        self._info_strings = {
            "end_reason": np.full(n, "", dtype=object),
            "_end_reason": np.ones(n, dtype=bool),
            "text": np.full(n, None, dtype=object),
            "_text": np.zeros(n, dtype=bool),
        }

    def _bind_views(self) -> None:
        """The named state arrays as views of ``_tokens`` and ``_meta``."""
        self._input_ids, self._attention_mask = self._tokens[:, 0], self._tokens[:, 1]
        self._prompt_indices, self._num_generated, self._positions = self._meta[0], self._meta[1], self._meta[2]
        self._counts = self._meta[1:]  # tokens generated and positions: both advance by one per written token
        self._tokens_flat = self._tokens.reshape(-1)  # a step writes two entries per row through one flat index

    _VIEWS = (
        "_input_ids",
        "_attention_mask",
        "_prompt_indices",
        "_num_generated",
        "_positions",
        "_counts",
        "_tokens_flat",
    )

    @property
    def np_random(self) -> np.random.Generator:
        """The batch's generator (Gymnasium's ``VectorEnv.np_random``), at the position of the prompts drawn so far.

        The env draws its prompts a block ahead; reading this property puts the generator back
        where the prompts actually used leave it, so reading or setting its state, or drawing
        from it, is exactly as if every prompt had been drawn when it was used. Read it again
        after stepping, rather than keeping the generator across steps.
        """
        self._prompt_draws.settle()
        return gym.vector.VectorEnv.np_random.fget(self)

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self._prompt_draws.settle()
        gym.vector.VectorEnv.np_random.fset(self, value)

    def __getstate__(self) -> dict[str, Any]:
        """The env's attributes without the views of the state (a pickled view would be a copy of its own)."""
        self._prompt_draws.settle()  # the generator as the prompts drawn so far leave it
        state = dict(self.__dict__)
        for name in self._VIEWS:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_views()

    # -- the state, as torch tensors on ``device`` (views: no copy) ------------------------------

    @property
    def input_ids(self) -> torch.Tensor:
        """``[num_envs, L]`` prompt and generated tokens, right-padded."""
        return self.arrays.to_tensor(self._input_ids)

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.arrays.to_tensor(self._attention_mask)

    @property
    def positions(self) -> torch.Tensor:
        """Index of the next token's column in every row."""
        return self.arrays.to_tensor(self._positions)

    @property
    def num_generated(self) -> torch.Tensor:
        return self.arrays.to_tensor(self._num_generated)

    @property
    def prompt_indices(self) -> torch.Tensor:
        return self.arrays.to_tensor(self._prompt_indices)

    @property
    def ended(self) -> torch.Tensor:
        """Rows whose episode has ended.

        They wait for ``reset(options={"reset_mask": ...})`` (DISABLED mode) or the next step (NEXT_STEP).
        """
        return self.arrays.to_tensor(self._ended)

    @property
    def scores(self) -> torch.Tensor:
        """The running score of every row."""
        return self.arrays.to_tensor(self.scorer.scores)

    # -- Gymnasium API ---------------------------------------------------------------------

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        """Start new episodes in every row (or in the rows of ``options["reset_mask"]``).

        Args:
            seed: ``None`` (go on with the current random state), an ``int`` (one generator
                for the whole batch, seeded with it: the prompts of all rows come from its
                draws, in row order), or a list of ``num_envs`` seeds (``int`` or ``None``), as
                ``SyncVectorEnv`` takes: row ``i`` gets its own generator, seeded like
                ``TextGenEnv.reset(seed=seed[i])``, so its prompts (the first and every one
                after an autoreset) are those of a ``TextGenEnv`` reset with ``seed[i]``. The
                rows keep their own generators through later ``reset()`` calls without a seed
                until an ``int`` seed is given. With ``reset_mask``, only the masked rows are
                re-seeded (as ``SyncVectorEnv`` resets only those envs).
            options: ``prompt_index`` (an int or one per reset row: start from those prompts
                instead of drawing), ``reset_mask`` (``num_envs`` booleans; DISABLED autoreset).
        """
        seeds = None
        if seed is None or isinstance(seed, numbers.Integral):
            super().reset(seed=None if seed is None else int(seed))
            if seed is not None:
                self._row_generators = None  # one generator for the batch again
        else:
            seeds = self._check_seeds(seed)
        options = dict(options or {})
        rows = self._rows
        if "reset_mask" in options:
            mask = options.pop("reset_mask")
            mask = mask if isinstance(mask, torch.Tensor) else np.asarray(mask)
            if tuple(mask.shape) != (self.num_envs,) or mask.dtype not in (torch.bool, np.bool_):
                raise ValueError(
                    f"reset_mask must be {self.num_envs} booleans, got shape {tuple(mask.shape)} and dtype {mask.dtype}"
                )
            mask = self.arrays.from_host(mask, "bool")
            if not self._started and not bool(mask.all()):
                raise ValueError("the first reset() must reset every row; omit reset_mask")
            rows = self.arrays.nonzero(mask)
        if seeds is not None:
            self._seed_rows(seeds, rows)
        indices = self._prompt_indices_from(options, rows)
        self._start_rows(rows, indices)
        self._ended[rows] = False
        self._started = True
        return self._observation(), self._info()

    def step(self, actions):
        if not self._started:
            raise EpisodeFinishedError("step() called before reset(); call reset() first")
        tokens = self.check_actions(actions)
        mode = self.autoreset_mode
        same_step = mode is AutoresetMode.SAME_STEP
        live = None
        if mode is AutoresetMode.DISABLED:  # ended rows are frozen: their actions are ignored until they are reset
            live = ~self._ended
        elif mode is AutoresetMode.NEXT_STEP and bool(self._ended.any()):
            # the rows that ended at the previous step start their next episode now; their actions are ignored
            live = ~self._ended
            resetting = self.arrays.nonzero(self._ended)
            self._start_rows(resetting, self._draw_prompts(resetting))
            self._ended[resetting] = False
        if live is not None:
            rows = self.arrays.nonzero(live)
            positions = self._positions[rows]
            self._input_ids[rows, positions] = tokens[rows]
            self._attention_mask[rows, positions] = 1
            self._counts[:, rows] += 1
        else:  # the ids and the mask at every row's position, through flat indices (cheaper than [rows, columns])
            where = self._row_starts + self._positions
            self._tokens_flat[where] = tokens
            self._tokens_flat[where + self._length] = 1
            self._counts += 1

        previous = self.scorer.scores
        eos = tokens == self._eos
        writes = ~eos if live is None else ~eos & live
        self.scorer.advance(self._num_generated, live)  # each live row's Scorer.advance, as TextGenEnv calls it
        scores = self.scorer.step(tokens, writes)
        stopped = eos if self.scorer.finished is None else eos | self.scorer.finished
        # the horizon is part of the task: reaching it terminates (docs/design.md, section 1)
        done = stopped | (self._num_generated >= self.max_new_tokens)
        if live is not None:
            done = done & live
        done_rows = self.arrays.nonzero(done)
        any_done = len(done_rows) > 0  # (on the host for numpy; one device sync for tensors, as .any() makes)
        if any_done:  # the final text is the full decode: score what the decoders still hold
            scores = self.scorer.finish_rows(done_rows)
        terminated = done
        truncated = (
            np.zeros(self.num_envs, dtype=bool) if self.arrays.is_numpy else self.arrays.zeros(self.num_envs, "bool")
        )
        if self.reward_mode == "dense" and live is None and self.scorer.starts_at_zero:
            rewards = scores - previous  # a row started since the last step has the potential 0 there already
        elif self.reward_mode == "dense":
            first = self._num_generated == 1  # the potential before a row's first token is 0
            if live is not None:
                first = first & live
            rewards = scores - self.arrays.xp.where(first, 0.0, previous)
            if live is not None:  # rows that wait or restart this step: exactly 0
                rewards = self.arrays.xp.where(live, rewards, 0.0)
        else:
            rewards = self.arrays.xp.where(done, scores, 0.0)
        if self._episode_rewards is not None:
            self._record_rewards(rewards, live)

        final: dict[str, Any] | None = None
        ending = None
        if any_done:
            if not same_step:  # the ending step's info: the rows' end, as TextGenEnv's last info gives it
                self._ended |= done
                if self.setup.info_text:
                    ending = (self._end_reasons(done, eos, stopped, table=_STEP_END_REASONS), self._texts(done_rows))
            else:
                reasons = self._end_reasons(done, eos, stopped, nested=True) if self.setup.info_text else None
                final = self._final_infos(done, done_rows, scores, reasons)
                self._start_rows(done_rows, self._draw_prompts(done_rows))
        infos = self._info()  # the rows as they are now (restarted rows: their new episode's first info)
        if final is not None:
            infos.update(final)
        if ending is not None:
            infos["end_reason"] = ending[0]
            mask = self.arrays.to_host(done)
            infos["text"][mask] = ending[1]
            infos["_text"] = mask
        if self.output == "numpy" and self.arrays.is_numpy:  # arrays made by this step: returned as they are
            return self._observation(), rewards, terminated, truncated, infos
        fresh = self._convert_fresh
        return self._observation(), fresh(rewards), fresh(terminated), fresh(truncated), infos

    def render(self) -> str | tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi', 'human' or 'rgb_array'")
            return None
        if self.render_mode == "rgb_array":
            return self.render_rgb()
        prompts = [self.setup.prompts[i].text for i in self._prompt_indices.tolist()]
        lines = [f"[{row}] {prompt} | {text}" for row, (prompt, text) in enumerate(zip(prompts, self.texts()))]
        text = "\n".join(lines)
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None

    # -- public helpers ----------------------------------------------------------------------

    def render_rgb(self, rows=None) -> tuple[np.ndarray, ...]:
        """The ``rgb_array`` frames of ``rows`` (all rows if ``None``): one ``(H, W, 3)`` uint8 image per row.

        Each is the frame ``TextGenEnv`` draws for the row's current episode (see
        :mod:`textgym.rendering`); the instant rewards are kept in ``rgb_array`` mode only
        (white tokens otherwise).
        """
        from textgym.rendering import render_frame

        rows = range(self.num_envs) if rows is None else [int(row) for row in rows]
        title = f"task {self.task.name}, {self.reward_mode} reward"
        if not self._started:
            return tuple(
                render_frame(None, [], [], 0.0, 0, self.max_new_tokens, "", f"[{row}] {title}") for row in rows
            )
        to_host = self.arrays.to_host
        ids, positions, counts = to_host(self._input_ids), to_host(self._positions), to_host(self._num_generated)
        indices, scores, ended = to_host(self._prompt_indices), to_host(self.scorer.scores), to_host(self._ended)
        token_string = self.tokenizer.token_string
        frames = []
        for row in rows:
            end, count = int(positions[row]), int(counts[row])
            tokens = [token_string(token) for token in ids[row, end - count : end].tolist()]
            rewards = self._episode_rewards[row, :count] if self._episode_rewards is not None else np.zeros(count)
            status = "done" if ended[row] else "running"
            prompt = self._prompt_texts[int(indices[row])]
            frames.append(
                render_frame(
                    prompt, tokens, rewards, float(scores[row]), count, self.max_new_tokens, status, f"[{row}] {title}"
                )
            )
        return tuple(frames)

    def check_actions(self, actions):
        """``actions`` as an int64 array of shape ``(num_envs,)`` of the env's backend, or a clear error."""
        if type(actions) is np.ndarray and actions.dtype == np.int64 and actions.shape == self._action_shape:
            if (
                _MAXIMUM(actions.view(np.uint64)) >= self.vocab_size
            ):  # the common case in two checks; negatives wrap to huge
                self._raise_out_of_range(actions)
            return actions if self.arrays.is_numpy else self.arrays.from_host(actions)
        if isinstance(actions, torch.Tensor):
            if actions.dtype.is_floating_point or actions.dtype == torch.bool or actions.is_complex():
                raise ValueError(
                    f"actions must be integer token ids, got dtype {actions.dtype}; "
                    f"allowed: integers in [0, {self.vocab_size})"
                )
            if tuple(actions.shape) != (self.num_envs,):
                raise ValueError(
                    f"actions must have shape ({self.num_envs},), one token id per env, got {tuple(actions.shape)}"
                )
            tokens = self.arrays.from_host(actions, "int64")
            if bool(((tokens < 0) | (tokens >= self.vocab_size)).any()):
                self._raise_out_of_range(self.arrays.to_host(tokens))
            return tokens
        array = np.asarray(actions)
        if array.dtype.kind not in "iu":  # signed or unsigned integers (not bool)
            raise ValueError(
                f"actions must be integer token ids, got dtype {array.dtype}; "
                f"allowed: integers in [0, {self.vocab_size})"
            )
        if array.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), one token id per env, got {array.shape}")
        array = array.astype(np.int64, copy=False)
        if (
            array.view(np.uint64).max() >= self.vocab_size
        ):  # negatives wrap to huge; checked on the host: no device round trip
            self._raise_out_of_range(array)
        return self.arrays.from_host(array)

    def _raise_out_of_range(self, values: np.ndarray) -> None:
        rows = np.flatnonzero((values < 0) | (values >= self.vocab_size))[:5].tolist()
        raise ValueError(
            f"actions out of range at env(s) {rows}: {values[rows].tolist()}; "
            f"allowed: integers in [0, {self.vocab_size})"
        )

    def texts(self, rows=None) -> list[str]:
        """The current continuations (decoded from the generated tokens of each row).

        At the end of an episode, the full decode of its generated ids. Before it, a
        character split over byte-level BPE tokens and not yet complete is left out by the
        task's per-row text scorer (as in ``TextGenEnv``'s ``info["text"]``) and shows as
        U+FFFD where the text is decoded from the tokens on demand (token-level scorers).
        """
        if rows is None:
            return self._texts(self._rows)
        return self._texts(self.arrays.from_host([int(r) for r in rows], "int64"))

    def _texts(self, rows) -> list[str]:
        """:meth:`texts` of the rows in the index array ``rows``."""
        if self.scorer.keeps_text:
            return self.scorer.texts(rows.tolist())
        if not len(rows):
            return []
        to_host = self.arrays.to_host
        starts = to_host(self._prompt_lengths[self._prompt_indices[rows]])
        return self.tokenizer.decode_spans(to_host(self._input_ids[rows]), starts, to_host(self._positions[rows]))

    # -- internals ----------------------------------------------------------------------------

    def _check_seeds(self, seed) -> list[int | None]:
        """A list of per-row seeds, checked: ``num_envs`` entries, each an int or ``None``."""
        if isinstance(seed, torch.Tensor):
            seed = seed.tolist()
        elif isinstance(seed, np.ndarray):
            seed = seed.tolist() if seed.ndim == 1 else seed
        if not isinstance(seed, (list, tuple)):
            raise ValueError(
                f"seed must be None, an int or a list of {self.num_envs} ints (one per env), got {type(seed).__name__}"
            )
        if len(seed) != self.num_envs:
            raise ValueError(
                f"seed is a list of {len(seed)} seeds, but num_envs={self.num_envs}: "
                f"pass {self.num_envs} seeds, one per env"
            )
        for value in seed:
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0):
                raise ValueError(f"seed list entries must be non-negative ints or None, got {value!r}")
        return [None if value is None else int(value) for value in seed]

    def _seed_rows(self, seeds: list[int | None], rows) -> None:
        """Give every row in ``rows`` its own generator, seeded as ``TextGenEnv.reset(seed=seeds[row])`` seeds its."""
        if self._row_generators is None:
            # from one generator for the batch to one per row: rows not reset now start from their seeds too
            self._row_generators = [seeding.np_random(value)[0] for value in seeds]
            return
        for row in rows.tolist():
            self._row_generators[row] = seeding.np_random(seeds[row])[0]

    def _prompt_indices_from(self, options, rows):
        if not options:
            return self._draw_prompts(rows)
        unknown = set(options) - {"prompt_index"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: ['prompt_index', 'reset_mask']")
        index = options["prompt_index"]
        count = len(rows)
        indices = np.broadcast_to(np.asarray(index), (count,)) if np.ndim(index) == 0 else np.asarray(index)
        prompts = len(self.setup.prompts)
        if (
            indices.shape != (count,)
            or not np.issubdtype(indices.dtype, np.integer)
            or (indices < 0).any()
            or (indices >= prompts).any()
        ):
            raise ValueError(
                f"prompt_index={index!r} must be an int or {count} ints (one per reset row) in [0, {prompts}) "
                f"for the {self.setup.split!r} split"
            )
        return self.arrays.from_host(indices, "int64")

    def _draw_prompts(self, rows):
        """Prompt indices for new episodes in ``rows``: from the batch's generator, or each row's own.

        Always the values of ``Generator.integers``, at resets and autoresets alike, so that a seed
        draws the same prompts as it always has (runs recorded earlier reproduce bit for bit); the
        batch generator's come from a block drawn ahead (:class:`PrefetchedIntegers`: the same values).
        """
        prompts = self._prompt_count
        if self._row_generators is None:
            generator = gym.vector.VectorEnv.np_random.fget(self)  # as it is, not settled
            return self.arrays.from_host(self._prompt_draws.integers(generator, prompts, len(rows)), "int64")
        generators = self._row_generators  # one scalar draw per starting row, as TextGenEnv.reset makes
        return self.arrays.from_host([generators[row].integers(prompts) for row in rows.tolist()], "int64")

    def _record_rewards(self, rewards, live) -> None:
        """Keep this step's instant rewards of the rows that generated a token (``rgb_array`` frames)."""
        to_host = self.arrays.to_host
        rewards, counts = to_host(rewards), to_host(self._num_generated)
        rows = np.arange(self.num_envs) if live is None else np.flatnonzero(to_host(live))
        self._episode_rewards[rows, counts[rows] - 1] = rewards[rows]

    def _start_rows(self, rows, indices) -> None:
        take = self.arrays.take
        self._tokens[rows] = take(self._prompt_start_tokens, indices)
        self._meta[:, rows] = take(self._prompt_start_meta, indices, 1)
        self.scorer.reset_rows(rows, indices)

    def _end_reasons(self, done, eos, stopped, nested: bool = False, table: np.ndarray = _END_REASONS) -> np.ndarray:
        """The end reason of every row: ``"eos"``, ``"stop"`` or ``"max_new_tokens"`` where ``done``, else ``table[0]``.

        ``nested``: the caller knows ``eos`` implies ``stopped`` implies ``done`` (every row live).
        ``table``: the value of each code (:data:`_END_REASONS` for ``final_info``: ``None`` where
        no row ended; :data:`_STEP_END_REASONS` for a step's info: ``""``).
        """
        # 0: running, 1: horizon, 2: stop condition, 3: EOS (EOS is also a stop: 1 + 1 + 1); one lookup in a table
        if self.arrays.is_numpy:
            if nested:
                code = done.view(np.uint8) + stopped.view(np.uint8)
                code += eos.view(np.uint8)
            else:
                code = done.view(np.uint8) + (done & stopped).view(np.uint8)
                code += (done & eos).view(np.uint8)
            return table.take(code)
        code = done.long() + (done & stopped).long() + (done & eos).long()
        return table[self.arrays.to_host(code)]

    def _final_infos(self, done, done_rows, scores, reasons) -> dict[str, Any]:
        """``final_obs`` and ``final_info`` of the rows that ended, as Gymnasium's ``SyncVectorEnv`` lays them out.

        ``final_obs``: an object array of ``num_envs`` entries, the row's final observation (a
        dict of ``(L,)`` arrays, or the ``(L,)`` ids with ``observation="input_ids"``, as
        ``TextGenEnv`` returns) where it ended, ``None`` elsewhere. ``final_info``: the ending
        step's info of ``TextGenEnv`` batched key by key (``text``, ``score``, ``prompt``,
        ``prompt_index``, ``num_generated``, ``length``, ``end_reason``; no strings with
        ``info_text=False``), each with its ``_key`` mask; zeros or ``None`` in the other rows.
        """
        to_host = self.arrays.to_host
        mask = to_host(done)  # a copy: ``done`` is also the step's ``terminated``
        # the state's arrays as host arrays to read (no copy for numpy: every result below is a new array)
        read = (lambda array: array) if self.arrays.is_numpy else to_host
        host_rows = read(done_rows)
        row_list = host_rows.tolist()
        n = self.num_envs
        info_text = self.setup.info_text
        ended = self.arrays.take(self._tokens, done_rows)  # ids and mask of the ended rows, one gather
        ended_ids = read(ended[:, 0])
        if self.output == "torch":
            ended = self.arrays.to_tensor(ended)
        elif not self.arrays.is_numpy:
            ended = to_host(ended)
        input_ids, attention_mask = ended[:, 0], ended[:, 1]
        final_obs = np.empty(n, dtype=object)  # None everywhere
        # one loop over the ended rows (a list assigned through a fancy index costs more: numpy converts it first)
        if self.setup.observation == "dict":
            for row, ids, attention in zip(row_list, input_ids, attention_mask):
                final_obs[row] = {"input_ids": ids, "attention_mask": attention}
        else:
            for row, ids in zip(row_list, input_ids):
                final_obs[row] = ids
        final_info = {}
        if info_text:
            texts = np.empty(n, dtype=object)
            if self.scorer.keeps_text:
                ended_texts = self.scorer.texts(row_list)
            else:  # decoded from the rows already gathered: generation starts at the end of the prompt
                counts = read(self.arrays.take(self._counts, done_rows, 1))
                generated, ends = counts[0], counts[1]
                ended_texts = self.tokenizer.decode_spans(ended_ids, ends - generated, ends)
            for row, text in zip(row_list, ended_texts):
                texts[row] = text
            final_info["text"] = texts
        final_info["score"] = np.where(mask, read(scores), 0.0)
        meta = read(self._meta) * mask  # prompt index, tokens generated, length: 0 in the rows that did not end
        if info_text:  # the table's last entry is None: the rows that did not end
            final_info["prompt"] = self._prompt_text_table.take(np.where(mask, meta[0], self._prompt_count))
        final_info["prompt_index"], final_info["num_generated"], final_info["length"] = meta[0], meta[1], meta[2]
        if info_text:
            final_info["end_reason"] = reasons
        for key in list(final_info):  # one mask per key, as Gymnasium gives
            final_info[_MASK_KEYS.get(key) or f"_{key}"] = mask.copy()
        return {"final_obs": final_obs, "_final_obs": mask, "final_info": final_info, "_final_info": mask.copy()}

    def _info(self) -> dict[str, Any]:
        """The info of :meth:`reset` and of every step, before the ending rows' values are filled in.

        Numbers of every row: ``score``, ``num_generated``, ``prompt_index``, ``length``. With
        ``info_text``, also ``end_reason`` (``""`` in every row, valid in every row: ``_end_reason``
        all True) and, in NEXT_STEP and DISABLED autoreset, ``text`` (``None`` in every row,
        ``_text`` all False): the ending step fills the ending rows' values.
        """
        if self.output == "numpy" and self.arrays.is_numpy:  # copies of the state (the common case, spelled out)
            meta = self._meta.copy()
            info = {
                "score": self.scorer.scores.copy(),
                "num_generated": meta[1],
                "prompt_index": meta[0],
                "length": meta[2],
            }
        else:
            info = {
                "score": self._convert(self.scorer.scores),
                "num_generated": self._convert(self._num_generated),
                "prompt_index": self._convert(self._prompt_indices),
                "length": self._convert(self._positions),
            }
        if self.setup.info_text:
            strings = self._info_strings
            info["end_reason"], info["_end_reason"] = strings["end_reason"].copy(), strings["_end_reason"].copy()
            if self.autoreset_mode is not AutoresetMode.SAME_STEP:
                info["text"], info["_text"] = strings["text"].copy(), strings["_text"].copy()
        return info

    def _observation(self) -> dict[str, Any] | Any:
        if self.output == "numpy" and self.arrays.is_numpy:
            if self.setup.observation == "input_ids":
                return self._input_ids.copy()
            return {"input_ids": self._input_ids.copy(), "attention_mask": self._attention_mask.copy()}
        if self.setup.observation == "input_ids":
            return self._convert(self._input_ids)
        return {"input_ids": self._convert(self._input_ids), "attention_mask": self._convert(self._attention_mask)}

    def _convert(self, array):
        """A copy of ``array`` in the output's type: numpy on the host, or a tensor on ``device``."""
        if self.output == "torch":
            return self.arrays.to_tensor(self.arrays.copy(array))
        return self.arrays.to_host(array)

    def _convert_fresh(self, array):
        """``array``, made by this step and kept nowhere, in the output's type (no copy where none is needed)."""
        if self.output == "torch":
            return self.arrays.to_tensor(array)
        return array if self.arrays.is_numpy else array.cpu().numpy()
