"""The textgym command line."""

import io
import subprocess
import sys
from types import SimpleNamespace

from textgym import cli


def test_list_shows_every_id(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for env_id in ("textgym/TextGenEnv-v0", "textgym/Sentiment-v0", "textgym/Copy-v0"):
        assert env_id in out


def test_info_prints_docstring_and_sample_episode(capsys):
    assert cli.main(["info", "textgym/Copy-v0"]) == 0
    out = capsys.readouterr().out
    for section in ("## Description", "## Action Space", "## Rewards", "## Episode End", "## Version History"):
        assert section in out
    assert "instant reward" in out and "sum of instant rewards" in out


def test_unknown_id_is_a_clear_error(capsys):
    assert cli.main(["info", "textgym/Poetry-v0"]) == 2
    assert "unknown environment id 'textgym/Poetry-v0'; registered:" in capsys.readouterr().err


def test_play_through_stdin():
    stdin = io.StringIO("0\nb\n/eos\n")
    stdout = io.StringIO()
    args = SimpleNamespace(id="textgym/Copy-v0", seed=0, reward_mode="dense", top=4)
    assert cli.cmd_play(args, stdin=stdin, stdout=stdout) == 0
    out = stdout.getvalue()
    assert "candidates: [0] 'a'" in out and "instant reward" in out
    assert "episode over (eos): text 'ab'" in out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "textgym.cli", "list"], capture_output=True, text=True, check=True)
    assert "textgym/Copy-v0" in result.stdout
