"""The prompt files of ``benchmarks/train_split_transfer.py`` are what its RESULTS section says they are: fresh train
prompts that are no shipped prompt, and QA's eval facts in two halves that share no fact."""

import json
from pathlib import Path

import pytest

from textgym.tasks import make_task

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SHIPPED = Path(__file__).resolve().parent.parent / "textgym" / "tasks" / "data" / "v1"


@pytest.fixture(scope="module")
def transfer():
    import sys

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import train_split_transfer
    finally:
        sys.path.remove(str(BENCHMARKS))
    return train_split_transfer


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def shipped(name: str) -> dict[str, list[dict]]:
    return json.loads((SHIPPED / f"{name}.json").read_text())


def test_fresh_keywords_sets_are_no_shipped_set_and_load_as_prompts(transfer, tmp_path):
    train, evals = transfer.keywords_fresh(tmp_path)
    rows = read(train)
    keys = [frozenset(r["concepts"]) for r in rows]
    assert len(rows) == transfer.FRESH_PROMPTS == len(set(keys))
    taken = {frozenset(r["data"]["concepts"]) for records in shipped("keywords").values() for r in records}
    assert not taken & set(keys)
    assert [r["concepts"] for r in read(evals)] == [r["data"]["concepts"] for r in shipped("keywords")["eval"]]
    task = make_task("keywords-v1", {"prompts": {"train": str(train), "eval": str(evals)}})
    first = task.prompts("train")[0]
    assert first.data["concepts"] == rows[0]["concepts"] and all(word in first.text for word in rows[0]["concepts"])
    # the file is made from a fixed seed: a second call writes the same bytes
    again, _ = transfer.keywords_fresh(tmp_path / "again")
    assert again.read_bytes() == train.read_bytes()


def test_fresh_translate_sentences_are_no_shipped_sentence(transfer, tmp_path):
    train, evals = transfer.translate_fresh(tmp_path)
    rows = read(train)
    english = [r["english"] for r in rows]
    assert len(rows) == transfer.FRESH_PROMPTS == len(set(english))
    taken = {r["data"]["english"] for records in shipped("translate").values() for r in records}
    assert not taken & set(english)
    task = make_task("translate-v1", {"prompts": {"train": str(train), "eval": str(evals)}})
    prompt = task.prompts("train")[0]
    assert prompt.target == rows[0]["target"] and task.score(prompt, " " + rows[0]["target"]) == 1.0
    assert [p.target for p in task.prompts("eval")] == [r["target"] for r in shipped("translate")["eval"]]


def test_qa_eval_halves_split_the_eval_facts_without_sharing_one(transfer, tmp_path):
    a, b = (read(path) for path in transfer.qa_eval_halves(tmp_path))
    evals = shipped("qa")["eval"]
    assert sorted(r["prompt"] for r in a + b) == sorted(r["text"] for r in evals)
    assert a and b
    # no question of one half names the answer of a question of the other (a capital's two questions stay together)
    for left, right in ((a, b), (b, a)):
        for question in left:
            assert not any(other["target"] in question["prompt"] for other in right)
    task = make_task("qa-v1", {"prompts": {"train": str(tmp_path / "qa_eval_half_a.jsonl"),
                                           "eval": str(tmp_path / "qa_eval_half_b.jsonl")}})
    assert [p.text for p in task.prompts("eval")] == [r["prompt"] for r in b]
    assert task.score(task.prompts("train")[0], " " + a[0]["target"] + "\n") == 1.0


@pytest.mark.parametrize("name", ["keywords", "translate"])
def test_the_small_vocabulary_arms_are_the_v2_tasks_prompts(transfer, tmp_path, name):
    """The arms' files hold Keywords-v2's and Translate-v2's shipped prompts (the world's focused sets, whose
    vocabularies tests/world checks), in the same order, with the same targets."""
    make = transfer.keywords_small_vocabulary if name == "keywords" else transfer.translate_small_vocabulary
    train, evals = make(tmp_path)
    task = make_task(f"{name}-v2")
    from_files = make_task(f"{name}-v2", {"prompts": {"train": str(train), "eval": str(evals)}})
    for split in ("train", "eval"):  # the shipped records also carry a reference sentence, which no score reads
        assert [(p.text, p.target, p.data.get("concepts")) for p in from_files.prompts(split)] == [
            (p.text, p.target, p.data.get("concepts")) for p in task.prompts(split)]
