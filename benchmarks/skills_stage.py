"""Does the bundled model lack Keywords' and Translate's skills for want of data, and does RL learn them once it has
a foothold? A short continued-pretraining stage of ``tiny-v1`` on chosen sections of the world, its greedy eval scores
on the -v1 language tasks, and lm-ppo runs on it::

    python benchmarks/skills_stage.py --sections concepts glossa --save-at 50 100 200 600 --out runs/skills/cg
    python benchmarks/skills_stage.py --sections world concepts glossa --save-at 200 400 --out runs/skills/mix \\
        --probe-csv benchmarks/results/skills_stage_probe_mix.csv
    python benchmarks/skills_stage.py --sections concepts glossa --save-at 200 --out runs/skills/cg \\
        --rl-ids textgym/Keywords-v1 textgym/Translate-v1 --rl-csv benchmarks/results/skills_stage_lm_ppo.csv

The stage continues ``tiny-v1``'s training (AdamW, learning rate 1e-3 constant, weight decay 0.01, gradient clipping
1, 32 blocks of 128 tokens a step, one CPU thread, torch seed ``--seed``) on 20,000 documents of each named section
of :class:`textgym.world.World` (seed 0), each section's drawn with ``random.Random(section name)``; ``world`` names
the whole mixed corpus (40,000 documents drawn with ``draw_seed=7``, another draw than ``tiny-v1``'s), to replay
what the other tasks need. The candidate saved after ``k`` steps is ``OUT{k}``. Each candidate is probed like
``benchmarks/model_probe.py`` (greedy eval score, normalised by the shipped calibration) and written to
``--probe-csv``. With ``--rl-ids``, ``--rl-agent`` (lm-ppo by default; dense, default hyper-parameters unless
``--set``) trains on each id with the last candidate as the env's and the policy's model (``--rl-steps``, seed
``--rl-seed``, evaluated every ``--rl-eval-every``); every evaluation goes to ``--rl-csv``. Runs and candidates
already in their folders are read back, not redone. Nothing here changes a shipped model.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402
from learnability import LANGUAGE_V1  # noqa: E402
from model_probe import probe as model_probe  # noqa: E402

BASE = ROOT / "textgym" / "models" / "tiny-v1"


def stage(sections: list[str], save_at: list[int], out: str, seed: int) -> list[Path]:
    """Continue ``tiny-v1``'s training on ``sections``; the candidates saved after each of ``save_at`` steps
    (:func:`textgym.models.train_skills.continue_training`, which makes the shipped ``tiny-v2``)."""
    from textgym.models.train_skills import continue_training

    folders = {k: Path(f"{out}{k}") for k in save_at}
    if not all((f / "model.safetensors").is_file() for f in folders.values()):
        continue_training(BASE, sections, folders, seed)
    return list(folders.values())


def probe(folders: list[Path], ids: list[str]) -> list[dict]:
    """Each candidate's greedy eval score on each id, normalised by the shipped calibration
    (:func:`model_probe.probe`)."""
    rows = []
    for folder in folders:
        for r in model_probe(str(folder), ids):
            rows.append({"candidate": folder.name, "env_id": r["env_id"], "greedy": r["greedy"],
                         "normalised": r["normalised"], "shipped_greedy": r["shipped_greedy"],
                         "shipped_normalised": r["shipped_normalised"]})
            print(f"| {folder.name} | `{r['env_id']}` | {r['shipped_greedy']:.3f} | {r['shipped_normalised']:.2f} | "
                  f"{r['greedy']:.3f} | {r['normalised']:.2f} |", flush=True)
    return rows


def rl_runs(candidate: Path, ids: list[str], steps: int, seed: int, eval_every: int,
            hyperparameters: dict, agent: str = "lm-ppo") -> list[dict]:
    """``agent`` on each id with ``candidate`` as the model: every evaluation, with its normalised score."""
    from textgym.calibration import calibration_for
    from textgym_agents.api import LEARNERS

    settings = "".join(f"__{name}={value}" for name, value in sorted(hyperparameters.items()))
    rows = []
    for env_id in ids:
        folder = candidate.parent / f"{agent}__{candidate.name}__{env_id.split('/')[1]}__seed{seed}__{steps}{settings}"
        if not (folder / "summary.json").is_file():
            LEARNERS[agent](env_id, out=str(folder), reward_mode="dense", seed=seed, eval_every=eval_every,
                            env_kwargs={"model": str(candidate)}, **hyperparameters).learn(total_env_steps=steps)
        calibration = calibration_for(env_id)
        with (folder / "metrics.csv").open() as f:
            for r in csv.DictReader(f):
                score = float(r["eval_return"])
                rows.append({"candidate": candidate.name, "agent": agent, "env_id": env_id, "seed": seed,
                             "settings": settings.strip("_") or "default", "env_steps": int(float(r["env_steps"])),
                             "eval_return": score, "normalised": calibration.normalised(score)})
        mine = [r for r in rows if r["env_id"] == env_id]
        first, last = mine[0], mine[-1]
        print(f"{agent} on {candidate.name}, {env_id}: {first['eval_return']:.3f} -> {last['eval_return']:.3f} "
              f"(normalised gain {last['normalised'] - first['normalised']:+.2f})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["concepts", "glossa"],
                        help="world sections to continue on (world: the whole mixed corpus)")
    parser.add_argument("--save-at", nargs="+", type=int, default=[200])
    parser.add_argument("--out", default="runs/skills/cg", help="candidate folders are OUT<steps>")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ids", nargs="*", default=LANGUAGE_V1, help="ids to probe")
    parser.add_argument("--probe-csv", type=Path, default=ROOT / "benchmarks" / "results" / "skills_stage_probe.csv")
    parser.add_argument("--rl-ids", nargs="*", default=[])
    parser.add_argument("--rl-agent", default="lm-ppo", help="the agent trained on the candidate")
    parser.add_argument("--rl-steps", type=int, default=16384)
    parser.add_argument("--rl-seed", type=int, default=100)
    parser.add_argument("--rl-eval-every", type=int, default=4096)
    parser.add_argument("--rl-csv", type=Path, default=ROOT / "benchmarks" / "results" / "skills_stage_lm_ppo.csv")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyper-parameter of --rl-agent other than its default (repeatable)")
    args = parser.parse_args(argv)
    from textgym.world import SECTIONS
    from textgym_agents.run import RunConfigError
    from textgym_agents.train import parse_hyperparameters

    unknown = [s for s in args.sections if s != "world" and s not in SECTIONS]
    if unknown:
        raise SystemExit(f"--sections: unknown {unknown}; allowed: world, {', '.join(SECTIONS)}")
    if args.rl_ids and args.rl_seed < 100:
        raise SystemExit(f"--rl-seed {args.rl_seed}: use seeds >= 100, which no suite reports")
    try:
        hyperparameters = parse_hyperparameters(args.rl_agent, args.set)
    except RunConfigError as error:
        raise SystemExit(str(error)) from None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    folders = stage(args.sections, sorted(args.save_at), args.out, args.seed)
    if args.ids:
        print("| candidate | id | shipped greedy | normalised | candidate greedy | normalised |")
        print("|---|---|---|---|---|---|")
        write_csv(args.probe_csv, probe(folders, args.ids))
    if args.rl_ids:
        write_csv(args.rl_csv, rl_runs(folders[-1], args.rl_ids, args.rl_steps, args.rl_seed, args.rl_eval_every,
                                       hyperparameters, args.rl_agent))


if __name__ == "__main__":
    main()
