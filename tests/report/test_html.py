"""The HTML report: self-contained, and its timeline marks reboots, WAIT_FOR_DATA pauses and aborts where
they happened."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from rig.report.html import render_report, write_report
from rig.report.sequence import messages
from rig.report.timeline import Timeline, downsample
from tests.report.records import BLOCK, PPMID_SIZE, record_copy


def _svg(html: str, cls: str) -> ET.Element:
    m = re.search(rf'<svg class="{cls}".*?</svg>', html, re.S)
    assert m, f"no <svg class={cls}> in the report"
    return ET.fromstring(m.group(0))


def _points(svg: ET.Element, device: str) -> list[tuple[float, float]]:
    line = next(p for p in svg.iter("polyline") if p.get("data-device") == device)
    return [tuple(map(float, xy.split(","))) for xy in line.get("points").split()]


def _marks(svg: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in svg.iter("g") if cls in (g.get("class") or "").split()]


def _events(record, kind, device=None):
    return [e for e in record["events"] if e["kind"] == kind and (device is None or e["device"] == device)]


def test_report_is_self_contained(tmp_path) -> None:
    path = write_report([record_copy()], tmp_path)
    html = path.read_text(encoding="utf-8")
    assert path.name == "report.html" and html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:", html, re.I)
    assert not re.search(r"<script|<link|<img|<iframe|@import|\bsrc=", html, re.I)
    assert all(u.startswith("url(#") for u in re.findall(r"url\([^)]*\)", html))  # only in-document refs
    for section in ("Steps", "Measurements", "Alerts (in order)", "Transfer timeline", "Message sequence"):
        assert f"<h3>{section}</h3>" in html


def test_timeline_marks_the_reboot_and_the_pause_where_they_happened() -> None:
    record = record_copy()
    html = render_report([record])
    svg = _svg(html, "timeline")
    ppmid = _points(svg, "ppmid")

    (reboot_event,) = _events(record, "reboot", "ppmid")
    (reboot,) = _marks(svg, "mark-reboot")
    assert reboot.get("data-device") == "ppmid" and float(reboot.get("data-t")) == reboot_event["t"]
    assert "reboot ppmid" in "".join(reboot.itertext())
    line = reboot.find("line")
    x = float(line.get("x1"))
    # The line sits in the gap of the PPMID's series: after its last block before the reboot, before the next.
    before = [p for p in ppmid if p[0] <= x]
    after = [p for p in ppmid if p[0] > x]
    assert before and after
    assert after[0][0] - x > 0.5 * (after[0][0] - before[-1][0])  # 12 s of silence after the reboot
    # ... and at the height where the transfer was (60 %) on both sides: the device resumed, not restarted.
    y60 = Timeline.PLOT_TOP + Timeline.PLOT_H * 0.4
    assert abs(before[-1][1] - y60) < 3 and abs(after[0][1] - y60) < 3

    (wait_event,) = _events(record, "wait_for_data", "ppmid")
    pauses = [g for g in _marks(svg, "mark-pause") if g.get("data-device") == "ppmid"]
    assert len(pauses) == 1
    pause = pauses[0]
    assert "WAIT_FOR_DATA" in "".join(pause.itertext())
    assert float(pause.get("data-t")) == wait_event["t"]
    assert float(pause.get("data-t-end")) - wait_event["t"] == 30.0  # resumed at the next block
    rect = pause.find("rect")
    x0, x1 = float(rect.get("x")), float(rect.get("x")) + float(rect.get("width"))
    last_before = max(p[0] for p in ppmid if p[0] <= x0 + 0.05)
    first_after = min(p[0] for p in ppmid if p[0] >= x1 - 0.05)
    assert abs(first_after - x1) < 0.2 and x0 - last_before < 1.0  # the band spans the flat stretch
    assert abs(ppmid[[p[0] for p in ppmid].index(first_after)][1] - (Timeline.PLOT_TOP + Timeline.PLOT_H * 0.75)) < 3

    (abort,) = _marks(svg, "mark-abort")
    assert abort.get("data-device") == "hcalcs" and "abort hcalcs" in "".join(abort.itertext())
    assert float(abort.find("line").get("x1")) < x  # hcalcs aborted before the PPMID rebooted

    legend = "".join(next(g for g in svg.iter("g") if g.get("class") == "legend").itertext())
    for label in ("ppmid", "hcalcs", "WAIT_FOR_DATA pause", "reboot", "abort", "Upgrade End", "activated"):
        assert label in legend


def test_long_idle_gap_is_cut_so_the_transfer_stays_readable() -> None:
    record = record_copy()
    timeline = Timeline(record["events"])
    assert len(timeline.axis.breaks) == 1  # the 15-minute wait for the activation check
    (end,) = _events(record, "upgrade_end", "ppmid")
    width = timeline.WIDTH - timeline.LEFT - timeline.RIGHT
    assert timeline.x(end["t"]) - timeline.x(0) > 0.8 * width
    xs = [timeline.x(e["t"]) for e in sorted(record["events"], key=lambda e: e["t"])]
    assert xs == sorted(xs) and xs[-1] <= timeline.WIDTH - timeline.RIGHT + 0.01


def test_many_blocks_are_down_sampled() -> None:
    record = record_copy()
    blocks = [e for e in record["events"] if e["kind"] == "block" and e["device"] == "ppmid"]
    assert len(blocks) == PPMID_SIZE // BLOCK
    svg = _svg(render_report([record]), "timeline")
    points = _points(svg, "ppmid")
    assert len(points) < len(blocks) / 1.5
    ys = [y for _, y in points]
    assert ys == sorted(ys, reverse=True)  # the PPMID never went backwards (it resumed after the reboot)
    # first/lowest/highest/last per bucket: a restart from 0 survives down-sampling
    series = [(float(i), float(i % 500)) for i in range(5000)]
    kept = downsample(series, 0, 5000, buckets=50)
    assert len(kept) <= 200 and kept[0] == series[0] and kept[-1] == series[-1]
    assert sum(1 for a, b in zip(kept, kept[1:]) if b[1] < a[1]) == 9  # every one of the 9 drops to 0 is kept


def test_sequence_chart_collapses_blocks_per_device() -> None:
    record = record_copy()
    msgs, left_off = messages(record["events"])
    assert left_off == 0
    blocks = [m for m in msgs if m.kind == "block"]
    assert sum(m.count for m in blocks) == len(_events(record, "block"))
    assert len(blocks) <= 6  # ppmid: before the pause, before the reboot, after; hcalcs: before/after abort
    svg = _svg(render_report([record]), "sequence")
    lanes = [g.get("data-actor") for g in svg.iter("g") if g.get("class") == "lane"]
    assert lanes[:3] == ["DSP", "CSP", "CH"] and set(lanes[3:]) == {"ppmid", "hcalcs"}
    texts = ["".join(g.itertext()) for g in svg.iter("g") if (g.get("class") or "").startswith("msg ")]
    assert any("Image Block ×" in t for t in texts)
    assert any(g.get("data-from") == "ppmid" and g.get("data-to") == "ppmid"
               for g in svg.iter("g") if (g.get("class") or "") == "msg msg-reboot")


def test_odd_records_render_with_escaping_and_no_traceback() -> None:
    record = record_copy()
    record["events"].append({"t": 3.0, "device": "ppmid", "kind": "fault", "detail": "<script>alert(1)</script>",
                             "actor": "device", "to": None, "offset": None, "size": None})
    record["events"].append({"t": "not a time", "kind": "block"})
    record["steps"][0]["message"] = "a <b> & c"
    html = render_report([record, {"plan": {"id": "x"}, "verdict": None, "steps": "oops", "measurements": [None],
                                   "events": None}])
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &lt;b&gt; &amp; c" in html
    assert 'id="plan-x"' in html
    _svg(html, "timeline")  # still well-formed XML
