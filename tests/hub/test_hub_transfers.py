"""Hub integration: real bellows/zigpy on the emulated EZSP stick, emulated PPMID/HCALCS/GSME clients."""

from __future__ import annotations

import struct

from rig.clock import DAY, MINUTE
from rig.hub import UnknownImage
from rig.hub.events import (
    ActivationOutcome,
    ActivationPlan,
    ActivationResult,
    ImageDiscarded,
    TransferOutcome,
    TransferResult,
    VersionObserved,
)
from rig.hub.zcl import Status
from tests.hub.conftest import events_of, wait_for
from tests.hub.images import GSME, HCALCS, PPMID, image


def frames(hub, ieee: str, command: str, status: int | None = None, direction: str = "tx"):
    return [f for f in hub.frames if f.ieee == ieee and f.command == command and f.direction == direction
            and (status is None or f.status == status)]


def transfer_result(hub, ieee: str):
    return [(o.offer_id, o.result) for o in events_of(hub, TransferOutcome, ieee)]


async def test_ppmid_now_happy_path_and_activation_check(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    offer = rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 600)), plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), what="transfer outcome")
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.SUCCESS)]
    assert frames(rig.hub, ieee, "IMAGE_NOTIFY")  # rx-on device: unicast notify (R-CH-08)
    assert frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP", Status.SUCCESS)
    served = frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.SUCCESS)
    assert len(served) == -(-len(image(PPMID, 2, 600)) // 40)
    end = frames(rig.hub, ieee, "UPGRADE_END_RSP")
    assert end and "plan=now" in end[0].detail
    await wait_for(lambda: dev.flash.current_file_version == 2, what="device runs v2")
    await rig.clock.advance(15 * MINUTE + 1)
    outcome = await wait_for(lambda: events_of(rig.hub, ActivationOutcome, ieee), what="activation outcome")
    assert [(o.offer_id, o.result, o.observed_version) for o in outcome] == [(offer, ActivationResult.SUCCESS, 2)]
    qni = [e for e in events_of(rig.hub, VersionObserved, ieee) if e.source.value == "qni"]
    assert qni and qni[0].version == 1 and qni[0].manufacturer_code == 0x1234


async def test_hcalcs_wait_then_activate(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("hcalcs")
    ieee = str(dev.ieee)
    offer = rig.hub.offer(ieee, rig.hub.store_image(image(HCALCS, 2, 300)), plan=ActivationPlan.WAIT)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), what="transfer outcome")
    end = frames(rig.hub, ieee, "UPGRADE_END_RSP")
    assert "activation_at=None" in end[0].detail  # UpgradeTime 0xFFFFFFFF
    await rig.clock.advance(15 * MINUTE + 1)
    assert dev.flash.current_file_version == 1  # still waiting for the activation command
    assert not events_of(rig.hub, ActivationOutcome, ieee)
    rig.hub.activate(ieee, offer)
    await wait_for(lambda: dev.flash.current_file_version == 2, what="device activates v2")
    assert any("unsolicited" in f.detail for f in frames(rig.hub, ieee, "UPGRADE_END_RSP"))
    await rig.clock.advance(15 * MINUTE + 1)
    outcome = await wait_for(lambda: events_of(rig.hub, ActivationOutcome, ieee), what="activation outcome")
    assert [(o.result, o.target_version) for o in outcome] == [(ActivationResult.SUCCESS, 2)]
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.SUCCESS)]


async def test_gsme_sleepy_happy_path(make_rig) -> None:
    rig = await make_rig()
    dev = rig.emu.add_device("gsme")
    ieee = str(dev.ieee)
    # A sleepy GSME gets no Image Notify: offer first, it finds the offer in its power-up query.
    offer = rig.hub.offer(ieee, rig.hub.store_image(image(GSME, 2, 200)), plan=ActivationPlan.WAIT)
    await rig.hub.permit(60)
    await rig.emu.join(dev)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), timeout=60, what="transfer outcome")
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.SUCCESS)]
    assert not frames(rig.hub, ieee, "IMAGE_NOTIFY")


