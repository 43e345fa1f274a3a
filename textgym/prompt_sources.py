"""Where a task's prompts come from: lists, dicts of splits, files and ``datasets`` objects.

:func:`prompt_set` turns anything a :class:`~textgym.task.Task` accepts as ``prompts=`` into
a :class:`PromptSet`: the :class:`~textgym.prompt.Prompt` objects of each split, plus where each
came from (the line of a file, the row of a dataset, the index in a list), so that a prompt
that lacks a field its task needs is reported with its place.

Accepted sources:

- a list of strings or :class:`~textgym.prompt.Prompt` objects: both splits;
- a path (``str`` or ``os.PathLike``) to a file, by extension:

  - ``.jsonl``: one JSON object per line with a ``prompt`` field (a non-empty string), an
    optional ``target`` (a string; an integer is turned into its decimal string), an
    optional ``split`` (``"train"`` or ``"eval"``) and any further fields, which go to
    ``Prompt.data``;
  - ``.csv``: a header row, then the same fields as columns; an empty cell counts as
    absent, and a data cell that reads as a JSON number, array or object (``5``,
    ``["dog", "park"]``) is decoded, so that tasks that want a number or a list get one;
  - ``.txt``: one prompt per non-empty line (the line without its line break);

  rows without a ``split`` serve both splits; when no row names ``"eval"``, the eval split
  is the train split (as for a dict without an ``"eval"`` key);
- a ``datasets.Dataset`` (both splits; ``prompt`` and ``target`` columns, every other
  column to ``Prompt.data``) or ``datasets.DatasetDict`` (textgym's ``train`` from its
  ``"train"`` split, ``eval`` from ``"test"`` or else ``"validation"``, else ``"train"``);
  the ``datasets`` package is imported by nobody here: such objects are recognised by the
  module their class comes from;
- a dict ``{"train": ..., "eval": ...}`` whose values are any of the above but a dict
  (a missing ``"eval"`` is the ``"train"`` value).

Every mistake raises a :class:`~textgym.prompt.TaskError` that names the task, the value and
what is allowed.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textgym.prompt import SPLITS, Prompt, TaskError

#: file extensions read as prompt files, and how
FILE_FORMATS: dict[str, str] = {".jsonl": "JSON lines", ".csv": "CSV with a header row", ".txt": "one prompt per line"}

#: the fields of a row that are not data
PROMPT_FIELD, TARGET_FIELD, SPLIT_FIELD = "prompt", "target", "split"

#: default ``DatasetDict`` split for each textgym split, in order of preference
DEFAULT_SPLIT_NAMES: dict[str, tuple[str, ...]] = {"train": ("train",), "eval": ("test", "validation", "eval")}


@dataclass(frozen=True)
class PromptOrigin:
    """Where the prompts of one split came from: ``"line 3 of file 'p.jsonl'"`` for prompt ``i``.

    Attributes:
        source: the source in words (``"file 'p.jsonl'"``, ``"dataset split 'test'"``, ...).
        unit: what ``numbers`` count (``"line"``, ``"row"``, ``"item"``).
        numbers: for each prompt of the split, its number in ``source``.
    """

    source: str
    unit: str
    numbers: Sequence[int]

    def where(self, index: int) -> str:
        """The place of the split's prompt ``index`` in words."""
        return f"{self.unit} {self.numbers[index]} of {self.source}"


@dataclass
class PromptSet:
    """The prompts of each split, with where each came from.

    Attributes:
        prompts: split -> its prompts (both splits present).
        origins: split -> the :class:`PromptOrigin` of its prompts.
    """

    prompts: dict[str, list[Prompt]]
    origins: dict[str, PromptOrigin] = field(default_factory=dict)

    def where(self, split: str, index: int) -> str | None:
        """The place of prompt ``index`` of ``split`` in words, if known."""
        origin = self.origins.get(split)
        return origin.where(index) if origin is not None else None


def _task_error(task_name: str, message: str) -> TaskError:
    return TaskError(f"task {task_name!r}: {message}")


