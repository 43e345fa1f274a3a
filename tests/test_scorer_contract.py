"""One Scorer contract for both envs: the batched env calls each row's ``Scorer`` as ``TextGenEnv`` calls its own.

A custom task whose scorer re-scores only every third token (it counts the tokens with
``advance``, holds its last score in between, and ``finish`` scores the final text) logs every
call it gets. Played with the same prompts and actions, every row of ``TextGenVectorEnv`` must
give the rewards, ends, running scores and final texts of a ``TextGenEnv``, and its scorers must
receive the same calls (``advance`` before ``update`` at every step, EOS included; ``finish``
once at the end), in every autoreset mode the batched env supports, over several episodes per
row so that autoreset runs. In sparse mode with ``lazy_sparse`` the one ``update`` of the whole
text at the end is part of the contract too, and with a stop condition its reading is.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import reward_contract
from gymnasium.vector import AutoresetMode

from textgym.task import Prompt, Scorer, Task

ENV_ID = "textgym/TextGenEnv-v0"
PROMPTS = ["Say something:", "Tell me a story:", "Describe the sea:"]
SEEDS = [3, 14, 15]
HORIZON = 6
STEPS = 40
MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED]


def character_sum_score(prompt: Prompt, continuation: str) -> float:
    """A score that changes with almost every character (so a held score differs from a fresh one)."""
    return (sum(map(ord, continuation)) % 997) / 997


class EveryThirdTokenScorer(Scorer):
    """Re-scores only at steps whose token count (from ``advance``) is a multiple of 3.

    ``finish`` scores the final text; every call is logged in :attr:`calls`.
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.generated = 0
        self.held: float | None = None
        self.calls: list[tuple] = []

    def advance(self, generated: int) -> None:
        self.calls.append(("advance", generated))
        self.generated = generated

    def update(self, continuation: str, appended: str) -> float:
        self.calls.append(("update", continuation, appended))
        if self.held is None or self.generated % 3 == 0:
            self.held = self.task.score(self.prompt, continuation)
        return self.held

    def finish(self, continuation: str) -> float | None:
        self.calls.append(("finish", continuation))
        return self.task.score(self.prompt, continuation)


class EveryThirdTokenTask(Task):
    """A task whose episodes are scored by :class:`EveryThirdTokenScorer`; :attr:`made` keeps every scorer it made."""

    def __init__(self, lazy_sparse: bool = False) -> None:
        super().__init__(
            "every-third-token", prompts=PROMPTS, score=character_sum_score, score_range=(0.0, 1.0),
            max_new_tokens=HORIZON,
        )
        self.lazy_sparse = lazy_sparse
        self.made: list[EveryThirdTokenScorer] = []

    def scorer(self, prompt: Prompt) -> Scorer:
        scorer = EveryThirdTokenScorer(self, prompt)
        self.made.append(scorer)
        return scorer


class StoppingEveryThirdTokenTask(EveryThirdTokenTask):
    """The same, with a stop condition: a full stop or a newline in the text ends the episode."""

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        return "." in continuation or "\n" in continuation


#: (reward mode, task class, lazy_sparse): dense with a stop condition; sparse scored lazily (one update at the end)
VARIANTS = {
    "dense-stop": ("dense", StoppingEveryThirdTokenTask, False),
    "sparse-lazy": ("sparse", EveryThirdTokenTask, True),
    "sparse": ("sparse", StoppingEveryThirdTokenTask, False),
}


def actions_for(tokenizer, vocab_size: int, seed: int) -> np.ndarray:
    """``[STEPS, rows]`` token ids: any token, EOS, bytes of multi-byte characters and stop tokens mixed in."""
    rng = np.random.default_rng(seed)
    actions = reward_contract.random_actions(rng, tokenizer, vocab_size, (STEPS, len(SEEDS)), eos_rate=0.08)
    stops = reward_contract.stop_tokens(tokenizer)
    if stops:
        draw = rng.random(actions.shape)
        actions = np.where(draw < 0.05, rng.choice(stops, size=actions.shape), actions)
    return actions


