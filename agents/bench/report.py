"""Benchmark results: ``results.csv``, ``summary.md`` and PNG plots, from the run folders of a suite."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textgym.calibration import CALIBRATION_FILE, Calibration, calibration_for
from textgym.naturalness import NATURALNESS_COLUMNS
from textgym_agents.bench import stats
from textgym_agents.bench.config import ALL_REWARD_MODES, reward_label
from textgym_agents.run import HACKING_PERPLEXITY_RATIO, RunConfig, RunDirectory

RESULT_COLUMNS = [
    "agent",
    "env_id",
    "reward_mode",
    "seed",
    "env_steps",
    "eval_return",
    *NATURALNESS_COLUMNS,
    "wall_seconds",
]


#: result columns that a results.csv written before they existed lacks (read as empty)
OPTIONAL_RESULT_COLUMNS = ("same_continuation_share",)


def collect(runs: list[RunConfig]) -> list[dict]:
    """One row per run per evaluation."""
    rows = []
    for run in runs:
        for metric in RunDirectory.read_metrics_of(Path(run.out)):
            rows.append({"agent": run.agent, "env_id": run.env_id, "reward_mode": reward_label(run), "seed": run.seed,
                         "env_steps": int(metric["env_steps"]), "eval_return": metric["eval_return"],
                         **{key: metric[key] for key in NATURALNESS_COLUMNS}, "wall_seconds": metric["wall_seconds"]})
    return rows


def write_results_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(
            [{k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
        )


def read_results_csv(path: Path) -> list[dict]:
    """The rows of a ``results.csv`` (:func:`write_results_csv`), typed as :func:`collect` gives them (an empty cell:
    ``nan``); a report can be rebuilt from it where the run folders are gone."""
    numeric = [c for c in RESULT_COLUMNS if c not in ("agent", "env_id", "reward_mode", "seed", "env_steps")]
    rows = []
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            for column in OPTIONAL_RESULT_COLUMNS:  # written by later versions: empty in an older results.csv
                row.setdefault(column, "")
            missing = [c for c in RESULT_COLUMNS if c not in row]
            if missing:
                raise ValueError(f"{path} lacks the columns {missing}: a results.csv has {RESULT_COLUMNS}")
            typed = {"agent": row["agent"], "env_id": row["env_id"], "reward_mode": row["reward_mode"],
                     "seed": int(row["seed"]), "env_steps": int(row["env_steps"])}
            typed.update({c: float(row[c]) if row[c] != "" else float("nan") for c in numeric})
            rows.append({c: typed[c] for c in RESULT_COLUMNS})
    return rows


def _curves(rows: list[dict]) -> dict[tuple, dict[int, list[tuple[int, float]]]]:
    """(env, agent, mode) -> seed -> [(env_steps, eval_return), ...]"""
    curves: dict[tuple, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        curves[(r["env_id"], r["agent"], r["reward_mode"])][r["seed"]].append((r["env_steps"], r["eval_return"]))
    return curves


#: the command that measures an id's calibration (the random policy's mean and the reference of normalised scores)
CALIBRATE_COMMAND = "python -m textgym.calibration --ids {env_id}"


def calibration_of(env_id: str) -> Calibration:
    """The shipped calibration of ``env_id``; a ``ValueError`` naming the command that measures it where none is."""
    calibration = calibration_for(env_id)
    if calibration is None:
        raise ValueError(
            f"{env_id} has no calibration in {CALIBRATION_FILE}, so its scores cannot be normalised (random policy = "
            f"0, reference = 1): measure it with `{CALIBRATE_COMMAND.format(env_id=env_id)}`"
        )
    return calibration


def normalised_score(env_id: str, score: float) -> float | None:
    """``(score - random policy's mean) / (reference - random policy's mean)`` from the calibration of ``env_id``:
    random = 0, reference = 1; ``None`` for a score without a top (a reward model's logit)."""
    return calibration_of(env_id).normalised(score)


def _fmt(point: float, low: float, high: float, digits: int = 3) -> str:
    return f"{_one(point, digits)} [{_one(low, digits)}, {_one(high, digits)}]"


def _one(v: float, digits: int = 3) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "–"
    return "∞" if v == float("inf") else f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.0f}"


def _p(value: float) -> str:
    """A p-value: 3 significant digits below 0.001, else 3 decimals; – for none."""
    if math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.median(finite)) if finite else float("nan")


def _final_rows(rows: list[dict]) -> dict[tuple, dict[int, tuple[dict, dict]]]:
    """(env, agent, mode) -> seed -> (first evaluation row, last evaluation row)."""
    out: dict[tuple, dict[int, list]] = defaultdict(dict)
    for r in rows:
        key = (r["env_id"], r["agent"], r["reward_mode"])
        first, last = out[key].get(r["seed"], (r, r))
        out[key][r["seed"]] = (first if first["env_steps"] <= r["env_steps"] else r,
                               r if r["env_steps"] >= last["env_steps"] else last)
    return out


def likely_hacking(first: dict, last: dict) -> bool:
    """A run whose final reference perplexity exceeds ``HACKING_PERPLEXITY_RATIO`` x its initial policy's."""
    return bool(last["ref_perplexity"] > HACKING_PERPLEXITY_RATIO * first["ref_perplexity"])


