"""Distribution controls: SMETS1 capacity and the security pause, guidance warnings."""

from __future__ import annotations

from rig.backend import BackendConfig
from rig.backend.controls import Capacity
from rig.backend.fixtures import Fixtures
from rig.clock import DAY, HOUR
from rig.hub.events import TransferResult
from tests.backend.helpers import IS_A, PPMID1, PPMID_IMG, PPMID_IMG2, estate, ieee, ota_image


async def test_capacity_defers_large_smets1_images_and_security_pauses_others(tmp_path, clock, hub):
    from rig.backend.backend import Backend
    from tests.backend.helpers import cpl, sha

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


async def test_guidance_gap_warning_disappears_after_five_days(backend, hub, clock):
    backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    offer = hub.offer_for(ieee(PPMID1))
    hub.transfer(offer)
    hub.activation(offer)
    await backend.alerts.next_matching(code=0x8F8B, timeout=10)
    soon = backend.update_ppmid_firmware(IS_A, PPMID_IMG2, "01020305", [PPMID1])
    assert soon.warning_codes() == ["GapUnder5Days"]
    assert backend.log_entries("guidance_warning")[0]["code"] == "GapUnder5Days"
    o2 = hub.offer_for(ieee(PPMID1))
    hub.transfer(o2, TransferResult.IMAGE_DISCARDED)
    await backend.alerts.next_matching(code=0x8F89, timeout=10)
    await clock.advance(5 * DAY + 1)
    later = backend.update_ppmid_firmware(IS_A, PPMID_IMG2, "01020305", [PPMID1])
    assert later.accepted and later.warnings == []
