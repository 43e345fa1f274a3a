"""Copy: reproduce the prompt's symbol string, then stop."""

from __future__ import annotations

import itertools
import random
import string

import numpy as np

from textgym.arrays import ArrayBackend
from textgym.batch_scoring import BatchScorer
from textgym.models.tokenizer import TextTokenizer, symbol_tokenizer
from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError, require_target

SEPARATOR = "="


def symbol_strings(symbols: str, min_length: int, max_length: int, count: int, seed: int) -> list[str]:
    """``count`` distinct strings over ``symbols`` with lengths in ``[min_length, max_length]``.

    Drawn with a seeded RNG; when the whole space holds fewer than ``count`` strings,
    all of them are returned in a seeded order.
    """
    space = sum(len(symbols) ** n for n in range(min_length, max_length + 1))
    rng = random.Random(seed)
    if space <= count:
        everything = [
            "".join(p) for n in range(min_length, max_length + 1) for p in itertools.product(symbols, repeat=n)
        ]
        rng.shuffle(everything)
        return everything
    chosen: dict[str, None] = {}
    while len(chosen) < count:
        n = rng.randint(min_length, max_length)
        chosen["".join(rng.choice(symbols) for _ in range(n))] = None
    return list(chosen)


class PositionMatchScorer(Scorer):
    """Carries the count of matching positions: an update costs O(len(appended))."""

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.target = prompt.target or ""
        self.matches = 0
        self.length = 0

    def update(self, continuation: str, appended: str) -> float:
        target, n = self.target, len(self.target)
        for ch in appended:
            if self.length < n and target[self.length] == ch:
                self.matches += 1
            self.length += 1
        return position_match_score(self.matches, self.length, n)


def position_match_score(matches: int, length: int, target_length: int) -> float:
    """Fraction of positions right: matches over the longer of output and target."""
    denominator = max(length, target_length)
    return matches / denominator if denominator else 0.0


class TokenPositionMatchBatchScorer(BatchScorer):
    """All rows at once, in arrays: valid when every token is one character.

    Each row carries its target as token ids (then ``-1``, which no token equals), the
    count of matching positions and the output length; a step is a lookup, a compare and
    a division, whatever the length.
    """

    starts_at_zero = True  # reset_rows sets the rows' scores to 0 in place

    def __init__(
        self, task: Task, tokenizer: TextTokenizer, num_envs: int, arrays: ArrayBackend, prompts: list[Prompt]
    ) -> None:
        super().__init__(task, tokenizer, num_envs, arrays, prompts)
        target_ids = [tokenizer.encode(p.target or "") for p in prompts]
        width = max(len(t) for t in target_ids) + 1  # the last column is always -1
        table = np.full((len(target_ids), width), -1, dtype=np.int64)
        for i, ids in enumerate(target_ids):
            table[i, : len(ids)] = ids
        target_lengths = np.array([len(t) for t in target_ids], dtype=np.int64)
        self.target_table = arrays.from_host(table)
        self.target_length_table = arrays.from_host(target_lengths)
        self.min_denominator_table = arrays.from_host(np.maximum(target_lengths, 1))
        #: a row's counters at the start of an episode on each prompt: matches, length, target length, denominator floor
        self.start_counters = arrays.from_host(np.stack([np.zeros_like(target_lengths), np.zeros_like(target_lengths),
                                                         target_lengths, np.maximum(target_lengths, 1)]))
        self.targets = arrays.full((num_envs, width), -1)
        #: ``[4, num_envs]``: ``matches``, ``lengths``, ``target_lengths``, ``min_denominators`` (views): a row
        #: restarts with one write
        self.counters = arrays.zeros((4, num_envs))
        self.last_column = arrays.full(num_envs, width - 1)
        self.rows = arrays.arange(num_envs)
        self.width = width
        self.row_starts = self.rows * width  # where each row's target begins in the flat ``targets``
        self._bind_views()

    _VIEWS = ("matches", "lengths", "target_lengths", "min_denominators", "_targets_flat")

    def _bind_views(self) -> None:
        # min_denominators: max(target length, 1), the score's denominator floor
        self.matches, self.lengths, self.target_lengths, self.min_denominators = (self.counters[i] for i in range(4))
        self._targets_flat = self.targets.reshape(-1)  # a view: ``targets`` is contiguous

    def __getstate__(self) -> dict:
        """The attributes without the views (a pickled view would be a copy of its own)."""
        state = dict(self.__dict__)
        for name in self._VIEWS:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def reset_rows(self, rows, prompt_indices) -> None:
        take = self.arrays.take  # a gather by ``take``: cheaper than a fancy index
        self.targets[rows] = take(self.target_table, prompt_indices)
        self.counters[:, rows] = take(self.start_counters, prompt_indices, 1)
        self.scores[rows] = 0.0

    def step(self, tokens, active):
        writes = active & (tokens != self.tokenizer.pad_token_id)  # special tokens add no character
        # -1 past the target; through a flat index (cheaper than [rows, columns])
        expected = self.arrays.take(
            self._targets_flat, self.row_starts + self.xp.minimum(self.lengths, self.last_column)
        )
        self.matches += writes & (expected == tokens)
        self.lengths += writes
        self.scores = self.arrays.divide(self.matches, self.xp.maximum(self.lengths, self.min_denominators))
        return self.scores


