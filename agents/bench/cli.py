"""The bench command line.

``textgym bench --suite NAME | --config FILE.yaml --out DIR [--seeds N] [--device D] [--workers W]
[--report-only] [--publish DOCS]``.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from textgym.extras import require
from textgym_agents.bench.config import load_suite, suite_names

#: the modules ``textgym bench`` needs beyond textgym's core (the suite file, the statistics, the plots),
#: checked before anything runs: a suite of hours should not fail at its report
BENCH_MODULES = ("yaml", "scipy", "matplotlib")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--suite", help=f"a shipped suite: {', '.join(suite_names())}")
    which.add_argument("--config", help="a suite YAML file (see agents/suites/quick.yaml)")
    parser.add_argument("--out", required=True, help="results folder (rerunning skips finished runs)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per configuration (default: the suite's)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (processes)")
    parser.add_argument("--no-heatmap", action="store_true", help="skip the per-token reward heat-map")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: report the finished runs in --out (a suite run in parts), saying how many are missing",
    )
    parser.add_argument(
        "--publish",
        metavar="DOCS",
        help="after the report, replace DOCS (e.g. docs/standard) with the report and every finished run's records "
        "(run.json, metrics.csv, timing.csv, summary.json): the files the README's result tables are written from",
    )


def bench_command(args: argparse.Namespace) -> str:
    """The ``textgym bench`` command that ``args`` stand for (``--report-only`` left out): the report's Reproduce
    line."""
    parts = ["textgym", "bench"]
    parts += ["--suite", args.suite] if args.suite is not None else ["--config", args.config]
    parts += ["--out", args.out]
    if args.seeds is not None:
        parts += ["--seeds", str(args.seeds)]
    if args.device != "auto":
        parts += ["--device", args.device]
    if args.workers != 2:
        parts += ["--workers", str(args.workers)]
    parts += [flag for flag, on in (("--no-heatmap", args.no_heatmap), ("--no-progress", args.no_progress)) if on]
    return " ".join(shlex.quote(part) for part in parts)


def cmd_bench(args: argparse.Namespace) -> int:
    for module in BENCH_MODULES:
        require(module, "bench", "textgym bench")
    from textgym_agents.bench.report import write_report
    from textgym_agents.bench.runner import plan_reuse, read_marker, report_notes, run_suite

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    out = Path(args.out)
    if args.publish:
        from textgym_agents.bench.publish import check_target

        check_target(out, args.publish)
    suite = load_suite(args.suite, args.config, str(out), args.seeds, args.device)
    # the report normalises every task by its calibration: an id without one fails here, not after hours of runs
    from textgym_agents.bench.report import calibration_of

    for env_id in sorted({run.env_id for run in suite.runs}):
        calibration_of(env_id)
    command = bench_command(args)
    runs, missing = suite.runs, 0
    if args.report_only:
        runs = [run for run in suite.runs if (Path(run.out) / "summary.json").is_file()]
        missing = len(suite.runs) - len(runs)
        if not runs:
            raise ValueError(f"--report-only: {out} holds no finished run of suite {suite.name!r}")
        print(plan_reuse(suite, out).message(report_only=True), flush=True)
    else:
        run_suite(suite, out, workers=args.workers, progress=not args.no_progress, command=command)
    # the Reproduce line: the command that made the runs, as suite.json recorded it (this one if none was)
    recorded = read_marker(out).get("command")
    notes = report_notes(suite, out, reproduce_recorded=bool(recorded))
    paths = write_report(
        runs,
        out,
        suite.name,
        recorded or command,
        heatmap=not args.no_heatmap,
        thresholds=suite.thresholds,
        missing=missing,
        notes=notes,
    )
    print(paths["summary"].read_text(encoding="utf-8"))
    print("written: " + ", ".join(str(p) for p in paths.values()))
    if args.publish:
        from textgym_agents.bench.publish import publish

        published = publish(out, args.publish)
        print(f"published: the report and the records of {len(published)} runs in {args.publish}")
    return 0
