"""How a run's operating point reads in a report: its interval and its warning.

result.json stores the point as evaluation/thresholds.py made it; from this change on it
may carry ``interval`` (the Clopper-Pearson interval of the calibration estimate) and
``warning`` (one line when that interval is wider than ±0.05). Older results have
neither, and read as before.
"""

from __future__ import annotations


def interval_text(interval: dict) -> str:
    """E.g. 'recall 0.908, 95% CI 0.83-0.96 from 40 calibration positives; ±0.02 needs ~870'."""
    counted = "calibration positives" if interval["metric"] == "recall" else "predicted positives"
    text = (
        f"{interval['metric']} {interval['estimate']:.3f}, {interval['confidence']:.0%} CI "
        f"{interval['low']:.2f}-{interval['high']:.2f} from {interval['count']} {counted}"
    )
    # The key names its width ("count_for_0.02"): read it rather than assume it.
    for key, count in interval.items():
        if key.startswith("count_for_"):
            text += f"; ±{key.removeprefix('count_for_')} needs ~{count}"
    return text


def point_notes(point: dict | None) -> list[str]:
    """The lines a report adds under an operating point's message (none for older results)."""
    if not point:
        return []
    notes = [interval_text(point["interval"])] if point.get("interval") else []
    return notes + ([point["warning"]] if point.get("warning") else [])
