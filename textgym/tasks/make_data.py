"""Write the shipped prompt sets: ``python -m textgym.tasks.make_data [--seed 0] [--only NAME]``.

- v0: every task with shipped data has a seeded ``generate_prompt_set(seed)`` in its module returning
  ``{"train": [...], "eval": [...]}``, written to ``textgym/tasks/data/<name>.json``;
- v1: the seeded world (:class:`textgym.world.World`) makes the prompt sets of the language tasks it teaches,
  written to ``textgym/tasks/data/v1/<task>.json`` (``--world-seed``, 0 by default);
- v2: the same world's focused sets of Keywords and Translate (``focused_records``: a fifth of their vocabularies),
  written to ``textgym/tasks/data/v2/<task>.json``; the other v2 tasks read their v1 sets.

Every set is checked (splits non-empty and disjoint) before it is written.
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
    return write_records(name, prompt_set)


def write_world_prompt_sets(world_seed: int = 0) -> dict[str, dict]:
    """Every v1 prompt set the world makes, written under ``data/v1/``."""
    from textgym.tasks.versions import WORLD_PROMPT_SETS
    from textgym.world import World

    world = World(world_seed)
    (DATA_DIR / WORLD_PROMPT_SETS).mkdir(exist_ok=True)
    return {
        section.task: write_records(f"{WORLD_PROMPT_SETS}/{section.task}", section.prompt_records())
        for section in world.sections.values()
    }


def write_focused_prompt_sets(world_seed: int = 0) -> dict[str, dict]:
    """The v2 prompt sets (the world's focused Keywords and Translate sets), written under ``data/v2/``."""
    from textgym.tasks.versions import FOCUSED_PROMPT_SETS
    from textgym.world import World

    world = World(world_seed)
    (DATA_DIR / FOCUSED_PROMPT_SETS).mkdir(exist_ok=True)
    return {
        section.task: write_records(f"{FOCUSED_PROMPT_SETS}/{section.task}", section.focused_records())
        for section in (world.sections["concepts"], world.sections["glossa"])
    }


def write_records(name: str, prompt_set: dict) -> dict:
    """Check ``prompt_set``'s splits and write them to ``data/<name>.json``."""
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
    parser.add_argument("--only", choices=sorted(GENERATORS), help="write one v0 prompt set (and no v1 or v2 set)")
    parser.add_argument("--world-seed", type=int, default=0, help="the seed of the world the v1 sets come from")
    args = parser.parse_args(argv)
    for name in [args.only] if args.only else GENERATORS:
        write_prompt_set(name, args.seed)
    if not args.only:
        write_world_prompt_sets(args.world_seed)
        write_focused_prompt_sets(args.world_seed)


if __name__ == "__main__":
    main()
