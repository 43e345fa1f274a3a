"""Does what lm-ppo learns on a task's train prompts carry over to its eval prompts? Three probes on the skills-stage
candidate ``mix800`` (``benchmarks/skills_stage.py --sections world concepts glossa --save-at 800 --out
runs/skills/mix``), whose greedy eval scores lie in the band on all seven -v1 language tasks::

    python benchmarks/train_split_transfer.py [--model runs/skills/mix800] [--out runs/split_transfer]
                                              [--seeds 100] [--arms ARM:TASK ...]
                                              [--csv benchmarks/results/train_split_transfer.csv]
                                              [--greedy-csv benchmarks/results/train_split_transfer_greedy.csv]

Each arm is lm-ppo (dense, default hyper-parameters, 16 envs, seeds ``--seeds``) on the id's model replaced by
``--model``; it differs from the others only in the prompts it trains and is evaluated on:

- ``shipped``: the shipped -v1 train split (its prompts, or their answers, appear in the corpus in the task's own
  form) and the shipped eval split; Keywords-v1 and Translate-v1, 65,536 steps.
- ``fresh``: 4,000 train prompts drawn from the world's generators (seeded), none of them a shipped train or eval
  prompt (Keywords: concept sets from :meth:`ConceptsSection.fresh_set`; Translate: clauses of
  :func:`textgym.tasks.translate.random_clause`), evaluated on the shipped eval split; 65,536 steps.
- ``qa_eval_halves``: QA-v1 trained on one half of the eval facts (prose-only facts, like every eval fact: the
  corpus never asks about them) and evaluated on the other half; a fact's questions (a capital's two) stay on one
  side. 16,384 steps, evaluated every 2,048.
- ``small_vocabulary``: Keywords over 22 concept words only (the first 14 nouns and 8 verbs of its lists), 2,000
  train sets and 100 eval sets drawn from them (disjoint): does lm-ppo learn the words faster when each comes up
  five times as often? And Translate over a fifth of Glossa's lexicon (46 of 232 content words; 2,000 train and 100
  eval sentences). 65,536 steps; its eval split is its own, so compare its start with its end only.

The prompt files are written under ``--out`` from fixed seeds, so a rerun makes the same files and the same runs.
Runs already finished in ``--out`` are read back, not rerun; ``--arms`` limits which are trained. ``--csv`` gets every
evaluation of every finished run; ``--greedy-csv`` gets the greedy mean score of the candidate and of each
``shipped`` arm's final policy on the first 300 train prompts and on the eval prompts (seed 100; each split scored the
same way for both models); ``--qa-csv`` gets the candidate's and the ``qa_eval_halves`` run's greedy answers to
the eval half's questions.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402

FRESH_PROMPTS = 4_000
#: the seed of each task's fresh train prompts
FRESH_SEEDS = {"keywords": 12_345, "translate": 777}
NUM_ENVS = 16
#: the seed of the greedy train/eval comparison
GREEDY_SEED = 100
GREEDY_TRAIN_PROMPTS = 300
#: (arm, env id, steps, evaluate every)
ARMS = (
    ("shipped", "textgym/Keywords-v1", 65_536, 8_192),
    ("shipped", "textgym/Translate-v1", 65_536, 8_192),
    ("fresh", "textgym/Keywords-v1", 65_536, 8_192),
    ("fresh", "textgym/Translate-v1", 65_536, 8_192),
    ("qa_eval_halves", "textgym/QA-v1", 16_384, 2_048),
    ("small_vocabulary", "textgym/Keywords-v1", 65_536, 8_192),
    ("small_vocabulary", "textgym/Translate-v1", 65_536, 8_192),
)


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def _shipped(name: str) -> dict[str, list[dict]]:
    return json.loads((ROOT / "textgym" / "tasks" / "data" / "v1" / f"{name}.json").read_text())


def keywords_fresh(folder: Path) -> tuple[Path, Path]:
    """4,000 concept sets that are neither shipped train nor eval sets, and the shipped eval split, as prompt files."""
    from textgym.tasks.keywords import PROMPT_TEMPLATES
    from textgym.world import World

    concepts = World(0).sections["concepts"]
    taken = {frozenset(s) for s in concepts.train_sets}
    rng, seen, rows = random.Random(FRESH_SEEDS["keywords"]), set(), []
    while len(rows) < FRESH_PROMPTS:
        words = concepts.fresh_set(rng)  # never an eval set
        key = frozenset(words)
        if key in taken or key in seen:
            continue
        seen.add(key)
        rows.append({"prompt": rng.choice(PROMPT_TEMPLATES).format(concepts=", ".join(words)),
                     "concepts": list(words)})
    evals = [{"prompt": r["text"], "concepts": r["data"]["concepts"]} for r in _shipped("keywords")["eval"]]
    return _write_jsonl(folder / "keywords_fresh_train.jsonl", rows), _write_jsonl(folder / "keywords_eval.jsonl",
                                                                                   evals)


def keywords_small_vocabulary(folder: Path) -> tuple[Path, Path]:
    """Keywords over 22 concept words only: the world's focused set, Keywords-v2's prompts
    (:meth:`textgym.world.concepts.ConceptsSection.focused_records`), as prompt files."""
    from textgym.world import World

    records = World(0).sections["concepts"].focused_records()
    rows = {split: [{"prompt": r["text"], "concepts": r["data"]["concepts"]} for r in records[split]]
            for split in ("train", "eval")}
    return (_write_jsonl(folder / "keywords_small_train.jsonl", rows["train"]),
            _write_jsonl(folder / "keywords_small_eval.jsonl", rows["eval"]))


def translate_fresh(folder: Path) -> tuple[Path, Path]:
    """4,000 English clauses that are no shipped train or eval sentence, and the shipped eval split."""
    from textgym.tasks.translate import PROMPT_TEMPLATE, random_clause

    shipped = _shipped("translate")
    taken = {r["data"]["english"] for records in shipped.values() for r in records}
    rng, rows = random.Random(FRESH_SEEDS["translate"]), {}
    while len(rows) < FRESH_PROMPTS:
        clause = random_clause(rng)
        english = clause.english()
        if english not in taken and english not in rows:
            rows[english] = {"prompt": PROMPT_TEMPLATE.format(english=english), "target": clause.glossa(),
                             "english": english}
    evals = [{"prompt": r["text"], "target": r["target"], **r["data"]} for r in shipped["eval"]]
    return (_write_jsonl(folder / "translate_fresh_train.jsonl", list(rows.values())),
            _write_jsonl(folder / "translate_eval.jsonl", evals))


def translate_small_vocabulary(folder: Path) -> tuple[Path, Path]:
    """Translate over a fifth of Glossa's lexicon (46 of its 232 content words): the world's focused set,
    Translate-v2's prompts (:meth:`textgym.world.glossa.GlossaSection.focused_records`), as prompt files."""
    from textgym.world import World

    records = World(0).sections["glossa"].focused_records()
    rows = {split: [{"prompt": r["text"], "target": r["target"], "english": r["data"]["english"]}
                    for r in records[split]] for split in ("train", "eval")}
    return (_write_jsonl(folder / "translate_small_train.jsonl", rows["train"]),
            _write_jsonl(folder / "translate_small_eval.jsonl", rows["eval"]))


