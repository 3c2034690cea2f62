"""Touchlink's inter-PAN frames in raw EZSP: setLogicalAndRadioChannel (0x00B9), sendRawMessageExtended
(0x0051, herdsman's SEND_RAW_MESSAGE) and the rawTransmitCompleteHandler (0x0098) that follows.

No emulated device is a touchlink target, so a broadcast scan request completes OK and a unicast
asking for a MAC acknowledgment completes MAC_NO_ACK_RECEIVED: what a stick reports with no touchlink
device in range. 7.x's callback carries the status only; 8.x hands the frame back before a 4-byte status.
"""

from __future__ import annotations

import bellows.types as bt
import pytest

from tests.emu.test_ncp_transient_key import _command, _ncp

# MAC headers as herdsman writes them (sendZclFrameInterPANBroadcast / ...ToIeeeAddr), then a stub NWK/APS
BROADCAST = bytes.fromhex("0108" "00" "ffff" "ffff" "621a" "0102030405060708") + b"\x0b\x00\x0b\x00\x10\x5e\xc0"
UNICAST = bytes.fromhex("21cc" "00" "ffff" "0807060504030201" "621a" "0102030405060708") + b"\x0b\x00\x03\x00\x10\x5e\xc0"


def _raw(message: bytes) -> bytes:
    return bytes([len(message)]) + message + b"\x00\x01"  # LV message, priority NORMAL, useCca


def _callback(wire) -> tuple[int, bytes]:
    frame = wire.frames[-1]
    assert frame[1] & 0x10, f"not a callback: {frame.hex()}"
    return int.from_bytes(frame[3:5], "little"), frame[5:]


@pytest.mark.parametrize("version", [13, 14, 19])
def test_touchlink_scan_request_on_another_channel(version):
    ncp, wire = _ncp(version)
    status_size = 4 if version >= 14 else 1
    assert _command(ncp, wire, 0x00B9, bytes([20])) == (0x00B9, bytes(status_size))
    assert _command(ncp, wire, 0x0051, _raw(BROADCAST)) == (0x0051, bytes(status_size))
    frame_id, params = _callback(wire)
    assert frame_id == 0x0098
    if version >= 14:
        assert params == bytes([len(BROADCAST)]) + BROADCAST + bytes(4)  # the frame back, SL_STATUS_OK
    else:
        assert params == b"\x00"  # EMBER_SUCCESS
    assert ncp.ram.raw_frames == [(20, BROADCAST)]
    assert ncp.errors == []


@pytest.mark.parametrize("version", [13, 14])
def test_unicast_to_an_absent_touchlink_target_gets_no_mac_ack(version):
    ncp, wire = _ncp(version)
    assert _command(ncp, wire, 0x0051, _raw(UNICAST))[0] == 0x0051
    frame_id, params = _callback(wire)
    assert frame_id == 0x0098
    if version >= 14:
        assert bt.sl_Status.deserialize(params[1 + len(UNICAST):])[0] == bt.sl_Status.MAC_NO_ACK_RECEIVED
    else:
        assert bt.EmberStatus.deserialize(params)[0] == bt.EmberStatus.MAC_NO_ACK_RECEIVED
    assert ncp.errors == []


def test_a_channel_outside_2_4_ghz_is_refused():
    ncp, wire = _ncp(14)
    frame_id, params = _command(ncp, wire, 0x00B9, bytes([27]))
    assert frame_id == 0x00B9 and bt.sl_Status.deserialize(params)[0] != bt.sl_Status.OK
    assert ncp.ram.radio_channel is None
