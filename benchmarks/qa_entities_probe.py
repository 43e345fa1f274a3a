"""Can RL on some people's questions raise a model's answers about other people? A probe for a QA world of many
entities, where no answer is frequent::

    OMP_NUM_THREADS=1 python benchmarks/qa_entities_probe.py [--people 600] [--steps 800] [--rl-steps 12288]
        [--eval-every 2048] [--seeds 100 101] [--parallel 2] [--out runs/qa_entities]
        [--csv benchmarks/results/qa_entities_probe.csv] [--greedy-csv benchmarks/results/qa_entities_probe_greedy.csv]

QA-v2 asks about some 390 real-world facts over 10 relations; lm-ppo on its train questions shifts the answers to
frequent ones (a continent, a currency) and loses eval facts the model knew. This probe builds a separate small
world of ``--people`` invented people, each with a home town (one of 60 invented towns) and a job (one of 40), so
that no answer belongs to more than a few percent of the questions, and splits the people (seeded) into three
disjoint groups:

- **demo** (40%): their facts are stated in prose and also as question-answer lines in the task's own form
  (``"Q: Where does <name> live? A: <town>"``), which teaches the answer format;
- **train** (30%): stated in prose only; their questions are the RL train split;
- **eval** (30%): stated in prose only; their questions are the eval split.

The model is ``tiny-v2`` continued for ``--steps`` steps (:func:`textgym.models.train_skills.continue_training_on`,
torch seed 0) on 40,000 prose documents (one to three people, each fact in one of several paraphrases) and 15,000
question-answer documents about demo people. Then lm-ppo (dense, 16 envs) runs on textgym/QA-v2 for ``--rl-steps``
env steps on each seed, in each of two worlds (:data:`WORLDS`: these people with that model, or the shipped QA-v2
with its own model and prompts) and three arms (:data:`ARMS`: lm-ppo's defaults and two gentler updates), with the
task's own score (the best token F1 / exact match over the answers). Finished runs in ``--out`` are not rerun.
``--csv`` holds every evaluation of every run; ``--greedy-csv`` the stage model's greedy score on each group's
questions before RL. Nothing here is shipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from csv_rows import write_csv  # noqa: E402

SYLLABLES = ("ka", "lo", "mi", "ren", "tas", "vel", "dor", "ni", "sa", "bru", "fen", "gal", "hol", "ib", "jor",
             "ke", "lun", "mar", "nor", "op", "pel", "quin", "ros", "sel", "tor", "ul", "var", "wen", "yad", "zel")
TOWN_ENDINGS = ("moor", "ford", "wick", "dale", "haven", "stead", "brook", "field", "mere", "holt")
JOBS = ("baker", "sailor", "farmer", "weaver", "painter", "doctor", "teacher", "miner", "potter", "singer",
        "tailor", "carpenter", "fisher", "hunter", "builder", "cook", "driver", "gardener", "guard", "judge",
        "knight", "lawyer", "merchant", "nurse", "pilot", "poet", "priest", "scribe", "smith", "soldier",
        "trader", "writer", "barber", "butcher", "clerk", "dancer", "jeweler", "mason", "shepherd", "brewer")
TOWNS_COUNT = 60

TOWN_PROSE = ("{name} lives in {town}.", "{name}'s home is the town of {town}.", "In {town} lives {name}.",
              "{name} has a house in {town}.", "The town of {town} is where {name} lives.")
JOB_PROSE = ("{name} works as a {job}.", "By trade, {name} is a {job}.", "{name} earns a living as a {job}.",
             "The {job} {name} is well known.", "{name} is a {job}.")
BOTH_PROSE = ("{name} is a {job} from {town}.", "{name}, a {job}, lives in {town}.")
#: where the RL runs happen: the probe's own people, or the shipped QA-v2 (its model and prompts)
WORLDS = ("entities", "qa-v2")
#: lm-ppo's defaults, and two gentler updates: 8 rounds of 16 episodes per update, or the epochs stopped once the
#: approximate KL(old || new) passes 0.02
ARMS = ("default", "rollout_rounds=8", "target_approx_kl=0.02")
TOWN_QUESTION, JOB_QUESTION = "Where does {name} live?", "What is {name}'s job?"
PROMPT = "Q: {question} A:"


def make_people(count: int, seed: int) -> list[dict]:
    """``count`` people with distinct two-word names, a town and a job, and their group (demo / train / eval)."""
    rng = random.Random(seed)
    towns = sorted({(rng.choice(SYLLABLES) + rng.choice(TOWN_ENDINGS)).capitalize() for _ in range(400)})
    towns = rng.sample(towns, TOWNS_COUNT)
    names: set[str] = set()
    while len(names) < count:
        first = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
        last = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
        names.add(f"{first} {last}")
    people = [{"name": name, "town": rng.choice(towns), "job": rng.choice(JOBS)} for name in sorted(names)]
    rng.shuffle(people)
    for i, person in enumerate(people):
        person["group"] = "demo" if i < 0.4 * count else "train" if i < 0.7 * count else "eval"
    return people


def questions(person: dict) -> list[tuple[str, str]]:
    return [(TOWN_QUESTION.format(**person), person["town"]), (JOB_QUESTION.format(**person), person["job"])]


def prose_document(rng: random.Random, people: list[dict]) -> str:
    sentences = []
    for person in rng.sample(people, rng.choice((1, 2, 3))):
        if rng.random() < 0.25:
            sentences.append(rng.choice(BOTH_PROSE).format(**person))
        else:
            facts = [rng.choice(TOWN_PROSE).format(**person), rng.choice(JOB_PROSE).format(**person)]
            rng.shuffle(facts)
            sentences += facts
    return " ".join(sentences)


def qa_document(rng: random.Random, demo: list[dict]) -> str:
    pairs = [pair for person in rng.sample(demo, rng.choice((2, 3, 4))) for pair in questions(person)]
    rng.shuffle(pairs)
    return "".join(PROMPT.format(question=q) + f" {a}\n" for q, a in pairs)


def documents(people: list[dict], seed: int, prose: int = 40_000, qa: int = 15_000) -> list[str]:
    rng = random.Random(seed)
    demo = [p for p in people if p["group"] == "demo"]
    docs = [prose_document(rng, people) for _ in range(prose)] + [qa_document(rng, demo) for _ in range(qa)]
    rng.shuffle(docs)
    return docs


def greedy_scores(model_dir: Path, people: list[dict]) -> dict[str, float]:
    """The model's mean greedy score on each group's questions (``generate``, 16 tokens, cut at the first newline,
    scored by the QA task's ``answer_score``)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2LMHeadModel

    from textgym.tasks.qa import answer_score

    torch.set_num_threads(1)
    lm = GPT2LMHeadModel.from_pretrained(model_dir).eval()
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    scores: dict[str, list[float]] = {}
    for person in people:
        for question, answer in questions(person):
            ids = torch.tensor([tokenizer.encode(PROMPT.format(question=question)).ids])
            with torch.no_grad():
                out = lm.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False,
                                  pad_token_id=lm.config.eos_token_id)
            text = tokenizer.decode(out[0, ids.shape[1]:].tolist()).split("\n")[0]
            scores.setdefault(person["group"], []).append(answer_score(text, [answer]))
    return {group: round(sum(values) / len(values), 4) for group, values in sorted(scores.items())}


