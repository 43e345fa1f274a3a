"""Quiet model loading: no transformers progress bars ("Loading weights") and only its errors.

Used by the command line and by every process it starts (``textgym bench``'s workers), so that a
command's output holds its own lines only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_model_loading() -> Iterator[None]:
    """No transformers progress bars ("Loading weights") and only its errors while a command runs.

    The hub's download bars stay as they were (a first download may take minutes); both
    settings are restored afterwards, so that ``main`` called from Python changes nothing.
    """
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as hf_logging

    bars, hub_disabled, verbosity = (
        hf_logging.is_progress_bar_enabled(),
        are_progress_bars_disabled(),
        hf_logging.get_verbosity(),
    )
    hf_logging.disable_progress_bar()  # also turns the hub's bars off: turned back on below
    if not hub_disabled:
        enable_progress_bars()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
        if hub_disabled:
            disable_progress_bars()
        elif are_progress_bars_disabled():
            enable_progress_bars()
