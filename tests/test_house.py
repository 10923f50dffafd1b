"""The house rules of CONTRIBUTING.md, checked: folders as floors (imports only go down), no circles,
small files, one home per cell kind, a UI that imports no torch. Each test reads the source; none runs the app."""
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


KNOWN: set[str] = set()          # every explorer module, filled below once _module exists


def _resolve(path: Path, stmts) -> set[str]:
    """The explorer modules named by these import statements of `path` (relative imports resolved)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in stmts:
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            if not mod.startswith("explorer"):
                continue
            subs = {f"{mod}.{a.name}" for a in node.names} & KNOWN  # `from . import cells`: the module cells
            out.update(subs or {mod})
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("explorer"))
    return {m for m in out if m in KNOWN and m != _module(path)}


def _imports(path: Path) -> set[str]:
    """The explorer modules `path` imports, at any depth of the file."""
    tree = ast.parse(path.read_text())
    return _resolve(path, [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))])


KNOWN.update(_module(p) for p in SOURCES)

# The floors, as folders: which subpackages each may import (explorer.errors and explorer._version, the
# ground, are open to all). bench is on top and may import anything; the top-level package gathers the
# public API from the floors below plots.
FLOORS = {
    "core": set(),
    "io": {"core"},
    "analysis": {"core", "io"},
    "training": {"core", "io"},
    "plots": {"core"},
    "ui": {"core", "io", "analysis", "training", "plots", "explorer"},
}
GROUND = {"explorer.errors", "explorer._version"}
# The one way up: Trace.plot(), GradientFlow.plot() and History.plot(), notebook conveniences, import the figures when
# called (inside the method, so the library never needs plotly until a figure is asked for).
LAZY_UP = {("explorer.core.trace", "plots"), ("explorer.core.gradients", "plots"), ("explorer.training.history", "plots")}
TOP_LEVEL = {"__init__.py", "__main__.py", "_version.py", "errors.py", "cli.py", "serve.py"}


def _floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (ROOT / parts[1]).is_dir() else "explorer"


def _imports_at(path: Path, top_only: bool) -> set[str]:
    """The explorer modules `path` imports at module level (top_only) or anywhere."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_only else list(ast.walk(tree))
    stmts = [n for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
    if top_only:      # also the bodies of module-level if/try blocks
        for n in tree.body:
            if isinstance(n, (ast.If, ast.Try)):
                stmts += [m for m in ast.walk(n) if isinstance(m, (ast.Import, ast.ImportFrom))]
    return _resolve(path, stmts)


def test_imports_go_down_the_floors():
    wrong = []
    for p in SOURCES:
        here = _module(p)
        floor = _floor(here)
        if floor in ("bench", "explorer"):
            continue
        for dep in _imports(p):
            other = _floor(dep)
            if other == floor or dep in GROUND or other in FLOORS[floor] or (here, other) in LAZY_UP:
                continue
            wrong.append(f"{here} imports {dep} ({floor} may import {sorted(FLOORS[floor]) or 'no other floor'})")
    assert not wrong, "\n".join(wrong)


# Inside io, three rooms over two shared modules: inputs <- readers <- models.
IO_GROUND = {"explorer.io.files", "explorer.io.budget"}
IO_ROOMS = {"inputs": set(), "readers": {"inputs"}, "models": {"inputs", "readers"}}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "io" else None


def test_io_rooms_import_only_downwards():
    """The io rooms: what people give (inputs), files -> modules (readers), what a model is (models)."""
    assert {p.name for p in (ROOT / "io").iterdir() if p.is_dir() and p.name != "__pycache__"} == set(IO_ROOMS)
    assert {p.name for p in (ROOT / "io").glob("*.py")} == {"__init__.py", "files.py", "budget.py"}
    wrong = []
    for p in SOURCES:
        here = _module(p)
        if here in IO_GROUND:
            wrong += [f"{here} imports {d}" for d in _imports(p) if _floor(d) == "io" and d not in IO_GROUND]
            continue
        room = _room(here)
        if room is None:
            continue
        for dep in _imports(p):
            other = _room(dep)
            if other is not None and other != room and other not in IO_ROOMS[room]:
                wrong.append(f"{here} imports {dep} ({room} may import {sorted(IO_ROOMS[room]) or 'no other room'})")
    assert not wrong, "\n".join(wrong)


def test_the_way_up_is_only_lazy():
    """The LAZY_UP imports happen inside a function, never when the module is imported."""
    for module, floor in LAZY_UP:
        path = ROOT.parent / (module.replace(".", "/") + ".py")
        assert not {d for d in _imports_at(path, top_only=True) if _floor(d) == floor}, module
        assert {d for d in _imports(path) if _floor(d) == floor}, f"{module} no longer needs its lazy import"


def test_the_top_holds_the_entry_points_and_every_folder_says_what_it_holds():
    top = {p.name for p in ROOT.glob("*.py")}
    assert top <= TOP_LEVEL, sorted(top - TOP_LEVEL)
    for init in ROOT.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 8, f"{init.relative_to(ROOT.parent)} needs a docstring saying what lives there"
    for floor in FLOORS:
        doc = ast.get_docstring(ast.parse((ROOT / floor / "__init__.py").read_text()))
        assert "Imports" in doc or floor == "ui", f"explorer/{floor}/__init__.py should say what it may import"


def test_floors_pass_on_a_planted_violation(tmp_path):
    """The floor rule must see an upward import: core importing io, written the two ways."""
    for line in ["from explorer.io.inputs import data", "from ..io.inputs.data import Vocab"]:
        f = tmp_path / "x.py"
        f.write_text(line + "\n")
        stmts = [n for n in ast.walk(ast.parse(line)) if isinstance(n, ast.ImportFrom)]
        deps = _resolve(ROOT / "core" / "x.py", stmts)
        assert {_floor(d) for d in deps} == {"io"}, (line, deps)


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
            # preload.py imports the page's libraries (torch among them) first and computes nothing
            assert "torch" not in names or rel.name == "preload.py", f"{rel} imports torch: move the computation into the library"
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


def test_scripts_streamlit_runs_as_files_import_absolutely():
    """`streamlit run` executes these as files outside the package: a relative import fails there (and
    only in a served app: AppTest runs the page script directly)."""
    for script in (ROOT / "ui" / "streamlit_app.py", ROOT / "ui" / "asgi_app.py", ROOT / "ui" / "bench_minimal.py",
                   ROOT.parent / "app.py"):
        rel = [n for n in ast.walk(ast.parse(script.read_text())) if isinstance(n, ast.ImportFrom) and n.level]
        assert not rel, f"{script.name} imports relatively"