#: a run is collapsed when distinct-1 of its final eval generations falls below this (language tasks only: a symbol
#: task's few symbols give a low distinct-1 to any text, the random policy's included) ...
COLLAPSE_DISTINCT_1 = 0.05
#: ... and below this fraction of its initial policy's (a task whose answers share a small vocabulary gives the
#: bundled model itself a distinct-1 near 0.05: 0.041 on Keywords-v1, 0.060 on Keywords-v2)
COLLAPSE_DISTINCT_1_DROP = 0.5
#: ... or when at least this share of the eval prompts get the same continuation (where the run recorded it)
COLLAPSE_SAME_CONTINUATION = 0.5
#: the evaluation column holding the share of eval prompts whose continuation is the most common one (runs recorded
#: before it existed have none)
SAME_CONTINUATION_COLUMN = "same_continuation_share"
COLLAPSE_RULE = (
    f"`collapsed`: runs whose final greedy generations collapsed: at least {COLLAPSE_SAME_CONTINUATION:.0%} of the "
    f"eval prompts get the same continuation, or distinct-1 below {COLLAPSE_DISTINCT_1:g} and below "
    f"{COLLAPSE_DISTINCT_1_DROP:g}x the initial policy's on a language task (a symbol task's few symbols give any "
    "text a low distinct-1, so there only the first rule applies). The runs "
    f"recorded without `{SAME_CONTINUATION_COLUMN}` (the suites measured before 2026-12-07) are judged by "
    "distinct-1 alone; – where no rule applies"
)


def collapsed(first: dict, last: dict) -> bool | None:
    """Whether a run's final evaluation (its row ``last``; ``first`` is its step-0 evaluation) shows collapsed text
    (see ``COLLAPSE_RULE``); ``None`` where neither rule can judge it (a symbol task recorded without the
    same-continuation share)."""
    judged = False
    share = last.get(SAME_CONTINUATION_COLUMN)
    if share is not None and not math.isnan(share):
        if share >= COLLAPSE_SAME_CONTINUATION:
            return True
        judged = True
    if not math.isnan(last["ref_perplexity"]) and not math.isnan(last["distinct_1"]):
        initial = first.get("distinct_1", math.nan)
        dropped = math.isnan(initial) or last["distinct_1"] < COLLAPSE_DISTINCT_1_DROP * initial
        if last["distinct_1"] < COLLAPSE_DISTINCT_1 and dropped:
            return True
        judged = True
    return False if judged else None


def count_text(flags: list[bool | None], bold: bool = True) -> str:
    """``k/n`` over the judged runs (``None``: not judged), bold where ``k`` > 0; – where none is judged."""
    judged = [f for f in flags if f is not None]
    if not judged:
        return "–"
    text = f"{sum(judged)}/{len(judged)}"
    return f"**{text}**" if bold and sum(judged) else text


@dataclass(frozen=True)
class Cell:
    """The runs of one (task, agent, reward mode) at their final evaluation."""

    env: str
    agent: str
    mode: str
    #: the final eval return of each seed, in seed order
    finals: list[float]
    #: IQM over seeds with its 95% CI: (point, low, high)
    iqm: tuple[float, float, float]
    #: per seed: likely reward hacking (see :func:`likely_hacking`)
    flagged: list[bool]
    #: per seed: collapsed text (see :func:`collapsed`; ``None`` not judged)
    collapsed: list[bool | None]
    #: the naturalness columns of the final generations, median over seeds
    naturalness: dict[str, float]
    #: mean over seeds of the training wall time at the last evaluation
    wall: float


@dataclass(frozen=True)
class Comparison:
    """P(first > second) for one agent on one task (or over its tasks: ``env`` "all tasks"), its test and verdict."""

    env: str
    agent: str
    probability: tuple[float, float, float]
    p: float
    adjusted: float
    verdict: str
    #: the reward modes compared: P(``first`` > ``second``)
    first: str = "dense"
    second: str = "sparse"


def cells(rows: list[dict]) -> dict[tuple, Cell]:
    """(env, agent, mode) -> :class:`Cell`, from the rows of :func:`collect` or :func:`read_results_csv`."""
    ends = _final_rows(rows)
    out = {}
    for key in sorted(ends):
        pairs = [ends[key][seed] for seed in sorted(ends[key])]
        finals = [last["eval_return"] for _, last in pairs]
        out[key] = Cell(
            env=key[0], agent=key[1], mode=key[2], finals=finals,
            iqm=stats.stratified_bootstrap_ci({key[0]: finals}, stats.pooled_iqm),
            flagged=[likely_hacking(first, last) for first, last in pairs],
            collapsed=[collapsed(first, last) for first, last in pairs],
            naturalness={c: _median([last.get(c, math.nan) for _, last in pairs]) for c in NATURALNESS_COLUMNS},
            wall=float(np.mean([last["wall_seconds"] for _, last in pairs])),
        )
    return out


def agent_order(rows: list[dict]) -> list[str]:
    """The agents in the order their first row appears (the suite file's order for a suite's results)."""
    return list(dict.fromkeys(r["agent"] for r in rows))


def mode_pairs(modes) -> list[tuple[str, str]]:
    """The pairs of env reward modes a report compares, among ``modes``: each ``(first, second)`` with ``first``
    before ``second`` in ``ALL_REWARD_MODES`` (dense, turn, sparse), neighbours first: (dense, turn), (turn,
    sparse), then (dense, sparse). Dense and sparse alone give [(dense, sparse)]; other labels (credit arms) take
    no part."""
    present = [m for m in ALL_REWARD_MODES if m in set(modes)]
    neighbours = list(zip(present, present[1:]))
    return neighbours + [(a, b) for i, a in enumerate(present) for b in present[i + 1:] if (a, b) not in neighbours]


