"""The stick resets on its own, reports an ASH ERROR, or its serial line dies mid-transfer.

Required: a plan never hangs (bounded), and it either completes (the hub recovered) or fails with a
verdict that says the radio was lost. zigpy 2.4 does not reconnect by itself (`connection_lost` is only a
listener event), so the Hub supervises the stick: it reopens the port with backoff and resumes serving.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from rig.bench.config import load_bench
from rig.hub.events import ActivationPlan
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.report.record import Verdict
from tests.hub.images import PPMID, image
from tests.reliability.conftest import BENCH, drive_until, wait_for

PLAN = """\
plan: 1
name: radio lost mid-transfer
needs: [emulated]
devices:
  ppmid1: {profile: ppmid}
images:
  v2: {generate: {like: ppmid1, version: 2, size: 12kB}}
steps:
  - pair: ppmid1
  - service_request: {sr: "11.4", image: v2, devices: [ppmid1]}
  - wait_download: {device: ppmid1, progress: 30%}
  - inject_fault: {fault: ncp_reset}
  - expect_transfer: {device: ppmid1, result: success, within: 2h}
  - assert_device_image: {device: ppmid1, image: v2}
"""
RADIO_LOST = re.compile(r"radio|NCP|serial|stick|EZSP", re.I)


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    """One run of the fault plan, shared: both tests below judge the same record."""
    tmp_path = tmp_path_factory.mktemp("radio-lost")
    path = tmp_path / "radio-lost.yaml"
    path.write_text(PLAN)
    plan = load_plan(path)
    started = time.monotonic()
    record = asyncio.run(asyncio.wait_for(run_plan(plan, load_bench(BENCH), workdir=tmp_path / "work"), 120))
    return record, time.monotonic() - started


@pytest.mark.timeout(150)
@pytest.mark.xdist_group("radio-lost-plan")  # one worker runs both: the plan runs once
def test_plan_with_ncp_reset_ends_with_a_verdict_within_bounds(fault_run) -> None:
    record, took = fault_run
    assert took < 120
    assert record.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.ERROR)
    assert record.verdict is Verdict.PASS or record.message  # a failure always says why


@pytest.mark.timeout(150)
@pytest.mark.xdist_group("radio-lost-plan")  # one worker runs both: the plan runs once
def test_plan_with_ncp_reset_recovers_or_reports_radio_lost(fault_run) -> None:
    record, _ = fault_run
    assert record.verdict is Verdict.PASS or RADIO_LOST.search(record.message or ""), record.message


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault", ["reset", "error", "close_line"])
async def test_hub_resumes_serving_after_radio_fault(make_stack, fault) -> None:
    stack = await make_stack(seed=11)
    dev = await stack.device("ppmid", ota={"response_timeout_s": 2.0, "max_block_errors": 20})
    data = image(PPMID, 2, 6000)
    stack.hub.offer(str(dev.ieee), stack.hub.store_image(data), plan=ActivationPlan.NOW)
    await wait_for(lambda: dev.flash.file_offset != 0xFFFFFFFF and dev.flash.file_offset > 1000, what="transfer")
    seen = len(stack.hub.radio_log)
    getattr(stack.emu.faults, fault)()
    # The hub reconnects in real time: the stick lost, then open again, before the device's timers are jumped.
    await wait_for(lambda: stack.hub.radio_state == "up" and any(s != "up" for _, s, _ in stack.hub.radio_log[seen:]),
                   what=f"the hub reopening the stick after NCP {fault}")
    await drive_until(stack, lambda: dev.flash.installed_image == data, rig_s=3600, real_s=15,
                      what=f"transfer finishing after NCP {fault}")