def qa_eval_halves(folder: Path) -> tuple[Path, Path]:
    """The shipped QA eval questions in two halves by fact (alternate facts, in the shipped order of their first
    question); a question whose answer another question names is the same fact."""
    evals = _shipped("qa")["eval"]
    parent = list(range(len(evals)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(evals)), 2):
        if evals[i]["target"] in evals[j]["text"] or evals[j]["target"] in evals[i]["text"]:
            parent[root(i)] = root(j)
    facts: dict[int, list[int]] = {}
    for i in range(len(evals)):
        facts.setdefault(root(i), []).append(i)
    ordered = sorted(facts.values())
    halves = [[evals[i] for fact in ordered[side::2] for i in fact] for side in (0, 1)]
    rows = [[{"prompt": r["text"], "target": r["target"], **r["data"]} for r in half] for half in halves]
    return _write_jsonl(folder / "qa_eval_half_a.jsonl", rows[0]), _write_jsonl(folder / "qa_eval_half_b.jsonl",
                                                                                rows[1])


PROMPT_FILES = {("fresh", "textgym/Keywords-v1"): keywords_fresh, ("fresh", "textgym/Translate-v1"): translate_fresh,
                ("qa_eval_halves", "textgym/QA-v1"): qa_eval_halves,
                ("small_vocabulary", "textgym/Keywords-v1"): keywords_small_vocabulary,
                ("small_vocabulary", "textgym/Translate-v1"): translate_small_vocabulary}


