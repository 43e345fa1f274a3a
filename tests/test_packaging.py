"""What ``pip install textgym`` puts on ``sys.path``: ``textgym`` and ``textgym_agents``, never a global ``agents``.

``agents`` is the import name of another widely installed package (openai-agents); the repository's ``agents/``
folder installs under textgym's own name through ``package-dir`` in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = {"textgym": "textgym", "textgym_agents": "agents"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_package_list_names_every_package_folder():
    """``packages`` is listed by hand (a find cannot rename ``agents``): a new subpackage must be added to it."""
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == SOURCE_FOLDERS
    found = set()
    for name, folder in SOURCE_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert set(setuptools["packages"]) == found


def test_the_installed_top_level_names_are_textgyms_own():
    top_level = importlib.metadata.distribution("textgym").read_text("top_level.txt").split()
    assert sorted(top_level) == ["textgym", "textgym_agents"]


def test_no_agents_module_outside_the_checkout(tmp_path):
    code = (
        "import importlib.util as u; import textgym_agents.registry, textgym_agents.lm.base; "
        "print(u.find_spec('agents'), textgym_agents.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["None", "textgym_agents"]


def test_the_wheel_holds_textgym_and_textgym_agents_with_the_suites(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in SOURCE_FOLDERS.values():
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
               "-w", str(tmp_path / "dist")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("textgym-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = wheel.name.split("-py")[0] + ".dist-info"
    assert {name.split("/")[0] for name in names} == {"textgym", "textgym_agents", dist_info}
    assert "textgym_agents/suites/standard.yaml" in names
    assert "textgym_agents/lm/base.py" in names
    assert "textgym/models/tiny/model.safetensors" in names
