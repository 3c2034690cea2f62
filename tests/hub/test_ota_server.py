"""OtaServer decisions over a recording transport (the radio path is covered by test_hub_*.py)."""

from __future__ import annotations

import struct

import pytest

from rig.clock import DAY, MINUTE, VirtualClock
from rig.hub import Hub, HubConfig, ImageRejected
from rig.hub.events import ActivationPlan, ImageDiscarded, TransferOutcome, TransferResult, VersionObserved
from rig.hub.ota_server import Peer
from rig.hub.zcl import Status
from tests.hub.images import GSME, HCALCS, MFR, PPMID, image

IEEE = "00:0d:6f:00:00:00:00:01"
PEER = Peer(IEEE, 0x1234, 1, 0x0109, 0x0A)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Peer, bytes, bool]] = []

    def send(self, peer: Peer, tsn: int, data: bytes, *, ack: bool = True) -> None:
        self.sent.append((peer, data, ack))

    async def send_now(self, peer: Peer, tsn: int, data: bytes, *, ack: bool = True) -> bool:
        self.sent.append((peer, data, ack))
        return True

    def new_tsn(self) -> int:
        return 1

    def last(self) -> bytes:
        return self.sent[-1][1]


def make_hub(**options) -> tuple[Hub, Recorder, VirtualClock]:
    clock = VirtualClock(start=1_700_000_000.0)
    hub = Hub(HubConfig().with_options(**options), clock=clock)
    rec = Recorder()
    hub.server.transport = rec
    return hub, rec, clock


def qni(version: int = 1, hw: int | None = 0x0100, itype: int = PPMID, tsn: int = 5) -> bytes:
    body = struct.pack("<BHHI", 1 if hw is not None else 0, MFR, itype, version)
    if hw is not None:
        body += struct.pack("<H", hw)
    return bytes([0x01, tsn, 0x01]) + body


def ibr(offset: int, version: int = 2, itype: int = PPMID, size: int = 40) -> bytes:
    return bytes([0x01, 6, 0x03]) + struct.pack("<BHHIIB", 0, MFR, itype, version, offset, size)


def uer(status: int = 0, version: int = 2, itype: int = PPMID) -> bytes:
    return bytes([0x01, 7, 0x06]) + struct.pack("<BHHI", status, MFR, itype, version)


def test_unknown_device_not_authorized_but_version_recorded() -> None:
    hub, rec, _ = make_hub()
    hub.server.handle_frame(PEER, qni())
    assert rec.last() == bytes([0x19, 5, 0x02, Status.NOT_AUTHORIZED])
    assert isinstance(hub.events[-1], VersionObserved) and hub.events[-1].version == 1
    hub.server.handle_frame(PEER, ibr(0))
    assert rec.last()[2:] == bytes([0x0B, 0x03, Status.NOT_AUTHORIZED])


def test_full_transfer_one_outcome_and_block_bytes() -> None:
    hub, rec, _ = make_hub()
    data = image(PPMID, 2, 100)
    hub.allow_device(IEEE, "ppmid")
    offer = hub.offer(IEEE, hub.store_image(data), plan=ActivationPlan.NOW)
    hub.server.handle_frame(PEER, qni())
    assert rec.last() == bytes([0x19, 5, 0x02, 0]) + struct.pack("<HHII", MFR, PPMID, 2, len(data))
    got = b""
    while len(got) < len(data):
        hub.server.handle_frame(PEER, ibr(len(got), size=64))
        frame = rec.last()
        assert frame[3] == Status.SUCCESS
        n = frame[3 + 13]
        assert n <= 40  # block size cap (R-PLAT-07) even though the client allows 64
        got += frame[3 + 14 : 3 + 14 + n]
    assert got == data
    hub.server.handle_frame(PEER, ibr(len(data)))  # offset past the end
    assert rec.last()[2:] == bytes([0x0B, 0x03, Status.MALFORMED_COMMAND])
    hub.server.handle_frame(PEER, uer())
    hub.server.handle_frame(PEER, uer())  # repeated: answered again, no second outcome
    assert rec.last()[2] == 0x07 and struct.unpack_from("<II", rec.last(), 3 + 8) == (0, 0)
    outcomes = [e for e in hub.events if isinstance(e, TransferOutcome)]
    assert [(o.offer_id, o.result) for o in outcomes] == [(offer, TransferResult.SUCCESS)]


