"""Publish a suite's outputs: the committed subset of a bench ``--out`` folder, as ``docs/<suite>`` holds it.

``textgym bench ... --publish DOCS`` (after a run or with ``--report-only``) replaces ``DOCS`` with the report
(``results.csv``, ``summary.md``, ``suite.json`` and the plots) and, in ``DOCS/records/<run>/``, each finished run's
records (``run.json``, ``metrics.csv``, ``timing.csv``, ``summary.json``): what the README's generated tables and
``tests/test_readme_results.py`` read. Checkpoints, weights and TensorBoard logs stay in ``--out``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: the report's files, copied when present
REPORT_FILES = ("results.csv", "summary.md", "suite.json")
#: each run's records (``summary.json`` marks a finished run)
RECORD_FILES = ("run.json", "metrics.csv", "timing.csv", "summary.json")


class PublishError(ValueError):
    """The ``--out`` folder holds no report to publish, or ``DOCS`` is a folder that must not be replaced."""


def check_target(out: str | Path, docs: str | Path) -> None:
    """Raise :class:`PublishError` unless ``docs`` may be replaced by ``out``'s report: checked before a suite runs,
    so that a wrong ``--publish`` fails in a second, not after hours of runs."""
    out, docs = Path(out).resolve(), Path(docs).resolve()
    if docs == out or out in docs.parents or docs in out.parents:
        raise PublishError(f"--publish {docs}: must be a folder outside --out {out}, and not one holding it")
    if docs.exists() and not is_published_suite(docs):
        raise PublishError(f"--publish {docs}: exists and is not a published suite (one has a results.csv and no "
                           "runs/ folder: a bench --out folder is never replaced); name a new folder or a suite's "
                           "docs folder")


def is_published_suite(folder: Path) -> bool:
    """``folder`` is what :func:`publish` makes: a report, and records rather than a bench folder's ``runs/``."""
    return (folder / "results.csv").is_file() and not (folder / "runs").exists()


def publish(out: str | Path, docs: str | Path) -> list[str]:
    """Replace ``docs`` with the report and the finished runs' records of the bench folder ``out``.

    Returns the names of the runs published. Raises :class:`PublishError` when ``out`` has no ``results.csv`` (run
    the bench or ``--report-only`` first), when ``docs`` is ``out`` itself or lies inside it, when ``docs`` exists
    and is not a published suite (see :func:`is_published_suite`: a folder of something else, a bench ``--out``
    folder included, is never deleted), or when ``docs`` holds ``out``.
    """
    out, docs = Path(out).resolve(), Path(docs).resolve()
    if not (out / "results.csv").is_file():
        raise PublishError(f"--publish: {out} has no results.csv; run the suite (or --report-only) first")
    check_target(out, docs)
    if docs.exists():
        shutil.rmtree(docs)
    (docs / "records").mkdir(parents=True)
    for name in REPORT_FILES:
        if (out / name).is_file():
            shutil.copy2(out / name, docs / name)
    for plot in sorted(out.glob("*.png")):
        shutil.copy2(plot, docs / plot.name)
    published = []
    for run in sorted((out / "runs").glob("*/")):
        if not (run / "summary.json").is_file():
            continue
        (docs / "records" / run.name).mkdir()
        for name in RECORD_FILES:
            if (run / name).is_file():
                shutil.copy2(run / name, docs / "records" / run.name / name)
        published.append(run.name)
    return published
