"""Outcomes: hub events and CS06 answers become alerts, register entries and job results."""

from __future__ import annotations

from rig.clock import DAY
from rig.hub.events import TransferResult, VersionObserved, VersionSource
from tests.backend.helpers import CH, GS_A, IS_A, PPMID1, PPMID_IMG, ieee


async def test_transfer_failure_alert_clears_in_progress(backend, hub):
    backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    hub.transfer(hub.offer_for(ieee(PPMID1)), TransferResult.FILE_TRANSFER_FAILURE)
    a = await backend.alerts.next_matching(code=0x8F89, timeout=10)
    assert a.fields["ResponseCode"] == 3
    assert backend.register.current(ieee(PPMID1)).pending_target is None
    assert backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1]).accepted


async def test_unexplained_version_change_gives_one_notification(backend, hub):
    ev = VersionObserved(ieee(PPMID1), 0x01020399, VersionSource.QUERY_NEXT_IMAGE, 5.0, unexplained_change=True)
    hub.emit(ev)
    hub.emit(ev)
    await backend.drain()
    assert backend.alerts.count(code=backend.codes.firmware_changed) == 1
    assert backend.register.version(ieee(PPMID1)) == 0x01020399


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
