"""Service requests end to end against the fake CH: SR 11.4, 11.1+11.3, 11.2, who may ask, the CPL,
invalid device ids, in-progress check and its timeout, guidance warnings."""

from __future__ import annotations

import base64

from rig.backend.fixtures import Fixtures
from rig.clock import DAY, HOUR
from rig.hub.events import (ActivationPlan, ActivationResult, TransferResult, VersionObserved, VersionSource)
from tests.backend.helpers import (GS_A, GSME1, HCALCS1, HCALCS_IMG, IS_A, OTHER, PPMID1, PPMID2, PPMID_IMG,
                                   PPMID_IMG2, ieee, make_backend, ota_image, PPMID_MFR, PPMID_TYPE)


async def test_sr_11_4_transfer_then_activation_alerts_and_register(backend, hub):
    resp = backend.update_ppmid_firmware(IS_A, base64.b64encode(PPMID_IMG).decode(), "01020304", [PPMID1])
    assert resp.accepted and resp.response_code == "I99" and resp.devices == [ieee(PPMID1)]
    assert hub.calls == ["store_image", "offer"]
    offer = hub.offer_for(ieee(PPMID1))
    assert hub.offers[offer]["plan"] is ActivationPlan.NOW and hub.offers[offer]["request_id"] == resp.request_id
    assert backend.register.current(ieee(PPMID1)).pending_target == 0x01020304
    delivered = await backend.alerts.next_matching(code="N60", device=PPMID1, timeout=10)
    assert delivered.request_id == resp.request_id

    hub.transfer(offer)
    a = await backend.alerts.next_matching(code=0x8F8A, timeout=10)
    assert (a.request_id, a.fields["ResponseCode"], a.fields["FirmwareVersion"]) == (resp.request_id, 0, "01020304")
    assert a.recipients == (IS_A,)
    # still In Progress until the activation alert (SR 11.4 combines distribution and activation)
    again = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    assert not again.accepted and again.in_progress_device_ids == [ieee(PPMID1)]

    hub.activation(offer)
    b = await backend.alerts.next_matching(code=0x8F8B, timeout=10)
    assert (b.request_id, b.fields["ActivateImage"], b.fields["FirmwareVersion"]) == (resp.request_id, 0, "01020304")
    entry = backend.register.current(ieee(PPMID1))
    assert (entry.version, entry.source, entry.pending_target) == (0x01020304, "0x8F8B", None)
    assert [h.source for h in backend.register.history(ieee(PPMID1))] == ["request", "0x8F8B"]
    # terminal: the device is free again (with guidance warnings: < 5 days, as G14 asks)
    third = backend.update_ppmid_firmware(IS_A, PPMID_IMG2, "01020305", [PPMID1])
    assert third.accepted and third.warning_codes(ieee(PPMID1)) == ["GapUnder5Days"]


async def test_sr_11_4_execution_time_gives_plan_at(backend, hub, clock):
    when = clock.now() + 3 * HOUR
    backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1], execution_time=when)
    o = hub.offers[hub.offer_for(ieee(PPMID1))]
    assert o["plan"] is ActivationPlan.AT and o["upgrade_time"] == when


async def test_hcalcs_update_then_activate(backend, hub):
    resp = backend.update_firmware(IS_A, HCALCS_IMG, "00000200", HCALCS1)
    assert resp.accepted
    offer = hub.offer_for(ieee(HCALCS1))
    assert hub.offers[offer]["plan"] is ActivationPlan.WAIT
    early = backend.activate_firmware(IS_A, HCALCS1)
    assert not early.accepted and early.response_code == backend.codes.nothing_to_activate and hub.activations == []
    hub.transfer(offer)
    await backend.alerts.next_matching(code=0x8F8A, device=HCALCS1, timeout=10)
    act = backend.activate_firmware(IS_A, HCALCS1, firmware_version="00000200")
    assert act.accepted and hub.activations == [(ieee(HCALCS1), offer, None)]
    hub.activation(offer)
    alert = await backend.alerts.next_matching(code=0x8F8B, device=HCALCS1, timeout=10)
    assert alert.request_id == resp.request_id
    assert backend.register.version(ieee(HCALCS1)) == 0x200


