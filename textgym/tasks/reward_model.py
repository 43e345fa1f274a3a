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
from textgym.models.reward_models import RewardModel, RewardModelError, load_reward_model
from textgym.models.tokenizer import TextTokenizer
from textgym.task import Prompt, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

#: what the reward model reads
TEXTS = ("continuation", "prompt+continuation")
#: what the score is measured from
BASELINES = ("none", "prompt")
#: when the score is computed again (besides a positive int k: every k generated tokens)
SCORE_EVERY = ("token", "word")


def check_score_every(value: object, task_name: str) -> str | int:
    """``value`` if it is ``"token"``, ``"word"`` or a positive int, else a :class:`TaskError` naming it and what
    is allowed."""
    if isinstance(value, str) and value in SCORE_EVERY:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and int(value) > 0:
        return int(value)
    raise TaskError(
        f"task {task_name!r}: unknown score_every {value!r}; allowed: 'token' (every step where the text changed), "
        f"'word' (when a word completes) or a positive int k (every k generated tokens)"
    )


def score_due(score_every: str | int, previous: str, appended: str, generated: int, scored_at: int) -> bool:
    """Whether a step that appended ``appended`` (non-empty) to ``previous`` scores the text again.

    ``generated``: the tokens generated so far (this step's included); ``scored_at``: that
    count when the score was last computed (0 at the start). ``"token"``: always. ``"word"``:
    when the appended text holds a whitespace character right after a non-space one (of the
    appended text, or the last of ``previous``): the word before it is complete. ``k``: when a
    multiple of ``k`` tokens was reached since the last score. The end of an episode always
    scores (not decided here).
    """
    if score_every == "token":
        return True
    if score_every == "word":
        before = previous[-1:] or " "
        for ch in appended:
            if ch.isspace() and not before.isspace():
                return True
            before = ch
        return False
    return generated // score_every > scored_at // score_every


