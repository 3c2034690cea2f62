"""Packet capture of what the hub sends and receives, as pcapng that Wireshark decodes as Zigbee.

The hub only sees APS-level packets (zigpy `ZigbeePacket`: addresses, endpoints, profile, cluster, payload);
the stick does the MAC/NWK work and the encryption. So the capture is *reconstructed*: each packet is wrapped
in a synthetic IEEE 802.15.4 MAC data frame + Zigbee NWK header + APS data header, all **unsecured** (the NWK
security bit is clear), which is why Wireshark dissects the ZCL/ZDO payload with no keys configured. MAC and
NWK sequence numbers are the capture's own; MAC addresses assume a single hop (MAC = NWK addresses); the APS
counter is the packet's TSN (bellows uses the APS sequence as zigpy's tsn both ways). The file says so in its
section-header comment.

Link type 195 (IEEE802_15_4_WITHFCS) with a correct ITU-T CRC-16 FCS: Wireshark's default 802.15.4 FCS
setting for this link type, so frames show "FCS: correct" with no preference change.

`tap(app, capture)` wraps a zigpy ControllerApplication's `packet_received` and `send_packet` on the
instance (every frame of the hub, ZCL and ZDO; rig.hub.upstream.wrap_packet_path) and returns an undo function. Optional live view: a ZEP v2
stream to a loopback UDP port (Wireshark decodes udp/17754 as ZEP by default).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zigpy.types as zt

from rig.hub.upstream import wrap_packet_path

LOGGER = logging.getLogger(__name__)

LINKTYPE_IEEE802_15_4_WITHFCS = 195
ZEP_PORT = 17754
BROADCAST_NWK = 0xFFFF
_MAX_FRAMES = 200_000  # a safety cap: a week-long soak must not eat the memory of the bench PC

COMMENT = ("Reconstructed by the HAN OTA Rig from the hub's zigpy APS packets: MAC/NWK headers are synthetic "
           "and unsecured (no keys needed); MAC/NWK sequence numbers and single-hop MAC addressing are not the "
           "on-air values.")


@dataclasses.dataclass(frozen=True)
class CapturedFrame:
    """One APS frame as the hub saw it."""

    time: float  # POSIX seconds (the capture clock)
    direction: str  # "rx" (to the hub) | "tx" (from the hub)
    src_nwk: int
    dst_nwk: int
    src_ep: int
    dst_ep: int
    profile: int
    cluster: int
    payload: bytes
    aps_counter: int = 0
    src_ieee: str | None = None  # put in the NWK header (extended source) so Wireshark shows the EUI64
    group: int | None = None  # APS group delivery
    broadcast: bool = False


# -- frame synthesis ---------------------------------------------------------------------------
def crc16_itu(data: bytes) -> int:
    """IEEE 802.15.4 FCS: CRC-16 ITU-T (x^16+x^12+x^5+1), reflected, initial value 0 (a.k.a. CRC-16/KERMIT)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def _eui64_le(ieee: str) -> bytes:
    raw = bytes(int(part, 16) for part in ieee.split(":"))
    if len(raw) != 8:
        raise ValueError(f"not an EUI64: {ieee!r}")
    return raw[::-1]  # written least significant byte first, as on air