# -- datasets objects, recognised without importing datasets ---------------------------------


def dataset_kind(value: object) -> str | None:
    """``"dataset"`` for a ``datasets.Dataset``, ``"dict"`` for a ``datasets.DatasetDict``, else ``None``.

    Looks at the classes of ``value`` (a subclass counts): one named ``Dataset`` or
    ``IterableDataset`` (``DatasetDict`` or ``IterableDatasetDict``) defined in a module
    of the ``datasets`` package. Never imports ``datasets``.
    """
    for cls in type(value).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module.split(".", 1)[0] != "datasets":
            continue
        if cls.__name__ in ("DatasetDict", "IterableDatasetDict"):
            return "dict"
        if cls.__name__ in ("Dataset", "IterableDataset"):
            return "dataset"
    return None


def _columns(dataset: object) -> list[str] | None:
    names = getattr(dataset, "column_names", None)
    return list(names) if isinstance(names, (list, tuple)) else None


def dataset_prompts(
    dataset: object,
    task_name: str = "task",
    prompt_field: str = PROMPT_FIELD,
    target_field: str | None = None,
    source: str = "the dataset",
) -> tuple[list[Prompt], PromptOrigin]:
    """The prompts of one ``datasets.Dataset`` (or any iterable of dict rows), with their origin.

    Args:
        dataset: the rows (each a mapping of column -> value).
        task_name: the task, for messages.
        prompt_field: the column that holds the prompt text.
        target_field: the column that holds the target; ``None``: ``"target"`` if the
            dataset has such a column, else no target.
        source: the dataset in words, for messages.

    Returns:
        The prompts (every column but the prompt and target ones goes to ``Prompt.data``)
        and their :class:`PromptOrigin` (row numbers from 0, as ``dataset[i]`` indexes).
    """
    for what, value in (("prompt_field", prompt_field), ("target_field", target_field)):
        if value is not None and (not isinstance(value, str) or not value):
            raise _task_error(task_name, f"{what} must be a column name (a non-empty string), got {value!r}")
    columns = _columns(dataset)
    if columns is not None:
        if prompt_field not in columns:
            raise _task_error(
                task_name,
                f"{source} has no {prompt_field!r} column for the prompt text; columns found: {columns}; "
                f"name the prompt column with prompt_field=...",
            )
        if target_field is not None and target_field not in columns:
            raise _task_error(
                task_name, f"{source} has no {target_field!r} column (target_field); columns found: {columns}"
            )
    rows: list[Prompt] = []
    for index, row in enumerate(_iterate(dataset, task_name, source)):
        where = f"row {index} of {source}"
        if not isinstance(row, Mapping):
            raise _task_error(task_name, f"{where} is a {type(row).__name__}, not a mapping of column -> value")
        target_key = target_field if target_field is not None else (TARGET_FIELD if TARGET_FIELD in row else None)
        rows.append(_row_prompt(row, task_name, where, prompt_field, target_key, split_key=None)[0])
    if not rows:
        raise _task_error(task_name, f"{source} holds no rows, so no prompts; give it at least one row")
    return rows, PromptOrigin(source, "row", range(len(rows)))


def _iterate(dataset: object, task_name: str, source: str) -> Iterator[Any]:
    try:
        iterator = iter(dataset)  # type: ignore[call-overload]
    except TypeError:
        raise _task_error(task_name, f"{source} ({type(dataset).__name__}) cannot be iterated row by row") from None
    return iterator


