"""Reward-model tasks: any Hugging Face sequence classifier as the score.

:class:`RewardModelTask` is the generic form (``task="reward-model"`` with ``task_kwargs``);
:class:`SentimentRMTask` (``textgym/SentimentRM-v0``) is the TRL/RL4LMs IMDb setup in
miniature: the bundled policy continues review openings, and the reward is the positive
logit of the bundled classifier ``"tiny-sentiment"`` on prompt plus continuation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from textgym.batch_scoring import TextBatchScorer
from textgym.models.reward_models import RewardModel, load_reward_model
from textgym.task import Prompt, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

#: what the reward model reads
TEXTS = ("continuation", "prompt+continuation")
#: what the score is measured from
BASELINES = ("none", "prompt")


class RewardModelTask(Task):
    """Continue prompts so that a reward model (a Hugging Face sequence classifier) scores the text high.

    ## Description
    The score of a continuation is one number from a sequence classifier: the logit,
    probability or log-probability of one of its labels (``"positive"`` of a sentiment
    classifier, say), read on the continuation or on prompt plus continuation. The
    classifier brings its own tokenizer, unrelated to the policy's: it reads the decoded
    text. This is how TRL and RL4LMs set up RLHF-style tasks (GPT-2 policy, IMDb prompts,
    ``lvwerra/distilbert-imdb`` as the reward).

    ## Action Space
    ``Discrete(vocab_size)`` of the policy model (4096 for the bundled ``"tiny"``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``,
    ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    ``score(prompt, c) = transform(classifier(text))[label]`` with ``text = c`` or
    ``prompt + c``. A classifier's score is not 0 on the empty continuation: with
    ``baseline="none"`` (the default) the score is the classifier's own number, the one
    another library reports for the same text, and the env fixes the potential before the
    first token at 0, so the first instant reward carries the empty text's score
    ``score(prompt, "")`` and the dense rewards still sum to the sparse return, the final
    score. With ``baseline="prompt"`` the score is measured from the empty text's:
    ``score(prompt, c) - score(prompt, "")``, 0 before any token, in both modes alike.

    - dense: ``r_t = score_{t+1} - score_t`` (``r_0 = score_1``): each token's change of the classifier's output.
    - sparse: ``r_T = score_T``.

    The single env makes one classifier forward per step; the batched env one forward per
    step for all its rows (``batch_size`` texts at most per forward), on ``device``.

    ## Starting State
    A prompt drawn uniformly from the split's ``prompts``.

    ## Episode End
    - Termination: EOS, or ``max_new_tokens`` tokens generated.

    ## Arguments
    - ``reward_model``: a Hugging Face name, a local folder, or ``"tiny-sentiment"`` (bundled).
    - ``label``: the label name or index whose output is the score (a single-logit head needs none).
    - ``transform``: ``"logit"`` (default), ``"prob"`` or ``"logprob"``.
    - ``text``: ``"continuation"`` (default) or ``"prompt+continuation"`` (prompt text, then the continuation, joined as is).
    - ``prompts``: a list, a dict of splits, a path to ``.jsonl``/``.csv``/``.txt``, or a ``datasets.Dataset``.
    - ``baseline``: ``"none"`` (default) or ``"prompt"`` (see *Rewards*).
    - ``device``: where the classifier runs (``"auto"``).
    - ``batch_size``: texts per forward (64). ``max_length``: truncate to this many reward-model tokens (its context).
    - ``trust_remote_code``: off unless you ask.
    - ``max_new_tokens`` (32), ``model`` (the default policy, ``"tiny"``), ``name``, ``description``.

    ## Version History
    - v0: initial version.
    """

    name = "reward-model"
    description = "continue the prompt so that the reward model scores it high"
    max_new_tokens = 32
    model = "tiny"

    def __init__(
        self,
        reward_model: str,
        label: int | str | None = None,
        transform: str = "logit",
        text: str = "continuation",
        prompts: Any = None,
        baseline: str = "none",
        device: str = "auto",
        batch_size: int = 64,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        max_new_tokens: int | None = None,
        model: str | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(name=name, prompts=prompts, description=description, max_new_tokens=max_new_tokens, model=model)
        if text not in TEXTS:
            raise TaskError(f"task {self.name!r}: unknown text {text!r}; allowed: {list(TEXTS)}")
        if baseline not in BASELINES:
            raise TaskError(f"task {self.name!r}: unknown baseline {baseline!r}; allowed: {list(BASELINES)}")
        if not isinstance(reward_model, str) or not reward_model:
            raise TaskError(f"task {self.name!r}: reward_model must be a model name or path, got {reward_model!r}")
        self.text, self.baseline = text, baseline
        self.reward_model: RewardModel = load_reward_model(
            reward_model, label=label, transform=transform, device=device, batch_size=batch_size,
            max_length=max_length, trust_remote_code=trust_remote_code,
        )
        low, high = self.reward_model.score_range()
        self.score_range = (low - high, high - low) if baseline == "prompt" else (low, high)
        self._empty_scores: dict[str, float] = {}  # prompt text -> the classifier's score of the empty continuation

    # -- scoring ----------------------------------------------------------------------------

    def classifier_input(self, prompt: Prompt, continuation: str) -> str:
        """The text the reward model reads."""
        return prompt.text + continuation if self.text == "prompt+continuation" else continuation

    def score(self, prompt: Prompt, continuation: str) -> float:
        return float(self.score_batch([prompt], [continuation])[0])

    def score_batch(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """The scores of many (prompt, continuation) pairs, in ``batch_size`` texts per classifier forward."""
        raw = self.reward_model.score([self.classifier_input(p, c) for p, c in zip(prompts, continuations)])
        if self.baseline == "prompt":
            raw = raw - self.empty_scores(prompts)
        return raw

    def empty_scores(self, prompts: Sequence[Prompt]) -> np.ndarray:
        """The classifier's own score of each prompt's empty continuation (cached per prompt text)."""
        missing = list(dict.fromkeys(p.text for p in prompts if p.text not in self._empty_scores))
        if missing:
            inputs = [self.classifier_input(Prompt(text), "") for text in missing]
            self._empty_scores.update(zip(missing, self.reward_model.score(inputs).tolist()))
        return np.array([self._empty_scores[p.text] for p in prompts], dtype=np.float64)

    def scorer(self, prompt: Prompt) -> Scorer:
        return Scorer(self, prompt)  # one classifier forward per step (the text so far)

    def batch_scorer(self, tokenizer, num_envs: int, arrays, prompts: list[Prompt]):
        return RewardModelBatchScorer(self, tokenizer, num_envs, arrays, prompts)


class RewardModelBatchScorer(TextBatchScorer):
    """Per-row incremental decoding, and one classifier forward per step for every row whose text changed."""

    task: RewardModelTask

    def reset_rows(self, rows, prompt_indices) -> None:
        rows, indices = rows.tolist(), prompt_indices.tolist()
        prompts = [self.prompts[index] for index in indices]
        start = self.task.score_batch(prompts, [""] * len(rows))  # one forward (cached per prompt with a baseline)
        for row, prompt, score in zip(rows, prompts, start.tolist()):
            self._texts[row] = ""
            self._decoders[row] = self.tokenizer.incremental_decoder()
            self._prompts[row] = prompt
            self._scores[row] = score
        self._publish()

    def step(self, tokens, active):
        token_list = tokens.tolist()
        changed = []
        for row in np.flatnonzero(self.arrays.to_host(active)).tolist():
            appended = self._decoders[row].push(token_list[row])
            if appended:
                self._texts[row] += appended
                changed.append(row)
        self._rescore(changed)
        self._publish()
        return self.scores

    def finish_rows(self, rows):
        changed = []
        for row in rows.tolist():
            rest = self._decoders[row].flush()
            if rest:
                self._texts[row] += rest
                changed.append(row)
        if changed:
            self._rescore(changed)
            self._publish()
        return self.scores

    def _rescore(self, rows: list[int]) -> None:
        if rows:
            self._scores[rows] = self.task.score_batch([self._prompts[r] for r in rows], [self._texts[r] for r in rows])


class SentimentRMTask(RewardModelTask):
    """Continue a review so that a sentiment classifier reads it as positive: TRL's IMDb setup in miniature.

    ## Description
    The prompt is a neutral review opening such as ``"The pasta at this little place was"``
    (the prompts of ``textgym/Sentiment-v0``). The reward model is the bundled
    ``"tiny-sentiment"``, a 2-layer GPT-2 sequence classifier trained on the labelled
    reviews of the bundled corpus (``python -m textgym.models.train_tiny_sentiment``), read
    on prompt plus continuation, as TRL's and RL4LMs' IMDb examples read
    ``lvwerra/distilbert-imdb``.

    ## Action Space
    ``Discrete(vocab_size)`` of the policy (4096 for ``"tiny"``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``.

    ## Rewards
    Score: the classifier's ``"positive"`` logit of prompt plus continuation (unbounded).
    It is not 0 on the empty continuation (it is the logit of the prompt alone): the first
    instant reward carries it (the potential before the first token is 0), so the dense
    rewards sum to the sparse return, which is the final logit. ``baseline="prompt"``
    measures every score from the prompt's own logit instead.

    ## Starting State
    A review opening drawn uniformly from the split (216 train, 54 eval; disjoint).

    ## Episode End
    - Termination: EOS, or ``max_new_tokens`` tokens generated (default 20).

    ## Arguments
    ``gym.make("textgym/SentimentRM-v0", reward_mode="dense", task_kwargs={"device": "cpu", "baseline": "none"})``;
    ``transform``, ``prompts``, ``batch_size`` as for :class:`RewardModelTask`.

    ## Version History
    - v0: initial version.
    """

    name = "sentiment-rm"
    description = "continue a review so that a sentiment classifier reads it positive"
    max_new_tokens = 20
    model = "tiny"

    def __init__(
        self,
        transform: str = "logit",
        prompts: Any = None,
        baseline: str = "none",
        device: str = "auto",
        batch_size: int = 64,
    ) -> None:
        super().__init__(
            reward_model="tiny-sentiment", label="positive", transform=transform, text="prompt+continuation",
            prompts=prompts, baseline=baseline, device=device, batch_size=batch_size,
        )

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("sentiment", split)
