"""Reports only read results folders: no module of reports/ imports the code that makes them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import imbalance_lab.reports

REPORTS = Path(imbalance_lab.reports.__file__).parent
MAKERS = ("experiments", "training", "data", "models")  # packages a report must not import


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` imports, at the top or inside a function, as an absolute name."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            # `from imbalance_lab import data` imports the package imbalance_lab.data.
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def makers_imported(source: str, package: str = "imbalance_lab.reports") -> list[str]:
    banned = tuple(f"imbalance_lab.{name}" for name in MAKERS)
    return sorted(
        m
        for m in imported_modules(source, package)
        if m in banned or m.startswith(tuple(b + "." for b in banned))
    )


@pytest.mark.parametrize("path", sorted(REPORTS.rglob("*.py")), ids=lambda p: p.name)
def test_no_report_module_imports_experiments_training_data_or_models(path):
    assert makers_imported(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "from imbalance_lab.experiments.sweep import _load_study",
        "import imbalance_lab.models.saved",
        "from imbalance_lab import data",
        "from ..training import trainer",
        "def f():\n    from imbalance_lab.data.task import build_task\n    return build_task",
    ],
)
def test_the_check_sees_every_way_of_importing(source):
    assert makers_imported(source) != []


def test_the_check_lets_pure_readers_through():
    source = "from imbalance_lab.rundir import RunFolder\nfrom imbalance_lab.dataset_notes import x"
    assert makers_imported(source) == []
