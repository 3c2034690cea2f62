"""The emulated device's ZDO/ZCL answers and its fault injection, against the hand-built fake peer."""

from __future__ import annotations

import struct

import pytest
import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl.clusters.general import ImageUpgradeStatus as S

try:
    from test_device_fakes import FC_CLUSTER_S2C_NODR, advance, build_image, make_device, settle
except ImportError:  # tests/emu became a package
    from .test_device_fakes import FC_CLUSTER_S2C_NODR, advance, build_image, make_device, settle


def replies(server, cluster: int) -> list:
    return [s for s in server.seen if s.cluster == cluster]


async def ask(server, dev, cluster: int, payload: bytes, *, profile: int = 0x0109, dst_ep: int = 1, src_ep: int = 1,
              broadcast: bool = False):
    n = len(server.seen)
    from rig.emu.air import AirFrame

    dev.receive(AirFrame(0x0000, 0xFFFF if broadcast else dev.nwk, src_ep, dst_ep, profile, cluster, payload, 7))
    await settle()
    return server.seen[n:]


async def powered(profile: str = "ppmid"):
    dev, server, clock = make_device(profile, None)
    dev.power_on()
    await dev.ota.wait_for_event("query_response")
    await settle()
    return dev, server, clock


# --- ZDO ------------------------------------------------------------------------------------------


async def test_zdo_interview_answers() -> None:
    dev, server, _ = await powered()
    out = await ask(server, dev, 0x0002, bytes([0x11]) + struct.pack("<H", dev.nwk), profile=0, dst_ep=0, src_ep=0)
    assert len(out) == 1 and out[0].cluster == 0x8002
    tsn, status, nwk = out[0].frame.payload[0], out[0].frame.payload[1], struct.unpack_from("<H", out[0].frame.payload, 2)[0]
    assert (tsn, status, nwk) == (0x11, 0, dev.nwk)
    desc, _ = zdo_t.NodeDescriptor.deserialize(out[0].frame.payload[4:])
    assert desc.logical_type == zdo_t.LogicalType.EndDevice and desc.is_receiver_on_when_idle and desc.manufacturer_code == 0x1234

    out = await ask(server, dev, 0x0005, bytes([0x12]) + struct.pack("<H", dev.nwk), profile=0, dst_ep=0, src_ep=0)
    assert out[0].cluster == 0x8005 and out[0].frame.payload[4:] == bytes([1, 1])  # one endpoint: 1

    out = await ask(server, dev, 0x0004, bytes([0x13]) + struct.pack("<HB", dev.nwk, 1), profile=0, dst_ep=0, src_ep=0)
    p = out[0].frame.payload
    # tsn, status, nwk, length, ep, profile, device type, version, in list, out list
    assert p[:2] == bytes([0x13, 0]) and p[5] == 1 and struct.unpack_from("<HH", p, 6) == (0x0109, 0x0507)
    sd, _ = zdo_t.SizePrefixedSimpleDescriptor.deserialize(p[4:])
    assert list(sd.input_clusters) == [0x0000, 0x0003] and 0x0019 in sd.output_clusters

    out = await ask(server, dev, 0x0004, bytes([0x14]) + struct.pack("<HB", dev.nwk, 9), profile=0, dst_ep=0, src_ep=0)
    assert out[0].frame.payload[1] == zdo_t.Status.NOT_ACTIVE

    out = await ask(server, dev, 0x0001, bytes([0x15]) + struct.pack("<HBB", dev.nwk, 0, 0), profile=0, dst_ep=0, src_ep=0)
    assert out[0].cluster == 0x8001 and out[0].frame.payload[2:10] == dev.ieee.serialize()

    # NWK_addr_req is broadcast: answer for our IEEE only
    out = await ask(server, dev, 0x0000, bytes([0x16]) + dev.ieee.serialize() + b"\x00\x00", profile=0, dst_ep=0, src_ep=0, broadcast=True)
    assert out[0].cluster == 0x8000 and struct.unpack_from("<H", out[0].frame.payload, 10)[0] == dev.nwk
    other = t.EUI64.convert("01:02:03:04:05:06:07:08")
    assert await ask(server, dev, 0x0000, bytes([0x17]) + other.serialize() + b"\x00\x00", profile=0, dst_ep=0, src_ep=0, broadcast=True) == []

    # unsupported unicast request: NOT_SUPPORTED; garbage: silence, no crash
    out = await ask(server, dev, 0x0034, bytes([0x18]) + dev.ieee.serialize() + b"\x00", profile=0, dst_ep=0, src_ep=0)
    assert out[0].cluster == 0x8034 and out[0].frame.payload == bytes([0x18, zdo_t.Status.NOT_SUPPORTED])
    assert await ask(server, dev, 0x0004, b"\x19\x01", profile=0, dst_ep=0, src_ep=0) == []
    assert not [e for e in dev.records if e.name == "receive_error"]