def mac_frame(frame: CapturedFrame, *, pan_id: int, mac_seq: int, nwk_seq: int) -> bytes:
    """802.15.4 MAC data frame (short addresses, PAN ID compression) + NWK + APS + payload + FCS."""
    unicast = not frame.broadcast and frame.group is None
    mac_dst = frame.dst_nwk if unicast else BROADCAST_NWK
    fcf = 0x0001 | 0x0040 | (0x2 << 10) | (0x2 << 14)  # data, PAN ID compression, short dst + src
    if unicast:
        fcf |= 0x0020  # ack request
    mac = struct.pack("<HBHHH", fcf, mac_seq & 0xFF, pan_id, mac_dst, frame.src_nwk)

    nwk_fcf = 0x0000 | (2 << 2) | (1 << 6)  # data, protocol version 2 (PRO), route discovery enabled
    ext_src = b""
    if frame.src_ieee:
        try:
            ext_src = _eui64_le(frame.src_ieee)
            nwk_fcf |= 1 << 12
        except ValueError:
            ext_src = b""
    nwk_dst = frame.dst_nwk if frame.group is None else 0xFFFD
    nwk = struct.pack("<HHHBB", nwk_fcf, nwk_dst, frame.src_nwk, 30, nwk_seq & 0xFF) + ext_src

    if frame.group is not None:
        aps = struct.pack("<BHHHBB", 0x0C, frame.group, frame.cluster, frame.profile, frame.src_ep,
                          frame.aps_counter & 0xFF)
    else:
        aps_fcf = 0x40 if unicast else 0x08  # unicast with APS ack request | broadcast delivery
        aps = struct.pack("<BBHHBB", aps_fcf, frame.dst_ep, frame.cluster, frame.profile, frame.src_ep,
                          frame.aps_counter & 0xFF)
    body = mac + nwk + aps + frame.payload
    return body + struct.pack("<H", crc16_itu(body))


def zep_datagram(mac: bytes, *, channel: int, seq: int, when: float, device_id: int = 0x4F54) -> bytes:
    """ZEP v2 data packet: 32-byte header ("EX", CRC mode so the frame's FCS is checked) + the MAC frame."""
    ntp = when + 2_208_988_800  # NTP epoch is 1900
    seconds = int(ntp)
    fraction = int((ntp - seconds) * (1 << 32)) & 0xFFFFFFFF
    header = (b"EX" + bytes([2, 1, channel & 0xFF]) + struct.pack(">H", device_id) + bytes([1, 0xFF])
              + struct.pack(">IIL", seconds & 0xFFFFFFFF, fraction, seq & 0xFFFFFFFF) + bytes(10)
              + bytes([len(mac) & 0x7F]))
    return header + mac


# -- pcapng ------------------------------------------------------------------------------------
def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def pcapng_bytes(frames: list[tuple[float, bytes, str]], *, comment: str = COMMENT,
                 interface: str = "hub-aps") -> bytes:
    """A pcapng file: one section, one 802.15.4-with-FCS interface, one Enhanced Packet Block per frame.

    `frames` holds (POSIX time, MAC frame with FCS, "rx"|"tx"); direction goes into epb_flags.
    """
    shb_opts = _option(1, comment.encode()) + _option(4, b"HAN OTA Rig") + _option(0, b"")
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts)]
    idb_opts = (_option(2, interface.encode()) + _option(3, b"reconstructed from zigpy APS packets")
                + _option(9, bytes([6])) + _option(0, b""))
    out.append(_block(1, struct.pack("<HHI", LINKTYPE_IEEE802_15_4_WITHFCS, 0, 0) + idb_opts))
    for when, data, direction in frames:
        micros = int(round(when * 1_000_000))
        flags = 0b01 if direction == "rx" else 0b10  # inbound / outbound, as seen by the hub
        body = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(data), len(data))
        body += data + b"\0" * (-len(data) % 4) + _option(2, struct.pack("<I", flags)) + _option(0, b"")
        out.append(_block(6, body))
    return b"".join(out)


