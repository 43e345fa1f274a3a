"""No import cycles between the modules of ``textgym`` and ``textgym_agents``, function-local imports included.

A static check: every ``.py`` file under the source folders ``textgym/`` and ``agents/`` (which installs as
``textgym_agents``) is parsed with :mod:`ast`, and each in-project import becomes an edge of a module graph. The test
fails listing every cycle: each strongly connected component of more than one module, and each module that imports
itself, with the import statements (file and line) that make it.

What counts as an edge:

- every ``import`` and ``from ... import`` statement anywhere in the module: at the top, inside functions and
  methods (a function-local import is a cycle deferred to run time, not a cycle removed), inside ``try`` blocks;
  except those under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``), which never run; the ``else`` branch of
  such an ``if`` does run and counts;
- ``import a.b.c`` is an edge to the module ``a.b.c`` (or, if that is not a project module, to its longest prefix
  that is);
- ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``;
- relative imports are resolved against the importing module's package;
- **only the named module**: importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``, but those
  implicit edges to the enclosing packages are not counted. A package's ``__init__`` that imports its own
  submodules would otherwise make a cycle with every submodule that imports a sibling by its full name, which is
  the ordinary layout of a package and safe as long as the ``__init__`` itself is imported first. What the check
  forbids is two modules that name each other.
- imports by a computed name (``importlib.import_module(...)``, as the agent registry does) are not statements and
  make no edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: source folder -> the import name it installs as (pyproject.toml's package-dir)
SOURCE_FOLDERS = {"textgym": "textgym", "agents": "textgym_agents"}


@dataclass(frozen=True)
class ImportEdge:
    """One import statement of ``source`` that reaches the project module ``target``."""

    source: str
    target: str
    path: Path
    line: int


def module_files(root: Path, folders: dict[str, str]) -> dict[str, Path]:
    """Every module under ``root/<folder>`` for the given folders: dotted import name -> file (``pkg/__init__.py``
    is the module ``pkg``)."""
    modules: dict[str, Path] = {}
    for folder, import_name in folders.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([import_name, *parts])] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def run_time_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` that can run: at any depth, except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)  # the body never runs; the else branch does
            continue
        stack.extend(ast.iter_child_nodes(node))


def known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` if it is a project module, else its longest dotted prefix that is; ``None`` outside the project."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
                   modules: dict[str, Path]) -> list[str]:
    """The project modules one import statement of ``module`` names (see the module docstring for the rules)."""
    if isinstance(node, ast.Import):
        return [target for alias in node.names if (target := known_prefix(alias.name, modules)) is not None]
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level - 1 > len(package):
            raise ValueError(f"{module}: relative import beyond the top-level package (level {node.level})")
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if alias.name != "*" and submodule in modules:
            targets.append(submodule)
        elif (target := known_prefix(base, modules)) is not None:
            targets.append(target)
    return targets


def import_graph(modules: dict[str, Path]) -> list[ImportEdge]:
    """Every in-project import edge of ``modules`` (one per statement and target)."""
    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in run_time_imports(tree):
            for target in dict.fromkeys(import_targets(node, module, is_package, modules)):
                edges.append(ImportEdge(module, target, path, node.lineno))
    return edges


def strongly_connected_components(nodes: list[str], edges: list[ImportEdge]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the graph's strongly connected components, each sorted."""
    successors: dict[str, list[str]] = {node: [] for node in nodes}
    for edge in edges:
        successors[edge.source].append(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def import_cycles(root: Path, folders: dict[str, str]) -> list[list[ImportEdge]]:
    """Each cycle of the import graph of ``root``'s source folders, as the edges inside it: a strongly connected
    component of more than one module, or a module that imports itself."""
    modules = module_files(root, folders)
    edges = import_graph(modules)
    cycles = []
    for component in strongly_connected_components(sorted(modules), edges):
        members = set(component)
        inside = [e for e in edges if e.source in members and e.target in members]
        if len(component) > 1 or inside:  # one module: a cycle only if it imports itself
            cycles.append(inside)
    return cycles


def describe(cycles: list[list[ImportEdge]], root: Path) -> str:
    lines = [f"{len(cycles)} import cycle(s) (function-local imports count; `if TYPE_CHECKING:` ones do not):"]
    for number, inside in enumerate(cycles, 1):
        members = sorted({e.source for e in inside})
        lines.append(f"{number}. {' <-> '.join(members)}")
        for e in sorted(inside, key=lambda e: (e.source, e.line)):
            lines.append(f"     {e.source} -> {e.target}  ({e.path.relative_to(root)}:{e.line})")
    return "\n".join(lines)


def test_no_import_cycles():
    cycles = import_cycles(ROOT, SOURCE_FOLDERS)
    if cycles:
        pytest.fail(describe(cycles, ROOT), pytrace=False)


def test_the_graph_holds_the_project_imports():
    """The walk finds the modules and their imports (an empty graph would have no cycle to find)."""
    modules = module_files(ROOT, SOURCE_FOLDERS)
    assert {"textgym", "textgym.task", "textgym_agents.lm.base", "textgym_agents.train"} <= set(modules)
    pairs = {(e.source, e.target) for e in import_graph(modules)}
    assert ("textgym_agents.lm.base", "textgym_agents.lm.rollout") in pairs  # from a.b import C
    assert ("textgym_agents.lm_ppo", "textgym_agents.lm.base") in pairs


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_check_finds_cycles_through_local_relative_and_from_imports(tmp_path):
    write_package(tmp_path, {
        "src/__init__.py": "",
        "src/a.py": "def f():\n    from pkg import b  # function-local, 'from pkg import <module>'\n",
        "src/b.py": "from .c import thing  # relative, 'from module import <name>'\n",
        "src/c.py": "import pkg.a\nthing = 1\n",
        "src/selfish.py": "from pkg.selfish import x\nx = 1\n",
        "src/sub/__init__.py": "",
        "src/sub/d.py": "from .. import e\n",
        "src/e.py": "try:\n    import pkg.sub.d\nexcept ImportError:\n    pass\n",
    })
    cycles = import_cycles(tmp_path, {"src": "pkg"})
    found = sorted(sorted({e.source for e in inside}) for inside in cycles)
    assert found == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.e", "pkg.sub.d"], ["pkg.selfish"]]
    assert "pkg.a -> pkg.b  (src/a.py:2)" in describe(cycles, tmp_path)


def test_type_checking_imports_and_package_inits_make_no_cycle(tmp_path):
    write_package(tmp_path, {
        "src/__init__.py": "from pkg.a import A\n",  # the package imports its submodule: no edge back (see above)
        "src/a.py": (
            "from typing import TYPE_CHECKING\nimport typing\n"
            "if TYPE_CHECKING:\n    from pkg.b import B\nelse:\n    B = None\n"
            "if typing.TYPE_CHECKING:\n    import pkg.b\n"
            "class A:\n    pass\n"
        ),
        "src/b.py": "from pkg.a import A\nimport os.path\n",
    })
    assert import_cycles(tmp_path, {"src": "pkg"}) == []
    write_package(tmp_path, {"src/a.py": "if TYPE_CHECKING:\n    pass\nelse:\n    from pkg.b import B\n"})
    assert [sorted({e.source for e in c}) for c in import_cycles(tmp_path, {"src": "pkg"})] == [["pkg.a", "pkg.b"]]
