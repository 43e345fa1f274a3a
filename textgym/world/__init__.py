"""The seeded world that both the bundled model's pretraining corpus and the language tasks' prompt sets come from.

One :class:`World` is built from one seed. Its sections (:mod:`textgym.world.section`) each hold the part of the
specification one task tests (facts for QA, Glossa for Translate, dialogues, concept words, stated lengths) and give
both the task's prompt records and the documents that teach that knowledge in other forms; the reviews and stories
of :mod:`textgym.models.corpus` (what Sentiment, Coherence and SentimentRM rely on) make up the rest of the corpus.
Because both sides come from the same objects, the corpus and the tasks cannot drift apart.

    world = World(seed=0)
    docs = world.documents(150_000, draw_seed=0)   # the pretraining corpus
    qa = world.prompt_records("qa")                 # {"train": [...], "eval": [...]}
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from textgym.models.corpus import generate_documents
from textgym.world.concepts import ConceptsSection
from textgym.world.dialogues import DialogueSection
from textgym.world.facts import FactsSection
from textgym.world.glossa import GlossaSection
from textgym.world.lengths import LengthSection
from textgym.world.section import WorldSection

#: section name -> class, in the order their documents are drawn
SECTIONS: Mapping[str, type[WorldSection]] = {
    section.name: section
    for section in (FactsSection, GlossaSection, DialogueSection, ConceptsSection, LengthSection)
}

#: the corpus' share of each kind of document; "stories_and_reviews" is textgym.models.corpus's generator
CORPUS_SHARES: Mapping[str, float] = {
    "stories_and_reviews": 0.45,
    "facts": 0.20,
    "glossa": 0.13,
    "dialogues": 0.08,
    "concepts": 0.07,
    "lengths": 0.07,
}


class World:
    """Every section of the world, built from ``seed`` (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.sections: dict[str, WorldSection] = {
            name: section_class(seed) for name, section_class in SECTIONS.items()
        }

    def section_for(self, task: str) -> WorldSection:
        """The section that makes ``task``'s prompt set."""
        for section in self.sections.values():
            if section.task == task:
                return section
        known = sorted(section.task for section in self.sections.values())
        raise KeyError(f"no world section makes task {task!r}; tasks with one: {', '.join(known)}")

    def prompt_records(self, task: str) -> dict[str, list[dict]]:
        """``task``'s ``{"train": [...], "eval": [...]}`` records."""
        return self.section_for(task).prompt_records()

    def document_counts(self, n: int) -> dict[str, int]:
        """How many of ``n`` documents each kind gets: its share, but never fewer than a section's coverage."""
        counts = {kind: int(round(n * share)) for kind, share in CORPUS_SHARES.items()}
        for name, section in self.sections.items():
            counts[name] = max(counts[name], section.coverage)
        return counts

    def documents(self, n: int, draw_seed: int = 0) -> list[str]:
        """About ``n`` pretraining documents, shuffled: every kind at its share (:data:`CORPUS_SHARES`).

        ``draw_seed`` picks which documents are drawn; the world itself (its facts, lexicon, ...) is ``seed``'s,
        so a held-out corpus is the same world drawn with another ``draw_seed``. Every section gets at least its
        ``coverage`` documents, so every eval answer is stated.
        """
        rng = random.Random(f"world-{self.seed}-draw-{draw_seed}")
        counts = self.document_counts(n)
        docs = generate_documents(counts["stories_and_reviews"], seed=draw_seed)
        for name, section in self.sections.items():
            docs.extend(section.documents(random.Random(rng.getrandbits(64)), counts[name]))
        rng.shuffle(docs)
        return docs
