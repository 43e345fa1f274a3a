"""The textgym command line."""

import io
import subprocess
import sys
from types import SimpleNamespace

import gymnasium as gym
import pytest

import textgym
from textgym import cli
from textgym.models.loader import ModelNotFoundError


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


def test_list_and_info_know_the_conversation(capsys):
    assert cli.main(["list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("textgym/Conversation-v0"))
    assert "dense | turn | sparse" in row and "[-0.7, 1]" in row
    assert cli.main(["info", "textgym/Conversation-v0"]) == 0
    out = capsys.readouterr().out
    for section in ("## Description", "## Observation Space", "## Rewards", "## Episode End", "## Version History"):
        assert section in out
    assert "agent_mask" in out and "Prompts: 225 train, 54 eval" in out
    assert "sum of instant rewards" in out and "terminated (" in out


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


@pytest.fixture(scope="module")
def listed() -> subprocess.CompletedProcess:
    """``python -m textgym.cli list`` in a process of its own, run once for the tests that read its output (the
    start-up and the table, which builds every environment, take seconds)."""
    return subprocess.run([sys.executable, "-m", "textgym.cli", "list"], capture_output=True, text=True, timeout=300)


def test_console_script_runs(listed):
    assert listed.returncode == 0, listed.stderr
    assert "textgym/Copy-v0" in listed.stdout


# -- user input never ends in a traceback ----------------------------------------------------


def play_args(env_id="textgym/Copy-v0", **overrides):
    values = dict(id=env_id, seed=0, reward_mode="dense", top=4)
    values.update(overrides)
    return SimpleNamespace(**values)


def test_play_refuses_text_outside_the_symbol_vocabulary_and_goes_on():
    stdin = io.StringIO("hello\n \n\nb\n/eos\n")
    stdout = io.StringIO()
    assert cli.cmd_play(play_args(), stdin=stdin, stdout=stdout) == 0
    out = stdout.getvalue()
    assert "this task's vocabulary: a b c d e =" in out
    assert "'h', 'l', 'o' are not in this task's vocabulary; its symbols are: a b c d e =" in out
    assert "' ' is not in this task's vocabulary" in out
    assert "empty text has no token in this task's vocabulary" in out
    assert "episode over (eos): text 'b'" in out  # the refused lines played nothing


def test_play_on_arithmetic_lists_every_symbol():
    stdout = io.StringIO()
    assert cli.cmd_play(play_args("textgym/Arithmetic-v0"), stdin=io.StringIO("z\n"), stdout=stdout) == 0
    out = stdout.getvalue()
    assert "'z' is not in this task's vocabulary; its symbols are: 0 1 2 3 4 5 6 7 8 9 + - =" in out
    assert out.rstrip().endswith("end of input: stopped")


def test_play_from_a_pipe_ends_cleanly_at_end_of_input():
    result = subprocess.run([sys.executable, "-m", "textgym.cli", "play", "textgym/Copy-v0"], input="hello\n",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stderr == ""
    assert "are not in this task's vocabulary; its symbols are: a b c d e =" in result.stdout
    assert "end of input: stopped" in result.stdout


def test_play_refuses_a_top_below_one(capsys):
    assert cli.main(["play", "textgym/Copy-v0", "--top", "0"]) == 2
    assert "textgym play: error: --top must be >= 1, got 0" in capsys.readouterr().err


def test_negative_seed_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["info", "textgym/Copy-v0", "--seed", "-1"])
    assert exit_info.value.code == 2
    assert "argument --seed: must be >= 0, got -1" in capsys.readouterr().err


def test_demo_checks_every_id_before_printing(capsys):
    assert cli.main(["demo", "textgym/Copy-v0", "textgym/Poetry-v0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "textgym demo: error: unknown environment id 'textgym/Poetry-v0'" in captured.err


@pytest.mark.parametrize(
    "error, code, message",
    [
        (textgym.TaskError("task 'x': bad"), 2, "textgym info: error: task 'x': bad"),
        (ModelNotFoundError("model 'm' is not bundled"), 2, "textgym info: error: model 'm' is not bundled"),
        (KeyError("no such entry 'x'"), 2, "textgym info: error: no such entry 'x'"),
        (FileNotFoundError("prompts.jsonl does not exist"), 2, "textgym info: error: prompts.jsonl does not exist"),
        (gym.error.NameNotFound("Environment `Nope` doesn't exist."), 2, "textgym info: error: Environment `Nope`"),
        (AttributeError("'NoneType' object has no attribute 'x'"), 1,
         "textgym info: internal error (a bug): AttributeError: 'NoneType' object has no attribute 'x'; "
         "run again with TEXTGYM_DEBUG=1 for the traceback"),
    ],
)
def test_errors_are_one_line_and_tracebacks_need_debug(monkeypatch, capsys, error, code, message):
    def broken(args):
        raise error

    monkeypatch.setattr(cli, "cmd_info", broken)
    monkeypatch.delenv("TEXTGYM_DEBUG", raising=False)
    assert cli.main(["info", "textgym/Copy-v0"]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    monkeypatch.setenv("TEXTGYM_DEBUG", "1")
    with pytest.raises(type(error)):
        cli.main(["info", "textgym/Copy-v0"])


def test_help_documents_the_debug_variable(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "TEXTGYM_DEBUG=1" in capsys.readouterr().out


def test_unknown_id_in_a_subprocess_is_one_line_with_status_2():
    result = subprocess.run([sys.executable, "-m", "textgym.cli", "info", "textgym/Poetry-v0"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.startswith("textgym info: error: unknown environment id 'textgym/Poetry-v0'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_loading_bars_in_info_and_demo_and_settings_restored(capfd):
    from transformers.utils import logging as hf_logging

    before = (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity())
    assert cli.main(["info", "textgym/Sentiment-v0"]) == 0
    assert cli.main(["demo", "textgym/Sentiment-v0"]) == 0
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()) == before  # Python users keep theirs


def test_list_prints_no_loading_bar(listed):
    assert listed.returncode == 0, listed.stderr
    assert "Loading weights" not in listed.stderr and "textgym/Copy-v0" in listed.stdout


BENCH_SUITE = """name: tiny-check
seeds: 1
reward_modes: [dense]
agents:
  - name: {agent}
tasks:
  - env: {env}
    threshold: 0.5
    steps: 10
"""


@pytest.mark.parametrize(
    "agent, env, message",
    [
        ("alphago", "textgym/Copy-v0", "unknown agent 'alphago'; allowed: random"),
        ("random", "textgym/Chess-v0", "unknown task 'textgym/Chess-v0'; allowed: textgym/TextGenEnv-v0"),
    ],
)
def test_bench_bad_suite_is_one_line(tmp_path, capsys, agent, env, message):
    suite = tmp_path / "suite.yaml"
    suite.write_text(BENCH_SUITE.format(agent=agent, env=env))
    assert cli.main(["bench", "--config", str(suite), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("textgym bench: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_bench_missing_suite_file(tmp_path, capsys):
    assert cli.main(["bench", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "textgym bench: error: config file" in capsys.readouterr().err