def compare_mode_pairs(table: dict[tuple, Cell], pairs: list[tuple[str, str]] | None = None,
                       agents: list[str] | None = None) -> tuple[list[Comparison], list[Comparison]]:
    """P(first > second) for each pair of ``pairs`` (default :func:`mode_pairs` of the table's modes) per (task,
    agent), with the exact two-sided Mann-Whitney U test's p-value, Holm-adjusted over all of them together (one
    family: every comparison of the table); and per (agent, pair) over the agent's tasks where it has several (the
    stratified permutation test, Holm-adjusted over those: a second family). Ordered by task, then ``agents``
    (default sorted), then ``pairs``."""
    envs = sorted({k[0] for k in table})
    agents = agents or sorted({k[1] for k in table})
    pairs = mode_pairs({k[2] for k in table}) if pairs is None else pairs
    per_task: list[tuple] = []
    for env in envs:
        for agent in agents:
            for first, second in pairs:
                a, b = table.get((env, agent, first)), table.get((env, agent, second))
                if a and b:
                    ci = stats.probability_of_improvement_ci({env: a.finals}, {env: b.finals})
                    per_task.append((env, agent, first, second, ci, stats.mann_whitney_p(a.finals, b.finals)))
    overall: list[tuple] = []
    for agent in agents:
        for first, second in pairs:
            x = {e: table[(e, agent, first)].finals for e in envs
                 if (e, agent, first) in table and (e, agent, second) in table}
            y = {e: table[(e, agent, second)].finals for e in x}
            if len(x) > 1:
                overall.append(("all tasks", agent, first, second, stats.probability_of_improvement_ci(x, y),
                                stats.stratified_permutation_p(x, y)))

    def finish(family: list[tuple]) -> list[Comparison]:
        adjusted = stats.holm_adjusted([p for *_, p in family])
        return [Comparison(env, agent, ci, p, adj, stats.verdict(ci[0], adj, first, second), first, second)
                for (env, agent, first, second, ci, p), adj in zip(family, adjusted)]

    return finish(per_task), finish(overall)


def compare_modes(table: dict[tuple, Cell], first: str = "dense", second: str = "sparse",
                  agents: list[str] | None = None) -> tuple[list[Comparison], list[Comparison]]:
    """P(first > second) per (task, agent) with the Mann-Whitney U test's p-value, Holm-adjusted over all of them
    (one family), and per agent over its tasks (where it has several; the stratified permutation test, Holm-adjusted
    over the agents: a second family). Ordered by task, then ``agents`` (default sorted). One pair of
    :func:`compare_mode_pairs`."""
    return compare_mode_pairs(table, [(first, second)], agents)


def pair_name(first: str, second: str) -> str:
    """``"P(first > second)"``."""
    return f"P({first} > {second})"


def _short(env_id: str) -> str:
    return env_id.split("/", 1)[-1]


def verdict_lines(table: dict[tuple, Cell], per_task: list[Comparison], overall: list[Comparison],
                  short: bool = False) -> list[str]:
    """The machine-written verdicts: which comparisons hold after Holm's adjustment (and which only before it),
    which cells collapsed and which were flagged as likely reward hacking."""
    name = _short if short else (lambda env: env)

    def listing(items: list[str]) -> str:
        return "; ".join(items) if items else "none"

    lines = []
    for label, family in (("per task", per_task), ("over all tasks", overall)):
        pairs = list(dict.fromkeys((c.first, c.second) for c in family))
        # several pairs share one Holm family: each pair's line says how large the family is
        of_family = f" over all {len(family)} comparisons {label}" if len(pairs) > 1 else ""
        for first, second in pairs:
            chosen = [c for c in family if (c.first, c.second) == (first, second)]
            held = [f"{c.agent} on {name(c.env)}: {c.verdict} (P {c.probability[0]:.2f}, Holm p {_p(c.adjusted)})"
                    for c in chosen if c.verdict != stats.NO_DIFFERENCE]
            before = [f"{c.agent} on {name(c.env)} (P {c.probability[0]:.2f}, p {_p(c.p)}, Holm p {_p(c.adjusted)})"
                      for c in chosen if c.p <= stats.ALPHA and c.verdict == stats.NO_DIFFERENCE]
            title = f"{first.capitalize()} against {second}"
            lines.append(f"- {title}, {label}: {len(held)} of {len(chosen)} comparisons hold after Holm's "
                         f"adjustment (family-wise {stats.ALPHA:.0%}{of_family}): {listing(held)}.")
            lines.append(f"- {title}, {label}, p <= {stats.ALPHA:g} before the adjustment but not after: "
                         f"{listing(before)}.")
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for cell in table.values():
        groups[(cell.env, cell.agent)].append(cell)

    def cells_with(attribute: str) -> list[str]:
        found = []
        for (env, agent), group in groups.items():
            hits = [f"{c.mode} {count_text(getattr(c, attribute), bold=False)}" for c in group
                    if any(getattr(c, attribute))]
            if hits:
                found.append(f"{agent} on {name(env)} ({', '.join(hits)})")
        return found

    lines.append(f"- Collapsed cells (at least one run): {listing(cells_with('collapsed'))}.")
    unjudged = sorted({name(c.env) for c in table.values() if all(f is None for f in c.collapsed)})
    if unjudged:
        lines.append(f"- Collapse not judged (symbol tasks recorded without the same-continuation share): "
                     f"{', '.join(unjudged)}.")
    lines.append(f"- Flagged as likely reward hacking (at least one run): {listing(cells_with('flagged'))}.")
    return lines