def batched_logs(task: EveryThirdTokenTask, starts: list[int], rows: int) -> list[list[list[tuple]]]:
    """Every row's episodes' call logs: ``starts[k]`` is the row that scorer ``k`` (in order made) was made for."""
    assert len(task.made) == len(starts), "the batched env made a scorer per episode start"
    logs: list[list[list[tuple]]] = [[] for _ in range(rows)]
    for row, scorer in zip(starts, task.made):
        logs[row].append(scorer.calls)
    return logs


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
def test_every_row_of_the_batched_env_is_scored_as_the_single_env(mode, variant):
    reward_mode, task_class, lazy_sparse = VARIANTS[variant]
    n = len(SEEDS)
    single_tasks = [task_class(lazy_sparse) for _ in range(n)]
    singles = [gym.make(ENV_ID, task=task, reward_mode=reward_mode) for task in single_tasks]
    batched_task = task_class(lazy_sparse)
    batched = gym.make_vec(
        ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", device="cpu", task=batched_task,
        reward_mode=reward_mode, autoreset_mode=mode,
    )
    assert batched_task.scores_lazily(reward_mode) == (variant == "sparse-lazy")
    tokenizer = batched.tokenizer
    actions = actions_for(tokenizer, batched.single_action_space.n, seed=7)

    _, info = batched.reset(seed=SEEDS)
    starts = list(range(n))  # the row of every scorer the batched env makes, in the order it makes them
    for row, env in enumerate(singles):
        _, single_info = env.reset(seed=SEEDS[row])
        assert info["score"][row] == single_info["score"], f"reset, row {row}"
    restarting = np.zeros(n, dtype=bool)  # NEXT_STEP: the rows that the next step restarts
    waiting = np.zeros(n, dtype=bool)  # DISABLED: the rows that ended and wait for reset(reset_mask)
    ends = held = 0
    for t, step_actions in enumerate(actions):
        _, rewards, terminated, truncated, info = batched.step(step_actions)
        assert not truncated.any()
        starts += np.flatnonzero(restarting).tolist()
        for row, env in enumerate(singles):
            where = f"step {t}, row {row}, {mode.value}, {variant}"
            if restarting[row]:  # NEXT_STEP: the row starts its next episode; its action is ignored
                _, single_info = env.reset()
                reward, done = 0.0, False
            elif waiting[row]:  # DISABLED: the row is frozen
                assert rewards[row] == 0.0 and not terminated[row], where
                continue
            else:
                _, reward, done, _, single_info = env.step(int(step_actions[row]))
            assert rewards[row] == reward, where
            assert terminated[row] == done, where
            if done and mode is AutoresetMode.SAME_STEP:
                final = info["final_info"]
                assert final["_score"][row] and final["score"][row] == single_info["score"], where
                assert final["text"][row] == single_info["text"], where
                assert final["end_reason"][row] == single_info["end_reason"], where
                _, single_info = env.reset()  # the batched row has started its next episode too
            elif done:
                assert info["text"][row] == single_info["text"], where
                assert info["end_reason"][row] == single_info["end_reason"], where
            assert info["score"][row] == single_info["score"], where
            assert info["num_generated"][row] == single_info["num_generated"], where
            ends += int(done)
            fresh = character_sum_score(Prompt(""), single_info["text"])
            held += int(not done and single_info["score"] != fresh)
        if mode is AutoresetMode.SAME_STEP:
            starts += np.flatnonzero(terminated).tolist()
        restarting = terminated.copy() if mode is AutoresetMode.NEXT_STEP else restarting
        if mode is AutoresetMode.DISABLED:
            waiting |= terminated
            if t % 2 and waiting.any():  # restart the waiting rows every other step, so that some rows wait a step
                _, info = batched.reset(options={"reset_mask": waiting.copy()})
                starts += np.flatnonzero(waiting).tolist()
                for row in np.flatnonzero(waiting).tolist():
                    _, single_info = singles[row].reset()
                    assert info["score"][row] == single_info["score"], f"reset_mask after step {t}, row {row}"
                waiting[:] = False

    assert ends >= 2 * n, "several episodes a row, so that autoreset runs"
    if variant != "sparse-lazy":
        assert held > 0, "some steps held an earlier text's score (the every-third-token rule took effect)"
    single = [[scorer.calls for scorer in task.made] for task in single_tasks]
    assert batched_logs(batched_task, starts, n) == single


def test_the_calls_follow_the_contract_in_the_single_env():
    """The order the contract states: ``update("", "")`` at reset, ``advance`` before each step's ``update``, EOS
    counted, ``finish`` once at the end with the final text."""
    task = EveryThirdTokenTask()
    env = gym.make(ENV_ID, task=task)
    tokenizer = env.unwrapped.tokenizer
    word = tokenizer.encode(" sea")
    assert len(word) == 1
    env.reset(seed=0)
    env.step(word[0])
    env.step(word[0])
    _, _, terminated, _, info = env.step(tokenizer.eos_token_id)
    assert terminated and info["end_reason"] == "eos"
    (scorer,) = task.made
    assert scorer.calls == [
        ("update", "", ""),
        ("advance", 1),
        ("update", " sea", " sea"),
        ("advance", 2),
        ("update", " sea sea", " sea"),
        ("advance", 3),
        ("finish", " sea sea"),
    ]
    assert info["score"] == character_sum_score(Prompt(""), " sea sea")  # finish's value is the final score


def test_the_example_of_held_scores_gives_the_same_rewards_in_both_envs():
    """Token ids 100, 200, ..., 700: the rewards of the single env and of every row of the batched env agree."""
    single_task, batched_task = EveryThirdTokenTask(), EveryThirdTokenTask()
    single = gym.make(ENV_ID, task=single_task, max_new_tokens=7)
    single.reset(seed=0)
    expected = [single.step(token)[1] for token in range(100, 800, 100)]
    for mode in MODES:
        batched = gym.make_vec(
            ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", task=batched_task, max_new_tokens=7,
            autoreset_mode=mode,
        )
        batched.reset(seed=[0, 0])
        got = np.array([batched.step(np.array([token, token]))[1] for token in range(100, 800, 100)])
        assert got[:, 0].tolist() == expected and got[:, 1].tolist() == expected, mode
