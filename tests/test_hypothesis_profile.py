"""Hypothesis tests cannot fail by chance in CI: with the CI environment variable set, tests/conftest.py loads a
derandomized profile (the same examples every run, no example database, no deadline), and a test's own
``@settings(...)`` keeps its values and takes the rest from that profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
CI_PROFILE = "textgym-ci"  # the name tests/conftest.py registers


def draws(parent: settings | None = None) -> list[int]:
    """The integers a ``@settings(max_examples=5)`` test is given, in order (under ``parent``'s settings if given, else
    the profile's)."""
    seen: list[int] = []

    @settings(parent, max_examples=5)
    @given(st.integers(0, 2**30))
    def record(value: int) -> None:
        seen.append(value)

    record()
    return seen


def test_the_profile_follows_the_ci_variable():
    """This process's profile: tests/conftest.py's CI profile when CI is set; a test's own settings merge with it."""
    own = settings(max_examples=5)
    assert own.max_examples == 5  # its own value kept
    assert own.derandomize == settings.default.derandomize  # the rest from the profile
    assert own.deadline == settings.default.deadline
    if "CI" in os.environ:
        assert settings.get_current_profile_name() == CI_PROFILE
        assert settings.default.derandomize and own.derandomize
        assert settings.default.database is None and own.database is None
        assert settings.default.deadline is None
        assert draws() == draws()  # the same examples every time
    report = os.environ.get("TEXTGYM_PROFILE_REPORT")
    if report:  # run by the test below: what it saw, for that test to check too
        Path(report).write_text(json.dumps({
            "profile": settings.get_current_profile_name(), "derandomize": own.derandomize,
            "database": repr(own.database), "max_examples": own.max_examples, "draws": draws(),
        }), encoding="utf-8")


def test_a_ci_run_loads_the_derandomized_profile(tmp_path):
    """The test above, run by pytest with CI=true as .ci/run runs the suite: the profile is active there, and it draws
    the examples this process draws under that profile (another process, another run: the same examples)."""
    report = tmp_path / "report.json"
    env = {**os.environ, "CI": "true", "TEXTGYM_PROFILE_REPORT": str(report)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"{Path(__file__).resolve()}::test_the_profile_follows_the_ci_variable"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    got = json.loads(report.read_text(encoding="utf-8"))
    assert got["profile"] == CI_PROFILE and got["derandomize"] is True and got["database"] == "None"
    assert got["max_examples"] == 5
    assert got["draws"] == draws(settings.get_profile(CI_PROFILE))
