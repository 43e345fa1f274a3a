"""The README's result tables, written from the committed suite outputs (``docs/<suite>/results.csv``).

Each block of README.md between ``<!-- results: SUITE: start -->`` and ``<!-- results: SUITE: end -->`` is
:func:`suite_block` of ``docs/SUITE``: the final returns per task and agent (IQM over seeds with its 95% CI per
reward mode), P(dense > sparse) with its Holm-adjusted verdict (where the suite runs the turn mode too: P(dense >
turn), P(turn > sparse) and P(dense > sparse), one Holm family, in a table of their own), the naturalness and the
flagged and collapsed counts;
the normalised aggregate where the suite has several tasks; the sample efficiency where it has one task; the
credit arms' steps to the sparse peak where it has arms beyond dense and sparse; and the machine-written verdicts
the README's prose relies on. ``tests/test_readme_results.py`` recomputes them and fails on any difference.

``python -m textgym_agents.bench.readme [--readme README.md] [--docs docs] [--check]`` rewrites the blocks in place
(``--check``: rewrite nothing, exit 1 where a block differs from the records). ``--summary SUITE`` rewrites
``summary.md`` of ``docs/SUITE`` from its ``results.csv`` (for a suite whose run records are not committed; the others:
``textgym bench --report-only``).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from textgym_agents.bench import stats
from textgym_agents.bench.config import ALL_REWARD_MODES, load_suite, suite_names
from textgym_agents.bench.report import (
    Cell,
    _curves,
    _fmt,
    _one,
    _p,
    _short,
    agent_order,
    aggregate_rows,
    cells,
    compare_mode_pairs,
    count_text,
    mode_pairs,
    pair_name,
    read_results_csv,
    steps_to_threshold_ci,
    summarize,
    verdict_lines,
)

START, END = "<!-- results: {suite}: start -->", "<!-- results: {suite}: end -->"
MARKER = re.compile(r"<!-- results: ([\w-]+): start -->")
COMMAND = "python -m textgym_agents.bench.readme"
PLOTS = {"curves": "learning_curves.png", "aggregate": "aggregate_iqm.png", "naturalness": "score_vs_perplexity.png",
         "heatmap": "token_rewards.png"}


def _perplexity(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}"


def _mode_order(modes: set[str]) -> list[str]:
    """The env's reward modes in the order dense, turn, sparse, then the others (credit arms) sorted."""
    return [m for m in ALL_REWARD_MODES if m in modes] + sorted(modes - set(ALL_REWARD_MODES))


def thresholds_of(suite: str) -> dict[str, float]:
    """The sample-efficiency thresholds fixed in the shipped suite file ``agents/suites/SUITE.yaml`` (none for a
    folder that is no shipped suite)."""
    if suite not in suite_names():
        return {}
    with tempfile.TemporaryDirectory() as out:
        return load_suite(suite, None, out, device="cpu").thresholds


