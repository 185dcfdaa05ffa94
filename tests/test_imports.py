"""The package import graph: no circles, and reports that only read.

Every ``import imbalance_lab.X`` is read from the source with ``ast``, imports inside
functions included (a lazy import is still a dependency); only ``if TYPE_CHECKING:``
blocks are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imbalance_lab"


def _unit(module: str) -> str:
    """imbalance_lab.training.trainer -> training; imbalance_lab.config -> config."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []  # never runs
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found.update(n for n in names if n.startswith("imbalance_lab."))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("imbalance_lab."))
    return found


def _graph() -> dict[str, set[str]]:
    units = {p.stem if p.parent == PACKAGE else p.parent.name for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        unit = _unit(".".join(rel.parts))
        targets = {_unit(m) for m in _imports(ast.parse(path.read_text()))}
        graph.setdefault(unit, set()).update(t for t in targets if t in units and t != unit)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_package_imports_in_a_circle():
    graph = _graph()
    assert {"config", "training", "data", "reports", "experiments", "cli"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_components_do_not_depend_on_the_config():
    # Models, strategies, data and evaluation take values, not the config: the config is
    # assembled from their declarations, so depending on it would close a circle.
    graph = _graph()
    for unit in ("models", "strategies", "data", "evaluation", "params", "registry"):
        assert "config" not in graph.get(unit, set()), unit


def test_reports_only_read_results():
    # No scoring in reports/: they read what the runs wrote (rundir) and never train, score,
    # load a model or rebuild a data set.
    graph = _graph()
    assert graph["reports"] <= {"rundir", "io", "errors", "config", "params"}, graph["reports"]