def aggregate_rows(table: dict[tuple, Cell], agents: list[str] | None = None
                   ) -> tuple[list[tuple[str, str, int, tuple[float, float, float], str, str]], list[str]]:
    """The normalised aggregate: per (agent, mode) the number of tasks, the IQM of normalised final returns over every
    run of those tasks with its stratified-bootstrap CI, and the flagged and collapsed counts; and the tasks left out
    (a score without a reference)."""
    envs = sorted({k[0] for k in table})
    unbounded = [env for env in envs if calibration_of(env).reference is None]
    agents = agents or sorted({k[1] for k in table})
    modes = sorted({k[2] for k in table})
    out = []
    for agent in agents:
        for mode in modes:
            chosen = [table[(env, agent, mode)] for env in envs if (env, agent, mode) in table and env not in unbounded]
            if not chosen:
                continue
            by_task = {c.env: [normalised_score(c.env, v) for v in c.finals] for c in chosen}
            out.append((agent, mode, len(chosen), stats.stratified_bootstrap_ci(by_task, stats.pooled_iqm),
                        count_text([f for c in chosen for f in c.flagged]),
                        count_text([f for c in chosen for f in c.collapsed])))
    return out, unbounded


def summarize(rows: list[dict], suite_name: str, command: str, thresholds: dict[str, float] | None = None,
              missing: int = 0, notes: list[str] | None = None) -> str:
    """summary.md's text: the tables of the runs' results, under the command that reproduces them.

    ``notes``: lines shown under the Reproduce line (runs made with other settings than it gives).
    """
    curves = _curves(rows)
    table = cells(rows)
    envs = sorted({k[0] for k in table})
    agents = sorted({k[1] for k in table})
    modes = sorted({k[2] for k in table})
    lines = [f"# Benchmark: suite `{suite_name}`", "", f"Reproduce: `{command}`", ""]
    for note in notes or []:
        lines += [note, ""]
    if missing:
        lines += [f"**Partial: {missing} runs of the suite have not finished yet and are not in these tables** "
                  "(rerunning the command above runs only those).", ""]
    lines += [
        "Final eval return: the mean task score over the eval split (= the sparse return, in both reward modes), "
        "IQM over seeds with a 95% stratified-bootstrap CI (expanded percentile interval; see "
        "`agents/bench/stats.py`). "
        "Beside it, the naturalness of the final greedy generations, median over seeds (GRUE-style): `ppl` the "
        "perplexity under the environment's reference LM (– for tasks with their own symbol vocabulary), `d-1`/`d-2` "
        "distinct token 1-/2-grams, `rep` the share of repeated 3-grams. `hacking`: runs whose final perplexity "
        "exceeds "
        f"{HACKING_PERPLEXITY_RATIO:g}x their initial policy's (likely reward hacking). {COLLAPSE_RULE}.",
        "",
        "## Final return per task",
        "",
        "| task | agent | reward | IQM final return [95% CI] | per seed | ppl | d-1 | d-2 | rep | hacking "
        "| collapsed | mean wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for env in envs:
        for agent in agents:
            for mode in modes:
                cell = table.get((env, agent, mode))
                if cell is None:
                    continue
                nat = cell.naturalness
                per_seed = " ".join(f"{v:.3f}" for v in cell.finals)
                ppl = "–" if math.isnan(nat["ref_perplexity"]) else f"{nat['ref_perplexity']:.3g}"
                lines.append(
                    f"| {env} | {agent} | {mode} | {_fmt(*cell.iqm)} | {per_seed} | {ppl} | "
                    f"{_one(nat['distinct_1'])} | {_one(nat['distinct_2'])} | {_one(nat['repetition'])} | "
                    f"{count_text(cell.flagged)} | {count_text(cell.collapsed)} | {cell.wall:.1f} |"
                )
    aggregate, unbounded = aggregate_rows(table, agents)
    heading = "## Overall (normalised scores: random = 0, reference = 1, from each task's calibration"
    heading += f"; left out, a score without a reference: {', '.join(unbounded)})" if unbounded else ")"
    lines += ["", heading, ""]
    if aggregate:
        lines += [
            "Normalised score = (score - random policy's mean) / (reference - random policy's mean), with both from "
            "`textgym/tasks/data/calibration.json` (`python -m textgym.calibration`): random = 0, reference = 1.",
            "",
            "| agent | reward | tasks | IQM normalised final return [95% CI] | runs flagged as likely reward hacking "
            "| runs collapsed |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {agent} | {mode} | {n} | {_fmt(*ci)} | {flagged} | {collapsed_runs} |"
                  for agent, mode, n, ci, flagged, collapsed_runs in aggregate]
    else:
        lines.append("No task of this suite has a reference score, so no normalised aggregate.")
    pairs = mode_pairs(modes)
    per_task, overall = compare_mode_pairs(table, pairs, agents=agents)
    if per_task and len(pairs) == 1:
        lines += [
            "",
            "## Does the instant (dense) reward help? P(dense > sparse)",
            "",
            "The probability that a dense run beats a sparse run of the same agent on the same task "
            "(0.5 = no difference), with Newcombe's 95% score interval; `p` the two-sided Mann-Whitney U test "
            "(exact), `Holm p` the same adjusted by Holm's step-down procedure over every comparison of this table "
            f"(family-wise {stats.ALPHA:.0%}); the verdict names the side that wins where the Holm p is at most "
            f"{stats.ALPHA:g}, else \"{stats.NO_DIFFERENCE}\".",
            "",
            "| agent | task | P(dense > sparse) [95% CI] | p | Holm p | verdict |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {c.agent} | {c.env} | {_fmt(*c.probability, digits=2)} | {_p(c.p)} | {_p(c.adjusted)} | "
                  f"{c.verdict} |" for c in sorted(per_task, key=lambda c: (agents.index(c.agent), c.env))]
    elif per_task:
        names = ", ".join(pair_name(*pair) for pair in pairs)
        lines += [
            "",
            f"## Which reward helps? {names}",
            "",
            "The probability that a run with the first reward mode beats a run with the second of the same agent on "
            "the same task (0.5 = no difference), with Newcombe's 95% score interval; the modes are compared in the "
            "order dense (a reward at every token) > turn (at the end of each turn) > sparse (at the end). `p` the "
            "two-sided Mann-Whitney U test (exact), `Holm p` the same adjusted by Holm's step-down procedure over "
            f"every comparison of this table, all pairs together (family-wise {stats.ALPHA:.0%}); the verdict names "
            f"the side that wins where the Holm p is at most {stats.ALPHA:g}, else \"{stats.NO_DIFFERENCE}\".",
            "",
            "| agent | task | comparison | P [95% CI] | p | Holm p | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {c.agent} | {c.env} | {pair_name(c.first, c.second)} | {_fmt(*c.probability, digits=2)} | "
                  f"{_p(c.p)} | {_p(c.adjusted)} | {c.verdict} |"
                  for c in sorted(per_task, key=lambda c: (agents.index(c.agent), c.env,
                                                           pairs.index((c.first, c.second))))]
    if overall and len(pairs) == 1:
        lines += [
            "",
            "Over all tasks (P averaged over tasks; `p` the stratified permutation test, labels permuted within each "
            "task; Holm over the agents, a family of its own):",
            "",
            "| agent | P(dense > sparse) [95% CI] | p | Holm p | verdict |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {c.agent} | {_fmt(*c.probability, digits=2)} | {_p(c.p)} | {_p(c.adjusted)} | {c.verdict} |"
                  for c in overall]
    elif overall:
        lines += [
            "",
            "Over all tasks (P averaged over tasks; `p` the stratified permutation test, labels permuted within each "
            "task; Holm over the agents and pairs, a family of its own):",
            "",
            "| agent | comparison | P [95% CI] | p | Holm p | verdict |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {c.agent} | {pair_name(c.first, c.second)} | {_fmt(*c.probability, digits=2)} | {_p(c.p)} | "
                  f"{_p(c.adjusted)} | {c.verdict} |" for c in overall]
    lines += ["", "## Verdicts", "", *verdict_lines(table, per_task, overall)]
    if thresholds:
        lines += [
            "",
            "## Sample efficiency",
            "",
            "Env steps until the eval return first reaches the task's threshold, fixed in the suite file before the "
            "runs "
            "(∞: not reached within the budget). IQM over seeds [95% CI].",
            "",
            "| task | threshold | agent | reward | reached | IQM env steps [95% CI] |",
            "|---|---|---|---|---|---|",
        ]
        for env in envs:
            if env not in thresholds:
                continue
            for key in sorted(k for k in curves if k[0] == env):
                reached, ci = steps_to_threshold_ci(curves[key], thresholds[env], env)
                lines.append(
                    f"| {env} | {thresholds[env]:g} | {key[1]} | {key[2]} | {reached} | {_fmt(*ci, digits=0)} |"
                )
    if "sparse" in modes and set(modes) - set(ALL_REWARD_MODES):  # credit arms beyond the env's reward modes
        lines += _sparse_peak_section(curves)
    return "\n".join(lines) + "\n"


def steps_to_threshold_ci(curve: dict[int, list[tuple[int, float]]], threshold: float, env: str
                          ) -> tuple[str, tuple[float, float, float]]:
    """``("k/n" runs that reach ``threshold``, IQM env steps until they do with its CI)`` for one cell's curves."""
    steps = [stats.steps_to_threshold([s for s, _ in seq], [r for _, r in seq], threshold) for seq in curve.values()]
    reached = sum(math.isfinite(s) for s in steps)
    return f"{reached}/{len(steps)}", stats.stratified_bootstrap_ci({env: steps}, stats.pooled_iqm)


def sparse_peak(curve: dict[int, list[tuple[int, float]]]) -> tuple[int, float]:
    """The sparse arm's peak: the highest IQM over seeds of the k-th evaluation's return, over the
    evaluations every seed made; returns ``(median env steps of that evaluation, IQM return)``."""
    count = min(len(seq) for seq in curve.values())
    iqms = [float(stats.iqm(np.asarray([seq[k][1] for seq in curve.values()]))) for k in range(count)]
    best = int(np.argmax(iqms))
    return int(np.median([seq[best][0] for seq in curve.values()])), iqms[best]


def _sparse_peak_section(curves: dict[tuple, dict[int, list[tuple[int, float]]]]) -> list[str]:
    """Chan et al. (2024)'s comparison of credit assignments: env steps until each arm first reaches the
    sparse reward's peak (the IQM learning curve's highest point)."""
    lines = ["", "## Steps to reach the sparse reward's peak", "",
             "The sparse arm's peak is the highest IQM over seeds of its eval return at one evaluation; each run's "
             "steps are the env steps until its eval return first reaches that value (∞: not within the budget). "
             "IQM over seeds [95% CI] (Chan et al. 2024 compare credit assignments this way).", "",
             "| task | agent | sparse peak (at env steps) | reward | reached | IQM env steps [95% CI] |",
             "|---|---|---|---|---|---|"]
    for (env, agent, _mode) in sorted(k for k in curves if k[2] == "sparse"):
        at, peak = sparse_peak(curves[(env, agent, "sparse")])
        for key in sorted(k for k in curves if k[0] == env and k[1] == agent):
            steps = [
                stats.steps_to_threshold([s for s, _ in seq], [r for _, r in seq], peak) for seq in curves[key].values()
            ]
            reached = sum(math.isfinite(x) for x in steps)
            ci = stats.stratified_bootstrap_ci({env: steps}, stats.pooled_iqm)
            lines.append(
                f"| {env} | {agent} | {peak:.3f} ({at}) | {key[2]} | {reached}/{len(steps)} | {_fmt(*ci, digits=0)} |"
            )
    return lines


# One palette for every plot: an agent has one colour (the same in every plot and every suite) and a reward
# mode one style (dense: solid line, filled marker, filled bar; sparse: dashed line, open marker, hatched bar).
AGENT_COLOURS = {"lm-ppo": "#1f77b4", "sb3-ppo": "#ff7f0e", "random": "#7f7f7f", "sb3-a2c": "#2ca02c",
                 "sb3-dqn": "#9467bd", "sb3-maskable-ppo": "#8c564b", "q-learning": "#e377c2", "sarsa": "#bcbd22",
                 "lm-grpo": "#17becf", "lm-rloo": "#d62728", "lm-nlpo": "#637939"}
# agents not in AGENT_COLOURS, in sorted order
FALLBACK_COLOURS = ("#393b79", "#8c6d31", "#7b4173", "#e7969c", "#6b6ecf", "#843c39")
HACKING_COLOUR = "black"  # the x over a run flagged as likely reward hacking


@dataclass(frozen=True)
class ModeStyle:
    """How a reward mode is drawn: a line's style, a scatter marker (filled or open), a bar's hatch (None: filled)."""

    linestyle: str | tuple
    marker: str
    filled: bool
    hatch: str | None


REWARD_MODE_STYLES = {"dense": ModeStyle("-", "o", True, None), "sparse": ModeStyle("--", "s", False, "///")}
FALLBACK_MODE_STYLES = (ModeStyle("-.", "^", False, "xx"), ModeStyle((0, (5, 1, 1, 1, 1, 1)), "D", False, ".."))


def _fixed_then_cycled(names, fixed: dict, fallback: tuple) -> dict:
    """name -> ``fixed[name]`` where it has one, else the next of ``fallback`` in sorted order of the others."""
    names = set(names)
    chosen = {name: fixed[name] for name in names if name in fixed}
    for i, name in enumerate(sorted(names - set(fixed))):
        chosen[name] = fallback[i % len(fallback)]
    return chosen


def agent_colours(agents) -> dict[str, str]:
    """agent name -> colour: fixed for the shipped agents, a fixed cycle in sorted order for any other name."""
    return _fixed_then_cycled(agents, AGENT_COLOURS, FALLBACK_COLOURS)


def mode_styles(modes) -> dict[str, ModeStyle]:
    """reward mode -> its style: fixed for dense and sparse, a fixed cycle in sorted order for any other mode."""
    return _fixed_then_cycled(modes, REWARD_MODE_STYLES, FALLBACK_MODE_STYLES)


def _order(names, preferred) -> list[str]:
    """``names`` in the order of ``preferred`` (the palette's), then the others sorted."""
    return [n for n in preferred if n in names] + sorted(set(names) - set(preferred))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _legend(fig, colours: dict[str, str], styles: dict[str, ModeStyle], kind: str, extra: list | None = None) -> None:
    """One legend below the panels: a colour swatch per agent, then a sample of each reward mode's style in black
    (``kind``: "line" a line with its markers, "marker" a marker alone, "bar" a bar), then ``extra`` handles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[a], edgecolor=colours[a], label=a) for a in _order(colours, AGENT_COLOURS)]
    for mode in _order(styles, REWARD_MODE_STYLES):
        style = styles[mode]
        if kind == "bar":
            handles.append(Patch(facecolor="black" if style.filled else "#d9d9d9", edgecolor="black", hatch=style.hatch,
                                 label=f"{mode} reward"))
        else:
            handles.append(Line2D([], [], color="black", linestyle=style.linestyle if kind == "line" else "none",
                                  marker=style.marker, markerfacecolor="black" if style.filled else "white",
                                  label=f"{mode} reward"))
    handles += extra or []
    ncol = min(len(handles), max(2, int(fig.get_size_inches()[0] / 1.7)))
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)


def _grid(panels: int, max_columns: int) -> tuple[int, int]:
    rows = math.ceil(panels / max_columns)
    return rows, math.ceil(panels / rows)


def figure_score_vs_perplexity(rows: list[dict], colours: dict[str, str] | None = None):
    """Final eval return against final reference perplexity, one point per run, a panel per task with an LM."""
    from matplotlib.lines import Line2D

    plt = _pyplot()
    ends = _final_rows(rows)
    colours = colours or agent_colours(k[1] for k in ends)
    styles = mode_styles(k[2] for k in ends)
    envs = sorted({k[0] for k in ends if any(not math.isnan(last["ref_perplexity"]) for _, last in ends[k].values())})
    if not envs:
        envs = sorted({k[0] for k in ends})
    grid = _grid(len(envs), 3)
    fig, axes = plt.subplots(
        *grid, figsize=(max(4.8 * grid[1], 6.4), 3.8 * grid[0] + 0.9), squeeze=False, layout="constrained"
    )
    for ax, env in zip(axes.flat, envs):
        initial = [f["ref_perplexity"] for k in ends if k[0] == env for f, _ in ends[k].values()]
        for key in sorted(k for k in ends if k[0] == env):
            pairs = list(ends[key].values())
            x = [last["ref_perplexity"] for _, last in pairs]
            y = [last["eval_return"] for _, last in pairs]
            colour, style = colours[key[1]], styles[key[2]]
            ax.scatter(x, y, marker=style.marker, facecolors=colour if style.filled else "none", edgecolors=colour,
                       s=30, gid=f"{key[1]}|{key[2]}")
            flagged = [(xi, yi) for xi, yi, (first, last) in zip(x, y, pairs) if likely_hacking(first, last)]
            if flagged:
                ax.scatter(*zip(*flagged), marker="x", color=HACKING_COLOUR, s=70, linewidths=1.5)
        for agent in sorted({k[1] for k in ends if k[0] == env}):
            start = [f["ref_perplexity"] for k in ends if k[:2] == (env, agent) for f, _ in ends[k].values()]
            start = [v for v in start if not math.isnan(v)]
            if start:
                ax.axvline(float(np.median(start)), color=colours[agent], ls=":", lw=1, gid=f"{agent}|step 0")
        if any(not math.isnan(v) for v in initial):
            ax.set_xscale("log")
        ax.set_title(env, fontsize=9)
        ax.set_xlabel("final reference-LM perplexity")
        ax.set_ylabel("final eval return")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(envs):]:
        ax.axis("off")
    _legend(
        fig,
        colours,
        styles,
        "marker",
        [
            Line2D([], [], color="black", ls=":", lw=1, label="agent's median at step 0"),
            Line2D(
                [], [], color=HACKING_COLOUR, ls="none", marker="x", markeredgewidth=1.5, label="likely reward hacking"
            ),
        ],
    )
    fig.suptitle("final score against naturalness, one point per run", fontsize=10)
    return fig


def figure_learning_curves(rows: list[dict], colours: dict[str, str] | None = None):
    plt = _pyplot()
    curves = _curves(rows)
    colours = colours or agent_colours(k[1] for k in curves)
    styles = mode_styles(k[2] for k in curves)
    envs = sorted({k[0] for k in curves})
    grid = _grid(len(envs), 5)
    fig, axes = plt.subplots(*grid, figsize=(4.6 * grid[1], 3.6 * grid[0] + 0.9), squeeze=False, layout="constrained")
    for ax, env in zip(axes.flat, envs):
        for key in sorted(k for k in curves if k[0] == env):
            seeds = list(curves[key].values())
            length = min(len(seq) for seq in seeds)
            x = np.array([s for s, _ in seeds[0][:length]])
            y = np.array([[r for _, r in seq[:length]] for seq in seeds])
            mean = y.mean(0)
            rng = np.random.default_rng(0)
            boot = np.stack([y[rng.integers(0, len(y), len(y))].mean(0) for _ in range(500)])
            low, high = np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)
            colour, style = colours[key[1]], styles[key[2]]
            ax.plot(x, mean, color=colour, linestyle=style.linestyle, marker=style.marker, markersize=3.5,
                    markerfacecolor=colour if style.filled else "white", gid=f"{key[1]}|{key[2]}")
            ax.fill_between(x, low, high, color=colour, alpha=0.12, linewidth=0, gid=f"{key[1]}|{key[2]}")
        ax.set_title(env, fontsize=10)
        ax.set_xlabel("env steps")
        ax.set_ylabel("eval return")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(envs):]:
        ax.axis("off")
    _legend(fig, colours, styles, "line")
    fig.suptitle("eval return: mean over seeds, 95% bootstrap band", fontsize=10)
    return fig


def figure_aggregate(rows: list[dict], colours: dict[str, str] | None = None):
    plt = _pyplot()
    curves = _curves(rows)
    colours = colours or agent_colours(k[1] for k in curves)
    styles = mode_styles(k[2] for k in curves)
    envs = sorted({k[0] for k in curves})
    groups = sorted({(k[1], k[2]) for k in curves})
    labels, points, lows, highs = [], [], [], []
    # normalised by each task's calibration (random = 0, reference = 1); a score without a reference is left out
    envs = [env for env in envs if calibration_of(env).reference is not None]
    groups = [(agent, mode) for agent, mode in groups if any((env, agent, mode) in curves for env in envs)]
    for agent, mode in groups:
        by_task = {}
        for env in envs:
            if (env, agent, mode) in curves:
                by_task[env] = [normalised_score(env, seq[-1][1]) for seq in curves[(env, agent, mode)].values()]
        point, low, high = stats.stratified_bootstrap_ci(by_task, stats.pooled_iqm)
        labels.append(f"{agent} ({mode})")
        points.append(point), lows.append(point - low), highs.append(high - point)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(groups) + 2), layout="constrained")
    if not groups:
        ax.text(0.5, 0.5, "no task of this suite has a reference score to normalise by", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_xticks([]), ax.set_yticks([])
    bars = ax.barh(labels, points, xerr=[lows, highs], capsize=4, error_kw={"ecolor": "black"})
    for bar, (agent, mode) in zip(bars, groups):
        colour, style = colours[agent], styles[mode]
        bar.set_facecolor(colour if style.filled else (*_rgb(colour), 0.3))
        bar.set_edgecolor(colour)
        bar.set_hatch(style.hatch)
        bar.set_gid(f"{agent}|{mode}")
    ax.set_xlabel("IQM of normalised final eval return, random = 0, reference = 1 (95% stratified-bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    _legend(fig, colours, styles, "bar")
    return fig


def _rgb(colour: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def figure_token_rewards(samples: list[dict], colours: dict[str, str] | None = None):
    """Each sample's generated tokens as boxes coloured by their instant (dense) reward; its title in its agent's
    colour."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    colours = colours or agent_colours(s["agent"] for s in samples if "agent" in s)
    fig, ax = plt.subplots(figsize=(12, 0.9 * len(samples) + 1))
    peak = max([abs(r) for s in samples for r in s["rewards"]] + [1e-6])
    norm = TwoSlopeNorm(vmin=-peak, vcenter=0.0, vmax=peak)
    cmap = plt.get_cmap("RdYlGn")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, len(samples))
    ax.axis("off")
    renderer = fig.canvas.get_renderer()
    for i, sample in enumerate(samples):
        y = len(samples) - i - 0.5
        agent = sample.get("agent")
        ax.text(0.0, y + 0.32, f"{sample['title']}  |  prompt: {sample['prompt'][:70]!r}", fontsize=8, va="center",
                color=colours.get(agent, "black"), fontweight="bold" if agent in colours else "normal",
                gid=f"{agent}|{sample.get('reward_mode', 'dense')}" if agent in colours else None)
        x = 0.0
        for token, reward in zip(sample["tokens"], sample["rewards"]):
            text = ax.text(x, y - 0.05, token.replace("\n", "\\n") or "·", fontsize=9, va="center", family="monospace",
                           bbox={"boxstyle": "square,pad=0.15", "facecolor": cmap(norm(reward)), "edgecolor": "none"})
            width = text.get_window_extent(renderer=renderer).transformed(ax.transData.inverted()).width
            x += width + 0.004
            if x > 0.97:
                break
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02, label="instant reward of the token")
    return fig


