"""One training run's folder: its config, metrics, summary, TensorBoard logs and checkpoints.

Layout of ``--out DIR`` (``textgym train``; ``out=DIR`` in the Python API, :mod:`textgym_agents.api`)::

    DIR/run.json          what was asked (agent, env, reward mode, seed, steps, hyper-parameters)
    DIR/metrics.csv       one row per evaluation: env_steps, eval_return, eval_std and the naturalness of
                          the generated text (ref_perplexity, distinct_1, distinct_2, repetition);
                          deterministic, so a resumed run writes the same file as a straight one
    DIR/timing.csv        one row per evaluation: env_steps, wall_seconds (training time so far)
    DIR/summary.json      agent, env_id, reward_mode, seed, env_steps, wall_seconds, final_eval_return,
                          naturalness at the first and the last evaluation, likely_reward_hacking
    DIR/tensorboard/      TensorBoard event files
    DIR/checkpoints/      atomic checkpoints (see textgym_agents.checkpoint)
    DIR/policy/           every LM agent (lm-ppo, lm-grpo, lm-rloo, lm-nlpo): the policy as a Hugging Face
                          model (save_pretrained of the LM and its tokenizer), rewritten atomically with
                          every checkpoint
    DIR/value_head.*      the LM agents with a value head (lm-ppo, lm-nlpo): the value head (safetensors)
                          and its shape (json), beside the policy (see textgym_agents.lm.state)
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from textgym.extras import install_hint
from textgym.naturalness import NATURALNESS_COLUMNS
from textgym_agents.checkpoint import atomic_write_text

METRIC_COLUMNS = ["env_steps", "eval_return", "eval_std", *NATURALNESS_COLUMNS]
TIMING_COLUMNS = ["env_steps", "wall_seconds"]
#: a final reference perplexity above this multiple of the initial policy's flags likely reward hacking
HACKING_PERPLEXITY_RATIO = 3.0


class RunConfigError(ValueError):
    """The run's arguments are wrong or clash with what is already in ``--out``."""


