"""The documentation ``textgym info ID`` prints says what the env does.

Every id's docstring has Gymnasium's sections, and its *Episode End* tells the truth about
termination and truncation: the ``max_new_tokens`` horizon is part of the task and
terminates (``terminated=True``); the env itself never truncates.
"""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

import textgym
from textgym.cli import _task_for

SECTIONS = ("Description", "Action Space", "Observation Space", "Rewards", "Starting State", "Episode End",
            "Arguments", "Version History")


def printed_doc(env_id: str) -> str:
    """The text ``textgym info`` prints for ``env_id``."""
    return _task_for(env_id).__doc__ or ""


def section(doc: str, title: str) -> str:
    match = re.search(rf"^\s*## {title}\n(.*?)(?=^\s*## |\Z)", doc, re.S | re.M)
    assert match, f"no '## {title}' section"
    return match.group(1)


def items(text: str) -> dict[str, str]:
    """``- Name: text`` items of a section, continuation lines joined."""
    found = {}
    for item in re.split(r"^\s*- ", text, flags=re.M)[1:]:
        name, _, body = item.partition(":")
        found[name.strip()] = " ".join(body.split())
    return found


@pytest.mark.parametrize("env_id", textgym.env_ids())
def test_every_id_documents_the_gymnasium_sections(env_id):
    doc = printed_doc(env_id)
    for title in SECTIONS:
        section(doc, title)


@pytest.mark.parametrize("env_id", textgym.env_ids())
def test_episode_end_says_the_horizon_terminates_and_the_env_never_truncates(env_id):
    end = items(section(printed_doc(env_id), "Episode End"))
    assert set(end) == {"Termination", "Truncation"}, end
    assert "max_new_tokens" in end["Termination"]
    assert "max_new_tokens" not in end["Truncation"].replace("max_episode_steps", "")
    assert end["Truncation"].startswith("never by the env")


@pytest.mark.parametrize("env_id", textgym.env_ids())
def test_the_horizon_terminates_and_nothing_truncates(env_id):
    """What the docstring says, done: an episode that reaches ``max_new_tokens`` ends with
    ``terminated=True, truncated=False`` and ``end_reason == "max_new_tokens"``."""
    env = gym.make(env_id, max_new_tokens=2)
    env.action_space.seed(0)
    reasons = []
    for seed in range(20):
        env.reset(seed=seed)
        terminated = truncated = False
        steps = 0
        while not (terminated or truncated):
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            steps += 1
            assert not truncated
        reasons.append(info["end_reason"])
        if info["end_reason"] == "max_new_tokens":
            assert terminated and steps == 2
            break
    env.close()
    assert "max_new_tokens" in reasons, reasons


def test_every_file_the_code_cites_is_in_the_repository():
    """A docstring or comment that sends the reader to ``docs/...`` or ``benchmarks/...`` names a file that exists."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cited = set()
    for folder in ("textgym", "agents", "tests", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            found = re.findall(r"\b((?:docs|benchmarks)/[\w./-]+\.(?:md|py|yaml|sh))", path.read_text())
            cited |= {(path.name, name) for name in found}
    assert cited
    missing = sorted((where, name) for where, name in cited if not (root / name).exists())
    assert not missing, missing