def dataset_dict_prompts(
    dataset_dict: Mapping[str, object],
    task_name: str = "task",
    prompt_field: str = PROMPT_FIELD,
    target_field: str | None = None,
    split_map: Mapping[str, str] | None = None,
) -> PromptSet:
    """The prompts of a ``datasets.DatasetDict``, one of its splits per textgym split.

    Args:
        dataset_dict: dataset split name -> dataset.
        task_name, prompt_field, target_field: as for :func:`dataset_prompts`.
        split_map: textgym split (``"train"``, ``"eval"``) -> dataset split name. A textgym
            split it leaves out takes the first of :data:`DEFAULT_SPLIT_NAMES` that exists
            (``train``: ``"train"``; ``eval``: ``"test"``, ``"validation"``, ``"eval"``), and
            ``eval`` falls back to the ``train`` one when none does.
    """
    available = list(dataset_dict)
    split_map = dict(split_map or {})
    unknown = sorted(set(split_map) - set(SPLITS), key=str)
    if unknown:
        raise _task_error(task_name, f"split_map has unknown textgym split(s) {unknown}; allowed keys: {list(SPLITS)}")
    chosen: dict[str, str] = {}
    for split in SPLITS:
        if split in split_map:
            name = split_map[split]
            if not isinstance(name, str) or name not in dataset_dict:
                raise _task_error(
                    task_name,
                    f"split_map[{split!r}]={name!r} is not a split of the DatasetDict; its splits: {available}",
                )
            chosen[split] = name
            continue
        found = next((name for name in DEFAULT_SPLIT_NAMES[split] if name in dataset_dict), None)
        if found is None and split == "eval" and "train" in chosen:
            found = chosen["train"]
        if found is None:
            raise _task_error(
                task_name,
                f"the DatasetDict has no {' or '.join(repr(n) for n in DEFAULT_SPLIT_NAMES[split])} split "
                f"for textgym's {split!r} split; "
                f"its splits: {available}; pass split_map={{{split!r}: NAME}}",
            )
        chosen[split] = found
    prompts: dict[str, list[Prompt]] = {}
    origins: dict[str, PromptOrigin] = {}
    read: dict[str, tuple[list[Prompt], PromptOrigin]] = {}
    for split, name in chosen.items():
        if name not in read:
            read[name] = dataset_prompts(
                dataset_dict[name], task_name, prompt_field, target_field, f"dataset split {name!r}"
            )
        prompts[split], origins[split] = list(read[name][0]), read[name][1]
    return PromptSet(prompts, origins)


# -- files ------------------------------------------------------------------------------------


def _decode_cell(value: str) -> Any:
    """A CSV data cell: a JSON number, array or object is decoded, anything else stays text."""
    text = value.strip()
    if not text or text[0] not in "[{-0123456789":
        return value
    try:
        decoded = json.loads(text)
    except ValueError:
        return value
    if isinstance(decoded, float) and not math.isfinite(decoded):
        return value
    return decoded


def _row_prompt(
    row: Mapping[str, Any],
    task_name: str,
    where: str,
    prompt_key: str = PROMPT_FIELD,
    target_key: str | None = TARGET_FIELD,
    split_key: str | None = SPLIT_FIELD,
) -> tuple[Prompt, str | None]:
    """The :class:`Prompt` of one row and the split it names (``None``: both)."""
    if prompt_key not in row:
        raise _task_error(task_name, f"{where} has no {prompt_key!r} field; fields found: {sorted(map(str, row))}")
    text = row[prompt_key]
    if not isinstance(text, str):
        raise _task_error(task_name, f"{where}: the prompt must be a string, got {text!r} ({type(text).__name__})")
    if not text:
        raise _task_error(task_name, f"{where}: the prompt is empty; give it some text or remove the row")
    target = row.get(target_key) if target_key is not None else None
    if isinstance(target, int) and not isinstance(target, bool):
        target = str(target)
    if target is not None and not isinstance(target, str):
        raise _task_error(
            task_name, f"{where}: the {target_key!r} field must be a string, got {target!r} ({type(target).__name__})"
        )
    split = row.get(split_key) if split_key is not None else None
    if split is not None and split != "" and split not in SPLITS:
        raise _task_error(
            task_name, f"{where}: unknown split {split!r}; allowed: {list(SPLITS)} (or no split field: both)"
        )
    skip = {prompt_key, target_key, split_key}
    data = {key: value for key, value in row.items() if key not in skip}
    return Prompt(text, target=target, data=data), (split or None)


