"""Tables as data (a header and rows of cells), and the summary statistics over seeds in them.

A report builds each table once; templates render it as Markdown and as HTML, and
``csv_text`` as CSV.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]  # cells as shown, one list per row


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single seed)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def interval95(values: list[float]) -> tuple[float, float]:
    """Student-t 95% interval of the mean over seeds (the mean itself for one seed)."""
    from scipy import stats

    m, s = mean_std(values)
    if len(values) < 2:
        return m, m
    half = stats.t.ppf(0.975, len(values) - 1) * s / math.sqrt(len(values))
    return m - half, m + half


def fmt_mean_std(values: list[float], digits: int = 3) -> str:
    """``mean ± std`` over seeds; the mean alone for one seed."""
    if not values:
        return "–"
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}" if len(values) > 1 else f"{m:.{digits}f}"


def fmt_interval(values: list[float]) -> str:
    """``mean ± std [95% interval]`` over seeds; the mean alone for one seed."""
    if len(values) < 2:
        return fmt_mean_std(values)
    lo, hi = interval95(values)
    return f"{fmt_mean_std(values)} [{lo:.3f}, {hi:.3f}]"


def csv_text(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
