"""Benchmark results: ``results.csv``, ``summary.md`` and PNG plots, from the run folders of a suite."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from agents.bench import stats
from agents.run import RunConfig

RESULT_COLUMNS = ["agent", "env_id", "reward_mode", "seed", "env_steps", "eval_return", "wall_seconds"]


def collect(runs: list[RunConfig]) -> list[dict]:
    """One row per run per evaluation."""
    rows = []
    for run in runs:
        with (Path(run.out) / "metrics.csv").open(newline="") as f:
            for metric in csv.DictReader(f):
                rows.append({"agent": run.agent, "env_id": run.env_id, "reward_mode": run.reward_mode, "seed": run.seed,
                             "env_steps": int(float(metric["env_steps"])), "eval_return": float(metric["eval_return"]),
                             "wall_seconds": float(metric["wall_seconds"])})
    return rows


def write_results_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


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


def _fmt(point: float, low: float, high: float) -> str:
    def one(v):
        return "∞" if v == float("inf") else f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"

    return f"{one(point)} [{one(low)}, {one(high)}]"


def summarize(rows: list[dict], suite_name: str, command: str) -> str:
    curves = _curves(rows)
    finals: dict[tuple, list[float]] = {key: [seq[-1][1] for seq in seeds.values()] for key, seeds in curves.items()}
    envs = sorted({k[0] for k in curves})
    agents = sorted({k[1] for k in curves})
    modes = sorted({k[2] for k in curves})
    lines = [f"# Benchmark: suite `{suite_name}`", "", f"Reproduce: `{command}`", "",
             "Final eval return (the mean task score over the eval split = the sparse return, in both reward modes): "
             "IQM over seeds with a 95% stratified-bootstrap CI.", "",
             "## Final return per task", "", "| task | agent | reward | seeds | IQM final return [95% CI] | mean wall s |", "|---|---|---|---|---|---|"]
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
                lines.append(f"| {env} | {agent} | {mode} | {len(finals[key])} | {_fmt(*ci)} | {wall:.1f} |")
    lines += ["", "## Overall (scores normalised to [0, 1] by each task's score range)", "",
              "| agent | reward | IQM normalised final return [95% CI] |", "|---|---|---|"]
    normalised = {}
    for key, values in finals.items():
        low, high = _score_range(key[0])
        normalised[key] = [(v - low) / (high - low) for v in values]
    for agent in agents:
        for mode in modes:
            by_task = {env: normalised[(env, agent, mode)] for env in envs if (env, agent, mode) in normalised}
            if by_task:
                lines.append(f"| {agent} | {mode} | {_fmt(*stats.stratified_bootstrap_ci(by_task, stats.pooled_iqm))} |")
    if {"dense", "sparse"} <= set(modes):
        lines += ["", "## Does the instant (dense) reward help? P(dense > sparse)", "",
                  "The probability that a dense run beats a sparse run of the same agent on the same task (0.5 = no difference).", "",
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
    lines += ["", "## Sample efficiency", "",
              "Env steps until the eval return first reaches the task's threshold: 80% of the way from the mean initial "
              "return to the best final return of any agent on that task (∞: not reached within the budget). IQM over seeds [95% CI].", "",
              "| task | threshold | agent | reward | reached | IQM env steps [95% CI] |", "|---|---|---|---|---|---|"]
    for env in envs:
        keys = [k for k in curves if k[0] == env]
        initial = float(np.mean([seq[0][1] for k in keys for seq in curves[k].values()]))
        best = max(stats.iqm(finals[k]) for k in keys)
        threshold = initial + 0.8 * (best - initial)
        for key in sorted(keys):
            steps = [stats.steps_to_threshold([s for s, _ in seq], [r for _, r in seq], threshold) for seq in curves[key].values()]
            reached = sum(math.isfinite(s) for s in steps)
            ci = stats.stratified_bootstrap_ci({env: steps}, stats.pooled_iqm)
            lines.append(f"| {env} | {threshold:.3f} | {key[1]} | {key[2]} | {reached}/{len(steps)} | {_fmt(*ci)} |")
    return "\n".join(lines) + "\n"


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


def write_report(runs: list[RunConfig], out: Path, suite_name: str, command: str, heatmap: bool = True) -> dict[str, Path]:
    rows = collect(runs)
    paths = {"results": out / "results.csv", "summary": out / "summary.md", "curves": out / "learning_curves.png",
             "aggregate": out / "aggregate_iqm.png"}
    write_results_csv(rows, paths["results"])
    text = summarize(rows, suite_name, command)
    plot_learning_curves(rows, paths["curves"])
    plot_aggregate(rows, paths["aggregate"])
    if heatmap:
        paths["heatmap"] = out / "token_rewards.png"
        plot_token_rewards(sample_generations(runs), paths["heatmap"])
    text += "\n## Plots\n\n" + "\n".join(f"![{name}]({p.name})" for name, p in paths.items() if p.suffix == ".png") + "\n"
    paths["summary"].write_text(text, encoding="utf-8")
    (out / "report.json").write_text(json.dumps({k: str(v) for k, v in paths.items()}, indent=1))
    return paths
