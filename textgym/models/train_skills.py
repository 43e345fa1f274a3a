"""Continue the world model's pretraining on the skills the prompt-dependent tasks test: ``tiny-v2``.

``tiny-v1`` (``python -m textgym.models.train_tiny --corpus world``) reads the whole world once, but 1,800 steps
leave two of its skills unlearnt: writing a sentence around given concept words, and translating into Glossa.
This stage continues its training on a mix that states them more often, replaying the rest of the world beside
them so that nothing else is forgotten::

    python -m textgym.models.train_skills [--base DIR] [--out DIR] [--steps 800] [--seed 0]

The defaults produce the shipped ``textgym/models/tiny-v2`` (the v2 tasks' model) from the shipped ``tiny-v1``.
Steps:

1. the documents: 40,000 of the whole world corpus (:meth:`textgym.world.World.documents`, world seed 0,
   ``draw_seed=7``: another draw than ``tiny-v1``'s), and 20,000 each of the ``concepts`` and ``glossa`` sections
   (each drawn with ``random.Random(section name)``), shuffled with ``random.Random(0)`` and packed like
   ``tiny-v1``'s (``<|endoftext|>`` between documents, 128-token blocks), with ``tiny-v1``'s tokenizer;
2. ``--steps`` AdamW steps (learning rate 1e-3 constant, weight decay 0.01, gradient clipping 1) on 32 blocks a
   step drawn at random (torch seed ``--seed``), on one CPU thread, so that the result is the same bytes on any
   CPU machine with the same library versions;
3. held-out perplexity of the base and of the new model on the world documents ``tiny-v1`` held out (seed 1000);
4. save model, tokenizer and ``training_info.json`` to ``--out``.

About 20 minutes on one core (``train_seconds`` in ``training_info.json``).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import tokenizers
import torch
import transformers
from tokenizers import Tokenizer
from transformers import GPT2LMHeadModel

from textgym.models.train_tiny import (
    BLOCK_SIZE,
    DEFAULT_DOCS,
    HELDOUT_DOCS,
    HELDOUT_SEED_OFFSET,
    evaluate_perplexity,
    folder_size,
    pack_blocks,
)

MODELS = Path(__file__).parent
DEFAULT_BASE, DEFAULT_OUT = MODELS / "tiny-v1", MODELS / "tiny-v2"
#: the sections taught more often, their documents each, and the replayed world documents with their draw seed
SKILL_SECTIONS = ("concepts", "glossa")
DOCS_PER_SECTION, REPLAY_DOCS, REPLAY_DRAW_SEED = 20_000, 40_000, 7
LEARNING_RATE, WEIGHT_DECAY, BATCH_SIZE, GRAD_CLIP = 1e-3, 0.01, 32, 1.0
DEFAULT_STEPS = 800
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "generation_config.json")
LOG_EVERY = 50


def stage_documents(sections: Sequence[str], world_seed: int = 0) -> list[str]:
    """The stage's documents, shuffled: ``"world"`` names :data:`REPLAY_DOCS` of the whole corpus, any other name
    :data:`DOCS_PER_SECTION` of that section of :class:`textgym.world.World`."""
    from textgym.world import SECTIONS, World

    unknown = [s for s in sections if s != "world" and s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown world sections {unknown}; allowed: world, {', '.join(SECTIONS)}")
    world, docs = World(world_seed), []
    for section in sections:
        if section == "world":
            docs += world.documents(REPLAY_DOCS, draw_seed=REPLAY_DRAW_SEED)
        else:
            docs += world.sections[section].documents(random.Random(section), DOCS_PER_SECTION)
    random.Random(0).shuffle(docs)
    return docs


def continue_training(
    base: Path,
    sections: Sequence[str],
    save: Mapping[int, Path],
    seed: int = 0,
    log=print,
) -> tuple[float, float]:
    """Continue ``base``'s training on ``sections`` (:func:`stage_documents`), saving the model after ``k`` steps
    to ``save[k]``. Returns the seconds spent training and the last step's loss."""
    return continue_training_on(base, stage_documents(sections), save, seed, log)