def test_qni_refusals() -> None:
    hub, rec, _ = make_hub()
    hub.allow_device(IEEE, "ppmid")
    offer = hub.offer(IEEE, hub.store_image(image(PPMID, 2)), plan=ActivationPlan.NOW)
    for frame in (qni(itype=HCALCS), qni(version=2), qni(version=3)):
        hub.server.handle_frame(PEER, frame)
        assert rec.last() == bytes([0x19, 5, 0x02, Status.NO_IMAGE_AVAILABLE])
    hub.server.handle_frame(PEER, qni(hw=0x0200))
    assert rec.last()[3] == Status.NO_IMAGE_AVAILABLE
    hub.server.handle_frame(PEER, qni(hw=None))
    hw = [e for e in hub.events if isinstance(e, TransferOutcome)]
    assert [(o.offer_id, o.result) for o in hw] == [(offer, TransferResult.HARDWARE_VERSION_MISMATCH)]


def test_downgrade_only_when_allowed() -> None:
    hub, rec, _ = make_hub()
    hub.allow_device(IEEE, "ppmid")
    img = hub.store_image(image(PPMID, 1))
    hub.offer(IEEE, img, plan=ActivationPlan.NOW)
    hub.server.handle_frame(PEER, qni(version=3))
    assert rec.last()[3] == Status.NO_IMAGE_AVAILABLE
    hub.offer(IEEE, img, plan=ActivationPlan.NOW, allow_downgrade=True)
    hub.server.handle_frame(PEER, qni(version=3))
    assert rec.last()[3] == Status.SUCCESS


def test_gsme_preempts_and_ppmid_never_evicts_gsme() -> None:
    hub, rec, _ = make_hub()
    hub.allow_device(IEEE, "ppmid")
    offer = hub.offer(IEEE, hub.store_image(image(PPMID, 2)), plan=ActivationPlan.NOW)
    hub.server.handle_frame(PEER, ibr(0))
    assert rec.last()[3] == Status.SUCCESS
    gsme = hub.store_image(image(GSME, 2))
    discarded = [e for e in hub.events if isinstance(e, ImageDiscarded)]
    assert [d.reason for d in discarded] == ["preempted_by_gsme"]
    assert [(o.offer_id, o.result) for o in hub.events if isinstance(o, TransferOutcome)] == [
        (offer, TransferResult.IMAGE_DISCARDED)]
    hub.server.handle_frame(PEER, ibr(40))
    assert rec.last() == bytes([0x19, 6, 0x05, Status.ABORT])
    hub.server.handle_frame(PEER, qni())
    assert rec.last()[3] == Status.NO_IMAGE_AVAILABLE
    with pytest.raises(ImageRejected, match="GSME block busy"):
        hub.store_image(image(HCALCS, 2))
    assert hub.store.image(gsme).live


def test_retention_expiry_on_the_clock() -> None:
    async def run() -> None:
        hub, rec, clock = make_hub()
        hub.allow_device(IEEE, "ppmid")
        img = hub.store_image(image(PPMID, 2))
        hub.inventory.arm_retention()
        offer = hub.offer(IEEE, img, plan=ActivationPlan.NOW)
        await clock.advance(14 * DAY - MINUTE)
        assert hub.store.image(img).live  # never before 14 days
        await clock.advance(2 * MINUTE)
        assert not hub.store.image(img).live
        assert [(o.offer_id, o.result, o.detail) for o in hub.events if isinstance(o, TransferOutcome)] == [
            (offer, TransferResult.IMAGE_DISCARDED, "retention_expired")]
        hub.server.handle_frame(PEER, ibr(0))
        assert rec.last()[3] == Status.ABORT
    import asyncio
    asyncio.run(run())


