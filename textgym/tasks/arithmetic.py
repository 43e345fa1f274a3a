"""Arithmetic: write the result of a small addition or subtraction, then stop."""

from __future__ import annotations

import random

from textgym.batch_scoring import BatchScorer
from textgym.models.tokenizer import TextTokenizer, symbol_tokenizer
from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError, require_target
from textgym.tasks.copy import PositionMatchScorer, TokenPositionMatchBatchScorer, position_match_score

SYMBOLS = "0123456789+-="
OPERATIONS = "+-"
MAX_DIGITS = 8
#: weights of the two parts of the score: digits in the right place, and the whole answer
POSITION_WEIGHT = EXACT_WEIGHT = 0.5


def apply_operation(left: int, operation: str, right: int) -> int:
    """``left + right`` or ``left - right``."""
    return left + right if operation == "+" else left - right


def problem_count(digits: int, operations: str) -> int:
    """How many distinct problems exist: operands in ``[0, 10**digits)``, results never negative."""
    n = 10**digits
    return sum(n * n if op == "+" else n * (n + 1) // 2 for op in operations)


def arithmetic_problems(digits: int, operations: str, count: int, seed: int) -> list[tuple[int, str, int]]:
    """``count`` distinct problems ``(left, operation, right)`` with a seeded RNG.

    Operands are uniform in ``[0, 10**digits)``; the operation is uniform over
    ``operations``; for ``-`` the operands are ordered so that the result is not negative.
    When fewer than ``count`` problems exist, all of them are returned in a seeded order.
    """
    rng = random.Random(seed)
    n = 10**digits
    if problem_count(digits, operations) <= count:
        everything = [(a, op, b) for op in operations for a in range(n) for b in range(n) if op == "+" or a >= b]
        rng.shuffle(everything)
        return everything
    chosen: dict[tuple[int, str, int], None] = {}
    while len(chosen) < count:
        op = rng.choice(operations)
        a, b = rng.randrange(n), rng.randrange(n)
        if op == "-" and a < b:
            a, b = b, a
        chosen[(a, op, b)] = None
    return list(chosen)


def problem_prompt(left: int, operation: str, right: int) -> Prompt:
    """The prompt ``"37+45="`` with its target ``"82"``."""
    return Prompt(f"{left}{operation}{right}=", target=str(apply_operation(left, operation, right)))


def arithmetic_score(matches: int, length: int, target_length: int) -> float:
    """``0.5 * matches / max(length, target_length) + 0.5 * [output == target]``."""
    exact = matches == length == target_length
    return POSITION_WEIGHT * position_match_score(matches, length, target_length) + EXACT_WEIGHT * float(exact)


class ArithmeticScorer(PositionMatchScorer):
    """Carries the count of matching positions and the length: an update costs O(len(appended))."""

    def update(self, continuation: str, appended: str) -> float:
        super().update(continuation, appended)
        return arithmetic_score(self.matches, self.length, len(self.target))


class ArithmeticBatchScorer(TokenPositionMatchBatchScorer):
    """Copy's tensor scorer plus the exact-answer bonus; valid when every token is one character."""

    def step(self, tokens, active):
        position_scores = super().step(tokens, active)
        exact = (self.matches == self.target_lengths) & (self.lengths == self.target_lengths)
        self.scores = POSITION_WEIGHT * position_scores + EXACT_WEIGHT * self.arrays.astype(exact, "float64")
        return self.scores


class ArithmeticTask(Task):
    """Add or subtract two numbers.

    ## Description
    The prompt is a problem such as ``"37+45="``; the agent must write the result
    (``"82"``) and then end the episode with EOS. Results are never negative. A
    diagnostic task with an exact answer that is not in the prompt: the agent has to
    compute, digit by digit, from the most significant digit on.

    ## Action Space
    ``Discrete(15)`` with the task's own vocabulary: id 0 is EOS (``<|endoftext|>``), id 1
    is padding (``<pad>``), then ``0`` ... ``9``, ``+``, ``-``, ``=``. With ``model="tiny"``
    (or any LM) the model's vocabulary is used instead.

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    the prompt tokens, then the tokens generated so far, right-padded with ``<pad>``;
    ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score: ``0.5 * matches / max(len(output), len(target)) + 0.5 * [output == target]``,
    where ``matches`` counts positions ``i`` (from the left, the order the answer is
    written in) with ``output[i] == target[i]``. Half the score rewards each right digit,
    the other half only the whole answer, so a near miss is worth at most 0.5. Range
    ``[0, 1]``, 1 exactly for the right answer; ``score("") = 0``.

    - dense: ``r_t = score(output_{t+1}) - score(output_t)``. Prompt ``"37+45="`` (target
      ``"82"``): writing ``8``, ``2``, ``2`` then EOS gives scores ``0.25, 1, 1/3, 1/3``,
      so rewards ``+0.25, +0.75, -2/3, 0`` (the extra ``2`` loses the bonus and a third
      of the positions), summing to ``1/3``; writing ``8``, ``2``, EOS gives
      ``+0.25, +0.75, 0``, summing to 1.
    - sparse: 0 at every step and ``score`` at the last one: ``0, 0, 0, 1/3`` and ``0, 0, 1``.

    ## Starting State
    A problem drawn uniformly from the split with the environment's seeded RNG.

    ## Episode End
    - Termination: the agent emits EOS, or ``max_new_tokens`` tokens generated (default ``digits + 2``:
      the longest answer plus one): the horizon is part of the task, so it terminates too
      (``info["end_reason"]`` says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Arithmetic-v0", task_kwargs={"digits": 2, "operations": "+-"})``:

    - ``digits`` (1-8): operands are uniform in ``[0, 10**digits)``.
    - ``operations``: ``"+"`` (default), ``"-"`` or ``"+-"``; each problem draws one
      uniformly; subtraction orders its operands so that the result is not negative.
    - ``seed``: seed of the problem sets: 200 train and 50 eval problems, disjoint; when
      fewer than 250 problems exist (``digits=1``), all of them, split 4:1.

    ## Version History
    - v0: initial version.
    """

    name = "arithmetic"
    description = "write the result of the sum or difference before '=', then emit EOS"
    score_range = (0.0, 1.0)
    model = None
    num_train, num_eval = 200, 50

    def __init__(
        self, digits: int = 2, operations: str = "+", seed: int = 0, prompts: PromptsLike | None = None
    ) -> None:
        """The task on its generated problem sets, or on your prompts.

        Args:
            digits, operations, seed: as in the class docstring.
            prompts: your problems instead of the generated ones (a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object, see
                :class:`~textgym.task.Task`); each needs a ``target``: the result to write.
                With the task's own vocabulary, prompts and targets may use only digits,
                ``+``, ``-`` and ``=``.
        """
        for what, value in (("digits", digits), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TaskError(f"task {self.name!r}: {what} must be an int, got {value!r}")
        if not 1 <= digits <= MAX_DIGITS:
            raise TaskError(f"task {self.name!r}: digits={digits} is outside the allowed range [1, {MAX_DIGITS}]")
        if (
            not isinstance(operations, str)
            or not operations
            or set(operations) - set(OPERATIONS)
            or len(set(operations)) != len(operations)
        ):
            raise TaskError(f"task {self.name!r}: operations={operations!r} is not allowed; use '+', '-' or '+-'")
        super().__init__(max_new_tokens=digits + 2, prompts=prompts)
        self.digits, self.operations, self.seed = digits, operations, seed

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs a ``target``: the result the agent must write."""
        require_target(prompt, self.name, "the result to write")

    def problems(self, split: str) -> list[tuple[int, str, int]]:
        """The ``(left, operation, right)`` problems of ``split``."""
        wanted = self.num_train + self.num_eval
        problems = arithmetic_problems(self.digits, self.operations, wanted, self.seed)
        num_train = self.num_train if len(problems) >= wanted else len(problems) * 4 // 5
        return problems[:num_train] if split == "train" else problems[num_train:]

    def load_prompts(self, split: str) -> list[Prompt]:
        return [problem_prompt(*problem) for problem in self.problems(split)]

    def tokenizer(self) -> TextTokenizer:
        return symbol_tokenizer(SYMBOLS, name=f"{self.name}-symbols")

    def score(self, prompt: Prompt, continuation: str) -> float:
        target = prompt.target or ""
        matches = sum(a == b for a, b in zip(continuation, target))
        return arithmetic_score(matches, len(continuation), len(target))

    def scorer(self, prompt: Prompt) -> Scorer:
        return ArithmeticScorer(self, prompt)

    def batch_scorer(self, tokenizer: TextTokenizer, num_envs: int, arrays, prompts: list[Prompt]) -> BatchScorer:
        if not tokenizer.single_character_tokens:
            return super().batch_scorer(tokenizer, num_envs, arrays, prompts)
        return ArithmeticBatchScorer(self, tokenizer, num_envs, arrays, prompts)


def generate_prompt_set(seed: int = 0) -> dict[str, list[dict]]:
    """The prompt records of the default configuration (200 train, 50 eval, disjoint).

    The task builds its problems from its arguments when it is constructed, so nothing
    needs to ship; this gives the default set in the shipped-data record layout.
    """
    task = ArithmeticTask(seed=seed)
    return {split: [{"text": p.text, "target": p.target} for p in task.prompts(split)] for split in ("train", "eval")}
