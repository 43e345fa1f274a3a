"""Where a standard run's wall time goes: env, rollout forwards, update, evaluation, checkpoints.

Runs the training driver (:class:`textgym_agents.train.Training`, exactly as ``textgym train`` and
``textgym bench`` do) for lm-ppo and lm-grpo on a few language tasks, and times its parts with
``time.perf_counter`` by wrapping the functions that do them, without changing the library:

- ``env``: :meth:`TextGenVectorEnv.step` and ``reset`` called while training (the batched env's
  step: the task's scoring, the reward, the next observation);
- ``rollout forward``: the agent's ``collect`` (:func:`textgym_agents.lm.rollout.collect_rollout` and the
  credit assignment after it), less the env's time inside it: the policy's decoding (prefill, one token
  per step, sampling, the value head);
- ``update``: the agent's ``update`` (the PPO/GRPO epochs: forward, backward, optimiser, and the
  reference/old log-probabilities);
- ``eval``: the driver's ``evaluate`` (greedy decoding on the eval split and the naturalness
  measures), with its env steps (``eval env``) and its naturalness (``naturalness``) shown apart too;
- ``checkpoint``: the agent's ``save``;
- ``other``: the rest of the driver's loop (logging metrics and TensorBoard scalars).

The time inside a wrapped function that a nested wrapped function takes is charged to the inner one
only (exclusive times), so the parts add up to the run's total. Building the agent (``setup``:
models, env, prompt sets) is timed apart and is not part of the run's total, as in ``wall_seconds``.

Usage::

    python benchmarks/time_breakdown.py --out /tmp/time_breakdown \\
        --csv benchmarks/results/time_breakdown.csv

One torch thread unless ``--threads`` says otherwise. The machine's other jobs slow every part: read
the shares rather than the seconds.
"""

from __future__ import annotations

import argparse
import csv
import functools
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

PARTS = ("env", "rollout forward", "update", "eval", "checkpoint", "other")
#: sub-parts of ``eval``, reported beside it (they are inside its time, not added to the total)
EVAL_PARTS = ("eval env", "naturalness")
DEFAULT_TASKS = ("textgym/Sentiment-v1", "textgym/Keywords-v1", "textgym/QA-v1", "textgym/Translate-v1")


def column(part: str) -> str:
    """A part's name in the CSV's column names (``rollout forward`` -> ``rollout_forward``)."""
    return part.replace(" ", "_")


class PartTimer:
    """Exclusive wall time and CPU time (this process's, ``time.process_time``) per label: a label's clocks pause
    while a nested label runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)
        self.stack: list[list[Any]] = []  # [label, wall and CPU clocks at the start of its current stretch]

    def current(self) -> str | None:
        """The innermost label running now (``None`` outside every wrapped function)."""
        return self.stack[-1][0] if self.stack else None

    def wrap(self, function: Callable, label: str | Callable[[], str]) -> Callable:
        """``function``, timed under ``label`` (or under ``label()``, chosen at each call)."""

        @functools.wraps(function)
        def timed(*args, **kwargs):
            now, cpu = time.perf_counter(), time.process_time()
            if self.stack:
                outer = self.stack[-1]
                self.seconds[outer[0]] += now - outer[1]
                self.cpu_seconds[outer[0]] += cpu - outer[2]
            self.stack.append([label() if callable(label) else label, now, cpu])
            try:
                return function(*args, **kwargs)
            finally:
                end, cpu_end = time.perf_counter(), time.process_time()
                name, started, cpu_started = self.stack.pop()
                self.seconds[name] += end - started
                self.cpu_seconds[name] += cpu_end - cpu_started
                if self.stack:
                    self.stack[-1][1:] = [end, cpu_end]

        return timed


def env_label(timer: PartTimer) -> Callable[[], str]:
    """The env's steps and resets are ``eval env`` inside an evaluation and ``env`` elsewhere."""
    return lambda: "eval env" if timer.current() in ("eval", "eval env", "naturalness") else "env"


def instrument(timer: PartTimer) -> Callable[[], None]:
    """Wrap the library's functions that the driver's parts run; return what unwraps them."""
    import textgym.evaluation
    import textgym_agents.lm.base
    from textgym.envs.vector import TextGenVectorEnv

    saved = [(TextGenVectorEnv, "step", TextGenVectorEnv.step), (TextGenVectorEnv, "reset", TextGenVectorEnv.reset),
             (textgym_agents.lm.base, "collect_rollout", textgym_agents.lm.base.collect_rollout),
             (textgym.evaluation, "measure_naturalness", textgym.evaluation.measure_naturalness)]
    TextGenVectorEnv.step = timer.wrap(TextGenVectorEnv.step, env_label(timer))
    TextGenVectorEnv.reset = timer.wrap(TextGenVectorEnv.reset, env_label(timer))
    textgym_agents.lm.base.collect_rollout = timer.wrap(textgym_agents.lm.base.collect_rollout, "rollout forward")
    textgym.evaluation.measure_naturalness = timer.wrap(textgym.evaluation.measure_naturalness, "naturalness")

    def undo() -> None:
        for owner, name, value in saved:
            setattr(owner, name, value)

    return undo


