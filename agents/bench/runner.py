"""Run a suite: every run a ``textgym train`` in a worker process; finished runs are skipped on a rerun."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from agents.base import config_from_dict
from agents.bench.config import Suite, SuiteConfigError
from agents.checkpoint import atomic_write_text, latest_checkpoint
from agents.registry import agent_class
from agents.run import RunConfig


def check_runs(suite: Suite) -> None:
    """Every run's agent hyper-parameters and env arguments are valid (before anything starts)."""
    from textgym.envs.setup import build_setup

    seen_envs = {}
    for run in suite.runs:
        try:
            config_from_dict(agent_class(run.agent).Config, run.hyperparameters, run.agent)
        except (ValueError, TypeError) as error:
            raise SuiteConfigError(f"suite {suite.name!r}, run {Path(run.out).name}: {error}") from None
        key = (run.env_id, json.dumps(run.env_kwargs, sort_keys=True))
        if key not in seen_envs:
            import gymnasium as gym

            kwargs = {**gym.spec(run.env_id).kwargs, **run.env_kwargs}
            try:
                build_setup(kwargs.pop("task"), kwargs.pop("model", None), run.reward_mode, kwargs.pop("max_new_tokens", None),
                            kwargs.pop("max_prompt_tokens", None), kwargs.pop("split", "train"), kwargs.pop("task_kwargs", None))
            except (ValueError, TypeError) as error:
                raise SuiteConfigError(f"suite {suite.name!r}, {run.env_id} env_kwargs {run.env_kwargs}: {error}") from None
            if kwargs:
                raise SuiteConfigError(f"suite {suite.name!r}, {run.env_id}: unknown env_kwargs {sorted(kwargs)}")
            seen_envs[key] = True


def claim_output(suite: Suite, out: Path) -> None:
    """Refuse an ``--out`` that holds another suite's results; record this suite's runs there."""
    marker = out / "suite.json"
    names = sorted(Path(r.out).name for r in suite.runs)
    if marker.is_file():
        previous = json.loads(marker.read_text(encoding="utf-8"))
        if previous.get("name") != suite.name or previous.get("runs") != names:
            theirs, mine = set(previous.get("runs", [])), set(names)
            seeds = lambda runs: len({r.rsplit("__seed", 1)[-1] for r in runs})  # noqa: E731
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
    atomic_write_text(marker, json.dumps({"name": suite.name, "source": suite.source, "runs": names}, indent=1) + "\n")


def _run_one(run_data: dict, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from agents.train import train

    run = RunConfig(**run_data)
    folder = Path(run.out)
    resume = (folder / "run.json").is_file() and latest_checkpoint(folder / "checkpoints") is not None
    if (folder / "run.json").is_file() and not resume:
        shutil.rmtree(folder)  # started but never checkpointed: start again
    return train(run, resume=resume, progress=False)


def run_suite(suite: Suite, out: Path, workers: int = 1, progress: bool = True) -> list[dict]:
    """Run every unfinished run of ``suite`` (``workers`` processes); return the summaries of all runs."""
    check_runs(suite)
    claim_output(suite, out)
    pending = [run for run in suite.runs if not (Path(run.out) / "summary.json").is_file()]
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(suite.runs), initial=len(suite.runs) - len(pending), unit="run", desc=f"suite {suite.name}")
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
