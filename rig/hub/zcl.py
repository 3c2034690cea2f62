"""OTA Upgrade cluster frames, decoded from and encoded to raw bytes.

Decoding is ours rather than zigpy's schemas because the hub must tolerate what zigpy rejects (an Upgrade
End Request carrying only its status byte, R-CH-07) and must tell "truncated" apart from "unknown" to
answer MALFORMED_COMMAND vs UNSUP_CLUSTER_COMMAND (R-CH-02/04/09).
"""

from __future__ import annotations

import dataclasses
import struct

# The cluster's numbers live once, in the leaf rig.image (the emulator reads the same ones); re-exported
# for the hub's modules.
from rig.image.ota_cluster import (  # noqa: F401
    DEFAULT_RESPONSE,
    OTA_CLUSTER,
    SE_PROFILE,
    UPGRADE_TIME_WAIT,
    Cmd,
    Status,
)


class Malformed(ValueError):
    """The frame is too short or inconsistent for its command."""


@dataclasses.dataclass(frozen=True)
class ZclHeader:
    frame_control: int
    manufacturer: int | None
    tsn: int
    command_id: int

    @property
    def cluster_specific(self) -> bool:
        return self.frame_control & 0x03 == 0x01

    @property
    def from_server(self) -> bool:
        return bool(self.frame_control & 0x08)

    @property
    def disable_default_response(self) -> bool:
        return bool(self.frame_control & 0x10)


def parse_header(data: bytes) -> tuple[ZclHeader, bytes]:
    if len(data) < 3:
        raise Malformed(f"ZCL header needs >= 3 bytes, got {len(data)}")
    fc = data[0]
    if fc & 0x04:
        if len(data) < 5:
            raise Malformed(f"manufacturer-specific ZCL header needs >= 5 bytes, got {len(data)}")
        manuf = int.from_bytes(data[1:3], "little")
        return ZclHeader(fc, manuf, data[3], data[4]), data[5:]
    return ZclHeader(fc, None, data[1], data[2]), data[3:]


@dataclasses.dataclass(frozen=True)
class ImageId:
    manufacturer_code: int
    image_type: int
    file_version: int


@dataclasses.dataclass(frozen=True)
class QueryNextImage:
    manufacturer_code: int
    image_type: int
    current_file_version: int
    hardware_version: int | None


@dataclasses.dataclass(frozen=True)
class ImageBlockRequest:
    image: ImageId
    file_offset: int
    max_data_size: int
    request_node: bytes | None
    min_block_period: int | None  # present only when the client supports rate limiting (bit1)


@dataclasses.dataclass(frozen=True)
class ImagePageRequest:
    image: ImageId
    file_offset: int
    max_data_size: int
    page_size: int
    response_spacing_ms: int
    request_node: bytes | None


@dataclasses.dataclass(frozen=True)
class UpgradeEndRequest:
    status: int
    image: ImageId | None  # None: a non-SUCCESS request carrying only its status byte


def _need(payload: bytes, size: int, what: str) -> None:
    if len(payload) < size:
        raise Malformed(f"{what} needs {size} payload bytes, got {len(payload)}")


def decode_query_next_image(payload: bytes) -> QueryNextImage:
    _need(payload, 9, "Query Next Image Request")
    fc, mfr, itype, ver = struct.unpack_from("<BHHI", payload)
    hw = None
    if fc & 0x01:
        _need(payload, 11, "Query Next Image Request with HardwareVersion")
        (hw,) = struct.unpack_from("<H", payload, 9)
    return QueryNextImage(mfr, itype, ver, hw)


def decode_image_block(payload: bytes) -> ImageBlockRequest:
    _need(payload, 14, "Image Block Request")
    fc, mfr, itype, ver, offset, max_size = struct.unpack_from("<BHHIIB", payload)
    pos = 14
    node = None
    mbp = None
    if fc & 0x01:
        _need(payload, pos + 8, "Image Block Request with RequestNodeAddress")
        node = payload[pos : pos + 8]
        pos += 8
    if fc & 0x02:
        _need(payload, pos + 2, "Image Block Request with MinimumBlockPeriod")
        (mbp,) = struct.unpack_from("<H", payload, pos)
    return ImageBlockRequest(ImageId(mfr, itype, ver), offset, max_size, node, mbp)


