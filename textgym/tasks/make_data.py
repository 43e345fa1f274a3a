"""Write the shipped prompt sets: ``python -m textgym.tasks.make_data [--seed 0] [--only NAME]``.

Every task with shipped data has a seeded ``generate_prompt_set(seed)`` in its module
returning ``{"train": [...], "eval": [...]}``; this script checks that the splits are
non-empty and disjoint and writes ``textgym/tasks/data/<name>.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json

from textgym.tasks.data import DATA_DIR

#: prompt-set name -> module with ``generate_prompt_set(seed)``
GENERATORS = {
    name: f"textgym.tasks.{name}"
    for name in (
        "sentiment",
        "keywords",
        "coherence",
        "translate",
        "qa",
        "dialogue",
        "copy",
        "reverse",
        "arithmetic",
        "length",
    )
}


def record_key(record) -> str:
    return record if isinstance(record, str) else record["text"]


def write_prompt_set(name: str, seed: int = 0) -> dict:
    prompt_set = importlib.import_module(GENERATORS[name]).generate_prompt_set(seed)
    train, evaluation = prompt_set["train"], prompt_set["eval"]
    if not train or not evaluation:
        raise ValueError(f"prompt set {name!r}: empty split")
    overlap = {record_key(r) for r in train} & {record_key(r) for r in evaluation}
    if overlap:
        raise ValueError(
            f"prompt set {name!r}: train and eval share {len(overlap)} prompts, e.g. {sorted(overlap)[:3]}"
        )
    path = DATA_DIR / f"{name}.json"
    path.write_text(
        json.dumps({"train": train, "eval": evaluation}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{path}: {len(train)} train, {len(evaluation)} eval")
    return prompt_set


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(GENERATORS), help="write one prompt set")
    args = parser.parse_args(argv)
    for name in [args.only] if args.only else GENERATORS:
        write_prompt_set(name, args.seed)


if __name__ == "__main__":
    main()
