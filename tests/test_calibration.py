"""The shipped calibration: every id has one, the v2 language tasks sit in the band, the README shows the file."""

from __future__ import annotations

from pathlib import Path

import pytest

import textgym
from textgym.calibration import (
    BAND,
    BAND_IDS,
    Calibration,
    calibrate,
    calibration_for,
    load_calibrations,
    readme_with_table,
)
from textgym.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]


def task_ids() -> list[str]:
    """Every registered id but the configurable one: one per shipped task, and the conversation id."""
    from textgym.registration import CONVERSATION_ID

    return [env_id for env_id in textgym.env_ids() if "TextGenEnv" not in env_id] + [CONVERSATION_ID]


def test_every_task_id_has_a_shipped_calibration():
    calibrations = load_calibrations()
    assert sorted(calibrations) == sorted(task_ids())
    for env_id, c in calibrations.items():
        assert c.env_id == env_id and c.eval_prompts > 0 and c.seed == 0
        if c.reference is not None:
            assert c.random < c.reference
        assert (c.greedy is None) == (c.sampled is None) == (c.model is None)


@pytest.mark.parametrize("env_id", [*BAND_IDS, "textgym/Conversation-v0"])
def test_the_bundled_model_has_a_foothold_and_headroom_on_every_v2_language_task_and_the_conversation(env_id):
    normalised = calibration_for(env_id).greedy_normalised
    assert BAND[0] <= normalised <= BAND[1], f"{env_id}: greedy normalised {normalised:.3f} outside {BAND}"


def test_normalised_scores_put_random_at_0_and_the_reference_at_1():
    c = Calibration("x", "tiny", random=0.2, greedy=0.4, sampled=0.3, reference=1.0, eval_prompts=5, seed=0)
    assert c.normalised(0.2) == 0 and c.normalised(1.0) == 1 and c.greedy_normalised == pytest.approx(0.25)
    unbounded = Calibration("y", "tiny", random=0.0, greedy=1.0, sampled=1.0, reference=None, eval_prompts=5, seed=0)
    assert unbounded.normalised(1.0) is None and "no top" in unbounded.describe()


def test_a_calibration_is_reproduced_by_its_seeded_command():
    """The random policy's number on Copy (cheap: no model) is measured again, bit for bit."""
    shipped = calibration_for("textgym/Copy-v0")
    assert calibrate("textgym/Copy-v0", seed=shipped.seed) == shipped


def test_the_readme_table_is_the_shipped_file():
    readme = (ROOT / "README.md").read_text()
    assert readme_with_table(readme, load_calibrations()) == readme


def test_info_prints_the_calibration(capsys):
    assert cli_main(["info", "textgym/QA-v2"]) == 0
    out = capsys.readouterr().out
    assert "Calibration on the eval split" in out and f"{calibration_for('textgym/QA-v2').greedy:.3f}" in out