def _save(fig, path: Path, dpi: int, **kwargs) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi, **kwargs)
    plt.close(fig)


def plot_score_vs_perplexity(rows: list[dict], path: Path, colours: dict[str, str] | None = None) -> None:
    _save(figure_score_vs_perplexity(rows, colours), path, dpi=100)


def plot_learning_curves(rows: list[dict], path: Path, colours: dict[str, str] | None = None) -> None:
    _save(figure_learning_curves(rows, colours), path, dpi=110)


def plot_aggregate(rows: list[dict], path: Path, colours: dict[str, str] | None = None) -> None:
    _save(figure_aggregate(rows, colours), path, dpi=110)


def plot_token_rewards(samples: list[dict], path: Path, colours: dict[str, str] | None = None) -> None:
    _save(figure_token_rewards(samples, colours), path, dpi=110, bbox_inches="tight")


def sample_generations(runs: list[RunConfig], prompts_per_task: int = 2) -> list[dict]:
    """Greedy generations of each (task, agent)'s first dense run (its final checkpoint), with per-token dense
    rewards."""
    import gymnasium as gym
    import torch

    from textgym_agents.base import config_from_dict
    from textgym_agents.checkpoint import LoadedCheckpoint, latest_checkpoint
    from textgym_agents.registry import agent_class

    chosen = {}
    for run in runs:
        if run.reward_mode == "dense" and (run.env_id, run.agent) not in chosen:
            chosen[(run.env_id, run.agent)] = run
    samples = []
    for (env_id, _), run in chosen.items():
        cls = agent_class(run.agent)
        agent = cls(run, config_from_dict(cls.Config, run.hyperparameters, run.agent))
        agent.load(LoadedCheckpoint(latest_checkpoint(Path(run.out) / "checkpoints")))
        env = gym.make_vec(
            env_id,
            num_envs=prompts_per_task,
            vectorization_mode="vector_entry_point",
            split="eval",
            reward_mode="dense",
            device=str(getattr(agent, "device", "cpu")),
            autoreset_mode="Disabled",
            **run.env_kwargs,
        )
        obs, _ = env.reset(seed=0, options={"prompt_index": np.arange(prompts_per_task)})
        tokens = [[] for _ in range(prompts_per_task)]
        rewards = [[] for _ in range(prompts_per_task)]
        live = np.ones(prompts_per_task, dtype=bool)
        while live.any():
            with torch.no_grad():
                actions = agent.policy(obs, env)
            actions = actions.cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)
            obs, reward, terminated, truncated, _ = env.step(actions)
            for row in np.flatnonzero(live):
                tokens[row].append(env.tokenizer.token_string(int(actions[row])))
                rewards[row].append(float(reward[row]))
            live &= ~(np.asarray(terminated) | np.asarray(truncated))
        agent.close()
        for row in range(prompts_per_task):
            samples.append({"title": f"{run.agent} on {env_id} (dense)", "prompt": env.setup.prompts[row].text,
                            "tokens": tokens[row], "rewards": rewards[row], "agent": run.agent, "reward_mode": "dense"})
    return samples