def suite_block(suite: str, docs: Path) -> str:
    """The README block of ``docs/SUITE`` (see the module docstring), from its ``results.csv``."""
    path = docs / suite / "results.csv"
    if not path.is_file():
        present = ", ".join(sorted(p.parent.name for p in docs.glob("*/results.csv"))) or "none"
        raise FileNotFoundError(f"{path} does not exist: the README block of suite {suite!r} is written from it "
                                f"(folders of {docs} with one: {present})")
    rows = read_results_csv(path)
    table = cells(rows)
    agents = agent_order(rows)
    envs = sorted({k[0] for k in table})
    modes = _mode_order({k[2] for k in table})
    pairs = mode_pairs(modes)
    per_task, overall = compare_mode_pairs(table, pairs, agents=agents)
    compared = {(c.env, c.agent): c for c in per_task}
    # one pair (dense, sparse): its columns in the main table; several (dense, turn, sparse): a table of their own
    pair = pairs == [("dense", "sparse")]
    if len(pairs) > 1:
        compares = (f"{', '.join(pair_name(*p) for p in pairs)} each with Newcombe's 95% interval and its exact "
                    "two-sided Mann-Whitney U test, Holm-adjusted over all the table's comparisons together, and the "
                    "verdict at family-wise 5% (second table)")
    else:
        compares = ("P(dense > sparse) with Newcombe's 95% interval, its two-sided Mann-Whitney U test Holm-adjusted "
                    "over the table's comparisons and the verdict at family-wise 5%")
    lines = [f"*Written by `{COMMAND}` from `docs/{suite}/results.csv`: final eval return, IQM over seeds [95% CI]; "
             f"{compares}; the median reference-LM perplexity of the "
             "final generations; runs flagged as likely reward hacking and runs collapsed.*", ""]
    header = ["task", "agent", *modes]
    if pair:
        header += ["P(dense > sparse) [95% CI]", "Holm p", "verdict"]
    header += [f"perplexity {' / '.join(modes)}", "flagged", "collapsed"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for env in envs:
        for agent in agents:
            row: list[Cell] = [table[(env, agent, m)] for m in modes if (env, agent, m) in table]
            if not row:
                continue
            by_mode = {c.mode: c for c in row}
            line = [_short(env), agent, *[_fmt(*by_mode[m].iqm) if m in by_mode else "–" for m in modes]]
            if pair:
                c = compared.get((env, agent))
                line += ([_fmt(*c.probability, digits=2), _p(c.adjusted),
                          f"**{c.verdict}**" if c.verdict != stats.NO_DIFFERENCE else c.verdict]
                         if c else ["–", "–", "–"])
            line.append(" / ".join(_perplexity(by_mode[m].naturalness["ref_perplexity"]) if m in by_mode else "–"
                                   for m in modes))
            line += [count_text([f for c in row for f in c.flagged]), count_text([f for c in row for f in c.collapsed])]
            lines.append("| " + " | ".join(line) + " |")
    if len(pairs) > 1 and per_task:
        lines += ["", "| task | agent | comparison | P [95% CI] | p | Holm p | verdict |",
                  "|---|---|---|---|---|---|---|"]
        for c in sorted(per_task, key=lambda c: (c.env, agents.index(c.agent), pairs.index((c.first, c.second)))):
            verdict = f"**{c.verdict}**" if c.verdict != stats.NO_DIFFERENCE else c.verdict
            lines.append(f"| {_short(c.env)} | {c.agent} | {pair_name(c.first, c.second)} | "
                         f"{_fmt(*c.probability, digits=2)} | {_p(c.p)} | {_p(c.adjusted)} | {verdict} |")
    if len(envs) > 1:
        aggregate, unbounded = aggregate_rows(table, agents)
        if aggregate:
            left_out = f"; left out, no reference: {', '.join(map(_short, unbounded))}" if unbounded else ""
            lines += ["", f"Aggregate over the {len(envs) - len(unbounded)} tasks (normalised scores: random policy "
                      f"= 0, reference = 1, from each task's calibration{left_out}; IQM over every run [95% CI]):", "",
                      "| agent | reward | tasks | IQM normalised final return [95% CI] | flagged | collapsed |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {agent} | {mode} | {n} | {_fmt(*ci)} | {flagged} | {collapsed_runs} |"
                      for agent, mode, n, ci, flagged, collapsed_runs in aggregate]
    curves = _curves(rows)
    thresholds = thresholds_of(suite)
    if len(envs) == 1 and envs[0] in thresholds:
        env = envs[0]
        lines += ["", f"Env steps until the eval return first reaches {thresholds[env]:g} (the threshold fixed in "
                  f"`agents/suites/{suite}.yaml`; ∞: not within the budget), IQM over seeds [95% CI]:", "",
                  "| agent | reward | reached | IQM env steps [95% CI] | mean wall s |", "|---|---|---|---|---|"]
        for agent in agents:
            for mode in modes:
                if (env, agent, mode) in table:
                    reached, ci = steps_to_threshold_ci(curves[(env, agent, mode)], thresholds[env], env)
                    lines.append(f"| {agent} | {mode} | {reached} | {_fmt(*ci, digits=0)} | "
                                 f"{table[(env, agent, mode)].wall:.0f} |")
    if "sparse" in modes and set(modes) - set(ALL_REWARD_MODES):  # credit arms beyond the env's reward modes
        from textgym_agents.bench.report import sparse_peak

        lines += ["", "Env steps until each run's eval return first reaches the sparse arm's peak (the highest IQM of "
                  "its learning curve), IQM over seeds [95% CI]:", "",
                  "| task | agent | sparse peak (at env steps) | reward | reached | IQM env steps [95% CI] |",
                  "|---|---|---|---|---|---|"]
        for env in envs:
            for agent in agents:
                if (env, agent, "sparse") not in table:
                    continue
                at, peak = sparse_peak(curves[(env, agent, "sparse")])
                for mode in modes:
                    if (env, agent, mode) in table:
                        reached, ci = steps_to_threshold_ci(curves[(env, agent, mode)], peak, env)
                        lines.append(f"| {_short(env)} | {agent} | {_one(peak)} ({at}) | {mode} | {reached} | "
                                     f"{_fmt(*ci, digits=0)} |")
    lines += ["", "Verdicts:", "", *verdict_lines(table, per_task, overall, short=True)]
    return "\n".join(lines)


def blocks_in(readme: str) -> list[str]:
    """The suites whose blocks ``readme`` holds, in order; a ``ValueError`` for a start marker without its end."""
    suites = MARKER.findall(readme)
    for suite in suites:
        if END.format(suite=suite) not in readme:
            raise ValueError(f"README has {START.format(suite=suite)} but no {END.format(suite=suite)}")
    return suites


def block_text(readme: str, suite: str) -> str:
    """The text between ``suite``'s markers in ``readme`` (without the newlines next to the markers)."""
    start = readme.index(START.format(suite=suite)) + len(START.format(suite=suite))
    return readme[start:readme.index(END.format(suite=suite), start)].strip("\n")


def readme_with_results(readme: str, docs: Path) -> str:
    """``readme`` with every results block rewritten by :func:`suite_block`."""
    for suite in blocks_in(readme):
        start = readme.index(START.format(suite=suite)) + len(START.format(suite=suite))
        end = readme.index(END.format(suite=suite), start)
        readme = readme[:start] + "\n" + suite_block(suite, docs) + "\n" + readme[end:]
    return readme


def mismatches(readme: str, docs: Path) -> list[str]:
    """The lines of ``readme``'s results blocks that differ from what the records give (empty: all agree)."""
    found = []
    for suite in blocks_in(readme):
        have, want = block_text(readme, suite).splitlines(), suite_block(suite, docs).splitlines()
        for number, (a, b) in enumerate(zip(have, want)):
            if a != b:
                found.append(f"{suite}, line {number + 1}: README has {a!r}, the records give {b!r}")
        if len(have) != len(want):
            found.append(f"{suite}: README has {len(have)} lines, the records give {len(want)}")
    return found


def write_summary_from_results(folder: Path, suite: str) -> Path:
    """Rewrite ``folder/summary.md`` from ``folder/results.csv``, keeping its Reproduce line and the notes under it
    and listing the plots the folder holds."""
    summary = folder / "summary.md"
    old = summary.read_text(encoding="utf-8").splitlines() if summary.is_file() else []
    reproduce = next((line for line in old if line.startswith("Reproduce: `")), None)
    if reproduce is None:
        raise ValueError(f"{summary} has no 'Reproduce: `...`' line to keep: write it with textgym bench instead")
    command = reproduce.removeprefix("Reproduce: `").split("`", 1)[0]
    start = old.index(reproduce) + 1
    end = next(i for i, line in enumerate(old) if line.startswith("Final eval return"))
    notes = [line for line in old[start:end] if line]
    text = summarize(read_results_csv(folder / "results.csv"), suite, command, thresholds_of(suite), notes=notes)
    plots = [f"![{name}]({file})" for name, file in PLOTS.items() if (folder / file).is_file()]
    if plots:
        text += "\n## Plots\n\n" + "\n".join(plots) + "\n"
    summary.write_text(text, encoding="utf-8")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the folder of the suites' outputs")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 where a block differs")
    parser.add_argument("--summary", nargs="+", metavar="SUITE",
                        help="rewrite the summary.md of docs/SUITE from its results.csv instead")
    args = parser.parse_args(argv)
    if args.summary:
        for suite in args.summary:
            print(f"written: {write_summary_from_results(args.docs / suite, suite)}")
        return 0
    text = args.readme.read_text(encoding="utf-8")
    if not blocks_in(text):
        raise SystemExit(f"{args.readme} has no results block (<!-- results: SUITE: start --> ... end -->)")
    if args.check:
        found = mismatches(text, args.docs)
        print("\n".join(found) or f"{args.readme}: every results block agrees with {args.docs}")
        return 1 if found else 0
    args.readme.write_text(readme_with_results(text, args.docs), encoding="utf-8")
    print(f"rewritten: {', '.join(blocks_in(text))} in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
