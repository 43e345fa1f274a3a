"""The optional parts of textgym: which extra installs what, and a clear error when one is missing.

``pip install textgym`` installs the environments alone (gymnasium, torch, transformers, ...).
The rest comes with extras: ``textgym[agents]`` (Stable-Baselines3, sb3-contrib, TensorBoard:
``textgym train`` with the SB3 agents), ``textgym[bench]`` (matplotlib, pyyaml, scipy:
``textgym bench``), ``textgym[peft]`` (LoRA adapters), ``textgym[dev]`` (all of them and the
test tools). Code that needs one of them calls :func:`require` first, so that a missing module
is one line naming the extra, not a traceback from deep inside an import.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: import name -> the distribution pip installs it from (where the two differ)
DISTRIBUTIONS = {
    "stable_baselines3": "stable-baselines3",
    "sb3_contrib": "sb3-contrib",
    "yaml": "pyyaml",
    "PIL": "pillow",
}


class MissingExtraError(ModuleNotFoundError):
    """A module of an optional extra is not installed; the message names the extra to install.

    A ``ModuleNotFoundError`` (``except ImportError`` still catches it); the command line prints
    it as one line (``textgym train: error: ...``).
    """


def install_hint(extra: str) -> str:
    return f'pip install "textgym[{extra}]"'


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import and return ``module``, or raise :class:`MissingExtraError` naming ``extra``.

    ``purpose`` says what needs it, e.g. ``"the sb3-ppo agent"`` or ``"textgym bench"``:
    the message reads ``the sb3-ppo agent needs stable-baselines3, which is not installed:
    pip install "textgym[agents]"``. Only the module itself (or its top-level package) missing
    is reported so; a module that is there but fails to import, one of its own dependencies
    missing included, raises its own error (a broken install, to be seen as it is).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        top = module.partition(".")[0]
        if error.name not in (module, top):
            raise
        package = DISTRIBUTIONS.get(top, top)
        raise MissingExtraError(f"{purpose} needs {package}, which is not installed: {install_hint(extra)}",
                                name=module) from None
