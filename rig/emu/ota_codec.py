"""OTA Upgrade cluster (0x0019) payloads as the client sees them.

Client -> server commands are encoded field by field; server -> client commands are decoded
tolerantly from raw bytes, because the spec lets several of them end early (WAIT_FOR_DATA's
MinimumBlockPeriod, status-only Image Block Responses) and a client must not choke on them.
Anything that cannot be decoded raises `Malformed`, which the device answers with
MALFORMED_COMMAND (unicast) or silently drops (broadcast).
"""

from __future__ import annotations

import dataclasses
import struct

import zigpy.types as t
from zigpy.zcl import foundation

# The cluster's numbers (command ids, wildcards) are the leaf rig.image's, the one copy in the rig;
# re-exported here because the client reads them as oc.*.
from rig.image.ota_cluster import (  # noqa: F401
    SERVER_TO_CLIENT,
    UPGRADE_TIME_WAIT,
    WILDCARD_IMAGE_TYPE,
    WILDCARD_MANUFACTURER,
    WILDCARD_VERSION,
    Cmd,
)

Status = foundation.Status


class Malformed(ValueError):
    """A server -> client OTA payload that cannot be decoded."""


@dataclasses.dataclass(frozen=True)
class ImageId:
    manufacturer_code: int
    image_type: int
    file_version: int


# ---------------------------------------------------------------------------------------------
# Encoders (client -> server)


def query_next_image(mfr: int, image_type: int, version: int, hw_version: int | None) -> bytes:
    field_control = 0x01 if hw_version is not None else 0x00
    out = struct.pack("<BHHI", field_control, mfr, image_type, version)
    if hw_version is not None:
        out += struct.pack("<H", hw_version)
    return out


def image_block(
    image: ImageId, offset: int, max_data: int, *, node_addr: t.EUI64 | None = None, min_block_period: int | None = None
) -> bytes:
    field_control = (0x01 if node_addr is not None else 0) | (0x02 if min_block_period is not None else 0)
    out = struct.pack("<BHHIIB", field_control, image.manufacturer_code, image.image_type, image.file_version, offset, max_data)
    if node_addr is not None:
        out += node_addr.serialize()
    if min_block_period is not None:
        out += struct.pack("<H", min_block_period)
    return out


def image_page(
    image: ImageId, offset: int, max_data: int, page_size: int, spacing_ms: int, *, node_addr: t.EUI64 | None = None
) -> bytes:
    field_control = 0x01 if node_addr is not None else 0
    out = struct.pack(
        "<BHHIIBHH", field_control, image.manufacturer_code, image.image_type, image.file_version, offset, max_data, page_size, spacing_ms
    )
    if node_addr is not None:
        out += node_addr.serialize()
    return out


def upgrade_end(status: int, image: ImageId) -> bytes:
    return struct.pack("<BHHI", status, image.manufacturer_code, image.image_type, image.file_version)


# ---------------------------------------------------------------------------------------------
# Decoders (server -> client)


@dataclasses.dataclass(frozen=True)
class ImageNotify:
    payload_type: int
    query_jitter: int
    manufacturer_code: int | None = None
    image_type: int | None = None
    new_file_version: int | None = None


@dataclasses.dataclass(frozen=True)
class QueryNextImageResponse:
    status: int
    image: ImageId | None = None
    image_size: int | None = None


@dataclasses.dataclass(frozen=True)
class ImageBlockResponse:
    status: int
    image: ImageId | None = None
    file_offset: int | None = None
    data: bytes = b""
    current_time: int | None = None
    request_time: int | None = None
    minimum_block_period: int | None = None  # optional trailing field of WAIT_FOR_DATA


@dataclasses.dataclass(frozen=True)
class UpgradeEndResponse:
    image: ImageId
    current_time: int
    upgrade_time: int


def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) < n:
        raise Malformed(f"{what}: {len(payload)} bytes, expected at least {n}")


def decode_image_notify(payload: bytes) -> ImageNotify:
    _need(payload, 2, "Image Notify")
    payload_type, jitter = payload[0], payload[1]
    if payload_type > 3:
        raise Malformed(f"Image Notify: payload type {payload_type}, expected 0..3")
    need = {0: 2, 1: 4, 2: 6, 3: 10}[payload_type]
    if len(payload) != need:
        raise Malformed(f"Image Notify: payload type {payload_type} with {len(payload)} bytes, expected {need}")
    mfr = struct.unpack_from("<H", payload, 2)[0] if payload_type >= 1 else None
    itype = struct.unpack_from("<H", payload, 4)[0] if payload_type >= 2 else None
    ver = struct.unpack_from("<I", payload, 6)[0] if payload_type >= 3 else None
    return ImageNotify(payload_type, jitter, mfr, itype, ver)


def decode_query_next_image_response(payload: bytes) -> QueryNextImageResponse:
    _need(payload, 1, "Query Next Image Response")
    status = payload[0]
    if status != Status.SUCCESS:
        return QueryNextImageResponse(status)
    _need(payload, 13, "Query Next Image Response (SUCCESS)")
    mfr, itype, ver, size = struct.unpack_from("<HHII", payload, 1)
    return QueryNextImageResponse(status, ImageId(mfr, itype, ver), size)


def decode_image_block_response(payload: bytes) -> ImageBlockResponse:
    _need(payload, 1, "Image Block Response")
    status = payload[0]
    if status == Status.SUCCESS:
        _need(payload, 14, "Image Block Response (SUCCESS)")
        mfr, itype, ver, offset, size = struct.unpack_from("<HHIIB", payload, 1)
        data = payload[14 : 14 + size]
        if len(data) != size:
            raise Malformed(f"Image Block Response: DataSize {size} but {len(data)} data bytes")
        return ImageBlockResponse(status, ImageId(mfr, itype, ver), offset, bytes(data))
    if status == Status.WAIT_FOR_DATA:
        _need(payload, 9, "Image Block Response (WAIT_FOR_DATA)")
        current, request = struct.unpack_from("<II", payload, 1)
        mbp = struct.unpack_from("<H", payload, 9)[0] if len(payload) >= 11 else None
        return ImageBlockResponse(status, current_time=current, request_time=request, minimum_block_period=mbp)
    return ImageBlockResponse(status)


def decode_upgrade_end_response(payload: bytes) -> UpgradeEndResponse:
    _need(payload, 16, "Upgrade End Response")
    mfr, itype, ver, current, upgrade = struct.unpack_from("<HHIII", payload, 0)
    return UpgradeEndResponse(ImageId(mfr, itype, ver), current, upgrade)


def matches(offered: ImageId, image: ImageId) -> bool:
    """Does an Upgrade End Response's id (wildcards allowed) name our image?"""
    return (
        image.manufacturer_code in (WILDCARD_MANUFACTURER, offered.manufacturer_code)
        and image.image_type in (WILDCARD_IMAGE_TYPE, offered.image_type)
        and image.file_version in (WILDCARD_VERSION, offered.file_version)
    )