async def test_transfer_failure_alert_clears_in_progress(backend, hub):
    backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    hub.transfer(hub.offer_for(ieee(PPMID1)), TransferResult.FILE_TRANSFER_FAILURE)
    a = await backend.alerts.next_matching(code=0x8F89, timeout=10)
    assert a.fields["ResponseCode"] == 3
    assert backend.register.current(ieee(PPMID1)).pending_target is None
    assert backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1]).accepted


async def test_unauthorised_and_unknown_users_are_rejected_and_logged(backend, hub):
    r1 = backend.update_ppmid_firmware(OTHER, PPMID_IMG, "01020304", [PPMID1])
    r2 = backend.update_firmware(GS_A, HCALCS_IMG, "00000200", HCALCS1)  # HCALCS1 has only an import supplier
    r3 = backend.update_ppmid_firmware("nobody", PPMID_IMG, "01020304", [PPMID1])
    assert (r1.accepted, r1.response_code) == (False, backend.codes.not_authorised)
    assert (r2.accepted, r2.response_code) == (False, backend.codes.not_authorised)
    assert (r3.accepted, r3.response_code) == (False, backend.codes.unknown_user)
    assert hub.calls == []
    logged = backend.log_entries("request_rejected")
    assert [e["request_id"] for e in logged] == [r1.request_id, r2.request_id, r3.request_id]


async def test_cpl_mismatch_and_bad_images_never_reach_the_ch(backend, hub):
    tampered = bytearray(PPMID_IMG)
    tampered[-1] ^= 0xFF  # same header, different hash
    unknown_version = ota_image(PPMID_MFR, PPMID_TYPE, 0x09999999)
    cases = [
        (bytes(tampered), "01020304", backend.codes.not_on_cpl),
        (unknown_version, "09999999", backend.codes.not_on_cpl),
        (HCALCS_IMG, "00000200", backend.codes.not_on_cpl),  # HCALCS image to a PPMID model
        (PPMID_IMG, "01020305", backend.codes.invalid_request),  # SR version != header version
        (PPMID_IMG, "0102030", backend.codes.invalid_request),  # not 8 hex digits
        (PPMID_IMG[:40], "01020304", backend.codes.invalid_request),  # truncated header
        ("***not base64***", "01020304", backend.codes.invalid_request),
    ]
    for image, version, code in cases:
        r = backend.update_ppmid_firmware(IS_A, image, version, [PPMID1])
        assert (r.accepted, r.response_code) == (False, code), r.reason
        assert r.reason
    assert hub.calls == []
    assert "is not on the CPL for model 'PPMID-1'" in backend.update_ppmid_firmware(
        IS_A, bytes(tampered), "01020304", [PPMID1]).reason


async def test_invalid_device_ids_are_warnings_while_valid_ones_proceed(backend, hub):
    r = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304",
                                      ["zz-not-an-eui", PPMID1, "00-DB-12-34-56-78-90-FF", HCALCS1, PPMID2])
    assert r.accepted
    assert r.devices == [ieee(PPMID1), ieee(PPMID2)]
    assert r.invalid_device_ids == ["zz-not-an-eui", "00-DB-12-34-56-78-90-FF", HCALCS1]
    assert [w.code for w in r.warnings] == ["InvalidDeviceID", "UnknownDevice", "NotPPMID"]
    assert sorted(o["ieee"] for o in hub.offers.values()) == [ieee(PPMID1), ieee(PPMID2)]
    none_valid = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [GSME1])
    assert (none_valid.accepted, none_valid.response_code) == (False, backend.codes.no_valid_device)