async def test_device_annce_and_sleepy_node_descriptor() -> None:
    dev, server, _ = await powered("gsme")
    annce = replies(server, 0x0013)[0].frame.payload
    nwk, ieee, cap = struct.unpack_from("<H", annce, 1)[0], annce[3:11], annce[11]
    assert nwk == dev.nwk and ieee == dev.ieee.serialize() and cap & 0x08 == 0 and cap & 0x04 == 0
    assert dev.rx_on_when_idle is False and dev.poll_interval_s == 5.0
    out = await ask(server, dev, 0x0002, bytes([0x21]) + struct.pack("<H", dev.nwk), profile=0, dst_ep=0, src_ep=0)
    desc, _ = zdo_t.NodeDescriptor.deserialize(out[0].frame.payload[4:])
    assert not desc.is_receiver_on_when_idle and not desc.is_mains_powered


# --- ZCL foundation ---------------------------------------------------------------------------------


async def test_read_attributes_basic_and_ota_client() -> None:
    dev, server, _ = await powered()
    # Basic: manufacturer 0x0004, model 0x0005, unknown 0x0030
    out = await ask(server, dev, 0x0000, bytes([0x00, 0x31, 0x00]) + struct.pack("<3H", 4, 5, 0x30))
    p = out[0].frame.payload
    assert p[:3] == bytes([0x18, 0x31, 0x01])  # server->client, no default rsp; same TSN; Read Attributes Response
    assert p[3:] == (struct.pack("<HBB", 4, 0, 0x42) + bytes([11]) + b"HAN OTA Rig"
                     + struct.pack("<HBB", 5, 0, 0x42) + bytes([9]) + b"EMU-PPMID"
                     + struct.pack("<HB", 0x30, 0x86))
    assert out[0].frame.profile_id == 0x0109 and out[0].frame.dst_ep == 1 and out[0].frame.src_ep == 1
    # OTA client attributes, read the way zigpy reads a client cluster (direction bit set)
    out = await ask(server, dev, 0x0019, bytes([0x08, 0x32, 0x00]) + struct.pack("<4H", 0x0002, 0x0006, 0x000B, 0x000C))
    p = out[0].frame.payload
    assert p[:3] == bytes([0x10, 0x32, 0x01])  # client->server direction in the answer
    assert p[3:] == (struct.pack("<HBBI", 2, 0, 0x23, 1) + struct.pack("<HBBB", 6, 0, 0x30, 0)
                     + struct.pack("<HBBB", 0x0B, 0, 0x30, 0) + struct.pack("<HBBB", 0x0C, 0, 0x30, 0))
    # reply on the profile the request used
    out = await ask(server, dev, 0x0000, bytes([0x00, 0x33, 0x00]) + struct.pack("<H", 5), profile=0x0104)
    assert out[0].frame.profile_id == 0x0104


