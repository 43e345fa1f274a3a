"""``textgym bench --suite NAME | --config FILE.yaml --out DIR [--seeds N] [--device D] [--workers W] [--report-only]``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from agents.bench.config import load_suite, suite_names


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
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: report the finished runs in --out (a suite run in parts), saying how many are missing")


def cmd_bench(args: argparse.Namespace) -> int:
    from agents.bench.report import write_report
    from agents.bench.runner import run_suite

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    out = Path(args.out)
    suite = load_suite(args.suite, args.config, str(out), args.seeds, args.device)
    runs, missing = suite.runs, 0
    if args.report_only:
        runs = [run for run in suite.runs if (Path(run.out) / "summary.json").is_file()]
        missing = len(suite.runs) - len(runs)
        if not runs:
            raise ValueError(f"--report-only: {out} holds no finished run of suite {suite.name!r}")
    else:
        run_suite(suite, out, workers=args.workers, progress=not args.no_progress)
    command = "textgym bench " + " ".join(shlex.quote(a) for a in sys.argv[2:] if a != "--report-only") \
        if len(sys.argv) > 2 else "textgym bench"
    paths = write_report(runs, out, suite.name, command, heatmap=not args.no_heatmap, thresholds=suite.thresholds,
                         missing=missing)
    print(paths["summary"].read_text(encoding="utf-8"))
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0
