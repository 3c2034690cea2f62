"""What an emulated OTA client checks on a fully downloaded image before Upgrade End SUCCESS.

Checks (each switchable by the profile's `ota.verify` list):
* header            - file identifier 0x0BEEF11E, header length consistent with field control
* ids               - manufacturer, image type and file version equal the offer
* size              - Total Image Size field == offered size == bytes received
* hardware_version  - when the header carries min/max hardware versions, ours is inside them
* integrity         - if the body is a well-formed sub-element list holding an Image Integrity
                      Code (tag 0x0003, 16 bytes), it equals the AES-MMO hash of every byte before it
* require_integrity - the integrity element must be present

A body that is not a sub-element list (GBCS "Upgrade Image" files) is treated as opaque.
"""

from __future__ import annotations

import struct

from rig.emu.aes_mmo import aes_mmo
from rig.emu.ota_codec import ImageId

OTA_FILE_ID = 0x0BEEF11E
TAG_INTEGRITY = 0x0003
MIN_HEADER = 56


def _header(data: bytes) -> tuple[dict, str | None]:
    if len(data) < MIN_HEADER:
        return {}, f"image of {len(data)} bytes is shorter than the {MIN_HEADER}-byte OTA header"
    magic, hver, hlen, fc, mfr, itype, ver, stack = struct.unpack_from("<IHHHHHIH", data, 0)
    total = struct.unpack_from("<I", data, 52)[0]
    h = {"magic": magic, "header_length": hlen, "field_control": fc, "id": ImageId(mfr, itype, ver), "total": total}
    pos = 56
    if fc & 0x01:
        pos += 1
    if fc & 0x02:
        pos += 8
    if fc & 0x04:
        if len(data) < pos + 4:
            return h, "header too short for its hardware versions"
        h["hw_min"], h["hw_max"] = struct.unpack_from("<HH", data, pos)
        pos += 4
    h["expected_length"] = pos
    return h, None


def find_integrity_code(data: bytes, start: int) -> int | None:
    """Offset of the 16 hash bytes of tag 0x0003, if the body is a well-formed element list."""
    pos, found = start, None
    while pos < len(data):
        if pos + 6 > len(data):
            return None
        tag, length = struct.unpack_from("<HI", data, pos)
        if pos + 6 + length > len(data):
            return None
        if tag == TAG_INTEGRITY and length == 16:
            found = pos + 6
        pos += 6 + length
    return found


def verify_image(data: bytes, offered: ImageId, offered_size: int, hw_version: int, checks: tuple[str, ...]) -> str | None:
    """None when the image passes, else why it fails (-> Upgrade End Request INVALID_IMAGE)."""
    h, err = _header(data)
    if "header" in checks:
        if err:
            return err
        if h["magic"] != OTA_FILE_ID:
            return f"file identifier 0x{h['magic']:08X}, expected 0x{OTA_FILE_ID:08X}"
        if h["header_length"] != h["expected_length"]:
            return f"header length {h['header_length']}, field control implies {h['expected_length']}"
    if not h:
        return err if checks else None
    if "ids" in checks and h["id"] != offered:
        return f"image id {h['id']} differs from the offer {offered}"
    if "size" in checks and not (h["total"] == offered_size == len(data)):
        return f"total image size {h['total']}, offered {offered_size}, received {len(data)}"
    if "hardware_version" in checks and "hw_min" in h and not (h["hw_min"] <= hw_version <= h["hw_max"]):
        return f"hardware version 0x{hw_version:04X} outside 0x{h['hw_min']:04X}..0x{h['hw_max']:04X}"
    if "integrity" in checks or "require_integrity" in checks:
        at = find_integrity_code(data, max(h["header_length"], MIN_HEADER))
        if at is None:
            if "require_integrity" in checks:
                return "no Image Integrity Code (tag 0x0003) element"
        else:
            expected = aes_mmo(data[:at])
            if data[at : at + 16] != expected:
                return f"Image Integrity Code {data[at:at + 16].hex()} != AES-MMO {expected.hex()}"
    return None