@dataclass
class RunConfig:
    """What a ``textgym train`` run was asked to do."""

    agent: str
    env_id: str
    reward_mode: str = "dense"
    steps: int = 10_000
    seed: int = 0
    device: str = "auto"
    out: str = "runs/run"
    num_envs: int = 16
    eval_every: int = 0  # 0: ten evaluations over the run
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    @property
    def eval_interval(self) -> int:
        return self.eval_every if self.eval_every > 0 else max(1, self.steps // 10)

    def identity(self) -> dict[str, Any]:
        """The fields that must match for ``--resume`` to continue this run."""
        data = asdict(self)
        data.pop("out")
        data.pop("steps")  # a resumed run may be asked to go further
        return data


class RunDirectory:
    """Creates, checks and writes the files of one run."""

    def __init__(self, config: RunConfig, resume: bool) -> None:
        self.config = config
        self.path = Path(config.out)
        self.config_file = self.path / "run.json"
        self.metrics_file = self.path / "metrics.csv"
        self.timing_file = self.path / "timing.csv"
        self.summary_file = self.path / "summary.json"
        self.checkpoints = self.path / "checkpoints"
        self.tensorboard = self.path / "tensorboard"
        self._check(resume)
        self._writer = None
        self._warned_no_tensorboard = False

    def create(self) -> None:
        """Create the folder and record the run's config (after every check has passed)."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_file, json.dumps(asdict(self.config), indent=2) + "\n")

    def _check(self, resume: bool) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise RunConfigError(f"--out {self.path} is a file; give a folder")
        holds_run = self.config_file.is_file() or self.metrics_file.is_file()
        if not resume:
            if holds_run or self.checkpoints.exists():
                raise RunConfigError(
                    f"--out {self.path} already holds a run's files; pass --resume to continue it, or choose an "
                    f"empty folder"
                )
            return
        if not self.config_file.is_file():
            raise RunConfigError(f"--resume: {self.path} holds no run to resume (no run.json)")
        try:
            previous = RunConfig(**json.loads(self.config_file.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise RunConfigError(f"--resume: {self.config_file} is corrupt ({error})") from None
        different = drop_new_defaults(_differences(previous.identity(), self.config.identity()), self.config.agent)
        if "agent" in different:  # another agent has other hyper-parameters anyway: name the agent only
            different = {k: v for k, v in different.items() if not k.startswith("hyperparameters.")}
        if different:
            detail = ", ".join(f"{k}: run has {a!r}, asked {b!r}" for k, (a, b) in different.items())
            raise RunConfigError(
                f"--resume: {self.path} holds a different run ({detail}); resume it with the arguments in "
                f"{self.config_file}, or give another --out"
            )

    # -- metrics ---------------------------------------------------------------------------

    def read_metrics(self) -> list[dict[str, float]]:
        """Every evaluation row, with its ``wall_seconds`` from ``timing.csv`` (``nan`` where missing)."""
        return self.read_metrics_of(self.path)

    @staticmethod
    def read_metrics_of(folder: Path) -> list[dict[str, float]]:
        """:meth:`read_metrics` of the run folder ``folder``."""
        rows = _read_csv(Path(folder) / "metrics.csv")
        walls = {row["env_steps"]: row["wall_seconds"] for row in _read_csv(Path(folder) / "timing.csv")}
        for row in rows:
            row["wall_seconds"] = walls.get(row["env_steps"], float("nan"))
            for key in NATURALNESS_COLUMNS:  # a run recorded before a column existed: nan there
                row.setdefault(key, float("nan"))
        return rows

    def keep_metrics_up_to(self, env_steps: int) -> list[dict[str, float]]:
        """Drop rows logged after the checkpoint being resumed (they will be produced again)."""
        rows = [row for row in self.read_metrics() if row["env_steps"] <= env_steps]
        self._write_metrics(rows)
        return rows

    def append_metrics(self, row: dict[str, float]) -> None:
        rows = self.read_metrics() + [row]
        self._write_metrics(rows)
        writer = self.writer()
        if writer is not None:
            writer.add_scalar("eval/return", row["eval_return"], int(row["env_steps"]))
            writer.add_scalar("eval/std", row["eval_std"], int(row["env_steps"]))
            for key in NATURALNESS_COLUMNS:
                if math.isfinite(row[key]):
                    writer.add_scalar(f"eval/{key}", row[key], int(row["env_steps"]))
            writer.flush()

    def _write_metrics(self, rows: list[dict[str, float]]) -> None:
        _write_csv(self.timing_file, TIMING_COLUMNS, rows)  # first: a row in metrics.csv always has its time
        _write_csv(self.metrics_file, METRIC_COLUMNS, rows)

    def log_scalars(self, scalars: dict[str, float], env_steps: int) -> None:
        writer = self.writer()
        if writer is not None:
            for key, value in scalars.items():
                writer.add_scalar(key, value, env_steps)

    def writer(self):
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard comes with textgym[agents]; a run without it writes everything else
                if not self._warned_no_tensorboard:
                    self._warned_no_tensorboard = True
                    warnings.warn(
                        f"tensorboard is not installed, so the run writes no TensorBoard logs in {self.tensorboard} "
                        f"(metrics.csv has the evaluations): {install_hint('agents')}",
                        stacklevel=2,
                    )
                return None
            self._writer = SummaryWriter(log_dir=str(self.tensorboard))
        return self._writer

    def write_summary(
        self, env_steps: int, wall_seconds: float, rows: list[dict[str, float]], extra: dict | None = None
    ) -> dict:
        """``summary.json`` from the evaluation ``rows``: the final return, naturalness first and last, the hacking
        flag."""
        first, last = rows[0], rows[-1]
        initial, final = first["ref_perplexity"], last["ref_perplexity"]
        summary = {
            "agent": self.config.agent,
            "env_id": self.config.env_id,
            "reward_mode": self.config.reward_mode,
            "seed": self.config.seed,
            "env_steps": int(env_steps),
            "wall_seconds": round(float(wall_seconds), 3),
            "final_eval_return": float(last["eval_return"]),
            "initial_naturalness": {key: _jsonable(first[key]) for key in NATURALNESS_COLUMNS},
            "final_naturalness": {key: _jsonable(last[key]) for key in NATURALNESS_COLUMNS},
            # nan (no language model) compares False: symbol tasks are never flagged
            "likely_reward_hacking": bool(final > HACKING_PERPLEXITY_RATIO * initial),
            **(extra or {}),
        }
        atomic_write_text(self.summary_file, json.dumps(summary, indent=2) + "\n")
        return summary

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


_MISSING = "<not set>"


def drop_new_defaults(different: dict[str, tuple[Any, Any]], agent: str) -> dict[str, tuple[Any, Any]]:
    """``different`` without the hyper-parameters a run was made before they existed and that are asked at their
    default now (a hyper-parameter is added with the default that keeps the agent as it was, so such a run was
    made with that default)."""
    import dataclasses

    from textgym_agents.registry import agent_class

    try:
        defaults = {f.name: f.default for f in dataclasses.fields(agent_class(agent).Config)}
    except (ValueError, ImportError):
        return different
    kept = {}
    for key, (made, asked) in different.items():
        name = key.removeprefix("hyperparameters.")
        if key.startswith("hyperparameters.") and made is _MISSING and name in defaults and defaults[name] == asked:
            continue
        kept[key] = (made, asked)
    return kept


def _differences(theirs: dict[str, Any], mine: dict[str, Any], prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """``{"seed": (0, 1), "hyperparameters.learning_rate": (0.001, 0.5), ...}``: what differs, dicts key by key."""
    different: dict[str, tuple[Any, Any]] = {}
    for key in list(theirs) + [k for k in mine if k not in theirs]:
        a, b = theirs.get(key, _MISSING), mine.get(key, _MISSING)
        if isinstance(a, dict) and isinstance(b, dict):
            different.update(_differences(a, b, f"{prefix}{key}."))
        elif a != b:
            different[f"{prefix}{key}"] = (a, b)
    return different


def _number(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        return ""  # no value (e.g. no reference LM): an empty cell
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _jsonable(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _read_csv(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [{k: float(v) if v != "" else float("nan") for k, v in row.items()} for row in csv.DictReader(f)]


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _number(row[key]) for key in columns})
    atomic_write_text(path, buffer.getvalue())
