"""Ctrl-C or SIGTERM during a plan: the radio is closed, the plan is ABORTED in its record, the summary and
the report, and `rig run` exits 130 / 143."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.plan.clirun import start, write_plan

LONG = """\
plan: 1
name: a long transfer
devices:
  ppmid1: {profile: ppmid}
images:
  big: {generate: {like: ppmid1, version: 3, size: 750kB}}
steps:
  - pair: ppmid1
  - service_request: {sr: "11.4", image: big, devices: [ppmid1]}
  - await_alert: {code: 0x8F8A, device: ppmid1, within: 10m}
"""


def _read_until(proc, marker: str, seconds: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    proc.kill()
    pytest.fail(f"never saw {marker!r}:\n" + "".join(lines))


@pytest.mark.parametrize("signum, code, how", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_mid_plan_aborts_it_and_keeps_its_record_and_report(tmp_path, signum, code, how):
    write_plan(tmp_path, "long.yaml", LONG)
    proc = start(tmp_path, "run", "-v", "testplans/long.yaml")
    seen = _read_until(proc, "step 3:")  # the transfer is under way
    proc.send_signal(signum)
    rest, _ = proc.communicate(timeout=120)
    out = "".join(seen) + rest
    assert proc.returncode == code, out
    assert "Traceback" not in out
    [folder] = [p for p in (tmp_path / "runs").iterdir() if not p.is_symlink()]
    record = json.loads((folder / "long.json").read_text())
    assert record["verdict"] == "aborted", record["message"]
    assert how in record["message"] and "step 3" in record["message"]
    assert record["steps"][-1]["verdict"] == "aborted"
    assert any(e.get("kind") == "radio" and "closed" in str(e.get("detail")) for e in record["events"]) or \
        "radio closed" in record["message"]
    assert "ABORTED" in out  # the summary table
    assert f"stopped by {how}: plan long ABORTED; records and report in runs/{folder.name}" in out
    assert "ABORTED" in (folder / "report.html").read_text(encoding="utf-8")
