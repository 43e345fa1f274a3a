"""The README's "## Conversations" section: its custom-user example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_custom_user_example_runs():
    text = README.read_text()
    section = text.split("\n## Conversations\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exec(compile(block, "README Conversations", "exec"), {"__name__": "readme_conversations"})
