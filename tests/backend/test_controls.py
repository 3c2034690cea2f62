"""Long retry on CSP too busy / not available, batched statuses, SMETS1 capacity, N63."""

from __future__ import annotations

import time

import pytest

from rig.backend import BackendConfig
from rig.backend.controls import Capacity, LongRetry
from rig.clock import DAY, HOUR
from rig.hub.events import TransferResult
from tests.backend.helpers import (CH, GS_A, IS_A, PPMID1, PPMID_IMG, estate, ieee, make_backend)


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


async def test_batch_of_100_statuses_fans_out_in_order_without_duplicates(tmp_path, clock, hub):
    b = make_backend(tmp_path, clock, hub, BackendConfig(batch_size=100, batch_period=30.0), extra_ppmids=100)
    ids = [f"00-DB-12-34-56-00-00-{i:02X}" for i in range(100)]
    r = b.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", ids)
    assert r.accepted and len(hub.offers) == 100
    await b.drain()
    assert b.alerts.count(code="N60") == 100
    order = list(reversed(sorted(hub.offers)))  # report in an order unlike the offer order
    for n, offer in enumerate(order):
        hub.transfer(offer, TransferResult.SUCCESS if n % 3 else TransferResult.IMAGE_DISCARDED)
        if n % 10 == 0:
            hub.transfer(offer, TransferResult.SUCCESS if n % 3 else TransferResult.IMAGE_DISCARDED)  # duplicate
    assert b.alerts.count(lambda a: a.code in ("0x8F8A", "0x8F89")) == 0  # still in the CSP batch
    await clock.advance(31)
    transfer = b.alerts.list(lambda a: a.code in ("0x8F8A", "0x8F89"))
    assert [a.device for a in transfer] == [hub.offers[o]["ieee"] for o in order]
    assert sum(a.code == "0x8F89" for a in transfer) == 34
    assert all(a.request_id == r.request_id for a in transfer)
    b.close()


async def test_capacity_defers_large_smets1_images_and_security_pauses_others(tmp_path, clock, hub):
    from rig.backend.fixtures import Fixtures
    from rig.backend.backend import Backend
    from tests.backend.helpers import cpl, ota_image, sha

    big = ota_image(0x1234, 0x0000, 0x00000010, body_len=800_000)
    devices = [{"id": f"00-DB-00-00-00-00-01-{i:02X}", "kind": "ESME", "model": "S1-ESME", "import_supplier": IS_A,
                "smets": 1} for i in range(4)]
    est = estate()
    est["devices"] += devices
    c = cpl()
    c["entries"].append({"model": "S1-ESME", "manufacturer_code": 0x1234, "image_type": 0, "firmware_version": 0x10,
                         "sha256": sha(big)})
    cfg = BackendConfig(capacity=Capacity(enabled=True, per_day=3, bulk_threshold=4, sla_days=1))
    b = Backend(tmp_path / "cap.db", clock, hub, Fixtures.from_dicts(est, c), cfg)
    ids = [d["id"] for d in devices]
    await clock.advance((int(clock.now() // DAY) + 1) * DAY + HOUR - clock.now())  # 01:00, so no midnight below
    # a security-priority image the CSP cannot take yet holds back other large SMETS1 traffic
    b.csp.set_availability("too_busy", count=2)
    sec = b.update_firmware(IS_A, big, "00000010", ids[0], security=True)
    normal = b.update_firmware(IS_A, big, "00000010", ids[1])
    assert sec.accepted and normal.accepted and hub.offers == {}
    assert [e["job"] for e in b.log_entries("paused_for_security")] == [b.jobs(normal.request_id)[0]["id"]]
    await clock.advance(HOUR + 1)
    await clock.advance(HOUR + 1)
    assert [o["ieee"] for o in hub.offers.values()] == [ieee(ids[0]), ieee(ids[1])]
    # the day's budget (3) is spent by the third; the fourth needs bulk approval (>= 4) and waits a day
    assert b.update_firmware(IS_A, big, "00000010", ids[2]).accepted and len(hub.offers) == 3
    bulk = b.update_firmware(IS_A, big, "00000010", ids[3])
    assert (bulk.accepted, bulk.response_code) == (False, b.codes.bulk_approval_required)
    late = b.update_firmware(IS_A, big, "00000010", ids[3], bulk_approved=True)
    assert late.accepted and late.warning_codes() == ["SlaAtRisk"] and len(hub.offers) == 3
    await clock.advance(DAY)
    assert [o["ieee"] for o in hub.offers.values()] == [ieee(i) for i in ids]
    assert b.errors == []
    b.close()


async def test_cs06_success_gives_exactly_one_n63(backend, clock):
    r = backend.activate_comms_hub_firmware(CH, "00A1B2C3", notice_given_at=clock.now() - 8 * DAY)
    assert r.accepted
    n63 = backend.comms_hub_activation_response(r.request_id, ch_id=CH, firmware_version="00A1B2C3",
                                                timestamp=1_700_000_123.0)
    assert n63 is not None and n63.code == "N63"
    assert n63.fields == {"CommsHubDeviceID": CH, "TimeStamp": "2023-11-14T22:15:23Z", "FirmwareVersion": "00A1B2C3",
                          "ResponseCode": "I0"}
    assert set(n63.recipients) == {IS_A, GS_A} and n63.request_id == r.request_id
    assert backend.comms_hub_activation_response(r.request_id, ch_id=CH, firmware_version="00A1B2C3") is None
    assert backend.alerts.count(code="N63") == 1
    assert backend.register.current(ieee(CH)).source == "cs06"
    assert [e["what"] for e in backend.log_entries()][-1] == "cs06_version_unchanged"


async def test_cs06_failure_missing_fields_and_notice(backend, clock):
    r = backend.activate_comms_hub_firmware(CH, "00A1B2C4", notice_given_at=clock.now() - 8 * DAY)
    assert backend.comms_hub_activation_response(r.request_id, ch_id=CH, firmware_version="00A1B2C4",
                                                 success=False) is None
    assert backend.comms_hub_activation_response(r.request_id, ch_id=None, firmware_version="00A1B2C4") is None
    assert backend.log_entries("n63_schema_error")
    assert backend.alerts.count(code="N63") == 0
    short = backend.activate_comms_hub_firmware(CH, "00A1B2C5", notice_given_at=clock.now() - 2 * DAY)
    assert (short.accepted, short.response_code) == (False, backend.codes.notice_period)
    urgent = backend.activate_comms_hub_firmware(CH, "00A1B2C5", security=True)
    assert urgent.accepted
