"""The exporter's modules import each other without a circle, and at module level.

Builds the import graph from the sources (every ``from .x import y``,
including those inside functions and under ``TYPE_CHECKING``), so a cycle
cannot hide behind a function-local import.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

EXPORTER = Path(__file__).resolve().parents[1] / "exporter"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(EXPORTER.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: Set[str]) -> Dict[str, bool]:
    """``{imported module: imported at module level}`` of one file's relative imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks count as module level
        if isinstance(node, ast.If):
            top_level |= {id(child) for child in node.body}
    found: Dict[str, bool] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
        targets = [f"{target}.{alias.name}" for alias in node.names]
        if not name.startswith(target + "."):  # `from . import blob` imports blob, not the package
            targets.append(target)
        # Importing a submodule from outside its package runs the package first.
        parts = target.split(".")
        targets += [p for p in (".".join(parts[:k]) for k in range(2, len(parts))) if not name.startswith(p + ".")]
        for module in targets:
            if module in modules and module != name:
                found[module] = found.get(module, False) or id(node) in top_level
    return found


def _graph() -> Dict[str, Dict[str, bool]]:
    files = {_module_name(p): p for p in EXPORTER.rglob("*.py")}
    return {name: _imports(path, set(files)) for name, path in files.items()}


def _cycles(graph: Dict[str, Dict[str, bool]]) -> List[List[str]]:
    cycles: List[List[str]] = []
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_exporter_modules_import_no_circle() -> None:
    graph = _graph()
    assert len(graph) > 20  # the walk found the package
    assert _cycles(graph) == []


def test_exporter_modules_import_each_other_at_module_level() -> None:
    local = sorted(f"{a} -> {b}" for a, targets in _graph().items() for b, top in targets.items() if not top)
    assert local == []


def test_a_cycle_would_be_found() -> None:
    assert _cycles({"a": {"b": True}, "b": {"c": False}, "c": {"a": True}}) == [["a", "b", "c", "a"]]
