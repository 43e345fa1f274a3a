"""The README's code examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_custom_task_example_runs_and_is_short():
    (block,) = python_blocks("Custom tasks")
    assert len(block.strip().splitlines()) <= 15
    namespace = {}
    exec(compile(block, "README custom task", "exec"), namespace)
    assert namespace["info"]["prompt"] in {"Ask for the salt:", "Ask for a pen:"}
    assert namespace["env"].unwrapped.task.name == "polite"


def test_quickstart_example_runs():
    (block,) = python_blocks("Quickstart")
    exec(compile(block, "README quickstart", "exec"), {})