async def test_write_attributes_and_unsupported_commands() -> None:
    dev, server, _ = await powered()
    # writable LocationDescription 0x0010 (string) + read-only ManufacturerName
    body = struct.pack("<HB", 0x0010, 0x42) + bytes([3]) + b"hal" + struct.pack("<HB", 0x0004, 0x42) + bytes([1]) + b"x"
    out = await ask(server, dev, 0x0000, bytes([0x00, 0x41, 0x02]) + body)
    assert out[0].frame.payload[2] == 0x04 and out[0].frame.payload[3:] == bytes([0x88]) + struct.pack("<H", 0x0004)
    assert dev.read_attribute(0x0000, 0x0010, endpoint=1) == "hal"
    # OTA attributes are read-only
    out = await ask(server, dev, 0x0019, bytes([0x08, 0x42, 0x02]) + struct.pack("<HBI", 0x0002, 0x23, 9))
    assert out[0].frame.payload[3:] == bytes([0x88]) + struct.pack("<H", 0x0002)
    assert dev.flash.current_file_version == 1
    # Configure Reporting: Default Response UNSUP_GENERAL_COMMAND (0x82)
    out = await ask(server, dev, 0x0000, bytes([0x00, 0x43, 0x06]) + b"\x00\x04\x00\x42\x00\x00\x00\x00")
    assert out[0].frame.payload == bytes([0x18, 0x43, 0x0B, 0x06, 0x82])
    # cluster not on the endpoint: UNSUPPORTED_CLUSTER (0xC3)
    out = await ask(server, dev, 0x0006, bytes([0x01, 0x44, 0x01]))
    assert out[0].frame.payload == bytes([0x18, 0x44, 0x0B, 0x01, 0xC3])
    # server-side OTA command sent to the client: UNSUP_CLUSTER_COMMAND
    out = await ask(server, dev, 0x0019, bytes([0x01, 0x45, 0x01]) + bytes(9))
    assert out[0].frame.payload[3:] == bytes([0x01, 0x81])
    # manufacturer-specific cluster command: UNSUP_MANUF_CLUSTER_COMMAND
    out = await ask(server, dev, 0x0019, bytes([0x0D, 0x34, 0x12, 0x46, 0x05]))
    assert out[0].frame.payload[-2:] == bytes([0x05, 0x83])
    # disable-default-response honoured on success (Write Attributes No Response needs no answer)
    body = struct.pack("<HB", 0x0010, 0x42) + bytes([1]) + b"z"
    assert await ask(server, dev, 0x0000, bytes([0x10, 0x47, 0x05]) + body) == []
    assert dev.read_attribute(0x0000, 0x0010, endpoint=1) == "z"


async def test_malformed_frames_never_crash() -> None:
    dev, server, _ = await powered()
    for payload in [b"", b"\x00", b"\x00\x01", b"\x04\x01", bytes([0x00, 0x50, 0x00, 0x04])]:
        await ask(server, dev, 0x0000, payload)
    # truncated QNI Response unicast -> MALFORMED_COMMAND (0x80); broadcast garbage notify -> silence
    out = await ask(server, dev, 0x0019, bytes([0x09, 0x51, 0x02, 0x00, 0x34]))
    assert out[0].frame.payload == bytes([0x10, 0x51, 0x0B, 0x02, 0x80])  # answer goes client->server
    assert await ask(server, dev, 0x0019, bytes([FC_CLUSTER_S2C_NODR, 0x52, 0x00, 0x07, 0x64]), broadcast=True) == []
    out = await ask(server, dev, 0x0019, bytes([0x09, 0x53, 0x05, 0x00, 0x34, 0x12]))  # truncated block response
    assert out[0].frame.payload[-2:] == bytes([0x05, 0x80])
    assert not [e for e in dev.records if e.name == "receive_error"]
    assert not dev.ota.events("client_error")
    assert dev.ota.events("malformed_received")


# --- Image Notify -----------------------------------------------------------------------------------


