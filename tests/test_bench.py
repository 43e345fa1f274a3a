"""`textgym bench`: runs a suite, skips finished runs, writes results, refuses bad configs before running."""

import csv
import json
import shutil
from collections import defaultdict

import numpy as np
import pytest

from textgym import cli
from textgym_agents.bench.config import SuiteConfigError, load_suite
from textgym_agents.bench.report import write_report
from textgym_agents.bench.runner import run_suite

MINI = """
name: mini
steps: 256
eval_every: 128
num_envs: 4
seeds: 2
agents:
  - name: random
  - name: sb3-ppo
    hyperparameters: {n_steps: 8, batch_size: 32, n_epochs: 1}
tasks:
  - env: textgym/Copy-v0
    threshold: 0.4
"""


@pytest.fixture
def mini_config(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(MINI)
    return path


def test_suite_runs_reports_and_skips_finished_runs(tmp_path, mini_config):
    out = tmp_path / "out"
    suite = load_suite(None, str(mini_config), str(out), device="cpu")
    assert len(suite.runs) == 2 * 2 * 2  # agents x modes x seeds
    run_suite(suite, out, workers=1, progress=False)
    paths = write_report(
        suite.runs, out, suite.name, "textgym bench --config mini.yaml", heatmap=True, thresholds=suite.thresholds
    )
    with open(paths["results"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"agent", "env_id", "reward_mode", "seed", "env_steps", "eval_return", "wall_seconds",
                            "ref_perplexity", "distinct_1", "distinct_2", "repetition", "same_continuation_share"}
    assert rows[0]["ref_perplexity"] == ""  # Copy has its own symbol vocabulary: no reference LM
    assert 0 < float(rows[0]["distinct_1"]) <= 1
    assert len(rows) == 8 * 3  # three evaluations per run
    summary = paths["summary"].read_text()
    assert "IQM" in summary and "P(dense > sparse)" in summary and "Sample efficiency" in summary
    assert "| textgym/Copy-v0 | 0.4 |" in summary  # the suite file's threshold
    assert "hacking" in summary and "per seed" in summary
    for key in ("curves", "aggregate", "heatmap", "naturalness"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json")}
    run_suite(suite, out, workers=1, progress=False)  # everything finished: nothing reruns
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json")}


def test_unfinished_run_is_resumed(tmp_path, mini_config):
    out = tmp_path / "out"
    suite = load_suite(None, str(mini_config), str(out), seeds=1, device="cpu")
    suite.runs = suite.runs[:1]
    run_suite(suite, out, workers=1, progress=False)
    first = suite.runs[0]
    (out / "runs" / first.out.split("/")[-1] / "summary.json").unlink()
    run_suite(suite, out, workers=1, progress=False)
    assert json.loads((out / "runs" / first.out.split("/")[-1] / "summary.json").read_text())["env_steps"] >= 256


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\nagents: [alphago]\ntasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n", "unknown agent 'alphago'"),
        (
            "name: x\nagents: [random]\ntasks: [{env: textgym/Chess-v0, threshold: 0.5}]\n",
            "unknown task 'textgym/Chess-v0'",
        ),
        ("name: x\nagents: [random\ntasks: [", "is not valid YAML"),
        (
            "name: x\nagents: [random]\ntasks: [{env: textgym/Copy-v0, threshold: 0.5}]\ncolour: red\n",
            r"unknown key\(s\) \['colour'\]",
        ),
        (
            "name: x\nagents: [random]\ntasks: [{env: textgym/Copy-v0, threshold: 0.5}]\nreward_modes: [instant]\n",
            "reward_modes must be",
        ),
        (
            "name: x\nagents: [{name: sb3-ppo, hyperparameters: {lr: 1}}]\n"
            "tasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n",
            "unknown hyper-parameter",
        ),
        ("name: x\nagents: []\ntasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n", "'agents' must be a non-empty list"),
        (
            "name: x\nagents: [random]\ntasks: [{env: textgym/Copy-v0}]\n",
            r"tasks\[0\] \(textgym/Copy-v0\) has no 'threshold'",
        ),
        (
            "name: x\nagents: [random]\ntasks: [{env: textgym/Copy-v0, threshold: 1.5}]\n",
            r"tasks\[0\] \(textgym/Copy-v0\): threshold 1.5 is outside the task's score range \[0, 1\]",
        ),
        (
            "name: x\nagents: [random]\ntasks: [{env: textgym/Sentiment-v0, threshold: high}]\n",
            r"\(textgym/Sentiment-v0\): threshold 'high' is outside the task's score range \[-1, 1\]",
        ),
        (
            "name: x\nagents: [lm-ppo, {name: lm-ppo, reward_modes: [sparse]}]\n"
            "tasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n",
            "several agent entries make the same runs",
        ),
        (
            "name: x\nagents: [{name: lm-ppo, reward_modes: [late]}]\n"
            "tasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n",
            r"agents\[0\]: reward_modes must be",
        ),
        (
            "name: x\nagents: [{name: lm-ppo, reward_modes: [sparse], hyperparameters: {credit: attention}}]\n"
            "tasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n",
            "credit='attention' needs a reward-model task",
        ),
        (
            "name: x\nagents: [{name: lm-ppo, hyperparameters: {credit: uniform}}]\n"
            "tasks: [{env: textgym/Copy-v0, threshold: 0.5}]\n",
            r"credit='uniform'\) learns the same from both reward modes",
        ),
    ],
)
def test_bad_configs_fail_before_any_run(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(SuiteConfigError, match=message):
        suite = load_suite(None, str(path), str(out), device="cpu")
        run_suite(suite, out, workers=1, progress=False)
    assert not (out / "runs").exists()


def test_unknown_suite_and_foreign_out_folder(tmp_path, mini_config, capsys):
    assert cli.main(["bench", "--suite", "gigantic", "--out", str(tmp_path / "o")]) == 2
    assert (
        "unknown suite 'gigantic'; allowed: conversation, credit, full, lm_agents, quick, sentiment_rm, standard"
        in capsys.readouterr().err
    )
    out = tmp_path / "taken"
    (out).mkdir()
    (out / "suite.json").write_text(json.dumps({"name": "other", "runs": ["a"]}))
    assert cli.main(["bench", "--config", str(mini_config), "--out", str(out), "--no-progress"]) == 2
    assert "holds results of another suite ('other'" in capsys.readouterr().err


def test_out_folder_of_more_seeds_is_refused_and_one_of_fewer_is_extended(tmp_path, mini_config, capsys):
    from textgym_agents.bench.runner import claim_output

    out = tmp_path / "out"
    claim_output(load_suite(None, str(mini_config), str(out), seeds=2, device="cpu"), out)
    assert cli.main(["bench", "--config", str(mini_config), "--out", str(out), "--seeds", "1", "--no-progress"]) == 2
    assert "2 seeds, asked 1" in capsys.readouterr().err
    # a suite that gained seeds since keeps its folder: the runs of the first seeds are reused
    fewer = tmp_path / "fewer"
    claim_output(load_suite(None, str(mini_config), str(fewer), seeds=1, device="cpu"), fewer)
    record = claim_output(load_suite(None, str(mini_config), str(fewer), seeds=2, device="cpu"), fewer)
    assert {name.rsplit("__seed", 1)[1] for name in record["runs"]} == {"0", "1"}


def test_report_only_reports_the_finished_runs_of_a_suite_run_in_parts(tmp_path, mini_config, capsys):
    out = tmp_path / "out"
    suite = load_suite(None, str(mini_config), str(out), seeds=1, device="cpu")
    suite.runs = [run for run in suite.runs if run.agent == "random"]
    run_suite(suite, out, workers=1, progress=False)
    args = ["bench", "--config", str(mini_config), "--out", str(out), "--seeds", "1", "--report-only", "--no-heatmap"]
    assert cli.main(args) == 0
    summary = (out / "summary.md").read_text()
    assert "**Partial: 2 runs of the suite have not finished yet" in summary  # the two sb3-ppo runs
    assert "| textgym/Copy-v0 | random | dense |" in summary and "sb3-ppo" not in summary.split("## Final return")[1]
    assert not list(out.glob("runs/sb3-ppo*/summary.json"))  # nothing was run


# -- rerunning on an --out that holds finished runs ------------------------------------------------

RANDOM_ONLY = """
name: tiny
steps: 128
eval_every: 64
num_envs: 4
seeds: 1
agents: [random]
tasks:
  - env: textgym/Copy-v0
    threshold: 0.4
"""


def _reproduce_line(out) -> str:
    return next(line for line in (out / "summary.md").read_text().splitlines() if line.startswith("Reproduce: "))


def test_rerun_says_which_runs_it_reuses_and_keeps_the_command_that_made_them(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(RANDOM_ONLY)
    out = tmp_path / "out"
    base = ["bench", "--config", str(config), "--out", str(out)]
    first = f"textgym bench --config {config} --out {out} --device cpu --workers 1 --no-heatmap --no-progress"
    assert cli.main(base + ["--device", "cpu", "--workers", "1", "--no-heatmap", "--no-progress"]) == 0
    assert "Reusing" not in capsys.readouterr().out  # nothing to reuse the first time
    assert json.loads((out / "suite.json").read_text())["command"] == first
    assert _reproduce_line(out) == f"Reproduce: `{first}`"
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json")}

    # the same settings, other presentation flags: the runs are reused, said so, and Reproduce keeps their command
    assert cli.main(base + ["--device", "cpu", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"Reusing 2 finished runs in {out / 'runs'} (0 to run); made by `{first}`." in printed
    assert "WARNING" not in printed and "NOTE" not in printed
    assert _reproduce_line(out) == f"Reproduce: `{first}`"
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json")}  # nothing reran

    # a flag that changes results (--device): said clearly; nothing reruns, and Reproduce still names what made the runs
    assert cli.main(base + ["--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Reusing 2 finished runs" in printed
    assert "NOTE: the runs were made with other settings than this command gives" in printed
    assert "device: made with 'cpu', asked 'auto' (2 runs)" in printed
    assert _reproduce_line(out) == f"Reproduce: `{first}`"
    assert "Mixed settings" not in (out / "summary.md").read_text()
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json")}


def test_runs_made_with_other_settings_than_the_reused_ones_are_flagged_in_the_summary(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(RANDOM_ONLY)
    out = tmp_path / "out"
    first = f"textgym bench --config {config} --out {out} --workers 1 --no-heatmap --no-progress"
    assert (
        cli.main(
            ["bench", "--config", str(config), "--out", str(out), "--workers", "1", "--no-heatmap", "--no-progress"]
        )
        == 0
    )
    capsys.readouterr()
    shutil.rmtree(out / "runs" / "random__Copy-v0__sparse__seed0")  # one run to make again...
    config.write_text(RANDOM_ONLY.replace("steps: 128", "steps: 192"))  # ...with a longer budget
    second = f"textgym bench --config {config} --out {out} --workers 1 --no-heatmap --no-progress"
    assert (
        cli.main(
            ["bench", "--config", str(config), "--out", str(out), "--workers", "1", "--no-heatmap", "--no-progress"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Reusing 1 finished run in" in printed and "(1 to run)" in printed
    assert "WARNING: the reused runs were made with other settings than this command gives" in printed
    assert "steps: made with 128, asked 192 (1 run)" in printed
    summary = (out / "summary.md").read_text()
    assert _reproduce_line(out) == f"Reproduce: `{first}`"  # the first command made most of the runs
    assert (
        f"**Mixed settings: 1 run was made by `{second}`**" in summary
        and "steps 192 (the runs it found: 128)" in summary
    )
    # the record outlives the invocation: a later report of the folder says it too
    assert cli.main(["bench", "--config", str(config), "--out", str(out), "--report-only", "--no-heatmap"]) == 0
    assert "Reporting 2 finished runs" in capsys.readouterr().out
    assert "**Mixed settings: 1 run was" in (out / "summary.md").read_text()


def test_folder_recorded_without_its_command_reports_this_command_and_how_the_runs_differ(tmp_path, capsys):
    """A suite.json written before commands were recorded: Reproduce is this command, with what it does not
    reproduce."""
    config = tmp_path / "tiny.yaml"
    config.write_text(RANDOM_ONLY)
    out = tmp_path / "out"
    suite = load_suite(None, str(config), str(out), device="cpu")
    run_suite(suite, out, workers=1, progress=False)
    record = json.loads((out / "suite.json").read_text())
    assert record["command"] is None  # run through the API: no command to record
    assert cli.main(["bench", "--config", str(config), "--out", str(out), "--report-only", "--no-heatmap"]) == 0
    assert _reproduce_line(out) == f"Reproduce: `textgym bench --config {config} --out {out} --no-heatmap`"
    summary = (out / "summary.md").read_text()
    assert "**The runs were made with other settings than the command above gives**" in summary
    assert "device: made with 'cpu', asked 'auto' (2 runs)" in summary


def _synthetic_rows(agents, envs=("textgym/Copy-v0", "textgym/Reverse-v0")):
    """A tiny results table: 2 seeds x 2 evaluations per (task, agent, reward mode), with reference perplexities."""
    rng = np.random.default_rng(0)
    rows = []
    for env in envs:
        for agent in agents:
            for mode in ("dense", "sparse"):
                for seed in range(2):
                    for steps in (0, 100):
                        rows.append(
                            {
                                "agent": agent,
                                "env_id": env,
                                "reward_mode": mode,
                                "seed": seed,
                                "env_steps": steps,
                                "eval_return": float(rng.uniform()),
                                "ref_perplexity": float(rng.uniform(2, 50)),
                                "distinct_1": 0.5,
                                "distinct_2": 0.5,
                                "repetition": 0.1,
                                "wall_seconds": 1.0,
                            }
                        )
    return rows


def _styled_artists(fig):
    """(agent, mode, rgb colour, style) of every artist the report tags with gid "agent|mode"."""
    from matplotlib.collections import PathCollection, PolyCollection
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text

    out = []
    for artist in fig.findobj(lambda a: isinstance(a.get_gid(), str) and "|" in a.get_gid()):
        agent, mode = artist.get_gid().split("|")
        if isinstance(artist, Line2D):
            colour, style = (
                artist.get_color(),
                (artist.get_linestyle(), artist.get_marker(), artist.get_markerfacecolor() != "white"),
            )
        elif isinstance(
            artist, PathCollection
        ):  # scatter: the edge is the agent's colour, the face says filled or open
            colour, style = artist.get_edgecolor()[0], ("scatter", len(artist.get_facecolor()) > 0)
        elif isinstance(artist, PolyCollection):  # a learning curve's band
            colour, style = artist.get_facecolor()[0], None
        elif isinstance(artist, Rectangle):  # a bar: the edge is the agent's colour, the hatch the reward mode
            colour, style = artist.get_edgecolor(), ("bar", artist.get_hatch())
        elif isinstance(artist, Text):
            colour, style = artist.get_color(), None
        else:
            raise AssertionError(f"untested artist {artist!r}")
        out.append((agent, mode, to_rgb(colour), style))
    return out


def test_plots_give_each_agent_one_colour_and_each_reward_mode_one_style():
    import matplotlib.pyplot as plt

    from textgym_agents.bench import report

    agents = ["sb3-ppo", "lm-ppo", "random", "my-agent"]
    rows = _synthetic_rows(agents)
    colours = report.agent_colours(agents)
    samples = [{"title": f"{a} on textgym/Copy-v0 (dense)", "prompt": "p", "tokens": ["a", "b"], "rewards": [0.1, -0.1],
                "agent": a, "reward_mode": "dense"} for a in agents]
    figures = {
        "curves": report.figure_learning_curves(rows, colours),
        "aggregate": report.figure_aggregate(rows, colours),
        "naturalness": report.figure_score_vs_perplexity(rows, colours),
        "heatmap": report.figure_token_rewards(samples, colours),
    }
    seen = {name: _styled_artists(fig) for name, fig in figures.items()}
    for fig in figures.values():
        plt.close(fig)
    colour_of = defaultdict(set)  # agent -> the colours it is drawn in, over all plots
    for name, artists in seen.items():
        assert {a for a, _, _, _ in artists} == set(agents), name  # every agent drawn in every plot
        for agent, _, colour, _ in artists:
            colour_of[agent].add(colour)
    assert all(len(c) == 1 for c in colour_of.values()), colour_of  # one colour per agent, in every plot
    assert len({next(iter(c)) for c in colour_of.values()}) == len(agents)  # and no two agents share one
    # one style per reward mode within each kind of artist, and dense and sparse drawn differently
    for name in ("curves", "aggregate", "naturalness"):
        style_of = defaultdict(set)
        for _, mode, _, style in seen[name]:
            if style is not None and mode in ("dense", "sparse"):
                style_of[mode].add(style)
        assert all(len(s) == 1 for s in style_of.values()) and style_of["dense"] != style_of["sparse"], (name, style_of)
    # the palette is fixed for the shipped agents: the same colour whichever other agents a suite has
    assert report.agent_colours(["lm-ppo", "sb3-ppo"])["lm-ppo"] == colours["lm-ppo"]
    assert report.agent_colours(["random", "lm-ppo"])["random"] == colours["random"]
    assert report.agent_colours(["zzz", "my-agent"])["my-agent"] == colours["my-agent"]  # unknown names: sorted order
    assert len(set(report.agent_colours(report.AGENT_COLOURS).values())) == len(report.AGENT_COLOURS)


def test_hyperparameter_defaults_recorded_in_run_json_are_not_differences(tmp_path):
    """run.json holds every hyper-parameter, defaults included; a suite that sets only some is not 'other settings'."""
    import dataclasses

    from textgym_agents.base import config_from_dict
    from textgym_agents.bench.runner import setting_differences
    from textgym_agents.registry import agent_class
    from textgym_agents.run import RunConfig

    run = RunConfig(
        agent="sb3-ppo", env_id="textgym/Copy-v0", out=str(tmp_path / "run"), hyperparameters={"n_steps": 32}
    )
    made = dataclasses.asdict(run)
    made["hyperparameters"] = dataclasses.asdict(
        config_from_dict(agent_class("sb3-ppo").Config, {"n_steps": 32}, "sb3-ppo")
    )
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps(made))
    (tmp_path / "run" / "summary.json").write_text("{}")
    assert setting_differences([run]) == []
    run.hyperparameters = {"n_steps": 64}  # a real difference still shows
    assert [entry["setting"] for entry in setting_differences([run])] == ["hyperparameters.n_steps"]


def test_credit_arms_are_named_and_reported_by_their_credit(tmp_path):
    path = tmp_path / "credit.yaml"
    path.write_text(
        "name: c\nseeds: 2\nagents:\n  - lm-ppo\n"
        "  - {name: lm-ppo, reward_modes: [sparse], hyperparameters: {credit: uniform}}\n"
        "tasks: [{env: textgym/Copy-v0, threshold: 0.5, steps: 1}]\n"
    )
    suite = load_suite(None, str(path), str(tmp_path / "out"), device="cpu")
    names = sorted(run.out.split("/")[-1] for run in suite.runs)
    assert names == [f"lm-ppo__Copy-v0__{label}__seed{s}" for label in ("dense", "sparse", "uniform") for s in (0, 1)]


def test_sparse_peak_section_counts_steps_to_the_sparse_arms_best_iqm():
    from textgym_agents.bench.report import sparse_peak, summarize

    rows = []
    curves = {"sparse": [[0.0, 0.4, 0.6], [0.0, 0.5, 0.5], [0.1, 0.6, 0.4]],  # IQM per evaluation: 0.033, 0.5, 0.5
              "uniform": [[0.0, 0.7, 0.7], [0.0, 0.2, 0.5], [0.0, 0.1, 0.2]]}
    for mode, per_seed in curves.items():
        for seed, returns in enumerate(per_seed):
            for k, value in enumerate(returns):
                rows.append({"agent": "lm-ppo", "env_id": "textgym/Copy-v0", "reward_mode": mode, "seed": seed,
                             "env_steps": 100 * k + seed, "eval_return": value, "ref_perplexity": float("nan"),
                             "distinct_1": 0.5, "distinct_2": 0.5, "repetition": 0.1, "wall_seconds": 1.0})
    sparse = {
        seed: [(100 * k + seed, v) for k, v in enumerate(returns)] for seed, returns in enumerate(curves["sparse"])
    }
    assert sparse_peak(sparse) == (101, pytest.approx(0.5))  # the first evaluation with the highest IQM
    summary = summarize(rows, "c", "cmd")
    assert "## Steps to reach the sparse reward's peak" in summary
    # uniform: seed 0 reaches 0.5 at its 2nd evaluation (100), seed 1 at its 3rd (201), seed 2 never
    assert "| textgym/Copy-v0 | lm-ppo | 0.500 (101) | uniform | 2/3 |" in summary
    assert "| textgym/Copy-v0 | lm-ppo | 0.500 (101) | sparse | 3/3 |" in summary
    dense_only = summarize([r for r in rows if r["reward_mode"] == "sparse"], "c", "cmd")
    assert "sparse reward's peak" not in dense_only


def test_a_suite_that_gained_an_agent_extends_its_folder(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(RANDOM_ONLY)
    out = tmp_path / "out"
    argv = ["bench", "--config", str(config), "--out", str(out), "--device", "cpu", "--workers", "1", "--no-heatmap",
            "--no-progress"]
    assert cli.main(argv) == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json")}
    config.write_text(
        RANDOM_ONLY.replace("agents: [random]", "agents: [random, {name: lm-ppo, hyperparameters: {num_epochs: 1}}]")
    )
    assert cli.main(argv) == 0
    assert "Reusing 2 finished runs" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/summary.json") if p in stamps}  # not rerun
    assert len(list(out.glob("runs/*/summary.json"))) == 4
    assert "| lm-ppo |" in (out / "summary.md").read_text()
    # a folder of another suite name is still refused
    config.write_text(RANDOM_ONLY.replace("name: tiny", "name: other"))
    assert cli.main(argv) == 2
    assert "holds results of another suite" in capsys.readouterr().err


def test_a_hyperparameter_added_after_a_run_was_made_is_no_difference_at_its_default(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        RANDOM_ONLY.replace("agents: [random]", "agents: [{name: lm-ppo, hyperparameters: {num_epochs: 1}}]")
    )
    out = tmp_path / "out"
    argv = ["bench", "--config", str(config), "--out", str(out), "--device", "cpu", "--workers", "1", "--no-heatmap",
            "--no-progress"]
    assert cli.main(argv) == 0
    for run_json in out.glob("runs/*/run.json"):  # as a run made before 'credit' existed records its settings
        made = json.loads(run_json.read_text())
        del made["hyperparameters"]["credit"]
        run_json.write_text(json.dumps(made))
    capsys.readouterr()
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Reusing 2 finished runs" in printed and "WARNING" not in printed and "credit" not in printed
    # --resume of such a run: the new hyper-parameter at its default is the run's own setting; another value is not
    from textgym_agents.run import RunConfig, RunConfigError, RunDirectory

    run_json = next(out.glob("runs/*/run.json"))
    asked = RunConfig(**json.loads(run_json.read_text()))
    asked.hyperparameters["credit"] = "env"
    RunDirectory(asked, resume=True)
    asked.hyperparameters["credit"] = "uniform"
    with pytest.raises(RunConfigError, match="hyperparameters.credit: run has '<not set>', asked 'uniform'"):
        RunDirectory(asked, resume=True)


def test_normalised_scores_put_the_random_policy_at_0_and_the_reference_at_1():
    from textgym.calibration import calibration_for
    from textgym_agents.bench.report import calibration_of, normalised_score

    c = calibration_for("textgym/Sentiment-v0")
    assert normalised_score("textgym/Sentiment-v0", c.random) == pytest.approx(0.0)
    assert normalised_score("textgym/Sentiment-v0", 1.0) == pytest.approx(1.0)
    # not the score range: a 0 on a [-1, 1] task is below the random policy's mean here, not 0.5
    assert normalised_score("textgym/Sentiment-v0", 0.0) < 0
    assert normalised_score("textgym/SentimentRM-v0", 1.0) is None  # a logit has no top
    with pytest.raises(ValueError, match=r"python -m textgym\.calibration --ids textgym/Nowhere-v9"):
        calibration_of("textgym/Nowhere-v9")


def _row(env: str, seed: int, steps: int, score: float, ppl: float, d1: float, **extra) -> dict:
    return {"agent": "a", "env_id": env, "reward_mode": "dense", "seed": seed, "env_steps": steps,
            "eval_return": score, "ref_perplexity": ppl, "distinct_1": d1, "distinct_2": 0.5, "repetition": 0.1,
            "same_continuation_share": float("nan"), "wall_seconds": 1.0, **extra}


def test_collapse_is_judged_by_distinct_1_on_language_tasks_and_by_repeated_continuations_where_recorded():
    from textgym_agents.bench.report import COLLAPSE_DISTINCT_1, COLLAPSE_DISTINCT_1_DROP, collapsed

    nan = float("nan")
    start = _row("e", 0, 0, 0.2, 2.0, 0.3)
    low = COLLAPSE_DISTINCT_1 / 2
    assert collapsed(start, _row("e", 0, 1, 0.5, 2.0, low)) is True
    assert collapsed(start, _row("e", 0, 1, 0.5, 2.0, COLLAPSE_DISTINCT_1 * 2)) is False
    # a low distinct-1 the bundled model had too (answers over a small vocabulary) is no collapse
    assert collapsed(_row("e", 0, 0, 0.2, 2.0, low * 1.5), _row("e", 0, 1, 0.5, 2.0, low)) is False
    assert collapsed(_row("e", 0, 0, 0.2, 2.0, low / COLLAPSE_DISTINCT_1_DROP * 1.01),
                     _row("e", 0, 1, 0.5, 2.0, low)) is True
    symbols = _row("e", 0, 0, 0.2, nan, 0.01)
    assert collapsed(symbols, _row("e", 0, 1, 0.5, nan, 0.001)) is None  # a symbol task: distinct-1 says nothing
    assert collapsed(symbols, _row("e", 0, 1, 0.5, nan, 0.001, same_continuation_share=0.5)) is True
    assert collapsed(symbols, _row("e", 0, 1, 0.5, nan, 0.001, same_continuation_share=0.2)) is False
    assert collapsed(start, _row("e", 0, 1, 0.5, 2.0, 0.5, same_continuation_share=0.9)) is True


def test_summary_states_its_rules_and_gives_holm_verdicts_and_collapsed_counts(tmp_path):
    from textgym_agents.bench.report import read_results_csv, summarize, write_results_csv

    rows = []
    for mode, base in (("dense", 0.8), ("sparse", 0.2)):
        for seed in range(5):
            for steps, score in ((0, 0.1), (100, base + 0.01 * seed)):
                collapsing = mode == "sparse" and steps > 0  # from the initial policy's 0.2 to 0.01
                row = _row("textgym/Sentiment-v0", seed, steps, score, 3.0, 0.01 if collapsing else 0.2,
                           same_continuation_share=0.2)  # a number: nan != nan would fail the round trip
                rows.append({**row, "reward_mode": mode})
    path = tmp_path / "results.csv"
    write_results_csv(rows, path)
    assert read_results_csv(path) == rows
    summary = summarize(read_results_csv(path), "s", "cmd")
    assert "random = 0, reference = 1" in summary and "distinct-1 below 0.05" in summary
    # 5 dense runs all above 5 sparse runs: p = 2/252, one comparison, so Holm leaves it as it is
    assert "| a | textgym/Sentiment-v0 | 1.00 [0.69, 1.00] | 0.008 | 0.008 | dense > sparse |" in summary
    assert "| textgym/Sentiment-v0 | a | sparse |" in summary and "| 0/5 | **5/5** |" in summary
    assert "## Verdicts" in summary and "1 of 1 comparisons hold after Holm's adjustment" in summary


def test_publish_copies_the_report_and_each_finished_runs_records_and_refuses_other_folders(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(RANDOM_ONLY)
    out, docs = tmp_path / "out", tmp_path / "docs" / "tiny"
    args = ["bench", "--config", str(config), "--out", str(out), "--no-heatmap", "--no-progress"]
    assert cli.main([*args, "--publish", str(docs)]) == 0
    assert "published: the report and the records of 2 runs" in capsys.readouterr().out
    assert (docs / "results.csv").read_bytes() == (out / "results.csv").read_bytes()
    assert {p.name for p in docs.glob("*")} >= {"results.csv", "summary.md", "suite.json", "records"}
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert sorted(p.name for p in (docs / "records").iterdir()) == runs
    records = ("run.json", "metrics.csv", "timing.csv", "summary.json")
    for run in runs:  # the records only: no checkpoints, weights or logs
        assert sorted(p.name for p in (docs / "records" / run).iterdir()) == sorted(
            name for name in records if (out / "runs" / run / name).exists())
    # a run left unfinished is not published, and publishing again replaces the folder
    (out / "runs" / runs[0] / "summary.json").unlink()
    (docs / "stale.txt").write_text("from an older publish")
    assert cli.main(["bench", "--config", str(config), "--out", str(out), "--report-only", "--no-heatmap",
                     "--publish", str(docs)]) == 0
    assert sorted(p.name for p in (docs / "records").iterdir()) == runs[1:] and not (docs / "stale.txt").exists()
    # a folder that is not a published suite (another bench folder included), --out itself or a folder holding it is
    # refused before anything runs
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    fresh = tmp_path / "fresh"
    for target in (other, out, fresh, tmp_path):
        assert cli.main(["bench", "--config", str(config), "--out", str(fresh), "--publish", str(target)]) == 2
        assert "--publish" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "mine" and (out / "runs").is_dir() and not fresh.exists()
