"""The import graph of ``ultralink`` (lazy, function-level imports included) has no cycles,
between modules or between packages, and only the entry points import the CLI: the layer
map in README.md ("The code, in layers") holds."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = {"ultralink.cli", "ultralink.__main__"}


def import_graph() -> dict[str, set[str]]:
    mods = {}
    for path in (ROOT / "ultralink").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            graph[name] |= {t for t in targets if t in mods and t not in (name, "ultralink")}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        state[v] = 2
        path.pop()
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_cycles():
    assert cycle(import_graph()) is None


def test_no_package_cycles():
    packages: dict[str, set[str]] = {}
    for m, targets in import_graph().items():
        packages.setdefault(package(m), set()).update(
            package(t) for t in targets if package(t) != package(m))
    assert cycle(packages) is None


def in_cli(module: str) -> bool:
    return module == "ultralink.cli" or module.startswith("ultralink.cli.")


def test_only_entry_points_import_the_cli():
    users = {m for m, targets in import_graph().items()
             if not in_cli(m) and any(in_cli(t) for t in targets)}
    assert users <= ENTRY_POINTS, users - ENTRY_POINTS


def test_the_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_generic_runner_knows_no_llm():
    """``pipeline/`` (runner, dataflow, units, outcome, report) runs any job: it imports
    neither the engines (``llm/``) nor their hosting (``hosting/``)."""
    for m, targets in import_graph().items():
        if m.startswith("ultralink.pipeline"):
            llm = {t for t in targets if t.startswith(("ultralink.llm", "ultralink.hosting"))}
            assert not llm, f"{m} imports the LLM layer: {sorted(llm)}"
