"""A suite's time on quiet cores, from one seed of every cell, and a check that those runs reproduce the records.

    textgym bench --suite standard --seeds 1 --out runs/standard_quiet --device cpu --workers 2 --no-progress
    python benchmarks/suite_time.py [--sample runs/standard_quiet] [--records docs/standard/records]
                                    [--csv benchmarks/results/standard_time_seed0.csv]

Run the first command on an otherwise idle machine: it makes seed 0 of every agent x task x reward mode of the suite
(an eighth of the standard suite's 8 seeds), with the bench's usual one torch thread per run. This script then reads
each sampled run's ``wall_seconds`` (``summary.json``) and the first run's ``run.json`` and the last run's
``summary.json`` times (the sample's span on the wall clock), and compares each run with the run of the same name in
the suite's committed records: its wall time there (made on shared cores) and whether its ``metrics.csv`` is the
same file byte for byte. The suite's time on quiet cores is estimated as the sample's span times the seeds per cell
(``--seeds-per-cell``, 8 for the standard suite): the other seeds' runs cost what seed 0's cost.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=Path("runs/standard_quiet"), help="the one-seed bench folder")
    parser.add_argument("--records", type=Path, default=ROOT / "docs" / "standard" / "records")
    parser.add_argument("--seeds-per-cell", type=int, default=8, help="the suite's seeds (standard: 8)")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "standard_time_seed0.csv")
    args = parser.parse_args(argv)

    runs = sorted(path.parent for path in (args.sample / "runs").glob("*/summary.json"))
    if not runs:
        raise SystemExit(f"no finished runs in {args.sample / 'runs'}: run the bench command above first")
    rows, starts, ends = [], [], []
    for run in runs:
        record = args.records / run.name
        if not (record / "summary.json").is_file():
            raise SystemExit(f"{run.name} is not in the records {args.records}: sample the same suite")
        starts.append((run / "run.json").stat().st_mtime)
        ends.append((run / "summary.json").stat().st_mtime)
        rows.append({
            "run": run.name,
            "quiet_wall_seconds": json.loads((run / "summary.json").read_text(encoding="utf-8"))["wall_seconds"],
            "recorded_wall_seconds": json.loads((record / "summary.json").read_text(encoding="utf-8"))["wall_seconds"],
            "metrics_identical": filecmp.cmp(run / "metrics.csv", record / "metrics.csv", shallow=False),
        })
    span = max(ends) - min(starts)
    quiet = sum(row["quiet_wall_seconds"] for row in rows)
    recorded = sum(row["recorded_wall_seconds"] for row in rows)
    identical = sum(row["metrics_identical"] for row in rows)
    write_csv(args.csv, rows)
    print(f"{len(rows)} runs in {span / 60:.1f} min on the wall clock (runs' own times sum to {quiet / 60:.1f} min; "
          f"the same runs took {recorded / 60:.1f} min in the records, {recorded / quiet:.2f}x)")
    print(f"estimated suite time at {args.seeds_per_cell} seeds per cell: {args.seeds_per_cell * span / 3600:.2f} h")
    print(f"metrics.csv identical to the records: {identical} of {len(rows)}; written: {args.csv}")


if __name__ == "__main__":
    main()
