"""What an emulated OTA client checks on a fully downloaded image before Upgrade End SUCCESS.

Checks (each switchable by the profile's `ota.verify` list):
* header            - file identifier 0x0BEEF11E, header length consistent with field control
* ids               - manufacturer, image type and file version equal the offer
* size              - Total Image Size field == offered size == bytes received
* hardware_version  - when the header carries min/max hardware versions, ours is inside them
* integrity         - if the body is a well-formed sub-element list holding an Image Integrity
                      Code (tag 0x0003, 16 bytes), it equals the AES-MMO hash of the file up to that
                      element or up to its value (both coverages are shipped by real vendors)
* require_integrity - the integrity element must be present

A body that is not a sub-element list (GBCS "Upgrade Image" files, Hue SBL, ...) is treated as opaque.
The header reader and AES-MMO are the image toolkit's (rig.image, a leaf package): one copy of each codec.
"""

from __future__ import annotations

from rig.emu.ota_codec import ImageId
from rig.image.elements import ElementTag, walk_elements
from rig.image.errors import Findings
from rig.image.header import FIXED_HEADER_LENGTH, MAGIC, read_header
from rig.image.integrity import INTEGRITY_CODE_LENGTH
from rig.image.validate import integrity_codes

OTA_FILE_ID = MAGIC


def find_integrity_code(data: bytes, start: int) -> int | None:
    """File offset of the Image Integrity Code element (its tag), if the body is a well-formed element list."""
    walk = walk_elements(data, start, len(data), telink=True)
    if not walk.tiles:
        return None
    codes = [e for e in walk.elements
             if e.tag == ElementTag.IMAGE_INTEGRITY_CODE and len(e.data) == INTEGRITY_CODE_LENGTH]
    return codes[-1].offset if codes else None


def verify_image(data: bytes, offered: ImageId, offered_size: int, hw_version: int, checks: tuple[str, ...]) -> str | None:
    """None when the image passes, else why it fails (-> Upgrade End Request INVALID_IMAGE)."""
    findings = Findings()
    reading = read_header(data, findings)
    h = reading.header
    if "header" in checks:
        for problem in findings.fatal:  # magic, header length, a header cut short: in file order
            if problem.field == "file_identifier":
                return f"file identifier {problem.found}, expected 0x{OTA_FILE_ID:08X}"
            if problem.field == "header_length":
                return f"header length {problem.found}, field control implies {reading.body_start}"
            return f"{problem.field}: {problem.found}, expected {problem.expected}"
    if h is None:
        return (f"image of {len(data)} bytes is not a readable OTA header (at least {FIXED_HEADER_LENGTH} bytes)"
                if checks else None)
    image_id = ImageId(h.manufacturer_code, h.image_type, h.file_version)
    if "ids" in checks and image_id != offered:
        return f"image id {image_id} differs from the offer {offered}"
    if "size" in checks and not (h.total_image_size == offered_size == len(data)):
        return f"total image size {h.total_image_size}, offered {offered_size}, received {len(data)}"
    if "hardware_version" in checks and h.min_hw_version is not None and h.max_hw_version is not None \
            and not (h.min_hw_version <= hw_version <= h.max_hw_version):
        return f"hardware version 0x{hw_version:04X} outside 0x{h.min_hw_version:04X}..0x{h.max_hw_version:04X}"
    if "integrity" in checks or "require_integrity" in checks:
        at = find_integrity_code(data, max(h.header_length, reading.body_start, FIXED_HEADER_LENGTH))
        if at is None:
            if "require_integrity" in checks:
                return "no Image Integrity Code (tag 0x0003) element"
        else:
            code = data[at + 6 : at + 6 + INTEGRITY_CODE_LENGTH]
            to_element, to_value = integrity_codes(data, at)
            if code not in (to_element, to_value):
                return (f"Image Integrity Code {code.hex()} != AES-MMO {to_value.hex()} (up to its value) "
                        f"or {to_element.hex()} (up to the element)")
    return None
