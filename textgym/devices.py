"""One place that turns a ``device`` argument into a :class:`torch.device`."""

from __future__ import annotations

import torch

ALLOWED_DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device that ``device`` names.

    ``"auto"`` picks CUDA when it is available and the CPU otherwise. Anything that
    is not a CPU or CUDA device, or a CUDA device that this machine lacks, raises a
    ``ValueError`` that names the value and what is allowed.
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise TypeError(
            f"device must be a string or torch.device, got {type(device).__name__}; allowed: {ALLOWED_DEVICES}"
        )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; allowed: {ALLOWED_DEVICES}") from None
    if resolved.type == "cpu":
        return resolved
    if resolved.type != "cuda":
        raise ValueError(f"unsupported device {device!r}; allowed: {ALLOWED_DEVICES}")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} was requested but CUDA is not available on this machine; use 'cpu' or 'auto'"
        )
    if resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return resolved
