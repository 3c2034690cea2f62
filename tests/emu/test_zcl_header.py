"""The emulator's hand-written ZCL header codec agrees with zigpy's ZCLHeader, byte for byte and field by field."""

from __future__ import annotations

import itertools

import pytest
from zigpy.zcl import foundation

from rig.emu import zcl

Direction = foundation.Direction


@pytest.mark.parametrize("fc", range(256))
def test_parse_matches_zigpy_for_every_frame_control_byte(fc: int) -> None:
    mfr = fc & 0x04
    payload = bytes([fc]) + (b"\x34\x12" if mfr else b"") + bytes([0xA5, 0x0B]) + b"\x01\x02"
    ours, rest = zcl.parse_header(payload)
    theirs, their_rest = foundation.ZCLHeader.deserialize(payload)
    assert rest == their_rest == b"\x01\x02"
    assert isinstance(rest, bytes)
    assert ours.frame_control.value == int(theirs.frame_control) == fc
    assert ours.frame_control.frame_type == theirs.frame_control.frame_type
    assert ours.frame_control.is_general == theirs.frame_control.is_general
    assert ours.frame_control.is_cluster == theirs.frame_control.is_cluster
    assert ours.frame_control.is_manufacturer_specific == theirs.frame_control.is_manufacturer_specific
    assert ours.frame_control.direction == theirs.frame_control.direction == ours.direction
    assert ours.frame_control.disable_default_response == theirs.frame_control.disable_default_response
    assert ours.frame_control.reserved == theirs.frame_control.reserved
    assert ours.manufacturer == theirs.manufacturer
    assert (ours.tsn, ours.command_id) == (theirs.tsn, theirs.command_id) == (0xA5, 0x0B)
    assert ours.serialize() == theirs.serialize() == payload[:-2]


@pytest.mark.parametrize(
    "general,direction,ddr,manufacturer",
    list(itertools.product((True, False), (Direction.Client_to_Server, Direction.Server_to_Client), (False, True),
                           (None, 0x0000, 0x1234, 0xFFFF))),
)
def test_build_matches_zigpy(general: bool, direction: Direction, ddr: bool, manufacturer: int | None) -> None:
    ours = zcl.header(0x7F, 0x05, general=general, direction=direction, disable_default_response=ddr,
                      manufacturer=manufacturer)
    fc = foundation.FrameControl(
        frame_type=foundation.FrameType.GLOBAL_COMMAND if general else foundation.FrameType.CLUSTER_COMMAND,
        is_manufacturer_specific=manufacturer is not None, direction=direction,
        disable_default_response=int(ddr), reserved=0)
    theirs = foundation.ZCLHeader(frame_control=fc, manufacturer=manufacturer, tsn=0x7F, command_id=0x05)
    assert ours.serialize() == theirs.serialize()
    again, rest = zcl.parse_header(ours.serialize())
    assert again == ours and rest == b""


def test_reply_header_flips_direction_keeps_tsn_and_manufacturer() -> None:
    req, _ = zcl.parse_header(bytes([0x05, 0x34, 0x12, 0x46, 0x00]))  # mfr-specific global, client->server
    rsp = zcl.reply_header(req, foundation.GeneralCommand.Read_Attributes_rsp)
    assert rsp.serialize() == bytes([0x1C, 0x34, 0x12, 0x46, 0x01])  # server->client, no default rsp
    assert zcl.default_response(req, foundation.Status.UNSUPPORTED_ATTRIBUTE) == bytes(
        [0x1C, 0x34, 0x12, 0x46, 0x0B, 0x00, 0x86])


@pytest.mark.parametrize("payload", [b"", b"\x01", b"\x01\x02", b"\x04\x34\x12\x01", b"\x0D\x34\x12\x46"])
def test_short_frames_are_malformed_not_crashes(payload: bytes) -> None:
    with pytest.raises(zcl.MalformedFrame, match="expected at least"):
        zcl.parse_header(payload)