def write_prompts(people: list[dict], path: Path) -> None:
    """A JSONL prompts file: the train people's questions as the train split, the eval people's as eval."""
    with path.open("w", encoding="utf-8") as f:
        for person in people:
            split = person["group"]
            if split not in ("train", "eval"):
                continue
            for question, answer in questions(person):
                f.write(json.dumps({"prompt": PROMPT.format(question=question), "target": answer, "split": split,
                                    "question": question, "answers": [answer]}) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--rl-steps", type=int, default=12288)
    parser.add_argument("--eval-every", type=int, default=2048)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--out", type=Path, default=Path("runs/qa_entities"))
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "qa_entities_probe.csv")
    parser.add_argument("--greedy-csv", type=Path,
                        default=ROOT / "benchmarks" / "results" / "qa_entities_probe_greedy.csv")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    people = make_people(args.people, seed=0)
    model = args.out / "model"
    if not (model / "model.safetensors").is_file():
        from textgym.models.train_skills import continue_training_on

        base = ROOT / "textgym" / "models" / "tiny-v2"
        seconds, _ = continue_training_on(base, documents(people, seed=1), {args.steps: model}, seed=0)
        print(f"trained {args.steps} steps in {seconds:.0f}s")
    prompts = args.out / "prompts.jsonl"
    write_prompts(people, prompts)
    before = greedy_scores(model, people)
    counts = {group: sum(p["group"] == group for p in people) for group in before}
    print("greedy before RL:", before)

    runs = [(world, arm, seed) for world in WORLDS for arm in ARMS for seed in args.seeds]
    pending = [run for run in runs if not (run_folder(args.out, *run) / "summary.json").is_file()]
    for start in range(0, len(pending), args.parallel):
        procs = []
        for world, arm, seed in pending[start:start + args.parallel]:
            folder = run_folder(args.out, world, arm, seed)
            env_kwargs = {} if world == "qa-v2" else {"model": str(model), "task_kwargs": {"prompts": str(prompts)}}
            command = ["textgym", "train", "--agent", "lm-ppo", "--env", "textgym/QA-v2", "--reward-mode", "dense",
                       "--steps", str(args.rl_steps), "--seed", str(seed), "--eval-every", str(args.eval_every),
                       "--device", "cpu", "--out", str(folder), "--no-progress", "--env-kwargs", json.dumps(env_kwargs)]
            command += [] if arm == "default" else ["--set", arm]
            with (args.out / f"{folder.name}.log").open("w") as log:
                procs.append((folder, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)))
        for folder, proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"{folder.name} failed: see {args.out / (folder.name + '.log')}")

    rows = []
    for world, arm, seed in runs:
        with (run_folder(args.out, world, arm, seed) / "metrics.csv").open() as f:
            reader = csv.DictReader(f)
            for values in reader:
                rows.append({"world": world, "arm": arm, "seed": seed, "env_steps": int(values["env_steps"]),
                             "eval_return": round(float(values["eval_return"]), 4),
                             "ref_perplexity": round(float(values["ref_perplexity"]), 3)})
    write_csv(args.csv, rows)
    write_csv(args.greedy_csv, [{"model": "entities stage", "group": group, "questions": 2 * counts[group],
                                 "greedy_score": score} for group, score in before.items()])
    for world, arm, seed in runs:
        curve = [r["eval_return"] for r in rows if (r["world"], r["arm"], r["seed"]) == (world, arm, seed)]
        print(f"{world} {arm} seed {seed}: eval {curve[0]:.3f} -> {curve[-1]:.3f} ({curve[-1] - curve[0]:+.3f}); "
              f"max {max(curve):.3f}")


def run_folder(out: Path, world: str, arm: str, seed: int) -> Path:
    return out / f"{world}__{arm.replace('=', '_')}__seed{seed}"


if __name__ == "__main__":
    main()