async def test_duplicate_while_in_progress_then_after_timeout(backend, hub, clock):
    first = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1, PPMID2])
    old_offer = hub.offer_for(ieee(PPMID1))
    dup = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    assert (dup.accepted, dup.response_code, dup.in_progress_device_ids) == (
        False, backend.codes.in_progress, [ieee(PPMID1)])
    assert len(hub.offers) == 2
    await clock.advance(backend.config.in_progress_timeout + 1)
    assert sorted(e["device"] for e in backend.log_entries("in_progress_timeout")) == [ieee(PPMID1), ieee(PPMID2)]
    second = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    assert second.accepted and "ResendBeforeAlert" in second.warning_codes(ieee(PPMID1))
    new_offer = hub.offer_for(ieee(PPMID1))
    # a late outcome of the old attempt is logged, marked late, and does not free the new attempt
    hub.transfer(old_offer, TransferResult.FILE_TRANSFER_FAILURE)
    late = await backend.alerts.next_matching(code=0x8F89, timeout=10)
    assert late.late and late.request_id == first.request_id
    hub.transfer(old_offer, TransferResult.FILE_TRANSFER_FAILURE)  # the same event replayed
    await backend.drain()
    assert backend.alerts.count(code=0x8F89) == 1
    assert not backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1]).accepted
    hub.transfer(new_offer)
    ok = await backend.alerts.next_matching(code=0x8F8A, timeout=10)
    assert not ok.late and ok.request_id == second.request_id


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


async def test_sr_11_2_from_register_and_over_the_air(backend, hub):
    hub.emit(VersionObserved(ieee(PPMID1), 0x01020300, VersionSource.QUERY_NEXT_IMAGE, 1.0))
    await backend.drain()
    r = await backend.read_firmware_version(IS_A, PPMID1)
    assert (r.accepted, r.firmware_version, r.version_source) == (True, 0x01020300, "register")
    hub.versions[ieee(PPMID1)] = 0x01020304
    r2 = await backend.read_firmware_version(IS_A, PPMID1, over_the_air=True)
    assert (r2.firmware_version, r2.version_source) == (0x01020304, "cs08")
    assert backend.register.current(ieee(PPMID1)).source == "cs08"
    hub.versions[ieee(PPMID1)] = None
    r3 = await backend.read_firmware_version(IS_A, PPMID1, over_the_air=True)
    assert r3.firmware_version is None and r3.reason.startswith("Read Failure")
    r4 = await backend.read_firmware_version(OTHER, PPMID1)
    assert not r4.accepted and r4.response_code == backend.codes.not_authorised


async def test_unexplained_version_change_gives_one_notification(backend, hub):
    ev = VersionObserved(ieee(PPMID1), 0x01020399, VersionSource.QUERY_NEXT_IMAGE, 5.0, unexplained_change=True)
    hub.emit(ev)
    hub.emit(ev)
    await backend.drain()
    assert backend.alerts.count(code=backend.codes.firmware_changed) == 1
    assert backend.register.version(ieee(PPMID1)) == 0x01020399


async def test_ch_refusing_the_image_is_a_distribution_failure(backend, hub):
    hub.reject_images = "memory block held by a GSME image"
    r = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    assert r.accepted
    failed = await backend.alerts.next_matching(code="N61", timeout=10)
    assert "GSME" in failed.fields["Detail"] and failed.request_id == r.request_id
    hub.reject_images = None
    assert backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1]).accepted


async def test_resubmitted_request_id_is_answered_once(backend, hub):
    a = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1], request_id=f"{IS_A}:X:7")
    b = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1], request_id=f"{IS_A}:X:7")
    assert a == b and len(hub.offers) == 1


def test_shipped_fixture_files_load_and_cover_the_test_images():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "fixtures" / "backend"
    fx = Fixtures.load(root / "suppliers.yaml", root / "cpl.yaml")
    from rig.backend.imagecheck import image_facts

    facts = image_facts(PPMID_IMG)
    device = fx.devices[ieee(PPMID1)]
    assert fx.cpl_match(device.model, facts.manufacturer_code, facts.image_type, facts.file_version, facts.sha256)


def test_fixture_errors_name_the_place(tmp_path):
    import pytest

    from rig.backend.fixtures import FixtureError

    bad = tmp_path / "s.yaml"
    bad.write_text("suppliers: [{id: A}]\ndevices:\n  - {id: 00-11, kind: PPMID, model: M}\n")
    (tmp_path / "c.yaml").write_text("entries: []\n")
    with pytest.raises(FixtureError, match=r"s.yaml: devices\[0\].id: found '00-11', expected an EUI-64"):
        Fixtures.load(bad, tmp_path / "c.yaml")