async def test_image_notify_unicast_always_broadcast_filtered() -> None:
    dev, server, _ = await powered()
    before = len(server.ota(0x01))
    # unicast with a foreign manufacturer still triggers a query
    server.send_ota(0x00, bytes([0x01, 0x01]) + struct.pack("<H", 0x9999))
    await dev.ota.wait_for_event("query_response", since=len(dev.ota.records))
    await settle()
    assert len(server.ota(0x01)) == before + 1
    n = len(server.ota(0x01))
    # broadcasts that must be ignored: foreign manufacturer, foreign type, same version, jitter 0
    for body in [bytes([0x01, 100]) + struct.pack("<H", 0x9999),
                 bytes([0x02, 100]) + struct.pack("<HH", 0x1234, 0x0202),
                 bytes([0x03, 100]) + struct.pack("<HHI", 0x1234, 0x0101, 1),
                 bytes([0x00, 0])]:
        server.send_ota(0x00, body, broadcast=True)
        await settle()
    assert len(server.ota(0x01)) == n
    reasons = [e.data["ignored"] for e in dev.ota.events("image_notify") if not e.data["unicast"]]
    assert reasons[0] == "manufacturer" and reasons[1] == "image type" and reasons[2] == "same version"
    # jitter 100 must be answered
    server.send_ota(0x00, bytes([0x03, 100]) + struct.pack("<HHI", 0x1234, 0x0101, 2), broadcast=True)
    await settle()
    assert len(server.ota(0x01)) == n + 1
    # jitter 1: answered only when the 1..100 draw is 1 -> over many notifies, a few at most
    sent = len(server.ota(0x01))
    for _ in range(40):
        server.send_ota(0x00, bytes([0x00, 1]), broadcast=True)
        await settle(10)
    assert len(server.ota(0x01)) - sent < 5


async def test_unicast_notify_while_a_query_is_pending_queries_again() -> None:
    """A notify that overtakes the answer to an older query must not be lost (seen as a CI race)."""
    dev, server, _ = await powered()
    before = len(server.ota(0x01))
    held: list = []
    server._on_01 = lambda tsn, f, frame: held.append(tsn)  # hold the answer to the next query
    server.send_ota(0x00, bytes([0x00, 100]))  # unicast notify: the client queries
    await settle()
    assert len(server.ota(0x01)) == before + 1 and held
    server.send_ota(0x00, bytes([0x00, 100]))  # a newer notify arrives while that query is unanswered
    await settle()
    del server._on_01  # back to the normal answers; the held query now gets NO_IMAGE
    server.offer = False
    server.send_ota(0x02, bytes([0x98]), held[0])
    await dev.ota.wait_for_event("requery_after_notify")
    await dev.ota.wait_for_event("query_response", since=len(dev.ota.records))
    assert len(server.ota(0x01)) == before + 2


async def test_no_server_discovered_uses_image_notify_sender() -> None:
    dev, server, clock = make_device("ppmid", build_image(2, 100))
    server.answer_match_desc = False
    dev.power_on()
    await dev.ota.wait_for_event("discovery_failed")
    await settle()
    assert server.ota(0x01) == []  # nobody to ask
    server.send_ota(0x00, bytes([0x00, 100]))
    ev = await dev.ota.wait_for_event("server_found")
    assert ev.data["how"] == "image_notify"
    await dev.ota.wait_for_event("activated", timeout=60)


# --- Faults --------------------------------------------------------------------------------------------


async def test_fault_drop_block_responses() -> None:
    image = build_image(2, 400)
    dev, server, clock = make_device("ppmid", image)
    dev.faults.drop_block_responses = 2
    dev.power_on()
    await dev.ota.wait_for_event("fault_block_dropped")
    await dev.ota.wait_for_event("block_timeout")
    await advance(clock, 30)
    await dev.ota.wait_for_event("activated", timeout=60)
    offsets = [r.fields["offset"] for r in server.ota(0x03)]
    assert offsets[:3] == [0, 0, 0]  # two lost answers, re-requested after each timeout
    assert len(dev.ota.events("fault_block_dropped")) == 2
    assert dev.flash.installed_image == image