def decode_image_page(payload: bytes) -> ImagePageRequest:
    _need(payload, 18, "Image Page Request")
    fc, mfr, itype, ver, offset, max_size, page, spacing = struct.unpack_from("<BHHIIBHH", payload)
    node = None
    if fc & 0x01:
        _need(payload, 26, "Image Page Request with RequestNodeAddress")
        node = payload[18:26]
    return ImagePageRequest(ImageId(mfr, itype, ver), offset, max_size, page, spacing, node)


def decode_upgrade_end(payload: bytes) -> UpgradeEndRequest:
    _need(payload, 1, "Upgrade End Request")
    status = payload[0]
    if len(payload) >= 9:
        mfr, itype, ver = struct.unpack_from("<HHI", payload, 1)
        return UpgradeEndRequest(status, ImageId(mfr, itype, ver))
    if status == Status.SUCCESS:
        raise Malformed(f"Upgrade End Request SUCCESS needs 9 payload bytes, got {len(payload)}")
    return UpgradeEndRequest(status, None)


# -- encoding (server -> client) -----------------------------------------------------------------

_FC_CLUSTER_TO_CLIENT = 0x01 | 0x08  # cluster-specific, server->client
_FC_PROFILE_TO_CLIENT = 0x00 | 0x08


def cluster_frame(tsn: int, command: Cmd, payload: bytes, *, disable_default_response: bool = True) -> bytes:
    fc = _FC_CLUSTER_TO_CLIENT | (0x10 if disable_default_response else 0)
    return bytes([fc, tsn & 0xFF, command]) + payload


def default_response(tsn: int, command_id: int, status: int, manufacturer: int | None = None) -> bytes:
    fc = _FC_PROFILE_TO_CLIENT | 0x10
    if manufacturer is not None:
        return bytes([fc | 0x04]) + manufacturer.to_bytes(2, "little") + bytes([tsn & 0xFF, DEFAULT_RESPONSE,
                                                                               command_id & 0xFF, status])
    return bytes([fc, tsn & 0xFF, DEFAULT_RESPONSE, command_id & 0xFF, status])


# Image Notify payload types: the fields each carries after PayloadType and QueryJitter (ZCL 11.13.3)
NOTIFY_FIELDS = {0: (), 1: ("manufacturer_code",), 2: ("manufacturer_code", "image_type"),
                 3: ("manufacturer_code", "image_type", "file_version")}
_NOTIFY_FORMATS = {"manufacturer_code": "<H", "image_type": "<H", "file_version": "<I"}


def image_notify_payload(payload_type: int, jitter: int, **fields: int | None) -> bytes:
    """Image Notify with the fields its payload type carries. A type above 3 (no such type: a malformed
    notify for negative tests) carries whichever fields are given, in the type-3 order."""
    if not 0 <= payload_type <= 0xFF or not 0 <= jitter <= 0xFF:
        raise ValueError(f"payload_type {payload_type} and jitter {jitter} must each fit in one octet")
    names = NOTIFY_FIELDS.get(payload_type)
    if names is None:
        names = tuple(n for n in NOTIFY_FIELDS[3] if fields.get(n) is not None)
    out = bytes([payload_type, jitter])
    for name in names:
        value = fields.get(name)
        if value is None:
            raise ValueError(f"payload type {payload_type} carries {name}: give it, or an image to take it from")
        try:
            out += struct.pack(_NOTIFY_FORMATS[name], value)
        except struct.error:
            raise ValueError(f"{name} 0x{value:x} does not fit its {struct.calcsize(_NOTIFY_FORMATS[name])}-octet field") from None
    return out


def qni_response(status: int, image: ImageId | None = None, size: int = 0) -> bytes:
    if status != Status.SUCCESS or image is None:
        return bytes([status])
    return struct.pack("<BHHII", status, image.manufacturer_code, image.image_type, image.file_version, size)


def block_response_success(image: ImageId, offset: int, data: bytes) -> bytes:
    return struct.pack("<BHHIIB", Status.SUCCESS, image.manufacturer_code, image.image_type,
                       image.file_version, offset, len(data)) + data


def block_response_wait(request_time_s: int, min_block_period: int | None, current_time: int = 0) -> bytes:
    body = struct.pack("<BII", Status.WAIT_FOR_DATA, current_time, request_time_s)
    if min_block_period is not None:
        body += struct.pack("<H", min_block_period)
    return body


def block_response_abort() -> bytes:
    return bytes([Status.ABORT])


def upgrade_end_response(image: ImageId, current_time: int, upgrade_time: int) -> bytes:
    return struct.pack("<HHIII", image.manufacturer_code, image.image_type, image.file_version,
                       current_time, upgrade_time)