# -- the capture -------------------------------------------------------------------------------
class Capture:
    """Collects the hub's frames; writes pcapng; optionally streams each frame live as ZEP to loopback."""

    def __init__(self, *, pan_id: int = 0x1A62, channel: int = 15, now: Callable[[], float] | None = None,
                 live_zep: tuple[str, int] | None = None) -> None:
        self.pan_id = pan_id
        self.channel = channel
        self.now = now  # None: the packet's own timestamp (wall clock)
        self.frames: list[CapturedFrame] = []
        self.dropped = 0
        self._zep: socket.socket | None = None
        self._zep_addr: tuple[str, int] | None = None
        self._zep_seq = 0
        if live_zep is not None:
            host, port = live_zep
            if not _is_loopback(host):
                raise ValueError(f"live_zep host {host!r} is not a loopback address; the live stream stays on "
                                 "this machine (use 127.0.0.1 or ::1)")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._zep = socket.socket(family, socket.SOCK_DGRAM)
            self._zep_addr = (host, int(port))

    def record(self, frame: CapturedFrame) -> None:
        if len(self.frames) >= _MAX_FRAMES:
            self.dropped += 1
            return
        self.frames.append(frame)
        if self._zep is not None:
            self._send_zep(frame, len(self.frames) - 1)

    def add_packet(self, packet: zt.ZigbeePacket, direction: str, *, hub_nwk: int,
                   src_ieee: str | None = None) -> None:
        """Record a zigpy packet; `hub_nwk` fills the side zigpy leaves empty (src on tx, dst on rx)."""
        src_nwk = _nwk_of(packet.src, hub_nwk)
        dst = packet.dst
        group = int(dst.address) if dst is not None and dst.addr_mode == zt.AddrMode.Group else None
        broadcast = dst is not None and dst.addr_mode == zt.AddrMode.Broadcast
        dst_nwk = _nwk_of(dst, hub_nwk)
        if self.now is not None:
            when = self.now()
        elif packet.timestamp is not None:
            when = packet.timestamp.timestamp()
        else:
            when = time.time()
        self.record(CapturedFrame(
            time=when, direction=direction, src_nwk=src_nwk, dst_nwk=dst_nwk, src_ep=int(packet.src_ep or 0),
            dst_ep=int(packet.dst_ep or 0), profile=int(packet.profile_id), cluster=int(packet.cluster_id),
            payload=bytes(packet.data.serialize()), aps_counter=int(packet.tsn), src_ieee=src_ieee, group=group,
            broadcast=broadcast))

    def mac_frames(self) -> list[tuple[float, bytes, str]]:
        return [(f.time, mac_frame(f, pan_id=self.pan_id, mac_seq=i, nwk_seq=i), f.direction)
                for i, f in enumerate(self.frames)]

    def write_pcapng(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pcapng_bytes(self.mac_frames()))
        return path

    def close(self) -> None:
        if self._zep is not None:
            self._zep.close()
            self._zep = None

    def _send_zep(self, frame: CapturedFrame, index: int) -> None:
        assert self._zep is not None and self._zep_addr is not None
        mac = mac_frame(frame, pan_id=self.pan_id, mac_seq=index, nwk_seq=index)
        self._zep_seq += 1
        try:
            self._zep.sendto(zep_datagram(mac, channel=self.channel, seq=self._zep_seq, when=frame.time),
                             self._zep_addr)
        except OSError as exc:  # nobody listening is fine; the pcapng still has everything
            LOGGER.debug("ZEP send failed: %s", exc)


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _nwk_of(addr: zt.AddrModeAddress | None, hub_nwk: int) -> int:
    if addr is None:
        return hub_nwk
    if addr.addr_mode in (zt.AddrMode.NWK, zt.AddrMode.Broadcast):
        return int(addr.address)
    if addr.addr_mode == zt.AddrMode.Group:
        return 0xFFFD
    return 0xFFFE  # IEEE-addressed: the NWK address is unknown here


# -- the tap -----------------------------------------------------------------------------------
def tap(app: Any, capture: Capture) -> Callable[[], None]:
    """Record every packet `app` (a zigpy ControllerApplication) receives or sends; returns undo().

    The wrapping of zigpy's packet path lives behind the fence (rig.hub.upstream.wrap_packet_path): the
    hub's own overrides still run, and recording never raises into the hub (a capture problem is logged
    and the frame is still handled).
    """
    def hub_nwk() -> int:
        try:
            return int(app.state.node_info.nwk)
        except (AttributeError, TypeError):
            return 0x0000

    def ieee_of(addr: zt.AddrModeAddress | None) -> str | None:
        if addr is None:
            return None
        try:
            return str(app.get_device_with_address(addr).ieee)
        except (KeyError, ValueError, AttributeError):
            return None

    def hub_ieee() -> str | None:
        try:
            return str(app.state.node_info.ieee)
        except (AttributeError, TypeError):
            return None

    return wrap_packet_path(
        app,
        on_rx=lambda packet: capture.add_packet(packet, "rx", hub_nwk=hub_nwk(), src_ieee=ieee_of(packet.src)),
        on_tx=lambda packet: capture.add_packet(packet, "tx", hub_nwk=hub_nwk(), src_ieee=hub_ieee()))