def continue_training_on(
    base: Path,
    documents: Sequence[str],
    save: Mapping[int, Path],
    seed: int = 0,
    log=print,
) -> tuple[float, float]:
    """Continue ``base``'s training on ``documents`` (packed like ``tiny-v1``'s), with the stage's optimiser
    settings on one thread, saving the model after ``k`` steps to ``save[k]``. Returns the seconds spent training
    and the last step's loss."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel.from_pretrained(base)
    tokenizer = Tokenizer.from_file(str(Path(base) / "tokenizer.json"))
    blocks = pack_blocks(tokenizer, documents)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    model.train()
    start, loss_value = time.time(), float("nan")
    for step in range(max(save)):
        batch = blocks[torch.randint(len(blocks), (BATCH_SIZE,))]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        loss_value = loss.item()
        if step % LOG_EVERY == 0:
            log(f"step {step} loss {loss_value:.4f} {time.time() - start:.0f}s")
        if step + 1 in save:
            folder = Path(save[step + 1])
            model.save_pretrained(folder)
            for name in TOKENIZER_FILES:
                if (Path(base) / name).is_file():
                    shutil.copy(Path(base) / name, folder / name)
    return time.time() - start, loss_value


def heldout_perplexity(model_dir: Path, world_seed: int = 0, seed: int = 0) -> float:
    """Perplexity on the world documents that ``tiny-v1``'s training held out (seed ``seed + 1000``)."""
    from textgym.world import World

    world = World(world_seed)
    train = set(world.documents(DEFAULT_DOCS, draw_seed=seed))
    heldout = [d for d in world.documents(HELDOUT_DOCS, draw_seed=seed + HELDOUT_SEED_OFFSET) if d not in train]
    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    torch.set_num_threads(1)
    return evaluate_perplexity(GPT2LMHeadModel.from_pretrained(model_dir), pack_blocks(tokenizer, heldout))


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the stage; returns the contents of ``training_info.json``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="the model to continue (default: tiny-v1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: the bundled tiny-v2)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps {args.steps}: must be at least 1")
    if not (args.base / "model.safetensors").is_file():
        parser.error(f"--base {args.base}: no model.safetensors there")
    start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - start:7.1f}s] {msg}", flush=True)

    sections = ("world", *SKILL_SECTIONS)
    out = args.out
    train_seconds, loss = continue_training(args.base, sections, {args.steps: out}, args.seed, log)
    base_ppl, ppl = heldout_perplexity(args.base), heldout_perplexity(out)
    log(f"held-out perplexity: {ppl:.3f} (base {base_ppl:.3f})")
    base_info = json.loads((args.base / "training_info.json").read_text()) if (
        args.base / "training_info.json").is_file() else {}
    info = {
        "base": args.base.name,
        "base_train_seconds": base_info.get("train_seconds"),
        "sections": list(sections),
        "docs": {"world": REPLAY_DOCS, **{s: DOCS_PER_SECTION for s in SKILL_SECTIONS}},
        "replay_draw_seed": REPLAY_DRAW_SEED,
        "steps": args.steps,
        "seed": args.seed,
        "threads": 1,
        "batch_size": BATCH_SIZE,
        "block_size": BLOCK_SIZE,
        "learning_rate": LEARNING_RATE,
        "weight_decay": WEIGHT_DECAY,
        "tokens_seen": args.steps * BATCH_SIZE * BLOCK_SIZE,
        "final_train_loss": loss,
        "heldout_perplexity": ppl,
        "base_heldout_perplexity": base_ppl,
        "train_seconds": round(train_seconds, 1),
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
    }
    (out / "training_info.json").write_text(json.dumps(info, indent=2) + "\n")
    log(f"saved to {out} ({folder_size(out) / 1e6:.2f} MB), total {time.time() - start:.1f}s")
    return info


if __name__ == "__main__":
    main()
