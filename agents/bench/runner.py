"""Run a suite: every run a ``textgym train`` in a worker process; finished runs are skipped on a rerun.

``--out/suite.json`` records the suite (its name, source and run names) and how its runs were
made: the ``textgym bench`` command and the torch threads per run of the invocation that made
them (fixed once a run has finished), and, under ``"mixed"``, every later command that made
runs with settings that affect results and differ from those of the runs it found there. A
rerun reuses the finished runs, says so, and keeps their command in the report's Reproduce line.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from textgym_agents.base import config_from_dict
from textgym_agents.bench.config import CONVERSATION_ENTRY_POINT, Suite, SuiteConfigError
from textgym_agents.checkpoint import atomic_write_text, latest_checkpoint
from textgym_agents.registry import agent_class
from textgym_agents.run import RunConfig, _differences, drop_new_defaults

#: the file in ``--out`` that records the suite and how its runs were made
MARKER = "suite.json"


def check_runs(suite: Suite) -> None:
    """Every run's agent hyper-parameters and env arguments are valid (before anything starts)."""
    import gymnasium as gym

    from textgym.envs.setup import build_setup
    from textgym_agents.lm.credit import check_credit

    setups = {}
    for run in suite.runs:
        try:
            config_from_dict(agent_class(run.agent).Config, run.hyperparameters, run.agent)
        except (ValueError, TypeError) as error:
            raise SuiteConfigError(f"suite {suite.name!r}, run {Path(run.out).name}: {error}") from None
        key = (run.env_id, json.dumps(run.env_kwargs, sort_keys=True))
        if key not in setups and gym.spec(run.env_id).entry_point == CONVERSATION_ENTRY_POINT:
            try:  # a conversation env checks its own arguments (max_turns, max_conversation_tokens, ...)
                env = gym.make(run.env_id, reward_mode=run.reward_mode, **run.env_kwargs)
            except (ValueError, TypeError) as error:
                raise SuiteConfigError(
                    f"suite {suite.name!r}, {run.env_id} env_kwargs {run.env_kwargs}: {error}"
                ) from None
            setups[key] = env.unwrapped.setup
            env.close()
        if key not in setups:
            kwargs = {**gym.spec(run.env_id).kwargs, **run.env_kwargs}
            try:
                setups[key] = build_setup(kwargs.pop("task"), kwargs.pop("model", None), run.reward_mode,
                                          kwargs.pop("max_new_tokens", None), kwargs.pop("max_prompt_tokens", None),
                                          kwargs.pop("split", "train"), kwargs.pop("task_kwargs", None))
            except (ValueError, TypeError) as error:
                raise SuiteConfigError(
                    f"suite {suite.name!r}, {run.env_id} env_kwargs {run.env_kwargs}: {error}"
                ) from None
            if kwargs:
                raise SuiteConfigError(f"suite {suite.name!r}, {run.env_id}: unknown env_kwargs {sorted(kwargs)}")
        credit = run.hyperparameters.get("credit", "env")
        if credit != "env":
            try:
                check_credit(credit, setups[key].task, run.env_id)
            except ValueError as error:
                raise SuiteConfigError(f"suite {suite.name!r}, run {Path(run.out).name}: {error}") from None


