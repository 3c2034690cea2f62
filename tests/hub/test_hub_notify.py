"""Image Notify on demand (R-CH-08): unicast or broadcast, any payload type, through bellows to emulated clients."""

from __future__ import annotations

import pytest

from rig.hub import HubError
from rig.hub.zcl import Status, image_notify_payload
from tests.hub.conftest import wait_for
from tests.hub.images import HCALCS, MFR, PPMID


def since(hub, mark: int, command: str, direction: str, ieee: str | None = None):
    return [f for f in hub.server.frames_since(mark)
            if f.command == command and f.direction == direction and (ieee is None or f.ieee == ieee)]


async def queried_at_power_up(rig, dev) -> None:
    """zigpy ends its interview with a unicast type-0 notify; wait for it and the query it causes, so that
    what the test sends next is the only notify in flight."""
    ieee = str(dev.ieee)
    await wait_for(lambda: dev.ota.events("image_notify"), what=f"{ieee}: zigpy's post-interview notify")
    heard = dev.ota.events("image_notify")[0].time
    await wait_for(lambda: [f for f in rig.hub.frames if f.ieee == ieee and f.command == "QUERY_NEXT_IMAGE"
                            and f.time >= heard], what=f"{ieee}: the query after it")


async def test_unicast_notify_of_every_payload_type_makes_the_device_query(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    await queried_at_power_up(rig, dev)
    for payload_type in (0, 1, 2, 3):
        mark = rig.hub.server.frames_logged
        rig.hub.send_image_notify(ieee=ieee, payload_type=payload_type, jitter=1, manufacturer_code=MFR,
                                  image_type=PPMID, file_version=2)
        await wait_for(lambda: since(rig.hub, mark, "QUERY_NEXT_IMAGE", "rx", ieee),  # noqa: B023
                       what=f"query after a type-{payload_type} unicast notify")
        notify = since(rig.hub, mark, "IMAGE_NOTIFY", "tx")
        assert [f.ieee for f in notify] == [ieee] and f"type={payload_type} jitter=1" in notify[0].detail
    heard = [e.data for e in dev.ota.events("image_notify")]
    # unicast: the client always queries, whatever the jitter (1 of 100 here) and the fields say
    assert [(d["unicast"], d["payload_type"]) for d in heard[-4:]] == [(True, 0), (True, 1), (True, 2), (True, 3)]


async def test_broadcast_notify_reaches_every_client_and_each_applies_its_own_filter(make_rig) -> None:
    rig = await make_rig()
    ppmid, hcalcs = await rig.device("ppmid"), await rig.device("hcalcs")
    for dev in (ppmid, hcalcs):
        await queried_at_power_up(rig, dev)
    mark, heard = rig.hub.server.frames_logged, len(hcalcs.ota.events("image_notify"))
    # a PPMID image: the PPMID queries, the HCALCS (another image type) stays silent
    rig.hub.send_image_notify(broadcast="all", payload_type=2, jitter=100, manufacturer_code=MFR, image_type=PPMID)
    await wait_for(lambda: since(rig.hub, mark, "QUERY_NEXT_IMAGE", "rx", str(ppmid.ieee)), what="PPMID query")
    await wait_for(lambda: len(hcalcs.ota.events("image_notify")) > heard, what="HCALCS heard the broadcast")
    assert [f.ieee for f in since(rig.hub, mark, "IMAGE_NOTIFY", "tx")] == ["broadcast 0xFFFF"]
    assert hcalcs.ota.events("image_notify")[-1].data == {"unicast": False, "payload_type": 2, "jitter": 100,
                                                         "ignored": "image type"}
    assert ppmid.ota.events("image_notify")[-1].data["ignored"] is None
    assert not since(rig.hub, mark, "QUERY_NEXT_IMAGE", "rx", str(hcalcs.ieee))
    # the same for an HCALCS image, sent to rx-on-when-idle devices (both are)
    mark, heard = rig.hub.server.frames_logged, len(ppmid.ota.events("image_notify"))
    rig.hub.send_image_notify(broadcast="rx_on", payload_type=2, manufacturer_code=MFR, image_type=HCALCS)
    await wait_for(lambda: since(rig.hub, mark, "QUERY_NEXT_IMAGE", "rx", str(hcalcs.ieee)), what="HCALCS query")
    await wait_for(lambda: len(ppmid.ota.events("image_notify")) > heard, what="PPMID heard the second broadcast")
    assert ppmid.ota.events("image_notify")[-1].data["ignored"] == "image type"
    assert [f.ieee for f in since(rig.hub, mark, "IMAGE_NOTIFY", "tx")] == ["broadcast 0xFFFD"]


async def test_a_malformed_unicast_notify_gets_the_devices_malformed_command(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    await queried_at_power_up(rig, dev)
    mark = rig.hub.server.frames_logged
    rig.hub.send_image_notify(ieee=ieee, payload_type=7, jitter=100, manufacturer_code=MFR)  # no type 7 exists
    await wait_for(lambda: since(rig.hub, mark, "DEFAULT_RESPONSE", "rx", ieee), what="the device's Default Response")
    [answer] = since(rig.hub, mark, "DEFAULT_RESPONSE", "rx", ieee)
    assert answer.status == Status.MALFORMED_COMMAND and answer.detail == "to 0x00"
    assert dev.ota.events("malformed_received")[-1].data["command"] == 0x00


async def test_notify_arguments_are_checked_before_anything_is_sent(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    mark = rig.hub.server.frames_logged
    with pytest.raises(HubError, match="exactly one of ieee= or broadcast="):
        rig.hub.send_image_notify(payload_type=0)
    with pytest.raises(HubError, match="exactly one of ieee= or broadcast="):
        rig.hub.send_image_notify(ieee=str(dev.ieee), broadcast="all", payload_type=0)
    with pytest.raises(HubError, match="payload type 3 carries file_version"):
        rig.hub.send_image_notify(ieee=str(dev.ieee), manufacturer_code=MFR, image_type=PPMID)
    with pytest.raises(HubError, match="broadcast 'everyone' unknown"):
        rig.hub.send_image_notify(broadcast="everyone", payload_type=0)
    with pytest.raises(HubError, match="no OTA client known for 00:00:00:00:00:00:00:99"):
        rig.hub.send_image_notify(ieee="00:00:00:00:00:00:00:99", payload_type=0)
    assert not since(rig.hub, mark, "IMAGE_NOTIFY", "tx")


def test_notify_payload_carries_the_fields_of_its_type() -> None:
    assert image_notify_payload(0, 50) == bytes([0, 50])
    assert image_notify_payload(1, 100, manufacturer_code=0x1234) == bytes([1, 100, 0x34, 0x12])
    assert image_notify_payload(3, 100, manufacturer_code=0x1234, image_type=0x0101, file_version=0x02000001) == \
        bytes([3, 100, 0x34, 0x12, 0x01, 0x01, 0x01, 0x00, 0x00, 0x02])
    assert image_notify_payload(2, 1, manufacturer_code=1, image_type=2, file_version=3) == bytes([2, 1, 1, 0, 2, 0])
    assert image_notify_payload(9, 0, image_type=0xFFFF) == bytes([9, 0, 0xFF, 0xFF])  # malformed on purpose
    with pytest.raises(ValueError, match="image_type 0x10000 does not fit its 2-octet field"):
        image_notify_payload(2, 1, manufacturer_code=1, image_type=0x10000)
    with pytest.raises(ValueError, match="must each fit in one octet"):
        image_notify_payload(0, 256)