async def test_fault_reboot_at_offset() -> None:
    image = build_image(2, 800)
    dev, server, clock = make_device("ppmid", image)
    dev.faults.reboot_at_offset = 400
    dev.power_on()
    ev = await dev.ota.wait_for_event("fault_reboot")
    assert ev.data["offset"] == 400
    await dev.ota.wait_for_event("activated", timeout=60)
    assert dev.faults.reboot_at_offset is None and dev.flash.installed_image == image


async def test_fault_corrupt_before_verify() -> None:
    dev, server, clock = make_device("ppmid", build_image(2, 400))
    dev.faults.corrupt_before_verify = True
    dev.power_on()
    await dev.ota.wait_for_event("upgrade_end_sent", timeout=60)
    await settle()
    assert dev.ota.events("fault_corrupted") and [e.fields["status"] for e in server.ota(0x06)] == [0x96]


async def test_fault_wrong_ids_and_hardware_version() -> None:
    dev, server, clock = make_device("ppmid", build_image(2, 400))
    dev.faults.manufacturer_code = 0x4321
    dev.faults.hardware_version = 0x0900
    dev.power_on()
    await dev.ota.wait_for_event("query_response")
    await settle()
    q = server.ota(0x01)[0].fields
    assert q["mfr"] == 0x4321 and q["hw"] == 0x0900
    # the fake refuses the unknown manufacturer: no download
    assert dev.ota.events("query_response")[0].data["status"] == "NO_IMAGE_AVAILABLE"

    dev, server, clock = make_device("ppmid", build_image(2, 400))
    dev.power_on()
    await dev.ota.wait_for_event("download_started")
    dev.faults.image_type = 0x0999  # wrong type in block requests -> Default Response NO_IMAGE_AVAILABLE
    ev = await dev.ota.wait_for_event("download_aborted", timeout=30)
    assert "NO_IMAGE_AVAILABLE" in ev.data["reason"]
    assert any(r.fields["type"] == 0x0999 for r in server.ota(0x03))


@pytest.mark.parametrize("status", [0x96, 0x95])
async def test_fault_upgrade_end_status(status: int) -> None:
    dev, server, clock = make_device("ppmid", build_image(2, 200))
    dev.faults.upgrade_end_status = status
    dev.power_on()
    await dev.ota.wait_for_event("upgrade_end_sent", timeout=60)
    await settle()
    assert [e.fields["status"] for e in server.ota(0x06)] == [status]
    assert dev.ota.events("verified")[0].data["ok"] is True  # the image was fine; the device lied
    assert dev.flash.current_file_version == 1


async def test_fault_never_send_upgrade_end() -> None:
    dev, server, clock = make_device("ppmid", build_image(2, 200))
    dev.faults.never_send_upgrade_end = True
    dev.power_on()
    await dev.ota.wait_for_event("fault_upgrade_end_suppressed", timeout=60)
    await advance(clock, 3600)
    assert server.ota(0x06) == [] and dev.ota.status == S.Download_complete


async def test_fault_local_upgrade_reported_in_next_query() -> None:
    dev, server, clock = make_device("ppmid", None)
    dev.power_on()
    await dev.ota.wait_for_event("query_response")
    dev.faults.local_upgrade(0x00000005)
    assert dev.read_attribute(0x0019, 0x0002) == 5
    await advance(clock, 86400 + 1)
    assert server.ota(0x01)[-1].fields["version"] == 5


@pytest.mark.parametrize(("kind", "command", "length"), [("qni_truncated", 0x01, 4), ("ibr_truncated", 0x03, 9),
                                                         ("bad_payload", 0x01, 6), ("unknown_command", 0x1F, 3),
                                                         ("upgrade_end_truncated", 0x06, 3)])
async def test_fault_send_malformed(kind: str, command: int, length: int) -> None:
    dev, server, clock = await powered()
    payload = dev.faults.send_malformed(kind)
    await settle()
    sent = server.seen[-1]
    assert sent.cluster == 0x0019 and sent.command == command and sent.frame.payload == payload
    assert len(payload) == 3 + length
    with pytest.raises(ValueError, match="expected one of"):
        dev.faults.send_malformed("nonsense")
