"""Regenerate docs/report-screenshot.png from a real run, with headless Debian chromium at 1024 px.

    .venv/bin/python -m tests.report.screenshot [OUT.png]

The run: the emulated bench (real bellows/zigpy, hub, back end), one PPMID that reboots half way through
its download and is throttled with WAIT_FOR_DATA, then resumes, activates and is read back 15 minutes
later. Needs the Debian package chromium; no network (see tests/report/browser.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.report.html import write_report
from rig.report.record import Verdict
from tests.report.browser import measure, screenshot

ROOT = Path(__file__).resolve().parents[2]
PLAN = """\
plan: 1
name: PPMID upgrade survives a reboot and WAIT_FOR_DATA
devices:
  ppmid1: {profile: ppmid}
images:
  v2: {generate: {like: ppmid1, version: 2, size: 24kB}}
settings:
  hub: {wait_for_data_delay_s: 2}
steps:
  - pair: ppmid1
  - inject_fault: {fault: device_reboot, device: ppmid1, at: 50%}
  - hub_busy: 1s
  - service_request: {sr: "11.4", image: v2, devices: [ppmid1], save_as: upgrade}
  - expect_transfer: {device: ppmid1, result: success, within: 10m}
  - await_alert: {code: 0x8F8A, device: ppmid1, request: upgrade}
  - advance_clock: 15m
  - expect_activation: {device: ppmid1, result: success}
  - await_alert: {code: 0x8F8B, device: ppmid1, request: upgrade}
  - measure: {name: throughput, metric: transfer_bytes_per_s, device: ppmid1, min: 100}
"""


def real_report(folder: Path) -> Path:
    """Run the plan from `folder` as a user would from a clone (relative paths: the picture shows
    `testplans/...` and `fixtures/benches/emulated.yaml`, nothing of this machine)."""
    (folder / "testplans").mkdir(parents=True, exist_ok=True)
    (folder / "testplans" / "ppmid-reboot-and-wait.yaml").write_text(PLAN)
    (folder / "fixtures" / "benches").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "fixtures" / "benches" / "emulated.yaml", folder / "fixtures" / "benches" / "emulated.yaml")
    here = os.getcwd()
    os.chdir(folder)
    try:
        out = Path("report")
        record = asyncio.run(run_plan(load_plan(Path("testplans/ppmid-reboot-and-wait.yaml")),
                                      load_bench("fixtures/benches/emulated.yaml"), artifacts=out))
        assert record.verdict is Verdict.PASS, record.message
        return (folder / write_report([record.to_json()], out)).resolve()
    finally:
        os.chdir(here)


def main(target: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="rig-screenshot-") as tmp:
        report = real_report(Path(tmp))
        layout = measure(report)
        assert not layout["overflow"] and not layout["overlaps"], layout
        return screenshot(report, target, width=1024, height=layout["height"])


if __name__ == "__main__":
    path = main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report-screenshot.png")
    print(f"{path} ({path.stat().st_size:,} bytes)")
