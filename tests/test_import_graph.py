"""The package's import graph has no cycle, and commands parse arguments only at the face (``bca/cli/``).

The graph is read from the source (``ast``), so it holds every ``import`` / ``from ... import`` statement,
module level and inside functions alike: a lazy import that closes a circle is still a circle a reader must
untangle. ``from bca.x import y`` counts as an edge to ``bca.x.y`` when that is a module, else to ``bca.x``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bca"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """Every bca module ``path`` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(path, name, known) for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (depth-first search with colours)."""
    colour, stack = dict.fromkeys(edges, 0), []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if colour[nxt] == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if colour[nxt] == 0 and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = 2
        return None

    for start in sorted(edges):
        if colour[start] == 0 and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle_and_passes_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_function_level_and_relative_imports_are_edges(tmp_path):
    pkg = tmp_path / "bca"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from bca.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from .a import f\n")
    known = {"bca", "bca.sub", "bca.sub.a", "bca.sub.b"}
    assert imported(pkg / "sub" / "a.py", "bca.sub.a", known) == {"bca.sub.b"}
    assert imported(pkg / "sub" / "b.py", "bca.sub.b", known) == {"bca.sub.a"}


def test_bca_has_no_import_cycle():
    edges = graph()
    assert len(edges) > 50  # the walk saw the package, not an empty folder
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("layer", ["config", "run", "count", "methods", "tasks", "adapters", "paper", "report"])
def test_no_library_layer_imports_the_command_line(layer):
    """``bca.cli`` is the face: nothing below it imports it or parses arguments."""
    found = modules()
    for name, path in found.items():
        if name.startswith(f"bca.{layer}"):
            assert not any(t.startswith("bca.cli") for t in imported(path, name, set(found))), name
            assert "ArgumentParser(" not in path.read_text(encoding="utf-8"), f"{name} parses arguments"


LAYERS = [
    "bca.adapters", "bca.models", "bca.tasks", "bca.count.flops", "bca.methods", "bca.count", "bca.config",
    "bca.run", "bca.paper", "bca.report", "bca.cli",
]  # fmt: skip
"""Low to high. Data flows config -> run -> record -> report: a module imports its own layer or lower ones.
``bca.count.flops`` (the analytic formulas each method registration cites) sits below the methods; the rest of
``bca.count`` applies methods to models and sits above them."""


def layer(name: str) -> int | None:
    matches = [i for i, prefix in enumerate(LAYERS) if name == prefix or name.startswith(prefix + ".")]
    return max(matches, key=lambda i: len(LAYERS[i])) if matches else None


def test_every_module_sits_in_a_layer():
    assert [name for name in modules() if name != "bca" and layer(name) is None] == []


def test_no_import_runs_back_up_the_layers():
    upward = [
        f"{name} ({LAYERS[layer(name)]}) imports {target} ({LAYERS[layer(target)]})"
        for name, targets in graph().items()
        if name != "bca"  # the package face: ``from bca import BCAConfig`` (lazy)
        for target in targets
        if layer(target) > layer(name)
    ]
    assert upward == []
