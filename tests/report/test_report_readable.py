"""The report of a real happy-path run (ec00: real bellows/zigpy, hub, back end, emulated PPMID) reads for
people: clock times not epoch seconds, chart labels not dict reprs, steps with their arguments, codes in
hex, a link to the capture, a transfer wide enough to see, and the activation reboot not drawn as a fault.
(The layout in a real browser: test_report_in_chromium.py.)"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from tests.report.happy import SEQ_FONT_PX, text_boxes


def _svg(html: str, cls: str) -> ET.Element:
    m = re.search(rf'<svg class="{cls}".*?</svg>', html, re.S)
    assert m, f"no <svg class={cls}> in the report"
    return ET.fromstring(m.group(0))


def _section(html: str, table_class: str) -> str:
    m = re.search(rf"<table class={table_class}.*?</table>", html, re.S)
    assert m, f"no table {table_class}"
    return m.group(0)


def test_alerts_show_local_clock_times_and_offsets_not_epoch_seconds(happy) -> None:
    record, _, html = happy
    table = _section(html, "alerts")
    assert not re.search(r"\b1[,.]?\d{3}[,.]?\d{3}[,.]?\d{3}", table), "epoch seconds in the alerts table"
    for alert in record["alerts"]:
        local = dt.datetime.fromtimestamp(alert["time"]).astimezone().strftime("%H:%M:%S")
        assert local in table
    assert re.search(r"\+\d\.\d s", table) and re.search(r"\+15m0\d", table)  # offsets from the plan start
    assert "ppmid1" in table and "transfer ok" in table  # the device by name, the code explained


def test_sequence_labels_are_written_for_people(happy) -> None:
    _, _, html = happy
    svg = _svg(html, "sequence")
    labels = ["".join(t.itertext()) for t in svg.iter("text") if "msg-label" in (t.get("class") or "")]
    assert labels
    for label in labels:
        assert not re.search(r"[{}'\[\]]|=0x|\w=\w", label), label
    joined = "\n".join(labels)
    for want in ("QNI v1 → v2 offered", "0x8F8A transfer ok", "0x8F8B activation ok", "Image Block ×",
                 "SR 11.4 accepted", "Upgrade End SUCCESS", "reboot into v2"):
        assert want in joined, (want, labels)


def test_sequence_text_stays_inside_the_picture_and_does_not_overlap(happy) -> None:
    _, _, html = happy
    svg = _svg(html, "sequence")
    width = float(svg.get("viewBox").split()[2])
    boxes = text_boxes(svg, SEQ_FONT_PX)
    for text, x0, x1, y in boxes:
        assert x0 >= 0 and x1 <= width, (text, x0, x1, width)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if abs(a[3] - b[3]) < SEQ_FONT_PX and a[1] < b[2] and b[1] < a[2]:
                raise AssertionError(f"{a[0]!r} overlaps {b[0]!r}")


def test_steps_show_their_arguments_and_codes_in_hex(happy) -> None:
    _, _, html = happy
    steps = _section(html, "steps")
    assert "await_alert code=0x8F8A device=ppmid1 response_code=0x00 request=upgrade" in steps
    assert "advance_clock by=15m" in steps and "measure name=throughput" in steps
    images = html[html.index("<h3>Images</h3>"):]
    assert "manufacturer_code 0x1234" in images and "image_type 0x0101" in images and "4660" not in images
    assert "file_version 0x00000002" in images


def test_report_links_the_capture(happy) -> None:
    record, path, html = happy
    links = re.findall(r'<a href="([^"#]+\.pcapng)"', html)
    assert links == ["ec00-ppmid-happy-path.pcapng"]
    assert (path.parent / links[0]).stat().st_size > 1000


def test_happy_path_transfer_gets_a_readable_width(happy) -> None:
    _, _, html = happy
    svg = _svg(html, "timeline")
    plot = next(r for r in svg.iter("rect") if r.get("class") == "plot")
    line = next(p for p in svg.iter("polyline") if p.get("data-device") == "ppmid1")
    xs = [float(xy.split(",")[0]) for xy in line.get("points").split()]
    # The transfer shares the first piece of the axis with the pairing before it and the Upgrade End after
    # it, whose rig-time length depends on how loaded the host is (0.38 of the plot measured under CI load,
    # ~0.6 idle); a quarter of the plot (~220 px) is still a transfer anyone can read.
    assert max(xs) - min(xs) > 0.25 * float(plot.get("width")), (min(xs), max(xs), plot.get("width"))


def test_activation_reboot_is_not_drawn_like_a_fault(happy) -> None:
    record, _, html = happy
    reboots = [e for e in record["events"] if e["kind"] == "reboot"]
    assert [e.get("reason") for e in reboots] == ["activation"]
    timeline = _svg(html, "timeline")
    classes = {c for g in timeline.iter("g") for c in (g.get("class") or "").split()}
    assert "mark-reboot" not in classes and "mark-activation-reboot" in classes
    sequence = _svg(html, "sequence")
    (reboot,) = [g for g in sequence.iter("g") if "msg-reboot" in (g.get("class") or "")]
    assert all(t.get("fill") != "#c0392b" for t in reboot.iter("text"))


def test_an_older_record_with_plan_relative_alert_times_still_reads() -> None:
    from rig.report.html import render_report
    from tests.report.records import synthetic_record

    record = synthetic_record()  # alert "time" is seconds since the plan started, no "t"
    table = _section(render_report([record]), "alerts")
    first = min(a["time"] for a in record["alerts"])
    assert "1970" not in table and f"+{int(first // 60)}m{int(first % 60):02d}" in table
    local = dt.datetime.fromtimestamp(record["started_wall"] + first).astimezone().strftime("%H:%M:%S")
    assert local in table


def test_a_ch_restart_ends_a_run_of_image_blocks() -> None:
    from rig.report.sequence import messages

    def block(t: float, offset: int) -> dict:
        return {"t": t, "kind": "block", "device": "ppmid1", "offset": offset, "actor": "CH", "to": "device"}

    events = [block(1.0, 0), block(1.1, 40), {"t": 1.2, "kind": "ch_restart", "actor": "CH", "to": "CH"},
              block(5.0, 80), block(5.1, 120)]
    runs = [(m.kind, m.count) for m in messages(events)[0]]
    assert runs == [("block", 2), ("ch_restart", 1), ("block", 2)]


def test_devices_and_images_read_as_words_and_hex_not_dict_reprs() -> None:
    from rig.report.html import render_report
    from tests.report.records import synthetic_record

    record = synthetic_record()
    record["devices"] = {"ppmid1": {"profile": "ppmid", "kind": "ppmid", "ieee": "00:0d:6f:00:00:00:00:01",
                                    "start_version": 1, "end_version": 2,
                                    "identity": {"hardware_version": 256, "image_type": 257,
                                                 "manufacturer_code": 4660, "source": "the emulated device"}}}
    html = render_report([record])
    devices = html[html.index("<h3>Devices</h3>"):]
    devices = devices[:devices.index("</table>")]
    assert "{" not in devices and "&quot;" not in devices, devices
    assert "manufacturer code 0x1234" in devices and "image type 0x0101" in devices and "hardware version 0x0100" in devices
    assert "(from the emulated device)" in devices and "start_version 0x00000001" in devices
