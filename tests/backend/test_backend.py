"""The facade end to end against the fake CH: SR 11.4, 11.1+11.3, 11.2, resubmission, the one door
`submit(ServiceRequest)` / `submit_async`, and job states as an enum."""

from __future__ import annotations

import base64

import pytest

from rig.backend.jobs import JobState
from rig.backend.requests import ReadFirmwareVersion, UpdateFirmware, UpdatePPMIDFirmware
from rig.clock import HOUR
from rig.hub.events import ActivationPlan, VersionObserved, VersionSource
from tests.backend.helpers import HCALCS1, HCALCS_IMG, IS_A, OTHER, PPMID1, PPMID_IMG, PPMID_IMG2, ieee


async def test_submit_is_the_door_for_every_sr(backend, hub):
    resp = backend.submit(UpdatePPMIDFirmware(IS_A, PPMID_IMG, "01020304", [PPMID1]))
    assert resp.accepted and resp.service_reference == "11.4" and hub.calls == ["store_image", "offer"]
    again = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1], request_id=resp.request_id)
    assert again == resp  # the helper and submit share the request log: a resubmission gets the same answer
    wait = backend.submit(UpdateFirmware(IS_A, HCALCS_IMG, "00000200", HCALCS1, security=True))
    assert wait.accepted and [j["security"] for j in backend.jobs(wait.request_id)] == [1]
    read = backend.submit(ReadFirmwareVersion(IS_A, PPMID1))
    assert (read.accepted, read.version_source) == (True, "register")
    with pytest.raises(ValueError, match="submit_async"):
        backend.submit(ReadFirmwareVersion(IS_A, PPMID1, over_the_air=True))
    hub.versions[ieee(PPMID1)] = 0x01020304
    ota = await backend.submit_async(ReadFirmwareVersion(IS_A, PPMID1, over_the_air=True))
    assert (ota.firmware_version, ota.version_source) == (0x01020304, "cs08")
    with pytest.raises(TypeError, match="not a service request"):
        backend.submit("11.4")


async def test_every_stored_job_state_is_a_job_state(backend, hub):
    backend.submit(UpdatePPMIDFirmware(IS_A, PPMID_IMG, "01020304", [PPMID1]))
    hub.transfer(hub.offer_for(ieee(PPMID1)))
    await backend.drain()
    states = [JobState(j["status"]) for j in backend.jobs()]
    assert states == [JobState.TRANSFERRED]


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


async def test_resubmitted_request_id_is_answered_once(backend, hub):
    a = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1], request_id=f"{IS_A}:X:7")
    b = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1], request_id=f"{IS_A}:X:7")
    assert a == b and len(hub.offers) == 1


async def test_a_plan_can_list_its_own_image_and_trust_a_signer(backend, hub):
    from rig.image import build_image
    from rig.image.signature import generate_signing_key, public_key_pem, sign_bare_image
    from tests.backend.helpers import PPMID_MFR, PPMID_TYPE, sha

    bare = build_image(bytes(range(200)), manufacturer_code=PPMID_MFR, image_type=PPMID_TYPE, file_version=0x0102030A,
                       format="gb-bare")
    key, forger = generate_signing_key(), generate_signing_key()
    signed, forged = sign_bare_image(bare, key), sign_bare_image(bare, forger)
    assert backend.update_ppmid_firmware(IS_A, signed, "0102030A", [PPMID1]).response_code == "E904"  # not listed
    for image in (signed, forged):
        backend.list_on_cpl("PPMID-1", PPMID_MFR, PPMID_TYPE, 0x0102030A, sha(image).upper())
    backend.trust_signer(PPMID_MFR, public_key_pem(key.public_key()))
    assert backend.update_ppmid_firmware(IS_A, forged, "0102030A", [PPMID1]).response_code == "E910"
    ok = backend.update_ppmid_firmware(IS_A, signed, "0102030A", [PPMID1])
    assert ok.accepted, ok

