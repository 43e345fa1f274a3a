"""Checkpoints written atomically and read safely.

A checkpoint is a folder ``checkpoints/step-<env_steps>/`` holding:

- ``<name>.safetensors`` for every module's weights (no pickle),
- ``<name>.pt`` for optimizer states and other tensors, read with ``torch.load(weights_only=True)``,
- ``state.json`` for plain data (step counters, RNG states, controller values).

The folder is written under a temporary name and renamed into place, then the file
``checkpoints/latest`` (also replaced atomically) names it. A run killed at any moment
leaves either the previous checkpoint or the new one, never a half-written one.

The training driver (:mod:`textgym_agents.train`) writes checkpoints only between two ``learn``
chunks, right after an evaluation, and never on an interrupt: the state in the middle of a
chunk (a partial rollout, an update half applied) cannot be continued exactly, so a run
resumes from its last chunk boundary and redoes the interrupted chunk.

Exports beside the checkpoints (LM-PPO's ``policy/`` folder, its value head) are written the
same way: :func:`replace_folder_atomically` and :func:`atomic_save_file`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model

LATEST = "latest"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match the run that loads it."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new content, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save_file(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Save ``tensors`` as safetensors at ``path`` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_folder_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Fill a new folder with ``write(folder)`` and swap it in for ``target``; return ``target``.

    The new folder is written as a hidden temporary sibling (``.<name>.new-*``), flushed to
    disk, and then swapped in with two renames: the old ``target`` to a backup
    (``.<name>.old-*``), the new folder to ``target``; then the backup is deleted. A writer
    killed at any moment leaves the complete old folder or the complete new one at ``target``,
    never a half-written one (between the two renames, which an interrupt in this process
    cannot split, ``target`` is briefly absent and the old folder sits in its backup).
    Leftover ``.<name>.new-*`` and ``.<name>.old-*`` siblings of earlier interrupted writes
    are removed after a successful swap.
    """
    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.new-"))
    try:
        write(tmp)
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                with path.open("rb") as f:
                    os.fsync(f.fileno())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    backup = parent / f".{target.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
    moved_away = False
    try:
        if target.exists() or target.is_symlink():
            os.replace(target, backup)
            moved_away = True
        os.replace(tmp, target)
    except BaseException:
        if moved_away and not (target.exists() or target.is_symlink()):
            os.replace(backup, target)  # put the old folder back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in [backup, *parent.glob(f".{target.name}.new-*"), *parent.glob(f".{target.name}.old-*")]:
        _remove(stale)
    return target


def _remove(path: Path) -> None:
    """Delete a file, link or folder if it is there (errors ignored: only leftovers are removed this way)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    """Python, NumPy (global) and torch RNG states as JSON-friendly data plus a tensor."""
    py_state = random.getstate()
    return {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": _jsonable(np.random.get_state()),
    }


def torch_rng_tensors() -> dict[str, Any]:
    """torch's global generator states, as ``tensors`` for :func:`save_checkpoint`: the CPU's, and
    every CUDA device's once CUDA is in use (restored by :meth:`LoadedCheckpoint.set_torch_rng_state`)."""
    tensors: dict[str, Any] = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["cuda_rng"] = torch.cuda.get_rng_state_all()
    return tensors


def set_rng_state(state: dict[str, Any], torch_state: torch.Tensor | None) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if torch_state is not None:
        torch.set_rng_state(torch_state)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_checkpoint(
    folder: Path,
    env_steps: int,
    modules: dict[str, torch.nn.Module | dict[str, torch.Tensor]],
    tensors: dict[str, Any],
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``folder/step-<env_steps>`` atomically and point ``folder/latest`` at it.

    Args:
        modules: weights, saved as safetensors (a module's ``state_dict()`` or a tensor dict).
        tensors: other torch objects (optimizer states, RNG tensors), saved with ``torch.save``.
        state: JSON data.
        keep: how many newest checkpoints to keep.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"step-{env_steps:012d}"
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}."))
    try:
        for key, module in modules.items():
            if isinstance(module, torch.nn.Module):  # save_model handles tied (shared) tensors
                save_model(module, str(tmp / f"{key}.safetensors"))
            else:
                save_file(
                    {k: v.detach().contiguous().cpu() for k, v in module.items()}, str(tmp / f"{key}.safetensors")
                )
        for key, obj in tensors.items():
            torch.save(obj, tmp / f"{key}.pt")
        (tmp / "state.json").write_text(json.dumps({"env_steps": env_steps, **state}), encoding="utf-8")
        for path in tmp.iterdir():
            with path.open("rb") as f:
                os.fsync(f.fileno())
        target = folder / name
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(folder / LATEST, name)
    for old in sorted(p for p in folder.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(".step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return target


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint ``folder/latest`` names, or ``None`` when there is none."""
    pointer = Path(folder) / LATEST
    if not pointer.is_file():
        return None
    path = Path(folder) / pointer.read_text(encoding="utf-8").strip()
    if not path.is_dir():
        raise CheckpointError(f"{pointer} names {path.name}, which does not exist; the checkpoint folder is damaged")
    return path


class LoadedCheckpoint:
    """Read access to one checkpoint folder, with clear errors."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        state_file = self.path / "state.json"
        try:
            self.state: dict[str, Any] = json.loads(state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint {self.path} has no state.json: it is incomplete") from None
        except json.JSONDecodeError as error:
            raise CheckpointError(f"checkpoint {self.path}: state.json is corrupt ({error})") from None
        self.env_steps = int(self.state["env_steps"])

    def weights(self, key: str) -> dict[str, torch.Tensor]:
        file = self.path / f"{key}.safetensors"
        if not file.is_file():
            raise CheckpointError(f"checkpoint {self.path} has no {file.name}")
        try:
            return load_file(str(file))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"checkpoint {self.path}: {file.name} is corrupt or truncated ({error})") from None

    def load_module(self, key: str, module: torch.nn.Module) -> None:
        """Load weights into ``module``; a shape or name mismatch is a :class:`CheckpointError`."""
        file = self.path / f"{key}.safetensors"
        self.weights(key)  # a missing or corrupt file is reported here
        try:
            load_model(module, str(file), strict=True, device=str(next(module.parameters()).device))
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0]
            raise CheckpointError(f"checkpoint {self.path}: {key} weights do not match this model ({first})") from None

    def set_torch_rng_state(self) -> None:
        """Restore what :func:`torch_rng_tensors` saved (CUDA states only where this process has the same devices)."""
        try:
            torch.set_rng_state(self.tensors("torch_rng"))
            if (self.path / "cuda_rng.pt").is_file() and torch.cuda.is_available():
                states = self.tensors("cuda_rng")
                if len(states) == torch.cuda.device_count():
                    torch.cuda.set_rng_state_all(states)
        except (RuntimeError, TypeError) as error:
            raise CheckpointError(f"checkpoint {self.path}: torch's random-number state is damaged ({error})") from None

    def tensors(self, key: str) -> Any:
        file = self.path / f"{key}.pt"
        if not file.is_file():
            raise CheckpointError(f"checkpoint {self.path} has no {file.name}")
        try:
            return torch.load(file, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for damaged files
            raise CheckpointError(
                f"checkpoint {self.path}: {file.name} is corrupt or truncated ({type(error).__name__})"
            ) from None