def write_report(
    runs: list[RunConfig],
    out: Path,
    suite_name: str,
    command: str,
    heatmap: bool = True,
    thresholds: dict[str, float] | None = None,
    missing: int = 0,
    notes: list[str] | None = None,
) -> dict[str, Path]:
    """Write results.csv, summary.md (Reproduce line: ``command``; then ``notes``) and the plots of ``runs`` into
    ``out``."""
    rows = collect(runs)
    paths = {"results": out / "results.csv", "summary": out / "summary.md", "curves": out / "learning_curves.png",
             "aggregate": out / "aggregate_iqm.png", "naturalness": out / "score_vs_perplexity.png"}
    write_results_csv(rows, paths["results"])
    text = summarize(rows, suite_name, command, thresholds, missing, notes)
    colours = agent_colours(run.agent for run in runs)  # the same in every plot
    plot_learning_curves(rows, paths["curves"], colours)
    plot_aggregate(rows, paths["aggregate"], colours)
    plot_score_vs_perplexity(rows, paths["naturalness"], colours)
    if heatmap:
        paths["heatmap"] = out / "token_rewards.png"
        plot_token_rewards(sample_generations(runs), paths["heatmap"], colours)
    text += (
        "\n## Plots\n\n" + "\n".join(f"![{name}]({p.name})" for name, p in paths.items() if p.suffix == ".png") + "\n"
    )
    paths["summary"].write_text(text, encoding="utf-8")
    (out / "report.json").write_text(json.dumps({k: str(v) for k, v in paths.items()}, indent=1))
    return paths