def _read_text(path: Path, task_name: str, shown: str) -> str:
    if not path.exists():
        raise _task_error(task_name, f"prompt {shown} does not exist")
    if not path.is_file():
        raise _task_error(task_name, f"prompt {shown} is not a file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise _task_error(
            task_name, f"prompt {shown} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise _task_error(task_name, f"cannot read prompt {shown}: {error.strerror or error}") from None


def _jsonl_rows(text: str, task_name: str, shown: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise _task_error(task_name, f"line {number} of {shown} is not valid JSON ({error})") from None
        if not isinstance(row, dict):
            raise _task_error(
                task_name,
                f"line {number} of {shown} is a JSON {type(row).__name__}, not an object with a 'prompt' field",
            )
        yield number, row


def _csv_rows(text: str, task_name: str, shown: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise _task_error(task_name, f"line 1 of {shown} is not CSV ({error})") from None
    header = [name.strip() for name in header]
    if PROMPT_FIELD not in header:
        raise _task_error(
            task_name, f"the header (line 1) of {shown} has no {PROMPT_FIELD!r} column; columns found: {header}"
        )
    special = {PROMPT_FIELD, TARGET_FIELD, SPLIT_FIELD}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _task_error(task_name, f"line {reader.line_num} of {shown} is not CSV ({error})") from None
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise _task_error(
                task_name,
                f"line {reader.line_num} of {shown} has {len(cells)} cells, "
                f"more than the {len(header)} columns of the header",
            )
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells):
            if cell == "":
                continue  # an empty cell is an absent field
            row[name] = cell if name in special else _decode_cell(cell)
        yield reader.line_num, row


def _txt_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, {PROMPT_FIELD: line}


def read_prompt_file(path: str | os.PathLike, task_name: str = "task", split: str | None = None) -> PromptSet:
    """The prompts of a ``.jsonl``, ``.csv`` or ``.txt`` file (see the module docstring).

    Args:
        path: the file.
        task_name: the task, for messages.
        split: the split the whole file is given as (in a dict of splits), or ``None``:
            each row's ``split`` field decides, and rows without one serve both splits.

    Returns:
        A :class:`PromptSet` with both splits (when ``split`` is given, both hold the file's
        prompts; the caller keeps the one it wants).
    """
    try:
        path = Path(os.fspath(path))
    except TypeError:
        raise _task_error(task_name, f"prompt file path must be a str or os.PathLike, got {path!r}") from None
    shown = f"file {str(path)!r}"
    suffix = path.suffix.lower()
    if suffix not in FILE_FORMATS:
        allowed = ", ".join(f"{ext} ({what})" for ext, what in FILE_FORMATS.items())
        raise _task_error(
            task_name,
            f"prompts={str(path)!r}: unknown prompt file extension {path.suffix or '(none)'!r}; allowed: {allowed}"
            + (
                ""
                if path.suffix
                else "; a string given as prompts is read as a file path: for one prompt pass a list, [text]"
            ),
        )
    text = _read_text(path, task_name, shown)
    if suffix == ".jsonl":
        rows, unit = _jsonl_rows(text, task_name, shown), "line"
    elif suffix == ".csv":
        rows, unit = _csv_rows(text, task_name, shown), "line"
    else:
        rows, unit = _txt_rows(text), "line"
    prompts: dict[str, list[Prompt]] = {s: [] for s in SPLITS}
    numbers: dict[str, list[int]] = {s: [] for s in SPLITS}
    for number, row in rows:
        prompt, row_split = _row_prompt(row, task_name, f"{unit} {number} of {shown}")
        if split is not None and row_split is not None and row_split != split:
            raise _task_error(
                task_name,
                f"{unit} {number} of {shown} has split {row_split!r}, but the file is given as the {split!r} split",
            )
        for target_split in (SPLITS if row_split is None else (row_split,)):
            prompts[target_split].append(prompt)
            numbers[target_split].append(number)
    if not prompts["train"] and not prompts["eval"]:
        raise _task_error(task_name, f"prompt {shown} holds no prompts; add at least one ({FILE_FORMATS[suffix]})")
    if not prompts["eval"]:
        prompts["eval"], numbers["eval"] = list(prompts["train"]), list(numbers["train"])
    if not prompts["train"]:
        raise _task_error(task_name, f"prompt {shown} has no 'train' prompts (every row has split 'eval'); "
                                     f"give some rows split 'train' or none")
    return PromptSet(prompts, {s: PromptOrigin(shown, unit, numbers[s]) for s in SPLITS})


# -- anything -----------------------------------------------------------------------------------


def _is_path(value: object) -> bool:
    return isinstance(value, (str, os.PathLike))


def _list_prompts(items: Iterable[object], task_name: str, source: str) -> tuple[list[Prompt], PromptOrigin]:
    converted: list[Prompt] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = Prompt(item)
        if not isinstance(item, Prompt) or not isinstance(item.text, str):
            shown = item.text if isinstance(item, Prompt) else item
            raise _task_error(
                task_name,
                f"item {index} of {source}: each prompt must be a string or Prompt, "
                f"got {shown!r} ({type(shown).__name__})",
            )
        converted.append(item)
    return converted, PromptOrigin(source, "item", range(len(converted)))


ALLOWED = (
    "a list of strings or Prompts, a dict of splits, a path to a .jsonl, .csv or .txt file, "
    "or a datasets.Dataset or DatasetDict"
)


def _one_split(value: object, split: str, task_name: str) -> tuple[list[Prompt], PromptOrigin]:
    """The prompts of the value a dict of splits gives for ``split``."""
    if _is_path(value):
        found = read_prompt_file(value, task_name, split=split)  # type: ignore[arg-type]
        return found.prompts[split], found.origins[split]
    kind = dataset_kind(value)
    if kind == "dataset":
        return dataset_prompts(value, task_name, source=f"the {split!r} dataset")
    if kind is None and isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return _list_prompts(value, task_name, f"prompts[{split!r}]")
    raise _task_error(
        task_name,
        f"prompts[{split!r}] must be a list of strings or Prompts, a path to a .jsonl, .csv or .txt file, "
        f"or a datasets.Dataset; "
        f"got {type(value).__name__}",
    )


def prompt_set(value: object, task_name: str = "task") -> PromptSet:
    """Any accepted ``prompts=`` value (see the module docstring) as a :class:`PromptSet`."""
    if isinstance(value, PromptSet):
        return value
    if _is_path(value):
        return read_prompt_file(value, task_name)  # type: ignore[arg-type]
    kind = dataset_kind(value)
    if kind == "dataset":
        prompts, origin = dataset_prompts(value, task_name)
        return PromptSet({s: list(prompts) for s in SPLITS}, {s: origin for s in SPLITS})
    if kind == "dict":
        return dataset_dict_prompts(value, task_name)  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(SPLITS), key=str)
        if unknown:
            raise _task_error(task_name, f"unknown split(s) {unknown}; allowed: {list(SPLITS)}")
        if "train" not in value:
            raise _task_error(
                task_name,
                f"the dict of splits has no 'train' split (keys: {list(value)}); "
                f"allowed: {list(SPLITS)}, 'train' required",
            )
        prompts: dict[str, list[Prompt]] = {}
        origins: dict[str, PromptOrigin] = {}
        for split in SPLITS:
            given = split if split in value else "train"
            if given != split:
                prompts[split], origins[split] = list(prompts["train"]), origins["train"]
            else:
                prompts[split], origins[split] = _one_split(value[split], split, task_name)
        return PromptSet(prompts, origins)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        prompts_list, origin = _list_prompts(value, task_name, "prompts")
        return PromptSet({s: list(prompts_list) for s in SPLITS}, {s: origin for s in SPLITS})
    raise _task_error(task_name, f"prompts must be {ALLOWED}; got {type(value).__name__}")