def time_run(agent: str, env_id: str, steps: int, eval_every: int, seed: int, num_envs: int, out: Path,
             hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """One run through the training driver, timed part by part: a row of the CSV."""
    from textgym_agents.run import RunConfig
    from textgym_agents.train import Training

    folder = out / f"{agent}__{env_id.split('/')[-1]}__seed{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    run = RunConfig(agent=agent, env_id=env_id, reward_mode="dense", steps=steps, seed=seed, device="cpu",
                    out=str(folder), num_envs=num_envs, eval_every=eval_every, hyperparameters=dict(hyperparameters))
    timer = PartTimer()
    undo = instrument(timer)
    try:
        tick = time.perf_counter()
        with Training(run) as training:
            setup = time.perf_counter() - tick
            a = training.agent
            a.update = timer.wrap(a.update, "update")
            a.collect = timer.wrap(a.collect, "rollout forward")
            a.save = timer.wrap(a.save, "checkpoint")
            training.evaluate = timer.wrap(training.evaluate, "eval")
            tick, cpu_tick = time.perf_counter(), time.process_time()
            summary = timer.wrap(training.advance, "other")(progress=False)
            total, cpu_total = time.perf_counter() - tick, time.process_time() - cpu_tick
            env_steps = a.env_steps
    finally:
        undo()
    row: dict[str, Any] = {"agent": agent, "env_id": env_id, "seed": seed, "steps": steps, "eval_every": eval_every,
                           "num_envs": num_envs, "env_steps": env_steps, "threads": torch.get_num_threads(),
                           "setup_s": round(setup, 3), "total_s": round(total, 3), "total_cpu_s": round(cpu_total, 3)}
    for clock, seconds, whole in (("s", timer.seconds, total), ("cpu_s", timer.cpu_seconds, cpu_total)):
        for part in PARTS:
            inner = sum(seconds.get(p, 0.0) for p in EVAL_PARTS) if part == "eval" else 0.0
            value = seconds.get(part, 0.0) + inner
            row[f"{column(part)}_{clock}"] = round(value, 3)
            row[f"{column(part)}_{clock.replace('s', 'share')}"] = round(value / whole, 4)
        for part in EVAL_PARTS:
            row[f"{column(part)}_{clock}"] = round(seconds.get(part, 0.0), 3)
    learn = sum(row[f"{column(p)}_s"] for p in ("env", "rollout forward", "update"))
    learn_cpu = sum(row[f"{column(p)}_cpu_s"] for p in ("env", "rollout forward", "update"))
    row["steps_per_s"] = round(env_steps / total, 2)
    row["learn_steps_per_s"] = round(env_steps / learn, 2)
    # CPU time: what the run would take on a core of its own (one thread); the wall time counts other jobs' turns
    row["steps_per_cpu_s"] = round(env_steps / cpu_total, 2)
    row["learn_steps_per_cpu_s"] = round(env_steps / learn_cpu, 2)
    row["final_eval_return"] = round(float(summary["final_eval_return"]), 4) if "final_eval_return" in summary else ""
    return row


def table(rows: list[dict[str, Any]], clock: str = "s") -> str:
    """The rows as a Markdown table: seconds and share of the run per part, by wall time (``clock="s"``) or by
    CPU time (``"cpu_s"``)."""
    share = clock.replace("s", "share")
    steps = "steps_per_s" if clock == "s" else "steps_per_cpu_s"
    unit = "s" if clock == "s" else "CPU s"
    head = ["agent", "task", f"total {unit}", *PARTS, "(eval env)", "(naturalness)", f"steps per {unit}",
            f"learn steps per {unit}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        total = r["total_s"] if clock == "s" else r["total_cpu_s"]
        cells = [r["agent"], r["env_id"].split("/")[-1], f"{total:.0f}"]
        cells += [f"{r[f'{column(p)}_{clock}']:.1f} ({100 * r[f'{column(p)}_{share}']:.0f}%)" for p in PARTS]
        cells += [f"{r[f'{column(p)}_{clock}']:.1f}" for p in EVAL_PARTS]
        cells += [f"{r[steps]:.0f}", f"{r['learn_' + steps]:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", nargs="+", default=["lm-ppo", "lm-grpo"], help="LM agents to time")
    parser.add_argument("--ids", nargs="+", default=list(DEFAULT_TASKS), help="textgym ids")
    parser.add_argument("--steps", type=int, default=4096, help="env steps per run")
    parser.add_argument("--eval-every", type=int, default=1024, help="env steps between evaluations")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyper-parameter of every agent (repeatable)")
    parser.add_argument("--out", default="/tmp/time_breakdown", help="folder for the runs")
    parser.add_argument("--csv", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from textgym_agents.train import parse_hyperparameters

    rows = []
    for agent in args.agents:
        hyperparameters = parse_hyperparameters(agent, args.set)
        for env_id in args.ids:
            row = time_run(agent, env_id, args.steps, args.eval_every, args.seed, args.num_envs, Path(args.out),
                           hyperparameters)
            rows.append(row)
            print(f"{agent} {env_id}: {row['total_s']:.1f} s, {row['steps_per_s']:.1f} env steps/s", file=sys.stderr,
                  flush=True)
            if args.csv:  # after every run: a long sweep keeps what it measured
                with open(args.csv, "w", newline="", encoding="utf-8") as handle:
                    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
    print("wall time:")
    print(table(rows))
    print("\nCPU time of the process:")
    print(table(rows, "cpu_s"))


if __name__ == "__main__":
    main()
