"""Sentiment: continue a review so that the continuation is positive (VADER compound).

VADER itself (the analyser, the compound of a text and its incremental form) lives in
:mod:`textgym.tasks.vader_incremental`; :func:`vader` and :func:`vader_compound` are
re-exported here.
"""

from __future__ import annotations

from textgym.task import Prompt, PromptsLike, Scorer, Task
from textgym.tasks.data import load_prompts
from textgym.tasks.vader_incremental import VaderScorer, vader, vader_compound

__all__ = ["SentimentTask", "generate_prompt_set", "vader", "vader_compound"]


class SentimentTask(Task):
    """Continue a product, film, restaurant, book or hotel review positively.

    ## Description
    The prompt is a neutral review opening such as ``"The pasta at this little place was"``.
    The agent writes the continuation token by token; the more positive the continuation
    reads, the higher the score. The classic "positive sentiment" RL-for-text task
    (IMDB in RL4LMs), here offline with VADER as the judge.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score: the VADER compound sentiment of the continuation (prompt excluded), in
    ``[-1, 1]``; ``score("") = 0``.

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. Continuing with ``" really"``,
      ``" great"``, ``"."`` gives compounds ``0``, ``0.659``, ``0.659``, so rewards
      ``0, +0.659, 0`` (VADER weighs "really" only once "great" follows).
    - sparse: ``0, 0, 0.659``. The two sum to the same return.

    ## Starting State
    A review opening drawn uniformly from the split (216 train, 54 eval; disjoint) with
    the environment's seeded RNG.

    ## Episode End
    - Termination: the agent emits EOS, or ``max_new_tokens`` tokens generated (default 20): the horizon is part
      of the task, so it terminates too (``info["end_reason"]`` says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Sentiment-v0", model="tiny", reward_mode="dense", max_new_tokens=20, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "sentiment"
    description = "continue a review so that it reads positive"
    score_range = (-1.0, 1.0)
    max_new_tokens = 20
    model = "tiny"

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`).
        """
        super().__init__(prompts=prompts)

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("sentiment", split)

    def score(self, prompt: Prompt, continuation: str) -> float:
        return vader_compound(continuation)

    def scorer(self, prompt: Prompt) -> Scorer:
        """Incremental: a step costs about the same at any length (exactly ``score``'s value)."""
        return VaderScorer(self, prompt)


def generate_prompt_set(seed: int = 0) -> dict[str, list[str]]:
    """216 train and 54 eval neutral review openings, disjoint (seeded)."""
    from textgym.models.corpus import review_openings

    openings = review_openings(270, seed=seed)
    return {"train": openings[:216], "eval": openings[216:]}
