"""Benchmark results: ``results.csv``, ``summary.md`` and PNG plots, from the run folders of a suite."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from agents.bench import stats
from agents.run import HACKING_PERPLEXITY_RATIO, RunConfig, RunDirectory
from textgym.naturalness import NATURALNESS_COLUMNS

RESULT_COLUMNS = ["agent", "env_id", "reward_mode", "seed", "env_steps", "eval_return", *NATURALNESS_COLUMNS, "wall_seconds"]


def collect(runs: list[RunConfig]) -> list[dict]:
    """One row per run per evaluation."""
    rows = []
    for run in runs:
        for metric in RunDirectory.read_metrics_of(Path(run.out)):
            rows.append({"agent": run.agent, "env_id": run.env_id, "reward_mode": run.reward_mode, "seed": run.seed,
                         "env_steps": int(metric["env_steps"]), "eval_return": metric["eval_return"],
                         **{key: metric[key] for key in NATURALNESS_COLUMNS}, "wall_seconds": metric["wall_seconds"]})
    return rows


def write_results_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows([{k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows])


def _curves(rows: list[dict]) -> dict[tuple, dict[int, list[tuple[int, float]]]]:
    """(env, agent, mode) -> seed -> [(env_steps, eval_return), ...]"""
    curves: dict[tuple, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        curves[(r["env_id"], r["agent"], r["reward_mode"])][r["seed"]].append((r["env_steps"], r["eval_return"]))
    return curves


def _score_range(env_id: str) -> tuple[float, float]:
    import gymnasium as gym

    from textgym.tasks import make_task

    spec = gym.spec(env_id)
    low, high = make_task(spec.kwargs["task"]).score_range
    return (low, high) if math.isfinite(low) and math.isfinite(high) and high > low else (0.0, 1.0)


def _fmt(point: float, low: float, high: float, digits: int = 3) -> str:
    return f"{_one(point, digits)} [{_one(low, digits)}, {_one(high, digits)}]"


def _one(v: float, digits: int = 3) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "–"
    return "∞" if v == float("inf") else f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.0f}"


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


def summarize(rows: list[dict], suite_name: str, command: str, thresholds: dict[str, float] | None = None,
              missing: int = 0, notes: list[str] | None = None) -> str:
    """summary.md's text: the tables of the runs' results, under the command that reproduces them.

    ``notes``: lines shown under the Reproduce line (runs made with other settings than it gives).
    """
    curves = _curves(rows)
    ends = _final_rows(rows)
    finals: dict[tuple, list[float]] = {key: [ends[key][seed][1]["eval_return"] for seed in sorted(ends[key])] for key in ends}
    envs = sorted({k[0] for k in curves})
    agents = sorted({k[1] for k in curves})
    modes = sorted({k[2] for k in curves})
    lines = [f"# Benchmark: suite `{suite_name}`", "", f"Reproduce: `{command}`", ""]
    for note in notes or []:
        lines += [note, ""]
    if missing:
        lines += [f"**Partial: {missing} runs of the suite have not finished yet and are not in these tables** "
                  "(rerunning the command above runs only those).", ""]
    lines += [
             "Final eval return: the mean task score over the eval split (= the sparse return, in both reward modes), "
             "IQM over seeds with a 95% stratified-bootstrap CI (expanded percentile interval; see `agents/bench/stats.py`). "
             "Beside it, the naturalness of the final greedy generations, median over seeds (GRUE-style): `ppl` the "
             "perplexity under the environment's reference LM (– for tasks with their own symbol vocabulary), `d-1`/`d-2` "
             "distinct token 1-/2-grams, `rep` the share of repeated 3-grams. `hacking`: runs whose final perplexity exceeds "
             f"{HACKING_PERPLEXITY_RATIO:g}x their initial policy's (likely reward hacking).", "",
             "## Final return per task", "",
             "| task | agent | reward | IQM final return [95% CI] | per seed | ppl | d-1 | d-2 | rep | hacking | mean wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    final_walls = defaultdict(dict)  # key -> seed -> wall seconds at the last evaluation
    for r in rows:
        final_walls[(r["env_id"], r["agent"], r["reward_mode"])][r["seed"]] = r["wall_seconds"]
    for env in envs:
        for agent in agents:
            for mode in modes:
                key = (env, agent, mode)
                if key not in finals:
                    continue
                ci = stats.stratified_bootstrap_ci({env: finals[key]}, stats.pooled_iqm)
                wall = float(np.mean(list(final_walls[key].values())))
                pairs = [ends[key][seed] for seed in sorted(ends[key])]
                nat = {c: _median([last[c] for _, last in pairs]) for c in NATURALNESS_COLUMNS}
                hacked = sum(likely_hacking(first, last) for first, last in pairs)
                per_seed = " ".join(f"{v:.3f}" for v in finals[key])
                ppl = "–" if math.isnan(nat["ref_perplexity"]) else f"{nat['ref_perplexity']:.3g}"
                lines.append(f"| {env} | {agent} | {mode} | {_fmt(*ci)} | {per_seed} | {ppl} | {_one(nat['distinct_1'])} | "
                             f"{_one(nat['distinct_2'])} | {_one(nat['repetition'])} | {'**' + str(hacked) + '/' + str(len(pairs)) + '**' if hacked else '0/' + str(len(pairs))} | {wall:.1f} |")
    lines += ["", "## Overall (scores normalised to [0, 1] by each task's score range)", "",
              "| agent | reward | tasks | IQM normalised final return [95% CI] | runs flagged as likely reward hacking |", "|---|---|---|---|---|"]
    normalised = {}
    for key, values in finals.items():
        low, high = _score_range(key[0])
        normalised[key] = [(v - low) / (high - low) for v in values]
    for agent in agents:
        for mode in modes:
            by_task = {env: normalised[(env, agent, mode)] for env in envs if (env, agent, mode) in normalised}
            if by_task:
                flagged = sum(likely_hacking(f, l) for env in by_task for f, l in ends[(env, agent, mode)].values())
                total = sum(len(ends[(env, agent, mode)]) for env in by_task)
                lines.append(f"| {agent} | {mode} | {len(by_task)} | {_fmt(*stats.stratified_bootstrap_ci(by_task, stats.pooled_iqm))} | {flagged}/{total} |")
    if {"dense", "sparse"} <= set(modes):
        lines += ["", "## Does the instant (dense) reward help? P(dense > sparse)", "",
                  "The probability that a dense run beats a sparse run of the same agent on the same task (0.5 = no difference), "
                  "with Newcombe's 95% score interval.", "",
                  "| agent | task | P(dense > sparse) [95% CI] |", "|---|---|---|"]
        for agent in agents:
            dense_all, sparse_all = {}, {}
            for env in envs:
                d, s = finals.get((env, agent, "dense")), finals.get((env, agent, "sparse"))
                if d and s:
                    dense_all[env], sparse_all[env] = d, s
                    lines.append(f"| {agent} | {env} | {_fmt(*stats.probability_of_improvement_ci({env: d}, {env: s}))} |")
            if len(dense_all) > 1:
                lines.append(f"| {agent} | all tasks | {_fmt(*stats.probability_of_improvement_ci(dense_all, sparse_all))} |")
    if thresholds:
        lines += ["", "## Sample efficiency", "",
                  "Env steps until the eval return first reaches the task's threshold, fixed in the suite file before the runs "
                  "(∞: not reached within the budget). IQM over seeds [95% CI].", "",
                  "| task | threshold | agent | reward | reached | IQM env steps [95% CI] |", "|---|---|---|---|---|---|"]
        for env in envs:
            if env not in thresholds:
                continue
            for key in sorted(k for k in curves if k[0] == env):
                steps = [stats.steps_to_threshold([s for s, _ in seq], [r for _, r in seq], thresholds[env])
                         for seq in curves[key].values()]
                reached = sum(math.isfinite(s) for s in steps)
                ci = stats.stratified_bootstrap_ci({env: steps}, stats.pooled_iqm)
                lines.append(f"| {env} | {thresholds[env]:g} | {key[1]} | {key[2]} | {reached}/{len(steps)} | {_fmt(*ci, digits=0)} |")
    return "\n".join(lines) + "\n"


def plot_score_vs_perplexity(rows: list[dict], path: Path) -> None:
    """Final eval return against final reference perplexity, one point per run, a panel per task with an LM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ends = _final_rows(rows)
    envs = sorted({k[0] for k in ends if any(not math.isnan(l["ref_perplexity"]) for _, l in ends[k].values())})
    if not envs:
        envs = sorted({k[0] for k in ends})
    columns = min(len(envs), 3)
    grid = (math.ceil(len(envs) / columns), columns)
    fig, axes = plt.subplots(*grid, figsize=(4.8 * grid[1], 3.8 * grid[0]), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    agents = sorted({k[1] for k in ends})
    for ax, env in zip(axes.flat, envs):
        initial = [f["ref_perplexity"] for k in ends if k[0] == env for f, _ in ends[k].values()]
        for key in sorted(k for k in ends if k[0] == env):
            pairs = list(ends[key].values())
            x = [l["ref_perplexity"] for _, l in pairs]
            y = [l["eval_return"] for _, l in pairs]
            flagged = [likely_hacking(f, l) for f, l in pairs]
            colour = colours[agents.index(key[1]) % len(colours)]
            marker = "o" if key[2] == "dense" else "s"
            ax.scatter(x, y, color=colour, marker=marker, facecolors="none" if key[2] == "sparse" else colour,
                       label=f"{key[1]} ({key[2]})", s=30)
            for xi, yi, f in zip(x, y, flagged):
                if f:
                    ax.scatter([xi], [yi], marker="x", color="red", s=60, linewidths=1)
        for agent in sorted({k[1] for k in ends if k[0] == env}):
            start = [f["ref_perplexity"] for k in ends if k[:2] == (env, agent) for f, _ in ends[k].values()]
            start = [v for v in start if not math.isnan(v)]
            if start:
                ax.axvline(float(np.median(start)), color=colours[agents.index(agent) % len(colours)], ls=":", lw=1,
                           label=f"{agent} at step 0 (median)")
        if any(not math.isnan(v) for v in initial):
            ax.set_xscale("log")
        ax.set_title(env, fontsize=9)
        ax.set_xlabel("final reference-LM perplexity")
        ax.set_ylabel("final eval return")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(envs):]:
        ax.axis("off")
    fig.suptitle("score against naturalness per run; red x: likely reward hacking", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_learning_curves(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(rows)
    envs = sorted({k[0] for k in curves})
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    agents = sorted({k[1] for k in curves})
    for ax, env in zip(axes[0], envs):
        for key in sorted(k for k in curves if k[0] == env):
            seeds = list(curves[key].values())
            length = min(len(seq) for seq in seeds)
            x = np.array([s for s, _ in seeds[0][:length]])
            y = np.array([[r for _, r in seq[:length]] for seq in seeds])
            mean = y.mean(0)
            rng = np.random.default_rng(0)
            boot = np.stack([y[rng.integers(0, len(y), len(y))].mean(0) for _ in range(500)])
            low, high = np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)
            colour = colours[agents.index(key[1]) % len(colours)]
            style = "-" if key[2] == "dense" else "--"
            ax.plot(x, mean, style, color=colour, label=f"{key[1]} ({key[2]})")
            ax.fill_between(x, low, high, color=colour, alpha=0.15)
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.set_ylabel("eval return")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("mean over seeds, 95% bootstrap band; solid: dense, dashed: sparse", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_aggregate(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(rows)
    envs = sorted({k[0] for k in curves})
    groups = sorted({(k[1], k[2]) for k in curves})
    labels, points, lows, highs = [], [], [], []
    for agent, mode in groups:
        by_task = {}
        for env in envs:
            if (env, agent, mode) in curves:
                low, high = _score_range(env)
                by_task[env] = [(seq[-1][1] - low) / (high - low) for seq in curves[(env, agent, mode)].values()]
        point, low, high = stats.stratified_bootstrap_ci(by_task, stats.pooled_iqm)
        labels.append(f"{agent} ({mode})")
        points.append(point), lows.append(point - low), highs.append(high - point)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(groups) + 1.5))
    ax.barh(labels, points, xerr=[lows, highs], color=["#4c72b0" if "dense" in l else "#dd8452" for l in labels], capsize=4)
    ax.set_xlabel("IQM of normalised final eval return (95% stratified-bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_token_rewards(samples: list[dict], path: Path) -> None:
    """Each sample's generated tokens as boxes coloured by their instant (dense) reward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

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
        ax.text(0.0, y + 0.32, f"{sample['title']}  |  prompt: {sample['prompt'][:70]!r}", fontsize=8, va="center")
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
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def sample_generations(runs: list[RunConfig], prompts_per_task: int = 2) -> list[dict]:
    """Greedy generations of each (task, agent)'s first dense run (its final checkpoint), with per-token dense rewards."""
    import gymnasium as gym
    import torch

    from agents.checkpoint import LoadedCheckpoint, latest_checkpoint
    from agents.registry import agent_class
    from agents.base import config_from_dict

    chosen = {}
    for run in runs:
        if run.reward_mode == "dense" and (run.env_id, run.agent) not in chosen:
            chosen[(run.env_id, run.agent)] = run
    samples = []
    for (env_id, _), run in chosen.items():
        cls = agent_class(run.agent)
        agent = cls(run, config_from_dict(cls.Config, run.hyperparameters, run.agent))
        agent.load(LoadedCheckpoint(latest_checkpoint(Path(run.out) / "checkpoints")))
        env = gym.make_vec(env_id, num_envs=prompts_per_task, vectorization_mode="vector_entry_point", split="eval",
                           reward_mode="dense", device=str(getattr(agent, "device", "cpu")), autoreset_mode="Disabled", **run.env_kwargs)
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
                            "tokens": tokens[row], "rewards": rewards[row]})
    return samples