class ScoreSchedule:
    """When one episode's text is scored again under ``score_every``: the one place that decides it.

    The single env's :class:`RewardModelScorer` keeps one, and the batched
    :class:`RewardModelBatchScorer` one per row, so both score at the same steps, row by row.
    The env's :meth:`~textgym.task.Scorer.advance` gives it the tokens generated so far;
    :meth:`due` says whether an update computes the score (by :func:`score_due`) or holds the
    last one; :meth:`record` notes each score computed; :meth:`stale` says whether the final
    text still needs its score at the episode's end (it always gets one).

    Args:
        score_every: ``"token"``, ``"word"`` or a positive int (checked by :func:`check_score_every`).
    """

    def __init__(self, score_every: str | int) -> None:
        self.score_every = score_every
        self.restart()

    def restart(self, scored_text: str | None = None) -> None:
        """A new episode: no token generated; ``scored_text``: the text whose score the episode starts with, if any."""
        #: tokens generated so far (EOS included), as the env last reported them
        self.generated = 0
        #: ``generated`` when the score was last computed
        self.scored_at = 0
        #: the text the held score is of (``None``: nothing scored yet)
        self.scored_text = scored_text

    def advance(self, generated: int) -> None:
        """The env's count of tokens generated so far (see :meth:`textgym.task.Scorer.advance`)."""
        self.generated = generated

    def due(self, continuation: str, appended: str) -> bool:
        """Whether ``update(continuation, appended)`` computes the score (else it holds the last one).

        Always for the first update of an episode (the empty text) and for the very text last
        scored; otherwise when :func:`score_due` says so for this step.
        """
        scored_text = self.scored_text
        if scored_text is None or self.score_every == "token" or continuation == scored_text:
            return True
        previous = continuation[: len(continuation) - len(appended)]
        return score_due(self.score_every, previous, appended, self.generated, self.scored_at)

    def record(self, continuation: str) -> None:
        """The score of ``continuation`` was computed at this step."""
        self.scored_text = continuation
        self.scored_at = self.generated

    def stale(self, continuation: str) -> bool:
        """Whether the held score is of another text than ``continuation`` (at the end: score the final text)."""
        return continuation != self.scored_text


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

    Cost. A *decoder* classifier (GPT-2, Llama, Mistral, ... ``...ForSequenceClassification``,
    whose head reads the last token; see
    :func:`textgym.models.incremental_reward.decoder_classifier_problem` for the rule) is read
    incrementally by default (``incremental=True``): every row of an env keeps the
    classifier's key/value cache of its text, and a step feeds only the reward-model tokens
    the appended text adds (the text is retokenised by the classifier's own tokenizer and the
    cache cut back to the longest common prefix when a byte-pair merge rewrites the last
    tokens), so each token goes through the classifier about once per episode and an
    instant reward costs what one token costs. The batched env makes one forward per step
    for all rows with new tokens (another for the few rows whose appended text takes more
    tokens than most, and one for rows that start again). An encoder classifier
    (BERT-like) reads the whole text again at every step (``incremental=False``, also
    available for a decoder, as the reference), ``batch_size`` texts per forward.

    How often. ``score_every`` trades the density of the reward for forwards, most useful
    for an encoder classifier, whose every score is a forward over the whole text:
    ``"token"`` (default) scores every step where the text changed; ``"word"`` only at the
    steps that complete a word (the appended text holds whitespace right after a non-space
    character; with a policy whose tokens start with a space, the step after the word's last
    token); a positive int ``k`` at the steps that reach a multiple of ``k`` generated
    tokens (at the first step that changes the text after it, if that one adds no
    character). The episode's last step always scores the final text. In between the score
    is held (the previous value), so those steps' instant rewards are 0 and the change
    lands, whole, on the next scoring step: fewer reads for coarser, delayed credit, and the
    dense rewards still sum to the sparse return exactly. ``k`` cuts the forwards about
    ``k``-fold (the rows of a batched env that start together reach multiples of ``k``
    together). ``"word"`` reads a row about once per word, which with a subword policy
    is most steps (1.3-1.6 tokens a word): in the batched env a step's forward then holds
    fewer rows rather than forwards becoming rarer, a modest saving
    (``benchmarks/RESULTS.md``). A decoder classifier read incrementally takes ``score_every`` too: the
    held text's tokens are fed at the next scoring step, in one forward, so each token still
    goes through the classifier once and only the per-forward overhead is saved (small
    beside an encoder's re-read). The single env and the batched env score at the same
    steps, row by row: one :class:`ScoreSchedule` per episode decides.

    Sparse mode. Where the whole text is read again at every step, sparse mode scores each
    episode once, when it ends (:attr:`lazy_sparse`; one forward for all rows ending at that
    step in the batched env), and ``info["score"]`` before the last step stays the empty
    text's score, the last one computed. Read incrementally, a sparse episode is fed like a
    dense one (each token once, in small forwards): its final score then comes from the very
    computation the dense rewards sum to, so the dense rewards sum to the sparse return to
    the last bit. (A float32 forward's result depends on how many tokens it holds, by ~1e-7:
    a text read in one forward at the end would agree with the cached path only that far.)
    ``lazy_sparse=True`` asks for the single forward at the end anyway. In dense mode the
    full re-read scores the rows that end at a step together, in one forward, as sparse mode
    does, so the final score is the same number in both modes.

    No text is truncated: the env refuses, at construction, a ``max_new_tokens`` whose
    episodes can outgrow the classifier's context (:meth:`check_horizon`), and a text that
    outgrows it anyway (say, many U+FFFD replacement characters) is an error at its step.

    ## Starting State
    A prompt drawn uniformly from the split's ``prompts``.

    ## Episode End
    - Termination: EOS, or ``max_new_tokens`` tokens generated.
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    - ``reward_model``: a Hugging Face name, a local folder, or ``"tiny-sentiment"`` (bundled).
    - ``label``: the label name or index whose output is the score (a single-logit head needs none).
    - ``transform``: ``"logit"`` (default), ``"prob"`` or ``"logprob"``.
    - ``text``: ``"continuation"`` (default) or ``"prompt+continuation"`` (prompt text, then the continuation,
      joined as is).
    - ``prompts``: a list, a dict of splits, a path to ``.jsonl``/``.csv``/``.txt``, or a ``datasets.Dataset``.
    - ``baseline``: ``"none"`` (default) or ``"prompt"`` (see *Rewards*).
    - ``device``: where the classifier runs (``"auto"``).
    - ``batch_size``: texts per forward (64) when texts are read whole. ``max_length``: the most
      reward-model tokens a text may take (default: the classifier's context); a direct
      :meth:`score` truncates to it, an env refuses longer texts.
    - ``incremental``: ``None`` (default: ``True`` for a decoder classifier, else ``False``),
      ``True`` (a :class:`~textgym.models.reward_models.RewardModelError` at construction if the
      classifier is not a decoder one) or ``False`` (re-read the whole text at every step).
    - ``lazy_sparse``: ``None`` (default: ``True`` unless read incrementally), ``True`` (sparse
      episodes scored only at their end, by one forward over the whole text) or ``False``.
    - ``score_every``: ``"token"`` (default), ``"word"`` or a positive int ``k`` (see *How often*);
      anything else is a :class:`~textgym.task.TaskError`.
    - ``trust_remote_code``: off unless you ask.
    - ``max_new_tokens`` (32), ``model`` (the default policy, ``"tiny"``), ``name``, ``description``.

    ## Version History
    - v0: initial version.
    """

    name = "reward-model"
    description = "continue the prompt so that the reward model scores it high"
    max_new_tokens = 32
    model = "tiny"
    #: a classifier forward is the cost of a step: sparse episodes are scored only at their end (unless read
    #: incrementally, see *Sparse mode*; set per task object)
    lazy_sparse = True

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
        incremental: bool | None = None,
        lazy_sparse: bool | None = None,
        score_every: str | int = "token",
    ) -> None:
        super().__init__(
            name=name, prompts=prompts, description=description, max_new_tokens=max_new_tokens, model=model
        )
        #: when the score is computed again: ``"token"``, ``"word"`` or every ``k`` generated tokens (see *How often*)
        self.score_every = check_score_every(score_every, self.name)
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
        #: whether envs feed each row's classifier only the tokens its text adds (see *Cost*)
        self.incremental = self._resolve_incremental(incremental)
        if lazy_sparse is not None and not isinstance(lazy_sparse, (bool, np.bool_)):
            raise TaskError(f"task {self.name!r}: lazy_sparse must be True, False or None, got {lazy_sparse!r}")
        self.lazy_sparse = not self.incremental if lazy_sparse is None else bool(lazy_sparse)

    def _resolve_incremental(self, incremental: bool | None) -> bool:
        if incremental is not None and not isinstance(incremental, (bool, np.bool_)):
            raise TaskError(f"task {self.name!r}: incremental must be True, False or None, got {incremental!r}")
        if incremental is not None and not incremental:
            return False
        problem = self.reward_model.decoder_problem()
        if problem is not None and incremental:
            raise RewardModelError(
                f"incremental=True needs a decoder classifier (a causal model whose head reads the last token, such as "
                f"GPT2ForSequenceClassification), but reward model {self.reward_model.name!r} is not one: {problem}; "
                f"pass incremental=False to read the whole text at every step"
            )
        return problem is None

    # -- scoring ----------------------------------------------------------------------------

    def classifier_input(self, prompt: Prompt, continuation: str) -> str:
        """The text the reward model reads."""
        return prompt.text + continuation if self.text == "prompt+continuation" else continuation

    def score(self, prompt: Prompt, continuation: str) -> float:
        return float(self.score_batch([prompt], [continuation])[0])

    def score_batch(self, prompts: Sequence[Prompt], continuations: Sequence[str], truncate: bool = True) -> np.ndarray:
        """The scores of many (prompt, continuation) pairs, in ``batch_size`` texts per classifier forward.

        ``truncate=False``: a text longer than the classifier's ``max_length`` is an error, not cut.
        """
        raw = self.reward_model.score(
            [self.classifier_input(p, c) for p, c in zip(prompts, continuations)], truncate=truncate
        )
        if self.baseline == "prompt":
            raw = raw - self.empty_scores(prompts)
        return raw

    def start_scores(self, prompts: Sequence[Prompt]) -> np.ndarray:
        """The score of every prompt's empty continuation, cached per prompt (0 with ``baseline="prompt"``)."""
        if self.baseline == "prompt":
            return np.zeros(len(prompts), dtype=np.float64)
        return self.empty_scores(prompts)

    def empty_scores(self, prompts: Sequence[Prompt]) -> np.ndarray:
        """The classifier's own score of each prompt's empty continuation (cached per prompt text)."""
        missing = list(dict.fromkeys(p.text for p in prompts if p.text not in self._empty_scores))
        if missing:
            inputs = [self.classifier_input(Prompt(text), "") for text in missing]
            self._empty_scores.update(zip(missing, self.reward_model.score(inputs).tolist()))
        return np.array([self._empty_scores[p.text] for p in prompts], dtype=np.float64)

    def scorer(self, prompt: Prompt) -> Scorer:
        return RewardModelScorer(self, prompt)

    def batch_scorer(self, tokenizer, num_envs: int, arrays, prompts: list[Prompt]):
        return RewardModelBatchScorer(self, tokenizer, num_envs, arrays, prompts)

    # -- the horizon ------------------------------------------------------------------------

    def check_horizon(self, max_new_tokens: int, tokenizer: TextTokenizer) -> None:
        """Refuse a horizon whose episodes can outgrow the classifier's context (``max_length``).

        The bound, in reward-model tokens: the longest classifier input of the task's prompts
        with an empty continuation (special tokens included, both splits, exact), plus
        ``max_new_tokens`` times the most reward-model tokens that the text of any one policy
        token takes alone (a token that decodes to part of a character is left out: its
        bytes join the character that the next tokens complete). A text decoded from bytes
        that never form a character carries U+FFFD replacement characters that can take more;
        such a text is refused at its step. Raises :class:`RewardModelError` naming both lengths.
        """
        prompt_tokens = self._longest_start_tokens()
        per_token = self._tokens_per_policy_token(tokenizer)
        bound = prompt_tokens + max_new_tokens * per_token
        limit = self.reward_model.max_length
        if bound > limit:
            room = (limit - prompt_tokens) // per_token
            fix = f"use max_new_tokens <= {room}, shorter prompts," if room > 0 else "use shorter prompts"
            raise RewardModelError(
                f"task {self.name!r}: prompt plus horizon can take {bound} tokens of reward model "
                f"{self.reward_model.name!r} (the longest prompt {prompt_tokens}, plus max_new_tokens={max_new_tokens} "
                f"tokens of {tokenizer.name!r} at up to {per_token} each), more than the {limit} it reads "
                f"(its context); textgym never truncates the scored text: {fix} or a reward model with a longer context"
            )

    def _longest_start_tokens(self) -> int:
        texts = {self.classifier_input(p, "") for split in ("train", "eval") for p in self.prompts(split)}
        return max(self.reward_model.token_counts(sorted(texts)))

    def _tokens_per_policy_token(self, tokenizer: TextTokenizer) -> int:
        return _tokens_per_token(self.reward_model, tokenizer)


#: (classifier tokenizer, policy vocabulary) -> the most classifier tokens of one policy token; the objects are kept so
#: that their ids stay theirs
_PER_TOKEN: dict[tuple[int, int], tuple[object, object, int]] = {}


def _tokens_per_token(reward_model: RewardModel, tokenizer: TextTokenizer) -> int:
    """The most reward-model tokens the text of one policy token takes alone.

    Cached per classifier tokenizer and vocabulary.
    """
    key = (id(reward_model.tokenizer), id(tokenizer.backend))
    cached = _PER_TOKEN.get(key)
    if cached is not None:
        return cached[2]
    texts = [tokenizer.decode([token]) for token in range(tokenizer.vocab_size)]
    whole = [text for text in texts if text and not text.endswith("\ufffd")]
    ids = reward_model.tokenizer(whole, add_special_tokens=False)["input_ids"] if whole else []
    most = max([1, *(len(row) for row in ids)])
    _PER_TOKEN[key] = (reward_model.tokenizer, tokenizer.backend, most)
    return most


class RewardModelScorer(Scorer):
    """One episode's score: the classifier's cache of the text so far fed what each update adds (or the whole text
    re-read, with ``incremental=False``), at the steps its :class:`ScoreSchedule` says."""

    task: RewardModelTask

    def __init__(self, task: RewardModelTask, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self._rows = task.reward_model.incremental_scores(1) if task.incremental else None
        self._baseline: float | None = None  # the empty text's own score, with baseline="prompt"
        self.schedule = ScoreSchedule(task.score_every)
        self._held = 0.0  # the score last computed

    def advance(self, generated: int) -> None:
        self.schedule.advance(generated)

    def update(self, continuation: str, appended: str) -> float:
        if not self.schedule.due(continuation, appended):
            return self._held  # held until the next scoring step
        return self._compute(continuation)

    def finish(self, continuation: str) -> float | None:
        if not self.schedule.stale(continuation):
            return None
        return self._compute(continuation)

    def _compute(self, continuation: str) -> float:
        self._held = self._score(continuation)
        self.schedule.record(continuation)
        return self._held

    def _score(self, continuation: str) -> float:
        task, prompt = self.task, self.prompt
        if self._rows is None:
            return float(task.score_batch([prompt], [continuation], truncate=False)[0])
        if task.baseline == "prompt" and self._baseline is None:
            self._baseline = float(self._rows.scores([0], [task.classifier_input(prompt, "")])[0])
        raw = float(self._rows.scores([0], [task.classifier_input(prompt, continuation)])[0])
        return raw - self._baseline if task.baseline == "prompt" else raw


class RewardModelBatchScorer(TextBatchScorer):
    """Per-row incremental decoding; one classifier forward per step for the rows whose text changed.

    With an incremental task each row keeps the classifier's cache of its text and is fed
    what its text adds; otherwise the changed rows' whole texts are read again. With
    :attr:`lazy` (sparse mode) nothing is scored before a row's episode ends: its start
    score is the cached empty-text score, and :meth:`finish_rows` reads the ending rows'
    whole texts in one forward.
    """

    task: RewardModelTask

    def __init__(self, task: RewardModelTask, tokenizer, num_envs: int, arrays, prompts) -> None:
        super().__init__(task, tokenizer, num_envs, arrays, prompts)
        self._rows = task.reward_model.incremental_scores(num_envs) if task.incremental else None
        self._baselines = np.zeros(num_envs, dtype=np.float64)  # each row's empty-text score, with baseline="prompt"
        #: when each row is scored again: the schedule the single env's scorer keeps, one per row
        self._schedules = [ScoreSchedule(task.score_every) for _ in range(num_envs)]

    def reset_rows(self, rows, prompt_indices) -> None:
        rows, indices = rows.tolist(), prompt_indices.tolist()
        prompts = [self.prompts[index] for index in indices]
        for row, prompt in zip(rows, prompts):
            self._texts[row] = ""
            self._schedules[row].restart(scored_text="")  # every row starts with the empty text's score
            self._decoders[row] = self.tokenizer.incremental_decoder()
            self._prompts[row] = prompt
        if self.lazy:
            self._scores[rows] = self.task.start_scores(prompts)  # cached per prompt: no forward
        elif self._rows is not None:
            self._rows.reset_rows(rows)
            raw = self._rows.scores(rows, [self.task.classifier_input(prompt, "") for prompt in prompts])
            self._baselines[rows] = raw if self.task.baseline == "prompt" else 0.0
            self._scores[rows] = raw - self._baselines[rows]
        else:
            self._scores[rows] = self.task.score_batch(prompts, [""] * len(rows), truncate=False)  # one forward
        self._publish()

    def advance(self, generated, live) -> None:
        counts = self.arrays.to_host(generated).tolist()
        rows = range(self.num_envs) if live is None else np.flatnonzero(self.arrays.to_host(live)).tolist()
        schedules = self._schedules
        for row in rows:
            schedules[row].advance(counts[row])

    def step(self, tokens, active):
        token_list = tokens.tolist()
        due = []
        for row in np.flatnonzero(self.arrays.to_host(active)).tolist():
            appended = self._decoders[row].push(token_list[row])
            if appended:
                text = self._texts[row] + appended
                self._texts[row] = text
                if self._schedules[row].due(text, appended):
                    due.append(row)
        if not self.lazy:
            self._rescore(due)
        self._publish()
        return self.scores

    def finish_rows(self, rows):
        rows = rows.tolist()
        for row in rows:
            rest = self._decoders[row].flush()
            if rest:
                self._texts[row] += rest
        # the rows whose score is of an earlier text: a character the decoder held, or a text held by score_every
        changed = [row for row in rows if self._schedules[row].stale(self._texts[row])]
        if self.lazy or self._rows is None:
            # read whole: the ending rows in one forward of their own, in sparse mode (their only score) and in
            # dense mode alike, so that the final score is the same number in both
            if rows:
                self._scores[rows] = self.task.score_batch(
                    [self._prompts[r] for r in rows], [self._texts[r] for r in rows], truncate=False
                )
                self._mark_scored(rows)
                self._publish()
        elif changed:
            self._rescore(changed)
            self._publish()
        return self.scores

    def _rescore(self, rows: list[int]) -> None:
        if not rows:
            return
        prompts, texts = [self._prompts[r] for r in rows], [self._texts[r] for r in rows]
        if self._rows is None:
            self._scores[rows] = self.task.score_batch(prompts, texts, truncate=False)
        else:
            inputs = [self.task.classifier_input(p, t) for p, t in zip(prompts, texts)]
            self._scores[rows] = self._rows.scores(rows, inputs) - self._baselines[rows]
        self._mark_scored(rows)

    def _mark_scored(self, rows: list[int]) -> None:
        for row in rows:
            self._schedules[row].record(self._texts[row])


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
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/SentimentRM-v0", reward_mode="dense", task_kwargs={"device": "cpu", "baseline": "none"})``;
    ``transform``, ``prompts``, ``batch_size``, ``incremental``, ``lazy_sparse``, ``score_every`` as for
    :class:`RewardModelTask`
    (the classifier is a decoder one: read incrementally by default).

    ## Version History
    - v0: initial version.
    """

    name = "sentiment-rm"
    description = "continue a review so that a sentiment classifier reads it positive"
    max_new_tokens = 20
    model = "tiny"
    #: the bundled classifier that scores the text
    classifier = "tiny-sentiment"

    def __init__(
        self,
        transform: str = "logit",
        prompts: Any = None,
        baseline: str = "none",
        device: str = "auto",
        batch_size: int = 64,
        incremental: bool | None = None,
        lazy_sparse: bool | None = None,
        score_every: str | int = "token",
    ) -> None:
        super().__init__(
            reward_model=self.classifier, label="positive", transform=transform, text="prompt+continuation",
            prompts=prompts, baseline=baseline, device=device, batch_size=batch_size, incremental=incremental,
            lazy_sparse=lazy_sparse, score_every=score_every,
        )

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("sentiment", split)