def run_arm(arm: str, env_id: str, steps: int, every: int, model: str, out: Path, seed: int, train: bool) -> Path:
    """lm-ppo on ``env_id`` with ``model`` and the arm's prompts; its folder (read back when finished; trained here
    only when ``train``)."""
    from textgym_agents.api import LEARNERS

    folder = out / f"{arm}__{env_id.split('/')[1]}__seed{seed}__{steps}"
    env_kwargs: dict = {"model": model}
    if (arm, env_id) in PROMPT_FILES:
        train_file, eval_file = PROMPT_FILES[arm, env_id](out / "prompts")
        env_kwargs["task_kwargs"] = {"prompts": {"train": str(train_file), "eval": str(eval_file)}}
    if train and not (folder / "summary.json").is_file():
        LEARNERS["lm-ppo"](env_id, out=str(folder), reward_mode="dense", seed=seed, eval_every=every,
                           num_envs=NUM_ENVS, env_kwargs=env_kwargs).learn(total_env_steps=steps)
    return folder


def greedy_scores(env_id: str, models: dict[str, str]) -> list[dict]:
    """Each model's greedy mean score on the first train prompts and on the eval prompts of ``env_id``."""
    import gymnasium as gym

    import textgym  # noqa: F401
    from textgym.calibration import _lm_policy
    from textgym.evaluation import evaluate_episodes

    env = gym.make(env_id)
    task = env.unwrapped.task
    env.close()
    splits = {"train": task.prompts("train")[:GREEDY_TRAIN_PROMPTS], "eval": task.prompts("eval")}
    rows = []
    for label, model in models.items():
        policy = _lm_policy(model, "cpu", greedy=True, seed=0)
        for split, prompts in splits.items():
            scoring = type(task)(prompts={"train": prompts, "eval": prompts})
            score = evaluate_episodes(policy, env_id, {"task": scoring, "model": model}, "cpu",
                                      batch_size=len(prompts), naturalness=False).mean
            rows.append({"env_id": env_id, "seed": GREEDY_SEED, "model": label, "split": split, "prompts": len(prompts),
                         "greedy": score})
            print(f"{env_id} {label} {split} ({len(prompts)} prompts): greedy {score:.3f}", flush=True)
    return rows


