"""The architecture as a test: layers, the store as the only door to DuckDB, no private imports, no circles.

Every import counts — top-level, inside functions and under ``TYPE_CHECKING`` — because a lazy
import still ties the modules together (ARCHITECTURE.md). The layers, top to bottom::

    cli | web → workspace facade → report → analyses → services → metrics, ingest → store → schema → errors

A module may import modules of its own layer or of a lower one, never of a higher one.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "cxlens"

#: (layer rank, module prefixes); higher rank = higher layer. The first matching prefix wins, so
#: longer prefixes come first where they override a shorter one.
LAYERS: list[tuple[int, tuple[str, ...]]] = [
    (9, ("cxlens.cli", "cxlens.__main__")),
    (8, ("cxlens.web",)),
    (7, ("cxlens.workspace",)),
    (6, ("cxlens.report", "cxlens.scale")),
    (
        5,
        (
            "cxlens.journeys",
            "cxlens.voice",
            "cxlens.customers",
            "cxlens.behaviour",
            "cxlens.experiments",
            "cxlens.learn",
            "cxlens.interviews",
            "cxlens.engagement",
        ),
    ),  # fmt: skip
    (4, ("cxlens.act", "cxlens.surveys", "cxlens.access", "cxlens.collect", "cxlens.jobs")),
    (3, ("cxlens.metrics", "cxlens.ingest", "cxlens.charts")),
    (2, ("cxlens.store",)),
    (1, ("cxlens.schema",)),
    (0, ("cxlens.errors", "cxlens.version", "cxlens._cpu")),
]
#: the package itself (``import cxlens``) is the facade: only the shells may import it
TOP = 7


def _rank(module: str) -> int:
    if module == "cxlens":
        return TOP
    for rank, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"module {module} has no layer; add it to LAYERS in tests/test_architecture.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_modules()[module].read_text(encoding="utf-8"))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from … import`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_pkg = _modules()[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported cxlens module, names taken from it, line) for every import anywhere in ``module``."""
    mods = _modules()
    out = []
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "cxlens" or a.name.startswith("cxlens."):
                    out.append((a.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if not (target == "cxlens" or target.startswith("cxlens.")):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in mods:  # `from pkg import submodule`
                    out.append((sub, [], node.lineno))
                else:
                    out.append((target, [a.name], node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {t for t, _, _ in _imports(m) if t in mods and t != m} for m in mods}


def test_every_module_has_a_layer():
    for m in _modules():
        _rank(m)


def test_no_module_imports_a_higher_layer():
    bad = []
    for m in sorted(_modules()):
        for target, _, line in _imports(m):
            if target in _modules() and _rank(target) > _rank(m):
                bad.append(f"{m}:{line} imports {target}")
    assert not bad, "imports from a lower layer to a higher one:\n" + "\n".join(bad)


def test_only_the_store_touches_duckdb():
    bad = []
    for m in sorted(_modules()):
        if m.startswith("cxlens.store"):
            continue
        for node in ast.walk(_tree(m)):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "duckdb" for a in node.names):
                bad.append(f"{m}:{node.lineno} imports duckdb")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "duckdb":
                bad.append(f"{m}:{node.lineno} imports from duckdb")
            elif isinstance(node, ast.Attribute) and node.attr in ("_raw", "_require_raw", "_has_rollup"):
                bad.append(f"{m}:{node.lineno} uses .{node.attr}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = node.value.strip().upper().split()
                if words[:1] in (["BEGIN"], ["COMMIT"], ["ROLLBACK"]) and len(words) <= 2:
                    bad.append(f"{m}:{node.lineno} says {node.value!r}: use store.transaction()")
    assert not bad, "only cxlens.store may talk to DuckDB directly:\n" + "\n".join(bad)


def test_no_workspace_lock_outside_the_store():
    bad = []
    for m in sorted(_modules()):
        if m.startswith("cxlens.store"):
            continue
        for node in ast.walk(_tree(m)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "_lock"
                and isinstance(node.value, ast.Name)
                and node.value.id in ("ws", "workspace", "store")
            ):
                bad.append(f"{m}:{node.lineno} uses {node.value.id}._lock")
    assert not bad, "\n".join(bad)


def test_no_private_name_is_imported_across_modules():
    bad = []
    for m in sorted(_modules()):
        for target, names, line in _imports(m):
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != m:
                    bad.append(f"{m}:{line} imports {target}.{n}")
    assert not bad, "private names imported from another module (make them public or move them):\n" + "\n".join(bad)


def test_no_import_circles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import circles (lazy and TYPE_CHECKING imports included):\n" + "\n".join(
        " ↔ ".join(c) for c in cycles
    )


@pytest.mark.parametrize("name", ["Workspace"])
def test_nothing_below_the_facade_names_it(name):
    """Domain code takes a store; only the shells and the facade itself import the Workspace class."""
    bad = []
    for m in sorted(_modules()):
        if _rank(m) >= _rank("cxlens.workspace"):
            continue
        for target, names, line in _imports(m):
            if target == "cxlens.workspace" or (target == "cxlens" and name in names):
                bad.append(f"{m}:{line}")
    assert not bad, "\n".join(bad)
