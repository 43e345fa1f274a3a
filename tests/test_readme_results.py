"""Every number in README.md's result tables comes from the committed records (docs/<suite>/results.csv).

Two checks: the README's results blocks are exactly what ``python -m textgym_agents.bench.readme`` writes from the
records; and, independently of the bench's code, each per-task row's IQMs, P(dense > sparse), Holm-adjusted p-values
and flagged and collapsed counts are recomputed from results.csv with scipy and plain Python.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from textgym_agents.bench import readme

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _results_section(text: str) -> str:
    start = text.index("\n## Results\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_every_table_in_the_results_section_is_a_generated_block():
    section = _results_section(README.read_text(encoding="utf-8"))
    suites = readme.blocks_in(section)
    assert {"standard", "quick", "lm_agents", "credit"} <= set(suites)
    outside = section
    for suite in suites:
        start, end = readme.START.format(suite=suite), readme.END.format(suite=suite)
        outside = outside[: outside.index(start)] + outside[outside.index(end) + len(end):]
    tables = [line for line in outside.splitlines() if line.startswith("|")]
    assert tables == [], f"tables in README's Results written by hand: {tables[:3]}"


def test_readme_results_blocks_are_what_the_records_give():
    found = readme.mismatches(README.read_text(encoding="utf-8"), DOCS)
    assert found == [], "\n".join(found[:10]) + f"\nrewrite them: {readme.COMMAND}"


def test_a_changed_number_is_caught():
    text = README.read_text(encoding="utf-8")
    block = readme.block_text(text, "standard")
    line = next(line for line in block.splitlines() if re.match(r"\| Sentiment-v\d+ \| lm-ppo \|", line))
    number = re.search(r"\d\.\d{3}", line).group()
    changed = line.replace(number, f"{float(number) + 0.001:.3f}", 1)
    mutated = text.replace(line, changed)
    assert readme.mismatches(mutated, DOCS)
    with pytest.raises(AssertionError):
        _check_rows_against_records(mutated, "standard")


def _final_runs(suite: str) -> dict[tuple, list[tuple[dict, dict]]]:
    """(task, agent, mode) -> per seed (first row, last row), read with the csv module alone."""
    per_run: dict[tuple, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    with (DOCS / suite / "results.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            per_run[(row["env_id"].split("/")[-1], row["agent"], row["reward_mode"])][int(row["seed"])].append(row)
    out = {}
    for key, seeds in per_run.items():
        out[key] = []
        for seed in sorted(seeds):
            ordered = sorted(seeds[seed], key=lambda r: int(r["env_steps"]))
            out[key].append((ordered[0], ordered[-1]))
    return out


def _number(row: dict, column: str) -> float:
    return float(row[column]) if row.get(column, "") != "" else math.nan


def row_has_share(row: dict) -> bool:
    return not math.isnan(_number(row, "same_continuation_share"))


def _holm(p_values: list[float]) -> list[float]:
    order = np.argsort(p_values, kind="stable")
    m, running, adjusted = len(p_values), 0.0, [0.0] * len(p_values)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _check_rows_against_records(text: str, suite: str) -> int:
    runs = _final_runs(suite)
    lines = readme.block_text(text, suite).splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("| task | agent |"))
    header = [c.strip() for c in lines[header_at].strip("|").split("|")]
    rows = []
    for line in lines[header_at + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, [c.strip() for c in line.strip("|").split("|")])))
    p_values = []
    for row in rows:
        finals = {}
        for mode in [c for c in header if (row["task"], row["agent"], c) in runs]:
            finals[mode] = [_number(last, "eval_return") for _, last in runs[(row["task"], row["agent"], mode)]]
            iqm = scipy_stats.trim_mean(finals[mode], 0.25)
            assert row[mode].split(" [")[0] == f"{iqm:.3f}", (suite, row["task"], row["agent"], mode)
        pairs = [pair for mode in finals for pair in runs[(row["task"], row["agent"], mode)]]
        flagged = sum(_number(last, "ref_perplexity") > 3 * _number(first, "ref_perplexity") for first, last in pairs)
        assert row["flagged"].strip("*") == f"{flagged}/{len(pairs)}", (suite, row["task"], row["agent"])
        # collapsed: at least half the eval prompts get the same continuation (where recorded), or, on a language
        # task, distinct-1 below 0.05 and below half the initial policy's; runs with neither measure are not judged
        judged = [(first, last) for first, last in pairs
                  if row_has_share(last) or not math.isnan(_number(last, "ref_perplexity"))]
        collapsed = sum((row_has_share(last) and _number(last, "same_continuation_share") >= 0.5)
                        or (not math.isnan(_number(last, "ref_perplexity")) and _number(last, "distinct_1") < 0.05
                            and _number(last, "distinct_1") < 0.5 * _number(first, "distinct_1"))
                        for first, last in judged)
        assert row["collapsed"].strip("*") == (f"{collapsed}/{len(judged)}" if judged else "–")
        if "dense" in finals and "sparse" in finals:
            d, s = np.array(finals["dense"])[:, None], np.array(finals["sparse"])[None, :]
            probability = ((d > s).sum() + 0.5 * (d == s).sum()) / d.size / s.size
            assert row["P(dense > sparse) [95% CI]"].split(" [")[0] == f"{probability:.2f}"
            pooled = np.concatenate([finals["dense"], finals["sparse"]])
            if np.all(pooled == pooled[0]):
                p_values.append(1.0)
            else:
                method = ("exact" if len(np.unique(pooled)) == len(pooled)
                          else scipy_stats.PermutationMethod(n_resamples=20_000, rng=np.random.default_rng(0)))
                test = scipy_stats.mannwhitneyu(finals["dense"], finals["sparse"], method=method)
                p_values.append(float(test.pvalue))
    assert rows
    if p_values:
        for row, adjusted in zip([r for r in rows if r.get("Holm p", "–") != "–"], _holm(p_values)):
            shown = float(row["Holm p"])
            assert shown == pytest.approx(adjusted, rel=0.05, abs=5e-4), (suite, row["task"], row["agent"])
            assert (row["verdict"] != "no difference shown") == (adjusted <= 0.05)
    return len(rows)


@pytest.mark.parametrize("suite", ["standard", "quick", "lm_agents", "credit", "sentiment_rm"])
def test_table_rows_recomputed_from_the_records(suite):
    assert _check_rows_against_records(README.read_text(encoding="utf-8"), suite) > 0
