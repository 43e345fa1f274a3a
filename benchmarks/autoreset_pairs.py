"""Autoreset cost against an earlier commit: alternating runs of ``throughput.py`` on Copy, N = 64.

    python benchmarks/autoreset_pairs.py [--before 636b670] [--pairs 3] [--rounds 5]
                                         [--csv benchmarks/results/autoreset_pairs.csv]

Each pair runs the earlier commit's own ``benchmarks/throughput.py`` against its own package (a ``git archive`` of
the commit, on ``PYTHONPATH``), then this tree's, one right after the other, at the same load, with
``--tasks copy --num-envs 64 --async-max 0 --no-lengths --rounds R`` and uniform actions (EOS among them: rows end at
mixed times, so the same-step autoreset path runs at almost every step). After the pairs, this tree alone with
``--actions no-eos`` (every row ends at the horizon together) and with ``--clock cpu`` (this process's CPU seconds).
Every row of the CSV is one run: which side, which commit, and the script's own columns (steps/s of
``SyncVectorEnv`` and of ``TextGenVectorEnv``, their ratio, the env step's ms). Ratios compare kinds measured side by
side within one run; wall-clock rates on a shared machine move between runs, which is why the pairs alternate.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from csv_rows import write_csv  # noqa: E402  (benchmarks/, the script's own folder)

REPO = Path(__file__).resolve().parents[1]
COMMON = ["--tasks", "copy", "--num-envs", "64", "--async-max", "0", "--no-lengths"]


def head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


def archive(commit: str, into: Path) -> Path:
    """A ``git archive`` of ``commit`` unpacked under ``into``: its package and its benchmark scripts."""
    data = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_once(root: Path, extra: list[str], rounds: int) -> dict[str, str]:
    """One ``throughput.py`` run of the tree at ``root`` (its script, its package); the CSV row it writes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.csv"
        env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, str(root / "benchmarks" / "throughput.py"), *COMMON, *extra,
                        "--rounds", str(rounds), "--csv", str(out)], cwd=tmp, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with out.open(newline="") as f:
            (row,) = list(csv.DictReader(f))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="636b670", help="the earlier commit (its own throughput.py runs it)")
    parser.add_argument("--pairs", type=int, default=3, help="alternating before/after runs, uniform actions")
    parser.add_argument("--rounds", type=int, default=5, help="throughput.py's interleaved rounds per run")
    parser.add_argument("--csv", default=str(REPO / "benchmarks" / "results" / "autoreset_pairs.csv"))
    args = parser.parse_args()

    after = head_commit()
    columns = ["run", "side", "commit", "actions", "clock", "sync_steps_per_s", "vector_steps_per_s",
               "vector_over_sync", "env_step_ms"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        before_root = archive(args.before, Path(tmp))
        plan = [(f"pair {i + 1}", side) for i in range(args.pairs) for side in ("before", "after")]
        plan += [("no-eos", "after"), ("cpu clock", "after")]
        for run, side in plan:
            root, commit = (before_root, args.before) if side == "before" else (REPO, after)
            actions = "no-eos" if run == "no-eos" else "uniform"
            extra = ["--actions", actions] + (["--clock", "cpu"] if run == "cpu clock" else [])
            row = run_once(root, extra, args.rounds)
            rows.append({"run": run, "side": side, "commit": commit, "actions": actions,
                         "clock": row.get("clock", "wall"), **{c: row[c] for c in columns[5:]}})
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    print(f"written: {write_csv(args.csv, rows, columns)}")


if __name__ == "__main__":
    main()
