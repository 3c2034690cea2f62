"""Intake: who may ask, the CPL, bad images, invalid device ids and the In Progress check."""

from __future__ import annotations

from rig.hub.events import TransferResult
from tests.backend.helpers import (
    GS_A,
    GSME1,
    HCALCS1,
    HCALCS_IMG,
    IS_A,
    OTHER,
    PPMID1,
    PPMID2,
    PPMID_IMG,
    PPMID_MFR,
    PPMID_TYPE,
    ieee,
    ota_image,
)


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
