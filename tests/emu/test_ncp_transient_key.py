"""importTransientKey (0x0111) as each host writes it, in raw EZSP frames (no host's tables involved).

EmberZNet 8.x (EZSP 14 and up) takes the EUI64 and the key only; zigbee-herdsman's ember adapter and
Silicon Labs' 8.x host send those 24 bytes. 7.x (EZSP 12-13) also took a trailing flags byte. bellows
1.2.1 still appends the flags byte at 14+: the firmware reads what it expects and ignores the rest.
"""

from __future__ import annotations

import random

import pytest
import zigpy.types as zt

from rig.clock import VirtualClock
from rig.emu.ncp import EzspNcp

PARTNER = bytes.fromhex("827c67ebc8d44df7")  # little-endian on the wire
KEY = bytes(range(0x10, 0x20))
FLAGS = b"\x00"


class _Wire:
    """The ASH layer's seat: collects the EZSP frames the NCP sends."""

    def __init__(self) -> None:
        self._transport = object()
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)


def _ncp(version: int) -> tuple[EzspNcp, _Wire]:
    ncp = EzspNcp(version=version, eui64=zt.EUI64(bytes(range(8))), clock=VirtualClock(), rng=random.Random(0),
                  errors=[])
    wire = _Wire()
    ncp.attach_ash(wire)
    ncp.ash_data_received(bytes([0x00, 0x00, 0x00, version]))  # `version`, legacy frame format
    assert wire.frames[-1][3] == version
    return ncp, wire


def _command(ncp: EzspNcp, wire: _Wire, frame_id: int, params: bytes) -> tuple[int, bytes]:
    """Send one command in the 2-byte-id frame format (EZSP 8+); return (frame id, parameters) answered."""
    sent = len(wire.frames)
    ncp.ash_data_received(bytes([0x01, 0x00, 0x01]) + frame_id.to_bytes(2, "little") + params)
    answer = wire.frames[sent]  # the response; callbacks it started follow it
    assert answer[0] == 0x01 and answer[1] & 0x80, answer.hex()  # our sequence number, a response
    return int.from_bytes(answer[3:5], "little"), answer[5:]


@pytest.mark.parametrize("version", [14, 16, 17, 18, 19])
def test_8x_frame_without_flags_is_decoded(version):
    """What herdsman sends at 14+: 24 bytes, answered sl_status_t OK and the key kept for the join."""
    ncp, wire = _ncp(version)
    frame_id, params = _command(ncp, wire, 0x0111, PARTNER + KEY)
    assert frame_id == 0x0111, f"answered 0x{frame_id:04X} {params.hex()}: {ncp.errors}"
    assert params == bytes(4)  # SL_STATUS_OK, 4 bytes
    assert ncp.ram.transient_keys == {zt.EUI64(PARTNER): KEY}
    assert ncp.errors == []


def test_8x_frame_with_bellows_flags_byte_is_still_accepted():
    ncp, wire = _ncp(14)
    frame_id, params = _command(ncp, wire, 0x0111, PARTNER + KEY + FLAGS)
    assert (frame_id, params) == (0x0111, bytes(4))
    assert ncp.ram.transient_keys == {zt.EUI64(PARTNER): KEY}
    assert ncp.errors == []


def test_7x_frame_carries_flags():
    """EZSP 13 (EmberZNet 7.4): EUI64, key, flags; a frame without the flags is short."""
    ncp, wire = _ncp(13)
    assert _command(ncp, wire, 0x0111, PARTNER + KEY + FLAGS) == (0x0111, bytes(4))
    assert ncp.ram.transient_keys == {zt.EUI64(PARTNER): KEY}
    assert ncp.errors == []
    frame_id, _ = _command(ncp, wire, 0x0111, PARTNER + KEY)
    assert frame_id == 0x0058  # invalidCommand
    assert len(ncp.errors) == 1 and "importTransientKey" in ncp.errors[0]
