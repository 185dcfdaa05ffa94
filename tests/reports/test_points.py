"""An operating point's interval and warning in the reports; older results without them."""

from __future__ import annotations

import numpy as np

from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.evaluation.thresholds import choose_operating_point
from imbalance_lab.reports.points import interval_text, point_notes
from imbalance_lab.reports.render import render_html
from imbalance_lab.reports.sweep import SweepResults

INTERVAL = {
    "metric": "recall", "estimate": 0.908, "low": 0.8312, "high": 0.9588, "confidence": 0.95,
    "count": 40, "half_width": 0.0768, "count_for_0.02": 870,
}  # fmt: skip
WARNING = "the calibration recall 0.908 is known only to ±0.08 (...): add positives"
OLD_POINT = {"kind": "threshold", "value": 0.4, "met_on_calibration": True,
             "objective": "recall>=0.9", "message": "threshold 0.4000 meets recall>=0.9"}  # fmt: skip
NEW_POINT = {**OLD_POINT, "interval": INTERVAL, "warning": WARNING}


def test_the_interval_reads_in_one_line():
    assert interval_text(INTERVAL) == (
        "recall 0.908, 95% CI 0.83-0.96 from 40 calibration positives; ±0.02 needs ~870"
    )
    precision = {**INTERVAL, "metric": "precision"}
    assert "from 40 predicted positives" in interval_text(precision)


def test_the_train_page_shows_the_interval_and_the_warning_and_old_results_still_render():
    def section(point):
        return render_html(
            "sections/final-metrics.html", table=None, point=point, point_notes=point_notes(point)
        )

    new = section(NEW_POINT)
    assert "95% CI 0.83-0.96 from 40 calibration positives; ±0.02 needs ~870" in new
    assert "known only to ±0.08" in new
    old = section(OLD_POINT)
    assert "threshold 0.4000 meets recall&gt;=0.9" in old and "CI" not in old
    assert point_notes(None) == [] and point_notes({**OLD_POINT, "interval": None}) == []


def test_the_sweep_summary_shows_the_interval_of_the_best_trial():
    def rows(point):
        best = {"trial": 3, "params": {}, "value": 0.8, "run": "trial-3", "operating_point": point}
        return {what: value for what, value in SweepResults({}, [], best).best_table().rows}

    assert rows(NEW_POINT)["calibration interval"] == interval_text(INTERVAL)
    assert rows(NEW_POINT)["warning"] == WARNING
    assert "calibration interval" not in rows(OLD_POINT) and "warning" not in rows(OLD_POINT)


def test_a_point_as_the_chooser_makes_it_renders():
    rng = np.random.default_rng(0)
    p = np.r_[rng.uniform(0.3, 1.0, 40), rng.uniform(0.0, 0.7, 100)]
    y = np.r_[np.ones(40, int), np.zeros(100, int)]
    point = choose_operating_point(y, np.stack([1 - p, p], axis=1), parse_objective("recall>=0.9"))
    stored = {**OLD_POINT, "interval": point.interval, "warning": point.warning}  # as result.json
    notes = point_notes(stored)
    assert notes[0].startswith(f"recall {point.interval['estimate']:.3f}, 95% CI")
    assert notes[0].endswith(
        f"from 40 calibration positives; ±0.02 needs ~{point.interval['count_for_0.02']}"
    )
    assert notes[1] == point.warning