def write_report(runs: list[RunConfig], out: Path, suite_name: str, command: str, heatmap: bool = True,
                 thresholds: dict[str, float] | None = None, missing: int = 0, notes: list[str] | None = None) -> dict[str, Path]:
    """Write results.csv, summary.md (Reproduce line: ``command``; then ``notes``) and the plots of ``runs`` into ``out``."""
    rows = collect(runs)
    paths = {"results": out / "results.csv", "summary": out / "summary.md", "curves": out / "learning_curves.png",
             "aggregate": out / "aggregate_iqm.png", "naturalness": out / "score_vs_perplexity.png"}
    write_results_csv(rows, paths["results"])
    text = summarize(rows, suite_name, command, thresholds, missing, notes)
    plot_learning_curves(rows, paths["curves"])
    plot_aggregate(rows, paths["aggregate"])
    plot_score_vs_perplexity(rows, paths["naturalness"])
    if heatmap:
        paths["heatmap"] = out / "token_rewards.png"
        plot_token_rewards(sample_generations(runs), paths["heatmap"])
    text += "\n## Plots\n\n" + "\n".join(f"![{name}]({p.name})" for name, p in paths.items() if p.suffix == ".png") + "\n"
    paths["summary"].write_text(text, encoding="utf-8")
    (out / "report.json").write_text(json.dumps({k: str(v) for k, v in paths.items()}, indent=1))
    return paths
