"""Reverse: write the prompt's symbol string backwards, then stop."""

from __future__ import annotations

from textgym.task import Prompt
from textgym.tasks.copy import SEPARATOR, CopyTask


class ReverseTask(CopyTask):
    """Reverse a string of symbols.

    ## Description
    The prompt is a random string over a small alphabet followed by ``=``, e.g. ``"abcd="``.
    The agent must write the string reversed (``"dcba"``) and then end the episode with
    EOS. Unlike Copy, the first character to write is the last one read, so the agent
    must attend across the whole prompt from the first step. Scoring, vocabulary and
    arguments are those of Copy; only the target differs.

    ## Action Space
    ``Discrete(num_symbols + 2)`` with the task's own vocabulary: id 0 is EOS
    (``<|endoftext|>``), id 1 is padding (``<pad>``), then one id per symbol ``a``, ``b``, ...,
    then ``=``. With ``model="tiny"`` (or any LM) the model's vocabulary is used instead.

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    the prompt tokens, then the tokens generated so far, right-padded with ``<pad>``;
    ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score: ``matches / max(len(output), len(target))`` where ``target`` is the prompt's
    string reversed and ``matches`` counts positions ``i`` with ``output[i] == target[i]``;
    range ``[0, 1]``, 1 exactly for a perfect reversal; ``score("") = 0``.

    - dense: ``r_t = score(output_{t+1}) - score(output_t)``. Prompt ``"abc="`` (target
      ``"cba"``): writing ``c``, ``b``, ``b``, ``a`` then EOS gives ``+1/3, +1/3, 0, -1/6, 0``
      (the fourth character makes the output longer than the target: ``2/4 - 2/3``),
      summing to ``0.5``.
    - sparse: 0 at every step and ``score`` at the last one: ``0, 0, 0, 0, 0.5``.

    ## Starting State
    A prompt drawn uniformly from the split with the environment's seeded RNG.

    ## Episode End
    - Termination: the agent emits EOS, or ``max_new_tokens`` tokens generated (default ``max_length + 1``): the
      horizon is part of the task, so it terminates too (``info["end_reason"]`` says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Reverse-v0", task_kwargs={"num_symbols": 5, "min_length": 3, "max_length": 6})``:

    - ``num_symbols`` (2-26): alphabet size, letters ``a`` onwards.
    - ``min_length``, ``max_length``: string lengths.
    - ``seed``: seed of the prompt sets (200 train and 50 eval strings, disjoint; when
      the whole space is smaller than 250 strings, both splits hold all of it).

    ## Version History
    - v0: initial version.
    """

    name = "reverse"
    description = "write the symbol string before '=' reversed, then emit EOS"

    def load_prompts(self, split: str) -> list[Prompt]:
        return [Prompt(s + SEPARATOR, target=s[::-1]) for s in self.source_strings(split)]


def generate_prompt_set(seed: int = 0) -> dict[str, list[dict]]:
    """The prompt records of the default configuration (200 train, 50 eval, disjoint).

    The task builds its prompts from its arguments when it is constructed, so nothing
    needs to ship; this gives the default set in the shipped-data record layout.
    """
    task = ReverseTask(seed=seed)
    return {split: [{"text": p.text, "target": p.target} for p in task.prompts(split)] for split in ("train", "eval")}