def threads_per_run(workers: int) -> int:
    """The torch threads each run gets: this machine's cores shared among ``workers`` processes (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def is_finished(run: RunConfig) -> bool:
    """Whether ``run`` has finished (its ``summary.json`` is written)."""
    return (Path(run.out) / "summary.json").is_file()


def read_marker(out: Path) -> dict[str, Any]:
    """The contents of ``out/suite.json`` (``{}`` if there is none)."""
    marker = Path(out) / MARKER
    return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}


def claim_output(suite: Suite, out: Path, command: str | None = None, threads: int | None = None) -> dict[str, Any]:
    """Refuse an ``--out`` that holds another suite's results; record this suite's runs there.

    A folder of the same suite with fewer runs (the suite file has gained agents, tasks, reward
    modes or seeds since) is extended: its runs are reused, the new ones run.

    ``command`` and ``threads`` (the ``textgym bench`` command and the torch threads per run)
    are recorded while no run of the suite has finished; after that the recorded ones, those
    the finished runs were made with, are kept. Returns what ``suite.json`` now holds.
    """
    marker = out / MARKER
    names = sorted(Path(r.out).name for r in suite.runs)
    previous: dict[str, Any] = {}
    if marker.is_file():
        previous = json.loads(marker.read_text(encoding="utf-8"))
        theirs, mine = set(previous.get("runs", [])), set(names)
        seeds = lambda runs: len({r.rsplit("__seed", 1)[-1] for r in runs})  # noqa: E731
        # the same suite grown by agents, tasks, reward modes or seeds: the folder is extended
        grown = previous.get("name") == suite.name and theirs < mine
        if not grown and (previous.get("name") != suite.name or previous.get("runs") != names):
            detail = []
            if previous.get("name") != suite.name:
                detail.append(f"suite {previous.get('name')!r}, asked {suite.name!r}")
            if seeds(theirs) != seeds(mine):
                detail.append(f"{seeds(theirs)} seeds, asked {seeds(mine)}")
            if theirs - mine:
                detail.append(f"runs not asked now, e.g. {sorted(theirs - mine)[0]}")
            if mine - theirs:
                detail.append(f"no run {sorted(mine - theirs)[0]}")
            raise SuiteConfigError(
                f"--out {out} holds results of another suite ({previous.get('name')!r}, {len(theirs)} runs: "
                f"{'; '.join(detail)}); choose another folder, or delete it to start over"
            )
    elif out.exists() and any(out.iterdir()):
        raise SuiteConfigError(f"--out {out} is not empty and holds no suite results; choose an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    record = {**previous, "name": suite.name, "source": suite.source, "runs": names}
    if not any(is_finished(run) for run in suite.runs):  # nothing made yet: this command makes the runs
        record["command"], record["threads_per_run"] = command, threads
        record.pop("mixed", None)
    atomic_write_text(marker, json.dumps(record, indent=1) + "\n")
    return record


#: what a thread-count difference means (README: when runs reproduce bit for bit)
THREADS_NOTE = "runs reproduce bit for bit only at the same thread count; other counts differ in later digits"
THREADS_SETTING = "torch threads per run"


def setting_differences(
    runs: list[RunConfig], threads: int | None = None, recorded_threads: int | None = None
) -> list[dict[str, Any]]:
    """The settings that affect results in which the finished ``runs`` were made otherwise than they are asked now.

    Each finished run's ``run.json`` (what it was made with) is compared with its config now
    (device, steps, hyper-parameters, env arguments, ...: what the suite file and the flags
    give). ``threads`` (the torch threads per run now) against ``recorded_threads`` (those the
    runs were made with) counts too when both are known. One entry per setting and pair of
    values: ``{"setting", "made" (the value the runs were made with, as repr), "asked" (the
    value now), "runs" (how many runs; ``None`` for the thread count)}``.
    """
    changes: dict[tuple[str, str, str], int] = {}
    for run in runs:
        made_file = Path(run.out) / "run.json"
        if not is_finished(run) or not made_file.is_file():
            continue
        made = json.loads(made_file.read_text(encoding="utf-8"))
        asked = dataclasses.asdict(run)
        # run.json records every hyper-parameter, defaults included (textgym_agents.train.train): fill the
        # defaults in here too, or each default the suite leaves unset would read as a difference
        config_class = agent_class(run.agent).Config
        asked["hyperparameters"] = dataclasses.asdict(config_from_dict(config_class, run.hyperparameters, run.agent))
        made.pop("out", None), asked.pop("out", None)
        for key, (then, now) in drop_new_defaults(_differences(made, asked), run.agent).items():
            changes[(key, repr(then), repr(now))] = changes.get((key, repr(then), repr(now)), 0) + 1
    entries = [
        {"setting": key, "made": then, "asked": now, "runs": count} for (key, then, now), count in changes.items()
    ]
    if threads is not None and recorded_threads is not None and threads != recorded_threads:
        entries.append(
            {"setting": THREADS_SETTING, "made": repr(recorded_threads), "asked": repr(threads), "runs": None}
        )
    return entries


def describe_differences(entries: list[dict[str, Any]]) -> str:
    """``entries`` of :func:`setting_differences` as text: ``steps: made with 128, asked 192 (2 runs); ...``."""
    parts = []
    for entry in entries:
        runs = entry["runs"]
        where = (
            f" ({runs} run{'s' if runs > 1 else ''})"
            if runs
            else f" ({THREADS_NOTE})"
            if entry["setting"] == THREADS_SETTING
            else ""
        )
        parts.append(f"{entry['setting']}: made with {entry['made']}, asked {entry['asked']}{where}")
    return "; ".join(parts)


def describe_mixed(entries: list[dict[str, Any]]) -> str:
    """``entries`` as what a later command made its runs with: ``steps 192 (the runs it found: 128); ...``."""
    parts = []
    for entry in entries:
        note = f"; {THREADS_NOTE}" if entry["setting"] == THREADS_SETTING else ""
        parts.append(f"{entry['setting']} {entry['asked']} (the runs it found: {entry['made']}{note})")
    return "; ".join(parts)


@dataclasses.dataclass
class Reuse:
    """What a ``textgym bench`` invocation finds finished in ``--out`` and keeps.

    Attributes:
        folder: where the runs are (``--out/runs``).
        reused: names of the finished runs, kept as they are.
        pending: names of the runs still to make.
        command: the command that made the reused runs (recorded in ``suite.json``), ``None`` if not recorded.
        differences: settings that affect results in which this invocation differs from the reused runs
            (entries of :func:`setting_differences`).
        made_by_later: how many reused runs a later command made with other settings (``suite.json``'s ``"mixed"``).
    """

    folder: Path
    reused: list[str]
    pending: list[str]
    command: str | None
    differences: list[dict[str, Any]]
    made_by_later: int = 0

    def message(self, report_only: bool = False) -> str:
        """What to tell the user: the reused runs (count and folder), and any difference in settings ("" if nothing
        reused).

        ``report_only``: nothing is run now (``--report-only``); the unfinished runs are left out of the report.
        """
        if not self.reused:
            return ""
        made_by = f"; made by `{self.command}`" if self.command else ""
        if self.command and self.made_by_later:
            made_by += f", {self.made_by_later} of them by later commands with other settings (suite.json's \"mixed\")"
        runs = f"{len(self.reused)} finished run{'s' if len(self.reused) > 1 else ''} in {self.folder}"
        if report_only:
            lines = [f"Reporting {runs} ({len(self.pending)} not finished, left out){made_by}."]
        else:
            lines = [f"Reusing {runs} ({len(self.pending)} to run){made_by}."]
        if self.differences:
            listed = describe_differences(self.differences)
            if self.pending and not report_only:
                new = f"{len(self.pending)} new run{'s use' if len(self.pending) > 1 else ' uses'}"
                lines.append(
                    f"WARNING: the reused runs were made with other settings than this command gives, in ways that "
                    f"change results: {listed}. The {new} this command's settings, so the report mixes both "
                    f"(summary.md says which). To make every run alike, use another --out."
                )
            else:
                lines.append(
                    f"NOTE: the runs were made with other settings than this command gives, in ways that change "
                    f"results: {listed}. Nothing was rerun: the report shows the runs as they were made"
                    + (", and its Reproduce line keeps the command that made them" if self.command else "")
                    + ". To make runs with this command's settings, use another --out."
                )
        return "\n".join(lines)


def plan_reuse(suite: Suite, out: Path, threads: int | None = None) -> Reuse:
    """The finished runs of ``suite`` in ``out`` that a run of the suite keeps, and how they differ from what is asked
    now.

    ``threads``: the torch threads per run of this invocation (``None``: runs nothing now, so
    the thread count does not matter).
    """
    record = read_marker(out)
    reused = [run for run in suite.runs if is_finished(run)]
    pending = [Path(run.out).name for run in suite.runs if not is_finished(run)]
    differences = setting_differences(reused, threads if pending else None, record.get("threads_per_run"))
    names = [Path(run.out).name for run in reused]
    later = {name for entry in record.get("mixed", []) for name in entry["runs"]}
    return Reuse(Path(out) / "runs", names, pending, record.get("command"), differences, len(later & set(names)))


def record_mixed(out: Path, reuse: Reuse, command: str | None) -> None:
    """Record in ``suite.json`` that ``command`` makes the pending runs (under ``"mixed"`` if it differs from the
    reused ones)."""
    record = read_marker(out)
    if not reuse.pending or not record:
        return
    pending = set(reuse.pending)
    mixed = [{**entry, "runs": [r for r in entry["runs"] if r not in pending]} for entry in record.get("mixed", [])]
    mixed = [entry for entry in mixed if entry["runs"]]
    if reuse.reused and reuse.differences:
        mixed.append({"command": command, "differences": reuse.differences, "runs": sorted(pending)})
    if mixed or "mixed" in record:
        record["mixed"] = mixed
        atomic_write_text(Path(out) / MARKER, json.dumps(record, indent=1) + "\n")


def report_notes(suite: Suite, out: Path, reproduce_recorded: bool) -> list[str]:
    """Lines for summary.md about runs made with other settings than its Reproduce command gives.

    From ``suite.json``'s ``"mixed"`` entries (later commands that made some runs otherwise);
    and, when the Reproduce command is this invocation's own (``reproduce_recorded`` False:
    ``suite.json`` recorded none), from comparing every finished run with what it asks.
    """
    notes = []
    finished = {Path(run.out).name for run in suite.runs if is_finished(run)}
    for entry in read_marker(out).get("mixed", []):
        runs = [r for r in entry["runs"] if r in finished]
        if runs:
            were = f"{len(runs)} runs were" if len(runs) > 1 else "1 run was"
            notes.append(
                f"**Mixed settings: {were} made by `{entry.get('command') or '(not recorded)'}`**, "
                f"not by the command above, with settings that change results: {describe_mixed(entry['differences'])}. "
                f"Runs: {', '.join(runs[:5])}{f' and {len(runs) - 5} more' if len(runs) > 5 else ''}."
            )
    if not reproduce_recorded:
        differences = setting_differences(suite.runs)
        if differences:
            notes.append("**The runs were made with other settings than the command above gives**, in ways that change "
                         f"results: {describe_differences(differences)}.")
    return notes


def _run_one(run_data: dict, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from textgym.quiet_loading import quiet_model_loading
    from textgym_agents.train import train

    run = RunConfig(**run_data)
    folder = Path(run.out)
    resume = (folder / "run.json").is_file() and latest_checkpoint(folder / "checkpoints") is not None
    if (folder / "run.json").is_file() and not resume:
        shutil.rmtree(folder)  # started but never checkpointed: start again
    with quiet_model_loading():  # a worker process: the command's own lines only, as in the main process
        return train(run, resume=resume, progress=False)


def run_suite(
    suite: Suite, out: Path, workers: int = 1, progress: bool = True, command: str | None = None
) -> list[dict]:
    """Run every unfinished run of ``suite`` (``workers`` processes); return the summaries of all runs.

    Finished runs in ``out`` are kept: their count and folder are printed, with a warning when
    they were made with other settings than asked now (see :class:`Reuse`). ``command`` (the
    ``textgym bench`` command) is recorded in ``suite.json`` with the runs it makes.
    """
    check_runs(suite)
    threads = threads_per_run(workers)
    claim_output(suite, out, command, threads)
    reuse = plan_reuse(suite, out, threads)
    if reuse.reused:
        print(reuse.message(), flush=True)
    record_mixed(out, reuse, command)
    pending = [run for run in suite.runs if not is_finished(run)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(suite.runs), initial=len(suite.runs) - len(pending), unit="run", desc=f"suite {suite.name}"
        )
    try:
        if workers <= 1:
            for run in pending:
                _run_one(dataclasses.asdict(run), threads)
                if bar is not None:
                    bar.update(1)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(_run_one, dataclasses.asdict(run), threads): run for run in pending}
                for future in as_completed(futures):
                    future.result()
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [json.loads((Path(run.out) / "summary.json").read_text()) for run in suite.runs]