def test_rejections_on_ingest() -> None:
    hub, _, _ = make_hub(ppmid_max_image_bytes=1000)
    with pytest.raises(ImageRejected) as err:
        hub.store_image(image(PPMID, 2, 2000))
    assert "R-STORE-05" in str(err.value)
    broken = bytearray(image(PPMID, 2))
    broken[0] ^= 0xFF
    with pytest.raises(ImageRejected, match="invalid OTA image"):
        hub.store_image(bytes(broken))
    with pytest.raises(ImageRejected, match="not mapped"):
        hub.store_image(image(0x0999, 2))
    with pytest.raises(ImageRejected, match="requested"):
        hub.store_image(image(PPMID, 2), expected_version=3)
    assert hub.store.live_images() == []


def test_upgrade_end_paths() -> None:
    hub, rec, _ = make_hub()
    hub.allow_device(IEEE, "hcalcs")
    offer = hub.offer(IEEE, hub.store_image(image(HCALCS, 2)), plan=ActivationPlan.WAIT)
    hub.server.handle_frame(PEER, uer(version=9, itype=HCALCS))  # never offered
    assert rec.last()[2:] == bytes([0x0B, 0x06, Status.ABORT])
    hub.server.handle_frame(PEER, uer(itype=HCALCS))
    assert struct.unpack_from("<II", rec.last(), 3 + 8) == (0, 0xFFFFFFFF)
    hub.server.handle_frame(PEER, bytes([0x01, 8, 0x06, 0x00, 0x34]))  # truncated SUCCESS
    assert rec.last()[2:] == bytes([0x0B, 0x06, Status.MALFORMED_COMMAND])
    hub.server.handle_frame(PEER, bytes([0x05, 0x34, 0x12, 9, 0x01]))  # manufacturer specific
    assert rec.last()[4:] == bytes([0x0B, 0x01, Status.UNSUP_MANUF_CLUSTER_COMMAND])
    hub.server.handle_frame(PEER, bytes([0x01, 9, 0x08]) + b"\0" * 18)  # Query Device Specific File
    assert rec.last()[2:] == bytes([0x0B, 0x08, Status.UNSUP_CLUSTER_COMMAND])
    hub.server.handle_frame(PEER, bytes([0x01, 9, 0x04]) + b"\0" * 18)  # pages off
    assert rec.last()[2:] == bytes([0x0B, 0x04, Status.UNSUP_CLUSTER_COMMAND])
    assert hub.server.handle_frame(PEER, bytes([0x18, 9, 0x0B, 0x00, 0x00])) is False  # profile-wide: zigpy's
    other = hub.offer(IEEE, hub.store.live_images()[0].id, plan=ActivationPlan.NOW)
    hub.server.handle_frame(PEER, bytes([0x01, 10, 0x06, Status.INVALID_IMAGE]))  # status-only failure
    assert rec.last()[2:] == bytes([0x0B, 0x06, Status.SUCCESS])
    results = {(o.offer_id, o.result) for o in hub.events if isinstance(o, TransferOutcome)}
    assert results == {(offer, TransferResult.SUCCESS), (other, TransferResult.FILE_TRANSFER_FAILURE)}


def test_outcomes_and_offers_survive_restart(tmp_path) -> None:
    db = str(tmp_path / "hub.sqlite3")
    hub, rec, _ = make_hub(db_path=db)
    hub.allow_device(IEEE, "ppmid")
    offer = hub.offer(IEEE, hub.store_image(image(PPMID, 2)), plan=ActivationPlan.NOW)
    hub.server.handle_frame(PEER, uer())
    hub.store.close()
    again, rec2, _ = make_hub(db_path=db)
    again.server.handle_frame(PEER, uer())  # the same Upgrade End after a restart
    assert rec2.last()[2] == 0x07
    assert not [e for e in again.events if isinstance(e, TransferOutcome)]
    assert [(o[1], o[2]) for o in again.outcomes(IEEE)] == [(offer, "transfer")]
