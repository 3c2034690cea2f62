"""The report laid out by a real browser (headless Debian chromium) at 1024 px: nothing wider than the
window, no text outside its picture or overflowing its table cell, no two labels on top of each other.
Once for a real happy-path run, once for the busy synthetic record (two devices, a pause, a reboot, an
abort)."""

from __future__ import annotations

from rig.report.html import write_report
from tests.report.browser import measure
from tests.report.records import synthetic_record


def _check(m: dict) -> None:
    assert m["width"] == 1024, m["width"]
    assert m["texts"] > 40  # the pictures were laid out
    assert m["scrollWidth"] <= m["width"], f"page scrolls sideways: {m['scrollWidth']} px; {m['overflow'][:5]}"
    assert not m["overflow"], m["overflow"][:10]
    assert not m["outside"], m["outside"][:10]
    assert not m["cells"], m["cells"][:10]
    assert not m["overlaps"], m["overlaps"][:10]


def test_happy_path_report_fits_1024_px_without_overlapping_text(happy) -> None:
    _, path, _ = happy
    _check(measure(path))


def test_busy_report_fits_1024_px_without_overlapping_text(tmp_path) -> None:
    _check(measure(write_report([synthetic_record()], tmp_path)))


def test_crowded_marks_and_day_long_gaps_do_not_overlap(tmp_path) -> None:
    record = synthetic_record()
    end = max(e["t"] for e in record["events"] if e["kind"] == "upgrade_end")
    for i in range(4):  # a device that sends Upgrade End again and again within a second (seen in real runs)
        record["events"].append({"t": end + 0.2 * (i + 1), "device": "ppmid", "kind": "upgrade_end", "detail": "",
                                 "actor": "device", "to": "CH"})
    for day in (1, 2):  # a plan that jumps days ahead: break labels like +23h59 under the axis
        record["events"].append({"t": 120 + 86400.0 * day, "device": "ppmid", "kind": "query", "detail": "",
                                 "actor": "device", "to": "CH"})
    record["events"].sort(key=lambda e: e["t"])
    _check(measure(write_report([record], tmp_path)))