async def test_resume_after_device_reboot(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    dev.faults.reboot_at_percent = 50
    data = image(PPMID, 2, 2000)
    offer = rig.hub.offer(ieee, rig.hub.store_image(data), plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), timeout=60, what="transfer outcome")
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.SUCCESS)]
    offsets = [int(f.detail.split("offset=")[1].split()[0]) for f in frames(rig.hub, ieee, "IMAGE_BLOCK_RSP",
                                                                             Status.SUCCESS)]
    assert offsets[0] == 0 and offsets[-1] >= len(data) - 40
    assert 0 not in offsets[1:]  # it resumed: the hub never had to serve the start again


async def test_hub_restart_mid_transfer(make_rig, tmp_path) -> None:
    rig = await make_rig(zigpy_database=str(tmp_path / "zigpy.sqlite3"))
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    data = image(PPMID, 2, 6000)
    offer = rig.hub.offer(ieee, rig.hub.store_image(data), plan=ActivationPlan.NOW)
    await wait_for(lambda: len(frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.SUCCESS)) > 30, what="30 blocks")
    first = rig.hub
    await rig.restart_hub()
    assert rig.hub is not first
    await wait_for(lambda: rig.hub.outcomes(ieee), timeout=90, what="transfer outcome after restart")
    await wait_for(lambda: dev.flash.current_file_version == 2, timeout=30, what="device runs v2")
    assert [(o[1], o[2], o[3]) for o in rig.hub.outcomes(ieee)] == [(offer, "transfer", TransferResult.SUCCESS)]
    assert transfer_result(rig.hub, ieee) + transfer_result(first, ieee) == [(offer, TransferResult.SUCCESS)]
    assert frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.SUCCESS)  # the new hub served the rest
    # A subscriber that missed the outcome (crash between commit and hand-over) catches up by replay.
    heard: list = []
    restarted = rig.hub
    await rig.restart_hub()
    rig.hub.subscribe(heard.append)
    assert rig.hub.replay_outcomes() == 1
    assert heard == [e for e in events_of(restarted, TransferOutcome, ieee)]
    rig.hub.unsubscribe(heard.append)  # an unsubscribed sink hears no more
    assert rig.hub.replay_outcomes() == 1 and len(heard) == 1


async def test_gsme_preempts_ppmid_mid_transfer(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    offer = rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 6000)), plan=ActivationPlan.NOW)
    await wait_for(lambda: len(frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.SUCCESS)) > 10, what="10 blocks")
    gsme_id = rig.hub.store_image(image(GSME, 2, 200))
    await wait_for(lambda: frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.ABORT), what="ABORT on next block")
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.IMAGE_DISCARDED)]
    assert [e.reason for e in events_of(rig.hub, ImageDiscarded)] == ["preempted_by_gsme"]
    assert rig.hub.store.image(gsme_id).live
    assert dev.flash.current_file_version == 1


async def test_retention_expiry_via_clock(make_rig) -> None:
    rig = await make_rig()
    ieee = "00:0d:6f:00:0a:0b:0c:0d"  # known to the CH, not awake: the offer just waits
    rig.hub.allow_device(ieee, "ppmid")
    image_id = rig.hub.store_image(image(PPMID, 2, 200))
    offer = rig.hub.offer(ieee, image_id, plan=ActivationPlan.NOW)
    await rig.clock.advance(14 * DAY - MINUTE)
    assert rig.hub.store.image(image_id).live and not events_of(rig.hub, ImageDiscarded)
    await rig.clock.advance(2 * MINUTE)
    assert [(e.image_id, e.reason) for e in events_of(rig.hub, ImageDiscarded)] == [(image_id, "retention_expired")]
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.IMAGE_DISCARDED)]
    try:
        rig.hub.offer(ieee, image_id, plan=ActivationPlan.NOW)
    except UnknownImage as exc:
        assert "retention_expired" in str(exc)
    else:
        raise AssertionError("an expired image was offered")


async def test_wrong_manufacturer_and_type_get_no_image(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    dev.faults.manufacturer_code = 0x4444
    rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 200)), plan=ActivationPlan.NOW)
    await wait_for(lambda: frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP", Status.NO_IMAGE_AVAILABLE)
                   and "manufacturer" in frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP")[-1].detail, what="NO_IMAGE")
    dev.faults.manufacturer_code = None
    dev.faults.image_type = 0x0102
    rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 3, 200)), plan=ActivationPlan.NOW)
    await wait_for(lambda: any("image type" in f.detail for f in frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP")),
                   what="NO_IMAGE for image type")
    assert not frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.SUCCESS)


