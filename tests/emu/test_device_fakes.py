"""A small hand-built OTA server peer for the device tests, and byte-vector tests of its frames.

The fake implements `Medium`: it decodes what an emulated device sends with its own struct code
(not the device's codec, not zigpy's schemas) and answers with OTA server frames built byte by byte
from the ZCL chapter 11 layouts, so the device is tested against the spec, not against itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from typing import Any

import pytest
import zigpy.types as t

from rig.clock import VirtualClock
from rig.image.integrity import aes_mmo_hash as aes_mmo
from rig.emu.air import AirFrame
from rig.emu.device import EmulatedDevice
from rig.emu.profiles import load_profile

MFR, PPMID_TYPE, HW = 0x1234, 0x0101, 0x0100
SERVER_IEEE = t.EUI64.convert("00:0d:6f:00:00:00:00:01")
SERVER_EP = 1
SE = 0x0109

# ZCL frame control bytes (bit0-1 frame type, bit3 direction server->client, bit4 disable default rsp)
FC_CLUSTER_S2C_NODR = 0x19
FC_CLUSTER_S2C = 0x09
FC_GLOBAL_S2C_NODR = 0x18
FC_GLOBAL_C2S = 0x00


def build_image(version: int, body_len: int = 1000, *, integrity: bool = True, hw_range: tuple[int, int] | None = (0x0000, 0x0200),
                mfr: int = MFR, image_type: int = PPMID_TYPE) -> bytes:
    """An OTA file laid out per ZCL §11.4 by hand: header, Upgrade Image element, integrity code."""
    body = bytes((i * 7 + 3) & 0xFF for i in range(body_len))
    elements = struct.pack("<HI", 0x0000, len(body)) + body
    fc = 0x0004 if hw_range else 0
    header_len = 56 + (4 if hw_range else 0)
    total = header_len + len(elements) + (6 + 16 if integrity else 0)
    header = struct.pack("<IHHHHHIH", 0x0BEEF11E, 0x0100, header_len, fc, mfr, image_type, version, 0x0002)
    header += b"emulated test image".ljust(32, b"\x00") + struct.pack("<I", total)
    if hw_range:
        header += struct.pack("<HH", *hw_range)
    data = header + elements
    if integrity:
        data += struct.pack("<HI", 0x0003, 16)
        data += aes_mmo(data)
    assert len(data) == total
    return data


@dataclasses.dataclass
class Seen:
    time: float
    cluster: int
    command: int | None
    fields: dict[str, Any]
    frame: AirFrame


class FakeServer:
    """OTA server + coordinator ZDO, as a Medium. Policies are plain attributes tests set."""

    def __init__(self, clock: VirtualClock, image: bytes | None = None) -> None:
        self.clock = clock
        self.image = image
        self.seen: list[Seen] = []
        self.device: EmulatedDevice | None = None
        self.answer_match_desc = True
        self.offer = True
        self.block_cap = 64  # server side cap on DataSize
        self.wait_for_data: dict[int, tuple[int, int, int | None]] = {}  # offset -> (current, request, mbp) once
        self.page_support = False
        self.page_drop: set[int] = set()  # offsets left out of page bursts
        self.answer_upgrade_end = True
        self.upgrade_end_times: list[tuple[int, int]] = [(0, 0)]  # (CurrentTime, UpgradeTime) per answer, last repeats
        self.block_status_at: dict[int, int] = {}  # offset -> non-success status to answer
        self.ibr_default_response: int | None = None  # answer IBRs with this Default Response status
        self.tsn = 0x80

    # -- Medium --------------------------------------------------------------------------------
    def send_from_device(self, device: EmulatedDevice, frame: AirFrame) -> None:
        self.device = device
        asyncio.get_running_loop().call_soon(self._handle, frame)

    # -- what the device sent --------------------------------------------------------------------
    def requests(self, cluster: int, command: int | None = None) -> list[Seen]:
        return [s for s in self.seen if s.cluster == cluster and (command is None or s.command == command)]

    def ota(self, command: int) -> list[Seen]:
        return self.requests(0x0019, command)

    def _handle(self, frame: AirFrame) -> None:
        if frame.profile_id == 0 and frame.dst_ep == 0:
            self._zdo(frame)
            return
        p = frame.payload
        fc, tsn, cmd = p[0], p[1], p[2]
        body = p[3:]
        is_cluster_command = (fc & 0x03) == 0x01
        if not is_cluster_command:
            fields: dict[str, Any] = {"general": True, "body": body}
        elif frame.cluster_id == 0x0019:
            fields = self._parse_ota(cmd, body)
        else:
            fields = {"raw": body}
        self.seen.append(Seen(self.clock.now(), frame.cluster_id, cmd, fields, frame))
        if frame.cluster_id != 0x0019 or not is_cluster_command or "malformed" in fields:
            return
        getattr(self, f"_on_{cmd:02x}", lambda *a: None)(tsn, fields, frame)

    @staticmethod
    def _parse_ota(cmd: int, b: bytes) -> dict[str, Any]:
        try:
            if cmd == 0x01:
                fc, mfr, it, ver = struct.unpack_from("<BHHI", b)
                d = dict(fc=fc, mfr=mfr, type=it, version=ver, length=len(b))
                if fc & 1:
                    d["hw"] = struct.unpack_from("<H", b, 9)[0]
                return d
            if cmd == 0x03:
                fc, mfr, it, ver, off, mx = struct.unpack_from("<BHHIIB", b)
                d = dict(fc=fc, mfr=mfr, type=it, version=ver, offset=off, max=mx, length=len(b))
                pos = 14
                if fc & 1:
                    d["node"] = b[pos:pos + 8]
                    pos += 8
                if fc & 2:
                    d["mbp"] = struct.unpack_from("<H", b, pos)[0]
                return d
            if cmd == 0x04:
                fc, mfr, it, ver, off, mx, ps, sp = struct.unpack_from("<BHHIIBHH", b)
                return dict(fc=fc, mfr=mfr, type=it, version=ver, offset=off, max=mx, page_size=ps, spacing=sp)
            if cmd == 0x06:
                st, mfr, it, ver = struct.unpack_from("<BHHI", b)
                return dict(status=st, mfr=mfr, type=it, version=ver)
        except struct.error:
            return {"malformed": True, "raw": b}
        return {"raw": b}

    # -- sending to the device ----------------------------------------------------------------------
    def deliver(self, cluster: int, payload: bytes, *, profile: int = SE, src_ep: int = SERVER_EP, dst_nwk: int | None = None) -> None:
        dev = self.device
        assert dev is not None
        frame = AirFrame(0x0000, dev.nwk if dst_nwk is None else dst_nwk, src_ep, 1 if profile else 0, profile, cluster, payload)
        dev.receive(frame)

    def send_ota(self, cmd: int, body: bytes, tsn: int | None = None, *, fc: int = FC_CLUSTER_S2C_NODR, broadcast: bool = False) -> None:
        if tsn is None:
            self.tsn = (self.tsn + 1) & 0xFF
            tsn = self.tsn
        self.deliver(0x0019, bytes([fc, tsn, cmd]) + body, dst_nwk=0xFFFF if broadcast else None)

    def default_response(self, tsn: int, cmd: int, status: int) -> None:
        self.deliver(0x0019, bytes([FC_GLOBAL_S2C_NODR, tsn, 0x0B, cmd, status]))

    # -- ZDO -------------------------------------------------------------------------------------
    def _zdo(self, frame: AirFrame) -> None:
        p = frame.payload
        self.seen.append(Seen(self.clock.now(), frame.cluster_id, None, {"raw": p}, frame))
        tsn = p[0]
        if frame.cluster_id == 0x0006:  # Match_Desc_req: nwk, profile, in list, out list
            nwk, profile, n_in = struct.unpack_from("<HHB", p, 1)
            clusters = struct.unpack_from(f"<{n_in}H", p, 6)
            match = [SERVER_EP] if self.answer_match_desc and profile == SE and 0x0019 in clusters else []
            payload = bytes([tsn, 0x00]) + struct.pack("<H", 0x0000) + bytes([len(match)] + match)
            self.deliver(0x8006, payload, profile=0, src_ep=0)
        elif frame.cluster_id == 0x0001:  # IEEE_addr_req
            payload = bytes([tsn, 0x00]) + SERVER_IEEE.serialize() + struct.pack("<H", 0x0000)
            self.deliver(0x8001, payload, profile=0, src_ep=0)

    # -- OTA server behaviour ---------------------------------------------------------------------
    def _on_01(self, tsn: int, f: dict, frame: AirFrame) -> None:
        img = self.image
        if self.offer and img is not None and f["mfr"] == MFR:
            mfr, it, ver = struct.unpack_from("<HHI", img, 10)
            if it == f["type"]:
                self.send_ota(0x02, bytes([0x00]) + struct.pack("<HHII", mfr, it, ver, len(img)), tsn)
                return
        self.send_ota(0x02, bytes([0x98]), tsn)

    def _on_03(self, tsn: int, f: dict, frame: AirFrame) -> None:
        off = f["offset"]
        if self.ibr_default_response is not None:
            self.default_response(tsn, 0x03, self.ibr_default_response)
            return
        if off in self.block_status_at:
            self.send_ota(0x05, bytes([self.block_status_at.pop(off)]), tsn)
            return
        if off in self.wait_for_data:
            cur, req, mbp = self.wait_for_data.pop(off)
            body = bytes([0x97]) + struct.pack("<II", cur, req) + (struct.pack("<H", mbp) if mbp is not None else b"")
            self.send_ota(0x05, body, tsn)
            return
        self._send_block(off, f["max"], tsn, f)

    def _send_block(self, off: int, mx: int, tsn: int | None, f: dict) -> None:
        img = self.image
        assert img is not None
        mfr, it, ver = struct.unpack_from("<HHI", img, 10)
        if f["mfr"] != mfr or f["type"] != it or f["version"] != ver:
            self.default_response(tsn if tsn is not None else 0, 0x03, 0x98)
            return
        data = img[off:off + min(mx, self.block_cap)]
        body = bytes([0x00]) + struct.pack("<HHIIB", mfr, it, ver, off, len(data)) + data
        self.send_ota(0x05, body, tsn)

    def _on_04(self, tsn: int, f: dict, frame: AirFrame) -> None:
        if not self.page_support:
            self.default_response(tsn, 0x04, 0x81)  # UNSUP_CLUSTER_COMMAND
            return
        asyncio.get_running_loop().create_task(self._page_burst(f))

    async def _page_burst(self, f: dict) -> None:
        assert self.image is not None
        off, end = f["offset"], min(len(self.image), f["offset"] + f["page_size"])
        while off < end:
            size = min(f["max"], self.block_cap, end - off)
            if off not in self.page_drop:
                self._send_block(off, size, None, f)
            off += size
            await self.clock.sleep(f["spacing"] / 1000.0)

    def _on_06(self, tsn: int, f: dict, frame: AirFrame) -> None:
        if f["status"] != 0x00:
            self.default_response(tsn, 0x06, 0x00)
            return
        if not self.answer_upgrade_end:
            return
        cur, upg = self.upgrade_end_times.pop(0) if len(self.upgrade_end_times) > 1 else self.upgrade_end_times[0]
        self.send_upgrade_end_response(cur, upg, tsn=tsn, version=f["version"])

    def send_upgrade_end_response(self, current: int, upgrade: int, *, tsn: int | None = None, version: int | None = None,
                                  mfr: int | None = None, image_type: int | None = None) -> None:
        assert self.image is not None
        own_mfr, own_type, own_version = struct.unpack_from("<HHI", self.image, 10)
        mfr = own_mfr if mfr is None else mfr
        image_type = own_type if image_type is None else image_type
        version = own_version if version is None else version
        self.send_ota(0x07, struct.pack("<HHIII", mfr, image_type, version, current, upgrade), tsn)


# --------------------------------------------------------------------------------------------
# Shared setup for the device tests


async def settle(turns: int = 50) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


async def advance(clock: VirtualClock, seconds: float) -> None:
    await clock.advance(seconds, settle=settle)


def make_device(profile: str = "ppmid", image: bytes | None = None, *, rate: float = 20.0) -> tuple[EmulatedDevice, FakeServer, VirtualClock]:
    clock = VirtualClock(start=1_700_000_000.0, rate=rate)
    server = FakeServer(clock, image)
    dev = EmulatedDevice(load_profile(profile), ieee=t.EUI64.convert("00:11:22:33:44:55:66:77"), nwk=0x1A2B, medium=server, clock=clock)
    server.device = dev
    return dev, server, clock


# --------------------------------------------------------------------------------------------
# Byte vectors: the fake's frames and the device's codec agree with the spec layouts


def test_build_image_layout_matches_zigpy_parser() -> None:
    from zigpy.ota.image import OTAImage, ElementTagId

    data = build_image(0x00000002, 300)
    img, rest = OTAImage.deserialize(data)
    assert rest == b""
    assert img.header.manufacturer_id == MFR and img.header.image_type == PPMID_TYPE
    assert img.header.file_version == 2 and img.header.image_size == len(data)
    assert img.subelements[-1].tag_id == ElementTagId.IMAGE_INTEGRITY_CODE


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Image Notify, payload type 0: jitter only
        (bytes.fromhex("0032"), dict(payload_type=0, query_jitter=50, manufacturer_code=None)),
        # payload type 3: jitter 100, mfr 0x1234, type 0x0101, version 0x00000002
        (bytes.fromhex("03 64 3412 0101 02000000"), dict(payload_type=3, query_jitter=100, manufacturer_code=0x1234, image_type=0x0101, new_file_version=2)),
    ],
)
def test_decode_image_notify_vectors(payload: bytes, expected: dict) -> None:
    from rig.emu import ota_codec as oc

    msg = oc.decode_image_notify(payload)
    for k, v in expected.items():
        assert getattr(msg, k) == v


def test_decode_server_vectors() -> None:
    from rig.emu import ota_codec as oc

    # 0x02 QNI Response SUCCESS: status, mfr, type, version, size (LE)
    r = oc.decode_query_next_image_response(bytes.fromhex("00 3412 0101 02000000 e8030000"))
    assert r.status == 0 and r.image == oc.ImageId(0x1234, 0x0101, 2) and r.image_size == 1000
    assert oc.decode_query_next_image_response(b"\x98").status == 0x98
    # 0x05 Image Block Response SUCCESS with 3 data bytes at offset 0x40
    b = oc.decode_image_block_response(bytes.fromhex("00 3412 0101 02000000 40000000 03 aabbcc"))
    assert b.file_offset == 0x40 and b.data == b"\xaa\xbb\xcc"
    # WAIT_FOR_DATA with and without the optional MinimumBlockPeriod
    w = oc.decode_image_block_response(bytes.fromhex("97 00000000 05000000 fa00"))
    assert (w.current_time, w.request_time, w.minimum_block_period) == (0, 5, 250)
    w2 = oc.decode_image_block_response(bytes.fromhex("97 00000000 05000000"))
    assert w2.minimum_block_period is None
    assert oc.decode_image_block_response(b"\x95").status == 0x95
    # 0x07 Upgrade End Response with wildcards and 0xFFFFFFFF upgrade time
    u = oc.decode_upgrade_end_response(bytes.fromhex("ffff ffff ffffffff 00000000 ffffffff"))
    assert u.upgrade_time == 0xFFFFFFFF and oc.matches(oc.ImageId(0x1234, 0x0101, 2), u.image)
    for bad, fn in [
        (bytes.fromhex("00 3412 0101"), oc.decode_query_next_image_response),
        (bytes.fromhex("00 3412 0101 02000000 40000000 05 aabb"), oc.decode_image_block_response),
        (bytes.fromhex("97 0000"), oc.decode_image_block_response),
        (bytes.fromhex("3412 0101 02000000"), oc.decode_upgrade_end_response),
        (bytes.fromhex("04 64"), oc.decode_image_notify),
        (bytes.fromhex("03 64 3412"), oc.decode_image_notify),
    ]:
        with pytest.raises(oc.Malformed):
            fn(bad)


def test_encode_client_vectors() -> None:
    from rig.emu import ota_codec as oc

    img = oc.ImageId(0x1234, 0x0101, 2)
    # 0x01 QNI: fc=1 (hw present), mfr, type, current version, hw version
    assert oc.query_next_image(0x1234, 0x0101, 1, 0x0100) == bytes.fromhex("01 3412 0101 01000000 0001")
    assert oc.query_next_image(0x1234, 0x0101, 1, None) == bytes.fromhex("00 3412 0101 01000000")
    # 0x03 IBR: fc=2 (MinimumBlockPeriod present), ..., offset 0x100, max 40, mbp 0
    assert oc.image_block(img, 0x100, 40, min_block_period=0) == bytes.fromhex("02 3412 0101 02000000 00010000 28 0000")
    assert oc.image_block(img, 0, 40) == bytes.fromhex("00 3412 0101 02000000 00000000 28")
    # 0x04 IPR: fc=0, ..., offset 0, max 40, page 256, spacing 20 ms
    assert oc.image_page(img, 0, 40, 256, 20) == bytes.fromhex("00 3412 0101 02000000 00000000 28 0001 1400")
    # 0x06 Upgrade End Request: status, mfr, type, version
    assert oc.upgrade_end(0x96, img) == bytes.fromhex("96 3412 0101 02000000")