def qa_answers(models: dict[str, str], out: Path) -> list[dict]:
    """Each model's greedy answer (``generate``, up to 16 tokens, cut at the first newline) to every question of the
    ``qa_eval_halves`` arm's eval half, whether it is right, and whether it is an answer of the train half."""
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2LMHeadModel

    train, evals = (_read_jsonl(path) for path in qa_eval_halves(out / "prompts"))
    train_answers = {a.lower() for r in train for a in r["answers"]}
    rows = []
    for label, model in models.items():
        lm = GPT2LMHeadModel.from_pretrained(model).eval()
        tokenizer = Tokenizer.from_file(str(Path(model) / "tokenizer.json"))
        bos = lm.config.bos_token_id
        for r in evals:
            ids = [bos, *tokenizer.encode(r["prompt"]).ids]
            with torch.no_grad():
                made = lm.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False,
                                   pad_token_id=lm.config.pad_token_id)
            answer = tokenizer.decode(made[0, len(ids):].tolist()).split("\n")[0].strip()
            rows.append({"model": label, "question": r["prompt"], "answer": answer,
                         "right": answer.lower() in {a.lower() for a in r["answers"]},
                         "a_train_answer": answer.lower() in train_answers})
        mine = [row for row in rows if row["model"] == label]
        print(f"QA eval half, {label}: {sum(row['right'] for row in mine)} of {len(mine)} right, "
              f"{sum(row['a_train_answer'] for row in mine)} answered with a train-half answer", flush=True)
    return rows


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/skills/mix800")
    parser.add_argument("--out", type=Path, default=Path("runs/split_transfer"))
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "train_split_transfer.csv")
    parser.add_argument("--greedy-csv", type=Path,
                        default=ROOT / "benchmarks" / "results" / "train_split_transfer_greedy.csv")
    parser.add_argument("--qa-csv", type=Path,
                        default=ROOT / "benchmarks" / "results" / "train_split_transfer_qa_answers.csv")
    parser.add_argument("--seeds", nargs="+", type=int, default=[100], help="lm-ppo seeds (>= 100, no suite's)")
    parser.add_argument("--arms", nargs="*", default=[],
                        help="train only these ARM:TASK pairs (e.g. fresh:Translate-v1); the others are read back "
                             "where finished")
    args = parser.parse_args(argv)
    if min(args.seeds) < 100:
        raise SystemExit(f"--seeds {args.seeds}: use seeds >= 100, which no suite reports")
    if not (Path(args.model) / "model.safetensors").is_file():
        raise SystemExit(f"--model {args.model}: no model.safetensors there; make it with benchmarks/skills_stage.py "
                         "--sections world concepts glossa --save-at 800 --out runs/skills/mix")
    from textgym.calibration import calibration_for

    rows, greedy = [], []
    for (arm, env_id, steps, every), seed in itertools.product(ARMS, args.seeds):
        selected = not args.arms or f"{arm}:{env_id.split('/')[1]}" in args.arms
        folder = run_arm(arm, env_id, steps, every, args.model, args.out, seed, train=selected)
        if not (folder / "summary.json").is_file():
            continue
        calibration = calibration_for(env_id)
        with (folder / "metrics.csv").open() as f:
            evals = [(int(float(r["env_steps"])), float(r["eval_return"])) for r in csv.DictReader(f)]
        for env_steps, score in evals:
            rows.append({"arm": arm, "env_id": env_id, "seed": seed, "env_steps": env_steps, "eval_return": score,
                         "normalised": calibration.normalised(score)})
        print(f"{arm} {env_id} seed {seed}: eval {evals[0][1]:.3f} -> {evals[-1][1]:.3f} "
              f"(normalised gain {calibration.normalised(evals[-1][1]) - calibration.normalised(evals[0][1]):+.3f})",
              flush=True)
        if arm == "shipped" and seed == GREEDY_SEED:
            greedy += greedy_scores(env_id, {"candidate": args.model, "after lm-ppo": str(folder / "policy")})
    write_csv(args.csv, rows)
    if greedy:  # only when a shipped arm of the greedy seed is among the finished runs
        write_csv(args.greedy_csv, greedy)
    qa_run = args.out / f"qa_eval_halves__QA-v1__seed{GREEDY_SEED}__16384"
    if (qa_run / "summary.json").is_file():
        write_csv(args.qa_csv, qa_answers({"candidate": args.model, "after lm-ppo": str(qa_run / "policy")}, args.out))


if __name__ == "__main__":
    main()