async def test_hardware_version_out_of_range(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    offer = rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 200, hw=(0x0200, 0x0300))),
                          plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), what="hw mismatch outcome")
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.HARDWARE_VERSION_MISMATCH)]
    assert frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP", Status.NO_IMAGE_AVAILABLE)
    assert not frames(rig.hub, ieee, "IMAGE_BLOCK_RSP")


async def test_downgrade_refused_then_allowed(make_rig) -> None:
    rig = await make_rig()
    dev = rig.emu.add_device("ppmid")
    dev.flash.current_file_version = 5
    ieee = str(dev.ieee)
    rig.hub.allow_device(ieee, "ppmid")
    await rig.hub.permit(60)
    await rig.emu.join(dev)
    image_id = rig.hub.store_image(image(PPMID, 3, 200))
    rig.hub.offer(ieee, image_id, plan=ActivationPlan.NOW)
    await wait_for(lambda: any("downgrade" in f.detail for f in frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP")),
                   what="downgrade refused")
    allowed = rig.hub.offer(ieee, image_id, plan=ActivationPlan.NOW, allow_downgrade=True)
    await wait_for(lambda: frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP", Status.SUCCESS), what="downgrade offered")
    # The emulated PPMID itself refuses downgrades: it reports INVALID_IMAGE, the hub records the failure.
    await wait_for(lambda: [o for o in events_of(rig.hub, TransferOutcome, ieee) if o.offer_id == allowed],
                   timeout=30, what="outcome of the allowed downgrade")
    assert (allowed, TransferResult.FILE_TRANSFER_FAILURE) in transfer_result(rig.hub, ieee)


async def test_unknown_device_not_authorized(make_rig) -> None:
    rig = await make_rig()
    stranger = await rig.device("ppmid", allow=False)
    ieee = str(stranger.ieee)
    rig.hub.store_image(image(PPMID, 2, 200))
    await wait_for(lambda: frames(rig.hub, ieee, "QUERY_NEXT_IMAGE_RSP", Status.NOT_AUTHORIZED), what="NOT_AUTHORIZED")
    assert not frames(rig.hub, ieee, "IMAGE_BLOCK_RSP")
    assert rig.hub.conformance(ieee).waits_issued == 0


def test_upgrade_end_response_layout() -> None:
    from rig.hub import zcl
    payload = zcl.upgrade_end_response(zcl.ImageId(0x1234, PPMID, 2), 0, zcl.UPGRADE_TIME_WAIT)
    assert struct.unpack("<HHIII", payload)[-1] == 0xFFFFFFFF


async def test_ota_frames_follow_a_nwk_handed_to_another_device(make_rig) -> None:
    """The hub remembers which device sent from a NWK; when that device moves to a new address and the
    old one is given to a newcomer, the newcomer's frames are its own, not the first device's."""
    rig = await make_rig()
    first = await rig.device("ppmid")
    qni = bytes([0]) + struct.pack("<HHI", 0x1234, PPMID, 1)
    first.ota.send_raw(0x01, qni)
    await wait_for(lambda: frames(rig.hub, str(first.ieee), "QUERY_NEXT_IMAGE", direction="rx"), what="first QNI")
    freed = first.nwk
    first.nwk = freed ^ 0x0F0F  # a secured rejoin with a new address
    rig.emu.rejoin(first)
    await wait_for(lambda: rig.hub.app.devices[first.ieee].nwk == first.nwk, what="zigpy sees the new NWK")
    newcomer = rig.emu.add_device("ppmid", nwk=freed)
    rig.hub.allow_device(str(newcomer.ieee), "ppmid")
    await rig.hub.permit(60)
    await rig.emu.join(newcomer)
    newcomer.ota.send_raw(0x01, qni)
    await wait_for(lambda: frames(rig.hub, str(newcomer.ieee), "QUERY_NEXT_IMAGE", direction="rx"),
                   what="the newcomer's QNI under its own IEEE")
