"""A real plan run (emulated radio, real bellows/zigpy, hub, back end) with a device reboot and a
WAIT_FOR_DATA pause: the record carries both, and the report's timeline marks both."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.report.html import write_report
from rig.report.record import Verdict

PLAN = """\
plan: 1
name: reboot and pause
devices:
  ppmid1: {profile: ppmid}
images:
  v2: {generate: {like: ppmid1, version: 2, size: 12kB}}
settings:
  hub: {wait_for_data_delay_s: 1}
steps:
  - pair: ppmid1
  - inject_fault: {fault: device_reboot, device: ppmid1, at: 50%}
  - hub_busy: 1s
  - service_request: {sr: "11.4", image: v2, devices: [ppmid1]}
  - expect_transfer: {device: ppmid1, result: success}
  - assert_device_image: {device: ppmid1, image: v2}
"""


async def test_report_of_a_real_run_marks_the_reboot_and_the_pause(tmp_path):
    folder = tmp_path / "testplans"
    folder.mkdir()
    (folder / "reboot-pause.yaml").write_text(PLAN)
    record = await run_plan(load_plan(folder / "reboot-pause.yaml"), load_bench("fixtures/benches/emulated.yaml"),
                            artifacts=tmp_path / "out")
    assert record.verdict is Verdict.PASS, record.message
    kinds = {e["kind"] for e in record.events if e.get("device") == "ppmid1"}
    assert {"reboot", "wait_for_data", "block"} <= kinds
    assert (tmp_path / "out" / "reboot-pause.pcapng").stat().st_size > 1000

    html = write_report([record.to_json()], tmp_path / "out").read_text(encoding="utf-8")
    svg = ET.fromstring(re.search(r'<svg class="timeline".*?</svg>', html, re.S).group(0))
    marks = {cls for g in svg.iter("g") for cls in (g.get("class") or "").split()}
    assert "mark-reboot" in marks and "mark-pause" in marks
    reboot_t = min(e["t"] for e in record.events if e["kind"] == "reboot")
    reboot_marks = [g for g in svg.iter("g") if "mark-reboot" in (g.get("class") or "").split()]
    assert any(abs(float(g.get("data-t")) - reboot_t) < 0.01 for g in reboot_marks)
