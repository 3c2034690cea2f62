"""Ctrl-C or SIGTERM during a plan: the radio is closed, the plan is ABORTED in its record, the summary and
the report, and `rig run` exits 130 / 143."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.report.record import PlanAborted, Verdict
from tests.plan.clirun import REPO, start, write_plan

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
    assert record["message"].endswith("; radio closed")  # test_an_aborted_plan_really_closes_the_radio: it is
    assert "ABORTED" in out  # the summary table
    assert f"stopped by {how}: plan long ABORTED; records and report in runs/{folder.name}" in out
    assert "ABORTED" in (folder / "report.html").read_text(encoding="utf-8")


def _open_ports() -> list[str]:
    """The serial-port ends this process holds: the emulated stick's pty pair (/dev/ptmx, /dev/pts/N)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == "/dev/ptmx" or target.startswith("/dev/pts/"):
            found.append(target)
    return found


async def test_an_aborted_plan_really_closes_the_radio(tmp_path):
    """The record's 'radio closed' is not a claim: the stick's port is released when the plan is cancelled
    mid-transfer (as asyncio.run does on Ctrl-C), not left open for the next plan to trip over."""
    write_plan(tmp_path, "long.yaml", LONG)
    before = _open_ports()
    reached = asyncio.Event()

    def log(line: str) -> None:
        if line.startswith("step 3:"):
            reached.set()

    run = asyncio.create_task(run_plan(load_plan(tmp_path / "testplans" / "long.yaml"),
                                       load_bench(REPO / "fixtures/benches/emulated.yaml"), log=log))
    await asyncio.wait_for(reached.wait(), 120)
    assert len(_open_ports()) > len(before)  # the stick's port is open while the plan runs
    run.cancel()
    with pytest.raises(PlanAborted) as stopped:
        await run
    record = stopped.value.record
    assert record.verdict is Verdict.ABORTED and record.message.endswith("; radio closed"), record.message
    assert _open_ports() == before
