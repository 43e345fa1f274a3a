"""Where the batched env keeps its state: numpy arrays on the CPU, torch tensors on an accelerator.

A step of :class:`~textgym.envs.vector.TextGenVectorEnv` is a few dozen operations on
``[num_envs]`` and ``[num_envs, L]`` arrays. On the CPU each torch operation costs a few
microseconds of dispatch, several times numpy's; at 64 envs that overhead, not the
arithmetic, is the step. So on the CPU the state is numpy arrays, and torch agents still get
tensors without a copy (``torch.from_numpy`` shares the memory). On CUDA (or any other torch
device) the state is device tensors and no step moves it to the host.

:class:`ArrayBackend` names the few operations whose spelling differs between the two;
everything else (indexing, ``+=``, ``==``, ``&``, ``|``, ``~``, ``.clip``, ``.tolist()``,
``xp.where``, ``xp.maximum``) is written once against ``backend.xp``. Every device move of the
batched env goes through :meth:`ArrayBackend.from_host`, :meth:`ArrayBackend.to_host` and
:meth:`ArrayBackend.to_tensor`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import torch

_DTYPES = {
    "int64": (np.int64, torch.int64),
    "float64": (np.float64, torch.float64),
    "bool": (np.bool_, torch.bool),
}


ARRAY_KINDS = ("auto", "numpy", "torch")


class ArrayBackend:
    """Array operations on one device: numpy when ``device`` is the CPU, torch otherwise.

    Args:
        device: a resolved ``torch.device``.
        kind: ``"auto"`` (numpy on the CPU, torch elsewhere), ``"torch"`` (torch tensors on
            any device: the accelerator code path, runnable on the CPU), or ``"numpy"``
            (CPU only).
    """

    def __init__(self, device: torch.device, kind: str = "auto") -> None:
        if kind not in ARRAY_KINDS:
            raise ValueError(f"unknown arrays {kind!r}; allowed: {list(ARRAY_KINDS)}")
        self.device = torch.device(device)
        if kind == "numpy" and self.device.type != "cpu":
            raise ValueError(
                f"arrays='numpy' keeps the state on the CPU, but device is {str(self.device)!r}; "
                "use arrays='auto' or 'torch'"
            )
        self.kind = kind
        self.is_numpy = self.device.type == "cpu" and kind != "torch"
        #: the array module: ``numpy`` or ``torch`` (not pickled: re-derived from ``is_numpy``)
        self.xp: ModuleType = np if self.is_numpy else torch

    def __getstate__(self) -> dict[str, Any]:
        """The device and kind; the array module ``xp`` (a module does not pickle) is left out."""
        state = dict(self.__dict__)
        del state["xp"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the device and kind, and re-derive ``xp`` from them."""
        self.__dict__.update(state)
        self.xp = np if self.is_numpy else torch

    def _dtype(self, name: str):
        numpy_dtype, torch_dtype = _DTYPES[name]
        return numpy_dtype if self.is_numpy else torch_dtype

    def full(self, shape, value, dtype: str = "int64"):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if self.is_numpy:
            return np.full(shape, value, dtype=self._dtype(dtype))
        return torch.full(shape, value, dtype=self._dtype(dtype), device=self.device)

    def zeros(self, shape, dtype: str = "int64"):
        return self.full(shape, 0, dtype)

    def arange(self, n: int):
        return np.arange(n, dtype=np.int64) if self.is_numpy else torch.arange(n, device=self.device)

    def astype(self, array, dtype: str):
        """``array`` converted to ``dtype`` (a new array)."""
        return array.astype(self._dtype(dtype)) if self.is_numpy else array.to(self._dtype(dtype))

    def divide(self, numerators, denominators):
        """Elementwise float64 quotient of two int64 arrays."""
        return numerators / denominators if self.is_numpy else numerators.double() / denominators

    def nonzero(self, mask):
        """The indices where the 1-D ``mask`` is true, as an int64 array."""
        return mask.nonzero()[0] if self.is_numpy else torch.nonzero(mask).flatten()

    def take(self, array, indices, axis: int = 0):
        """``array`` gathered at ``indices`` along ``axis`` (numpy's ``take``: a few times cheaper than a fancy
        index)."""
        return array.take(indices, axis) if self.is_numpy else array.index_select(axis, indices)

    def copy(self, array):
        return array.copy() if self.is_numpy else array.clone()

    def from_host(self, values: Any, dtype: str | None = None):
        """A host value (numpy array, list, CPU tensor) as an array of this backend.

        No copy on the CPU when the dtype already matches; a host-to-device copy otherwise.
        """
        if isinstance(values, torch.Tensor):
            values = values.detach()
            if self.is_numpy:
                values = values.cpu().numpy()
            else:
                values = values.to(self.device)
                return values if dtype is None else values.to(self._dtype(dtype))
        array = np.asarray(values) if dtype is None else np.asarray(values, dtype=_DTYPES[dtype][0])
        if self.is_numpy:
            return array
        return torch.from_numpy(array if array.flags.writeable else array.copy()).to(self.device)

    def to_host(self, array) -> np.ndarray:
        """A numpy copy of ``array``: the caller may keep or change it."""
        if self.is_numpy:
            return array.copy()
        host = array.cpu().numpy()
        return host.copy() if self.device.type == "cpu" else host  # .cpu() of a CPU tensor is the tensor itself

    def to_tensor(self, array) -> torch.Tensor:
        """``array`` as a torch tensor on the device, sharing its memory (no copy)."""
        return torch.from_numpy(array) if self.is_numpy else array
