"""The long-tail benchmark's page (docs/long-tail.md), read from its results folder.

The numbers are the experiment's (benchmark.json: top-1 and shot groups per run, wall
time, machine); this module only lays them out: one table per imbalance factor and
schedule, each method's published figure beside ours.
"""

from __future__ import annotations

import json
from pathlib import Path

from imbalance_lab.errors import OutputError
from imbalance_lab.io import atomic_write_text
from imbalance_lab.reports.render import render
from imbalance_lab.reports.tables import Table, fmt_mean_std, mean_std
from imbalance_lab.rundir import BENCHMARK

PAGE = "long-tail.md"


def write_long_tail_page(out: str | Path, doc: str | Path | None = None) -> Path:
    """Write ``out/long-tail.md`` (and ``doc`` when given) from ``out/benchmark.json``."""
    out = Path(out)
    try:
        summary = json.loads((out / BENCHMARK).read_text())
    except (OSError, ValueError) as exc:
        raise OutputError(
            f"cannot read {out / BENCHMARK}: {exc}; run the benchmark first"
        ) from None
    groups = []
    for group in dict.fromkeys(row["group"] for row in summary["rows"]):
        rows = [row for row in summary["rows"] if row["group"] == group]
        groups.append({"name": group, "imbalance": rows[0]["imbalance"],
                       "epochs": rows[0]["epochs"], "table": _table(rows),
                       "machines": _machines(rows)})  # fmt: skip
    text = render("benchmark/long-tail.md", summary=summary, groups=groups)
    atomic_write_text(out / PAGE, text)
    if doc is not None:
        atomic_write_text(doc, text)
    return out / PAGE


def _table(rows: list[dict]) -> Table:
    header = ["method", "published top-1", "ours: top-1", "many", "medium", "few", "seeds",
              "wall per seed"]  # fmt: skip
    body = []
    for row in rows:
        published = "–" if row["published"] is None else f"{row['published']:.2f}"
        shots = [_percent([v for v in row["shots"][k] if v is not None]) for k in ("many", "medium", "few")]  # fmt: skip
        body.append([row["method"], published, _percent(row["top1"]), *shots,
                     ", ".join(map(str, row["seeds"])), _duration(mean_std(row["wall_seconds"])[0])])  # fmt: skip
    return Table(header, body)


def _machines(rows: list[dict]) -> list[dict]:
    """The machines a group's runs finished on, each with the methods that ran there."""
    by_machine: dict[str, list[str]] = {}
    for row in rows:
        if row["machine"]:
            by_machine.setdefault(json.dumps(row["machine"], sort_keys=True), []).append(
                row["method"]
            )
    return [{**json.loads(m), "methods": methods} for m, methods in sorted(by_machine.items())]


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _percent(values: list[float]) -> str:
    return fmt_mean_std(values, digits=2) if values else "–"