class CopyTask(Task):
    """Copy a string of symbols.

    ## Description
    The prompt is a random string over a small alphabet followed by ``=``, e.g. ``"cabd="``.
    The agent must write the same string (``"cabd"``) and then end the episode with EOS.
    A diagnostic task: tiny vocabulary, exact answer, and a reward that tells the agent
    at every step whether the token was right.

    ## Action Space
    ``Discrete(num_symbols + 2)`` with the task's own vocabulary: id 0 is EOS
    (``<|endoftext|>``), id 1 is padding (``<pad>``), then one id per symbol ``a``, ``b``, ...,
    then ``=``. With ``model="tiny"`` (or any LM) the model's vocabulary is used instead.

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    the prompt tokens, then the tokens generated so far, right-padded with ``<pad>``;
    ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score: ``matches / max(len(output), len(target))`` where ``matches`` counts positions
    ``i`` with ``output[i] == target[i]``; range ``[0, 1]``, 1 exactly for a perfect copy;
    ``score("") = 0``.

    - dense: ``r_t = score(output_{t+1}) - score(output_t)``. Target ``"cab"``: writing
      ``c``, ``a``, ``x``, ``b`` then EOS gives ``+1/3, +1/3, 0, -1/6, 0`` (the fourth
      character makes the output longer than the target: ``2/4 - 2/3``), summing to ``0.5``.
    - sparse: 0 at every step and ``score`` at the last one: ``0, 0, 0, 0, 0.5``.

    ## Starting State
    A prompt drawn uniformly from the split with the environment's seeded RNG.

    ## Episode End
    - Termination: the agent emits EOS, or ``max_new_tokens`` tokens generated (default ``max_length + 1``): the
      horizon is part of the task, so it terminates too (``info["end_reason"]`` says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Copy-v0", task_kwargs={"num_symbols": 5, "min_length": 3, "max_length": 6})``:

    - ``num_symbols`` (2-26): alphabet size, letters ``a`` onwards.
    - ``min_length``, ``max_length``: string lengths.
    - ``seed``: seed of the prompt sets (200 train and 50 eval strings, disjoint; when
      the whole space is smaller than 250 strings, both splits hold all of it).

    ## Version History
    - v0: initial version.
    """

    name = "copy"
    description = "copy the symbol string before '=', then emit EOS"
    score_range = (0.0, 1.0)
    model = None
    num_train, num_eval = 200, 50

    def __init__(
        self,
        num_symbols: int = 5,
        min_length: int = 3,
        max_length: int = 6,
        seed: int = 0,
        prompts: PromptsLike | None = None,
    ) -> None:
        """The task on its generated prompt sets, or on your prompts.

        Args:
            num_symbols, min_length, max_length, seed: as in the class docstring.
            prompts: your prompts instead of the generated ones (a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object, see
                :class:`~textgym.task.Task`); each needs a ``target``: the string to write.
                With the task's own vocabulary, prompts and targets may use only its symbols
                (``a`` onwards, and ``=``).
        """
        for what, value in (
            ("num_symbols", num_symbols),
            ("min_length", min_length),
            ("max_length", max_length),
            ("seed", seed),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TaskError(f"task {self.name!r}: {what} must be an int, got {value!r}")
        if not 2 <= num_symbols <= 26:
            raise TaskError(f"task {self.name!r}: num_symbols={num_symbols} is outside the allowed range [2, 26]")
        if not 1 <= min_length <= max_length:
            raise TaskError(
                f"task {self.name!r}: need 1 <= min_length <= max_length, got {min_length} and {max_length}"
            )
        super().__init__(max_new_tokens=max_length + 1, prompts=prompts)
        self.symbols = string.ascii_lowercase[:num_symbols]
        self.min_length, self.max_length, self.seed = min_length, max_length, seed

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs a ``target``: the string the agent must write."""
        require_target(prompt, self.name, "the string to write")

    def source_strings(self, split: str) -> list[str]:
        strings = symbol_strings(
            self.symbols, self.min_length, self.max_length, self.num_train + self.num_eval, self.seed
        )
        if len(strings) < self.num_train + self.num_eval:
            return strings
        return strings[: self.num_train] if split == "train" else strings[self.num_train :]

    def load_prompts(self, split: str) -> list[Prompt]:
        return [Prompt(s + SEPARATOR, target=s) for s in self.source_strings(split)]

    def tokenizer(self) -> TextTokenizer:
        return symbol_tokenizer(self.symbols + SEPARATOR, name=f"{self.name}-symbols")

    def score(self, prompt: Prompt, continuation: str) -> float:
        target = prompt.target or ""
        matches = sum(a == b for a, b in zip(continuation, target))
        return position_match_score(matches, len(continuation), len(target))

    def scorer(self, prompt: Prompt) -> Scorer:
        return PositionMatchScorer(self, prompt)

    def batch_scorer(self, tokenizer: TextTokenizer, num_envs: int, arrays, prompts: list[Prompt]) -> BatchScorer:
        if not tokenizer.single_character_tokens:
            return super().batch_scorer(tokenizer, num_envs, arrays, prompts)
        return TokenPositionMatchBatchScorer(self, tokenizer, num_envs, arrays, prompts)


def generate_prompt_set(seed: int = 0) -> dict[str, list[dict]]:
    """The prompt records of the default configuration (200 train, 50 eval, disjoint).

    The task builds the same prompts from its arguments when it is constructed; the shipped
    file records the default set.
    """
    task = CopyTask(seed=seed)
    return {split: [{"text": p.text, "target": p.target} for p in task.prompts(split)] for split in ("train", "eval")}
