"""Dispatcher: CSP attempts, the long retry, giving up, and the CH refusing an image."""

from __future__ import annotations

import time

import pytest

from rig.backend import BackendConfig
from rig.backend.controls import LongRetry
from rig.clock import HOUR
from tests.backend.helpers import IS_A, PPMID1, PPMID_IMG, ieee, make_backend


async def test_ch_refusing_the_image_is_a_distribution_failure(backend, hub):
    hub.reject_images = "memory block held by a GSME image"
    r = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    assert r.accepted
    failed = await backend.alerts.next_matching(code="N61", timeout=10)
    assert "GSME" in failed.fields["Detail"] and failed.request_id == r.request_id
    hub.reject_images = None
    assert backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1]).accepted


async def test_too_busy_k_times_then_success_stops_retries(backend, hub, clock):
    backend.csp.set_availability("too_busy", count=4)
    t0 = clock.now()
    r = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    assert r.accepted and hub.offers == {}  # attempt 1 and the immediate retry were both refused
    job = backend.jobs(r.request_id)[0]
    assert (job["attempts"], job["status"]) == (2, "retry_wait")
    assert job["next_due"] == pytest.approx(t0 + HOUR, abs=1)
    await clock.advance(HOUR + 1)  # attempt 3: busy
    await clock.advance(HOUR)  # attempt 4: busy
    assert hub.offers == {}
    await clock.advance(HOUR)  # attempt 5: the CSP is available again
    assert len(hub.offers) == 1 and backend.csp.attempts == 5
    await clock.advance(10 * HOUR)
    assert backend.csp.attempts == 5  # success stopped the schedule
    attempts = [e for e in backend.log_entries("csp_unavailable")]
    assert [round((e["time"] - t0) / HOUR) for e in attempts] == [0, 0, 1, 2]  # k = 4 refusals
    assert (await backend.alerts.next_matching(code="N60", timeout=10)).request_id == r.request_id


@pytest.mark.parametrize("profile,hours", [(LongRetry(), 96), (LongRetry.legacy(), 24)])
async def test_always_busy_gives_up_after_the_window(tmp_path, clock, hub, profile, hours):
    b = make_backend(tmp_path, clock, hub, BackendConfig(long_retry=profile))
    b.csp.set_availability("not_available")
    t0 = clock.now()
    wall = time.monotonic()
    r = b.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    await clock.advance(hours * HOUR - 60)
    assert b.alerts.count(code="N61") == 0
    await clock.advance(2 * HOUR)
    failed = await b.alerts.next_matching(code="N61", timeout=1)
    assert failed.request_id == r.request_id and "gave up" in failed.fields["Detail"]
    assert failed.time - t0 == pytest.approx(hours * HOUR, abs=5)
    assert b.csp.attempts == hours + 2 and hub.offers == {}
    assert b.in_progress.holder(ieee(PPMID1), clock.now()) is None
    assert time.monotonic() - wall < 60  # days of rig time in seconds of wall time (not a benchmark)
    assert b.errors == []
    b.close()
