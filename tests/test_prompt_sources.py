"""Prompts from files (.jsonl, .csv, .txt) and ``datasets`` objects, for every task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

from textgym import Prompt, Task, TaskError, cli
from textgym.prompt_sources import dataset_kind, prompt_set
from textgym.tasks import TASKS, CopyTask, KeywordsTask, LengthTask, QATask


def zero(prompt: Prompt, continuation: str) -> float:
    return 0.0


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# -- files -----------------------------------------------------------------------------------------


def test_jsonl_rows_serve_both_splits_with_target_and_data(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"prompt": "Q: a? A:", "target": "x", "id": 7, "tags": ["t"]}, {"prompt": "Q: b? A:"}]
    )
    task = Task("mine", prompts=str(path), score=zero)
    for split in ("train", "eval"):
        assert task.prompts(split) == [Prompt("Q: a? A:", "x", {"id": 7, "tags": ["t"]}), Prompt("Q: b? A:", None, {})]


def test_split_field_assigns_rows_and_eval_defaults_to_train(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"prompt": "a", "split": "train"}, {"prompt": "b", "split": "eval"}, {"prompt": "c"}]
    )
    task = Task("mine", prompts=path, score=zero)  # a pathlib.Path works too
    assert [p.text for p in task.prompts("train")] == ["a", "c"]
    assert [p.text for p in task.prompts("eval")] == ["b", "c"]
    assert all("split" not in p.data for p in task.prompts("train"))
    only_train = write_jsonl(tmp_path / "t.jsonl", [{"prompt": "a", "split": "train"}])
    assert Task("mine", prompts=only_train, score=zero).prompts("eval") == [Prompt("a")]


def test_csv_header_target_and_decoded_data_cells(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        'prompt,target,split,n,concepts,note\n'
        '"Hello, world",hi,train,5,"[""dog"", ""park""]",007\n'
        'Second,,eval,,,plain text\n',
        encoding="utf-8",
    )
    task = Task("mine", prompts=str(path), score=zero)
    (train,) = task.prompts("train")
    assert train == Prompt("Hello, world", "hi", {"n": 5, "concepts": ["dog", "park"], "note": "007"})
    (evaluation,) = task.prompts("eval")
    assert evaluation == Prompt("Second", None, {"note": "plain text"})  # empty cells are absent fields


def test_txt_one_prompt_per_non_empty_line(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("First prompt\n\n   \nSecond prompt:\n", encoding="utf-8")
    task = Task("mine", prompts=str(path), score=zero)
    assert [p.text for p in task.prompts("eval")] == ["First prompt", "Second prompt:"]


def test_dict_of_splits_maps_to_paths_and_lists(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"prompt": "a"}, {"prompt": "b", "split": "train"}])
    task = Task("mine", prompts={"train": str(train), "eval": ["c"]}, score=zero)
    assert [p.text for p in task.prompts("train")] == ["a", "b"]
    assert [p.text for p in task.prompts("eval")] == ["c"]
    clash = write_jsonl(tmp_path / "clash.jsonl", [{"prompt": "a", "split": "eval"}])
    with pytest.raises(
        TaskError, match=r"line 1 of file '.*clash.jsonl' has split 'eval', but the file is given as the 'train' split"
    ):
        Task("mine", prompts={"train": clash}, score=zero)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.jsonl", "", r"prompt file '.*empty.jsonl' holds no prompts"),
        ("blank.txt", "\n  \n", r"holds no prompts"),
        ("header.csv", "prompt,target\n", r"holds no prompts"),
        (
            "nofield.jsonl",
            '{"prompt": "a"}\n{"text": "b", "target": "c"}\n',
            r"line 2 of file '.*nofield.jsonl' has no 'prompt' field; fields found: \['target', 'text'\]",
        ),
        (
            "nocolumn.csv",
            "text,target\na,b\n",
            r"header \(line 1\) of file '.*nocolumn.csv' has no 'prompt' column; columns found: \['text', 'target'\]",
        ),
        ("number.jsonl", '{"prompt": 5}\n', r"line 1 of .*: the prompt must be a string, got 5 \(int\)"),
        ("null.jsonl", '{"prompt": null}\n', r"the prompt must be a string, got None"),
        ("emptyprompt.jsonl", '{"prompt": ""}\n', r"line 1 of .*: the prompt is empty"),
        ("badtarget.jsonl", '{"prompt": "a", "target": ["x"]}\n', r"the 'target' field must be a string, got \['x'\]"),
        (
            "split.jsonl",
            '{"prompt": "a", "split": "test"}\n',
            r"line 1 of .*: unknown split 'test'; allowed: \['train', 'eval'\]",
        ),
        (
            "split.csv",
            "prompt,split\na,validation\n",
            r"line 2 of .*: unknown split 'validation'; allowed: \['train', 'eval'\]",
        ),
        ("onlyeval.jsonl", '{"prompt": "a", "split": "eval"}\n', r"has no 'train' prompts"),
        ("notjson.jsonl", '{"prompt": "a"}\n{prompt: b}\n', r"line 2 of file '.*notjson.jsonl' is not valid JSON"),
        ("list.jsonl", '["a"]\n', r"line 1 of .* is a JSON list, not an object with a 'prompt' field"),
        ("wide.csv", "prompt,target\na,b,c\n", r"line 2 of .* has 3 cells, more than the 2 columns of the header"),
        (
            "prompts.json",
            '{"prompt": "a"}',
            r"unknown prompt file extension '.json'; allowed: .jsonl \(JSON lines\), "
            r".csv \(CSV with a header row\), .txt",
        ),
    ],
)
def test_bad_files_raise_naming_the_value_and_what_is_allowed(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaskError, match=r"task 'mine': .*" + message):
        Task("mine", prompts=str(path), score=zero)


def test_missing_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(TaskError, match=r"prompt file '.*nowhere.jsonl' does not exist"):
        Task("mine", prompts=str(tmp_path / "nowhere.jsonl"), score=zero)
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(TaskError, match=r"is not a file"):
        Task("mine", prompts=str(tmp_path / "folder.txt"), score=zero)
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(TaskError, match=r"is not UTF-8 text"):
        Task("mine", prompts=str(tmp_path / "latin.txt"), score=zero)


def test_a_plain_string_is_a_path_not_a_prompt():
    with pytest.raises(TaskError, match=r"unknown prompt file extension '\(none\)'.*for one prompt pass a list"):
        Task("mine", prompts="Say hi:", score=zero)


def test_other_bad_prompt_values():
    with pytest.raises(
        TaskError, match=r"prompts must be a list of strings or Prompts, a dict of splits, a path .*; got int"
    ):
        Task("mine", prompts=3, score=zero)
    with pytest.raises(TaskError, match=r"unknown split\(s\) \['test'\]; allowed: \['train', 'eval'\]"):
        Task("mine", prompts={"train": ["a"], "test": ["b"]}, score=zero)
    with pytest.raises(
        TaskError, match=r"item 1 of prompts\['eval'\]: each prompt must be a string or Prompt, got 3 \(int\)"
    ):
        Task("mine", prompts={"train": ["a"], "eval": ["b", 3]}, score=zero)
    with pytest.raises(TaskError, match=r"prompts\['train'\] must be a list"):
        Task("mine", prompts={"train": 3}, score=zero)


# -- every shipped task ------------------------------------------------------------------------------

#: one valid row per shipped task: the fields its score reads
ROWS = {
    "sentiment": {"prompt": "The food was"},
    "keywords": {"prompt": "Write a sentence with: dog, park.", "concepts": ["dog", "park"]},
    "coherence": {"prompt": "The soup was", "keywords": ["soup", "hot"]},
    "translate": {"prompt": "English: the dog sleeps.\nGlossa:", "target": "lo kibema u."},
    "qa": {"prompt": "Q: What is the capital of France? A:", "target": "Paris"},
    "dialogue": {"prompt": "User: thank you!\nAssistant:", "intent": "thanks"},
    "copy": {"prompt": "abc=", "target": "abc"},
    "reverse": {"prompt": "abc=", "target": "cba"},
    "arithmetic": {"prompt": "12+30=", "target": 42},
    "length": {"prompt": "Write a sentence of 4 words:", "n": 4},
}

#: the field whose absence each task reports (tasks that read none are left out)
REQUIRED = {"keywords": "concepts", "translate": "target", "qa": "answers", "dialogue": "intent", "copy": "target",
            "reverse": "target", "arithmetic": "target", "length": "'n'"}

SHIPPED = [
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
]


def test_rows_cover_every_shipped_task():
    assert set(SHIPPED) <= set(TASKS)
    assert set(ROWS) == set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_task_takes_prompts_from_a_file(tmp_path, name):
    path = write_jsonl(tmp_path / f"{name}.jsonl", [ROWS[name]])
    env_id = TASKS[name][1]
    for vector in (False, True):
        if vector:
            env = gym.make_vec(
                env_id, num_envs=2, vectorization_mode="vector_entry_point", task_kwargs={"prompts": str(path)}
            )
            env.reset(seed=0)
            task = env.unwrapped.task if hasattr(env, "unwrapped") else env.task
            assert [p.text for p in task.prompts("train")] == [ROWS[name]["prompt"]]
        else:
            env = gym.make(env_id, task_kwargs={"prompts": str(path)})
            _, info = env.reset(seed=0)
            assert info["prompt"] == ROWS[name]["prompt"]
            _, reward, *_ = env.step(env.unwrapped.tokenizer.eos_token_id)
            assert isinstance(reward, float)
        env.close()


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_field_names_the_field_the_file_and_the_task(tmp_path, name):
    row = {"prompt": ROWS[name]["prompt"]}
    path = write_jsonl(tmp_path / f"{name}.jsonl", [ROWS[name], row])
    with pytest.raises(
        TaskError,
        match=rf"task '{name}': .*{REQUIRED[name]}.*\(in line 2 of file '.*{name}.jsonl'; fields found: prompt\)",
    ):
        gym.make(TASKS[name][1], task_kwargs={"prompts": str(path)})


def test_csv_data_cells_feed_the_tasks_that_need_numbers_and_lists(tmp_path):
    path = tmp_path / "length.csv"
    path.write_text("prompt,n\nWrite a sentence of 3 words:,3\n", encoding="utf-8")
    assert LengthTask(prompts=path).prompts("train")[0].data == {"n": 3}
    path = tmp_path / "keywords.csv"
    path.write_text('prompt,concepts\nUse: cat.,"[""cat""]"\n', encoding="utf-8")
    assert KeywordsTask(prompts=path).prompts("eval")[0].data == {"concepts": ["cat"]}


def test_given_prompt_objects_are_checked_too():
    with pytest.raises(
        TaskError, match=r"task 'copy': prompt 'ab=' needs a target .*\(in item 0 of prompts; fields found: prompt\)"
    ):
        CopyTask(prompts=["ab="]).prompts("train")
    task = QATask(prompts=[Prompt("Q: x? A:", data={"answers": ["y", "z"]})])
    assert task.prompts("eval")[0].data["answers"] == ["y", "z"]


def test_info_shows_the_prompt_counts(capsys):
    assert cli.main(["info", "textgym/Copy-v0"]) == 0
    assert "Prompts: 200 train, 50 eval" in capsys.readouterr().out


# -- datasets --------------------------------------------------------------------------------------


class Dataset:
    """A stand-in for ``datasets.Dataset``: column names and rows as dicts."""

    __module__ = "datasets.arrow_dataset"

    def __init__(self, columns: dict[str, list]) -> None:
        self.columns = columns

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __iter__(self):
        for i in range(len(self)):
            yield {name: values[i] for name, values in self.columns.items()}

    @classmethod
    def from_dict(cls, columns: dict[str, list]) -> Dataset:
        return cls(columns)


class DatasetDict(dict):
    """A stand-in for ``datasets.DatasetDict``."""

    __module__ = "datasets.dataset_dict"


def real_datasets():
    datasets = pytest.importorskip("datasets")
    return datasets.Dataset, datasets.DatasetDict


def stand_ins():
    return Dataset, DatasetDict


@pytest.fixture(params=["stand-in", "datasets"])
def kinds(request):
    return stand_ins() if request.param == "stand-in" else real_datasets()


def test_dataset_kind_recognises_without_importing():
    assert dataset_kind(Dataset({"prompt": ["a"]})) == "dataset"
    assert dataset_kind(DatasetDict()) == "dict"
    assert dataset_kind({"train": []}) is None and dataset_kind(["a"]) is None
    code = "import sys, textgym; from textgym.prompt_sources import prompt_set; assert 'datasets' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_from_dataset_uses_both_splits_and_puts_other_columns_in_data(kinds):
    dataset_class, _ = kinds
    ds = dataset_class.from_dict({"question": ["Q: a? A:", "Q: b? A:"], "answer": ["x", "y"], "source": ["s1", "s2"]})
    task = Task.from_dataset(ds, prompt_field="question", target_field="answer", name="mine", score=zero)
    assert task.name == "mine"
    for split in ("train", "eval"):
        assert task.prompts(split) == [
            Prompt("Q: a? A:", "x", {"source": "s1"}),
            Prompt("Q: b? A:", "y", {"source": "s2"}),
        ]
    # prompts=dataset directly: the prompt and target columns by their default names
    ds = dataset_class.from_dict({"prompt": ["Q: c? A:"], "target": ["Paris"]})
    assert QATask(prompts=ds).prompts("eval") == [Prompt("Q: c? A:", "Paris", {})]


def test_from_dataset_dict_maps_splits(kinds):
    dataset_class, dict_class = kinds
    train = dataset_class.from_dict({"prompt": ["t1", "t2"], "target": ["Rome", "Oslo"]})
    test = dataset_class.from_dict({"prompt": ["e1"], "target": ["Bern"]})
    validation = dataset_class.from_dict({"prompt": ["v1"], "target": ["Lima"]})
    task = QATask.from_dataset(dict_class({"train": train, "test": test, "validation": validation}))
    assert [p.text for p in task.prompts("train")] == ["t1", "t2"] and [p.text for p in task.prompts("eval")] == ["e1"]
    task = QATask.from_dataset(dict_class({"train": train, "validation": validation}))
    assert [p.text for p in task.prompts("eval")] == ["v1"]
    task = QATask.from_dataset(
        dict_class({"train": train, "test": test, "validation": validation}), split_map={"eval": "validation"}
    )
    assert [p.text for p in task.prompts("eval")] == ["v1"]
    task = QATask.from_dataset(dict_class({"train": train}))  # no eval split: the train one serves both
    assert [p.text for p in task.prompts("eval")] == ["t1", "t2"]
    assert [p.text for p in QATask(prompts=dict_class({"train": train, "test": test})).prompts("eval")] == ["e1"]
    task = QATask.from_dataset(dict_class({"dev": validation, "all": train}), split_map={"train": "all", "eval": "dev"})
    assert [p.text for p in task.prompts("eval")] == ["v1"]


def test_dataset_errors(kinds):
    dataset_class, dict_class = kinds
    ds = dataset_class.from_dict({"text": ["a"], "label": [1]})
    with pytest.raises(
        TaskError, match=r"task 'qa': the dataset has no 'prompt' column .*columns found: \['text', 'label'\]"
    ):
        QATask.from_dataset(ds)
    with pytest.raises(TaskError, match=r"has no 'answer' column \(target_field\); columns found: \['text', 'label'\]"):
        QATask.from_dataset(ds, prompt_field="text", target_field="answer")
    with pytest.raises(TaskError, match=r"row 0 of the dataset: the prompt must be a string, got 1 \(int\)"):
        Task.from_dataset(ds, prompt_field="label", name="mine", score=zero)
    with pytest.raises(
        TaskError, match=r"task 'qa': .*answers.*\(in row 0 of the dataset; fields found: prompt, label\)"
    ):
        QATask.from_dataset(ds, prompt_field="text").prompts("train")
    splits = dict_class({"dev": ds})
    with pytest.raises(
        TaskError,
        match=r"the DatasetDict has no 'train' split for textgym's 'train' split; "
        r"its splits: \['dev'\]; pass split_map",
    ):
        Task.from_dataset(splits, prompt_field="text", name="mine", score=zero)
    with pytest.raises(
        TaskError, match=r"split_map\['eval'\]='test' is not a split of the DatasetDict; its splits: \['dev'\]"
    ):
        Task.from_dataset(
            splits, prompt_field="text", split_map={"train": "dev", "eval": "test"}, name="mine", score=zero
        )
    with pytest.raises(TaskError, match=r"split_map has unknown textgym split\(s\) \['validation'\]"):
        Task.from_dataset(splits, prompt_field="text", split_map={"validation": "dev"}, name="mine", score=zero)
    with pytest.raises(TaskError, match=r"from_dataset needs a datasets.Dataset or datasets.DatasetDict, got list"):
        Task.from_dataset([{"prompt": "a"}], name="mine", score=zero)
    with pytest.raises(TaskError, match=r"the dataset holds no rows"):
        Task.from_dataset(dataset_class.from_dict({"prompt": []}), name="mine", score=zero)


def test_prompt_set_passes_a_prompt_set_through():
    given = prompt_set(["a", "b"], "mine")
    assert prompt_set(given) is given
    assert given.where("eval", 1) == "item 1 of prompts"
