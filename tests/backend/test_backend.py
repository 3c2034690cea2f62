"""The facade's one door: `submit(ServiceRequest)` / `submit_async`, and job states as an enum."""

from __future__ import annotations

import pytest

from rig.backend.jobs import JobState
from rig.backend.requests import ReadFirmwareVersion, UpdateFirmware, UpdatePPMIDFirmware
from tests.backend.helpers import HCALCS1, HCALCS_IMG, IS_A, PPMID1, PPMID_IMG, ieee


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
