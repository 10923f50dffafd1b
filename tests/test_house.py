"""The house rules of CONTRIBUTING.md, checked: floors without circles, small files, one home per
cell kind, a UI that imports no torch. Each test reads the source; none runs the app."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "explorer"
SOURCES = sorted(ROOT.rglob("*.py"))
KIND_HOME = {ROOT / "core" / "cells.py", *(ROOT / "core" / "kinds").glob("*.py")}

# A branch on the cell kind: comparing a kind to a name, testing a module's class, or a table keyed
# by kind names written out where it is used.
NAME = r"""["'](lstm|gru|rnn)["']"""
KIND_BRANCH = re.compile(rf"""kind\s*(==|!=)\s*{NAME}|kind\s+in\s+[(\[{{][^)\]}}]*{NAME}"""
                         rf"""|isinstance\([^)]*nn\.(LSTM|GRU|RNN)\b|\{{\s*{NAME}\s*:""")
MAX_KIND_BRANCHES = 20


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The explorer modules `path` imports (relative imports resolved), at any depth of the file."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            if not mod.startswith("explorer"):
                continue
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)       # `from . import cells`
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("explorer"))
    known = {_module(p) for p in SOURCES}
    return {m for m in out if m in known and m != _module(path)}


def test_no_import_circles():
    graph = {_module(p): _imports(p) for p in SOURCES}
    graph = {m: {d for d in deps if not (m.startswith(d + ".") or d == "explorer")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_file_over_400_lines():
    long = {str(p.relative_to(ROOT.parent)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def kind_branches() -> dict[str, int]:
    counts = {}
    for p in SOURCES:
        if p in KIND_HOME:
            continue
        n = sum(1 for line in p.read_text().splitlines() if KIND_BRANCH.search(line))
        if n:
            counts[str(p.relative_to(ROOT.parent))] = n
    return counts


def test_branches_on_the_cell_kind_stay_in_its_home():
    counts = kind_branches()
    assert sum(counts.values()) <= MAX_KIND_BRANCHES, counts


def test_the_pattern_sees_a_branch():
    """The count above could pass by missing everything: the pattern must see each form."""
    for line in ['if kind == "lstm":', "x = a if p.kind != 'rnn' else b", 'if kind in ("lstm", "gru"):',
                 "if isinstance(core, nn.GRU):", 'names = {"lstm": "LSTM"}']:
        assert KIND_BRANCH.search(line), line
    for line in ["kind = kinds.of(rnn)", "if kind.has_c:", 'kind = "series"', 'if kind == "char":']:
        assert not KIND_BRANCH.search(line), line


def test_core_imports_no_streamlit_and_ui_no_torch():
    for p in SOURCES:
        tree = ast.parse(p.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        rel = p.relative_to(ROOT.parent)
        if "ui" in rel.parts:
            assert "torch" not in names, f"{rel} imports torch: move the computation into the library"
        else:
            assert "streamlit" not in names, f"{rel} imports streamlit"


def test_every_package_is_in_the_wheel():
    """A subpackage missing from pyproject's list installs without its files (test_package catches the
    import failure a minute later; this says which one)."""
    import tomllib
    conf = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    for init in ROOT.rglob("__init__.py"):
        name = _module(init)
        assert name in listed, f"{name} is not in [tool.setuptools] packages"
        assert conf["package-dir"].get(name) == str(init.parent.relative_to(ROOT.parent)), name
