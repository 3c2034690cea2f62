"""XNCP frame definitions: the payload of EZSP `customFrame` on the zigpy project's firmware builds.

Written from the firmware's own XNCP sources (xncp_core.c, xncp_common_commands.c), not from a host's
tables. A frame is uint16 command id, uint8 status, then the command's payload; a response's id is
the request's with bit 15 set, or UNKNOWN (0xFFFF) when no handler knows the request. The status is
the low octet of the firmware's native status: EmberStatus in Gecko SDK 4.x builds (EZSP up to 13),
sl_status_t in Simplicity SDK builds (EZSP 14 and up).
"""

from __future__ import annotations

import dataclasses

import bellows.types as bt

from rig.emu.ezsp import structs

GET_SUPPORTED_FEATURES = 0x0000
GET_BUILD_STRING = 0x0003
SEND_UNICAST = 0x0009
UNKNOWN = 0xFFFF
RESPONSE_BIT = 0x8000

# FirmwareFeatures bits (xncp_get_supported_features)
FEATURE_MANUAL_SOURCE_ROUTE = 1 << 1
FEATURE_BUILD_STRING = 1 << 3
FEATURE_COMBINED_SEND = 1 << 8

# SEND_UNICAST flags
FLAG_EXTENDED_TIMEOUT = 1 << 0
FLAG_SOURCE_ROUTE = 1 << 1

OK = 0x00


def bad_argument(version: int) -> int:
    return int(bt.sl_Status.INVALID_PARAMETER if version >= 14 else bt.EmberStatus.BAD_ARGUMENT) & 0xFF


def not_found(version: int) -> int:
    return int(bt.sl_Status.NOT_FOUND if version >= 14 else bt.EmberStatus.NOT_FOUND) & 0xFF


@dataclasses.dataclass(frozen=True)
class Request:
    command_id: int
    payload: bytes


def parse(frame: bytes) -> Request | None:
    """The request in a customFrame payload; None when it is too short for the 3-byte header."""
    if len(frame) < 3:
        return None
    return Request(int.from_bytes(frame[:2], "little"), bytes(frame[3:]))  # the request's status byte is unused


def reply(command_id: int, status: int, payload: bytes = b"") -> bytes:
    return command_id.to_bytes(2, "little") + bytes([status]) + payload


def response_id(request_id: int) -> int:
    return request_id | RESPONSE_BIT


@dataclasses.dataclass(frozen=True)
class SendUnicast:
    """SEND_UNICAST's request: flags(1) destination(2) APS frame(11) tag(1) [EUI64(8) extended(1)]
    [relay count(1) relays(2 each)] message (the rest)."""

    flags: int
    destination: int
    aps_frame: structs.ApsFrame
    message_tag: int
    eui64: bytes | None
    extended_timeout: bool | None
    relays: tuple[int, ...] | None
    message: bytes


_FIXED = 1 + 2 + 11 + 1


def parse_send_unicast(payload: bytes) -> SendUnicast | None:
    """None when the payload is short for what its flags announce (the firmware answers BAD_ARGUMENT)."""
    if len(payload) < _FIXED:
        return None
    flags = payload[0]
    destination = int.from_bytes(payload[1:3], "little")
    aps, _ = structs.ApsFrame.deserialize(payload[3:14])
    tag = payload[14]
    at = _FIXED
    eui64 = extended = None
    if flags & FLAG_EXTENDED_TIMEOUT:
        if len(payload) - at < 9:
            return None
        eui64, extended = payload[at:at + 8], payload[at + 8] != 0
        at += 9
    relays = None
    if flags & FLAG_SOURCE_ROUTE:
        if len(payload) - at < 1:
            return None
        count = payload[at]
        at += 1
        if len(payload) - at < 2 * count:
            return None
        relays = tuple(int.from_bytes(payload[at + 2 * i:at + 2 * i + 2], "little") for i in range(count))
        at += 2 * count
    return SendUnicast(flags, destination, aps, tag, eui64, extended, relays, payload[at:])
