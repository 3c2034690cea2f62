"""`OtaImage`: a parsed OTA file, in either the Zigbee TLV form or the GB bare form."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from rig.image.elements import ElementTag, SubElement
from rig.image.header import OtaHeader

FORMAT_ZIGBEE = "zigbee"
FORMAT_GB_BARE = "gb-bare"
FORMATS = (FORMAT_ZIGBEE, FORMAT_GB_BARE)


@dataclass
class OtaImage:
    header: OtaHeader
    format: str  # "zigbee" | "gb-bare"
    elements: list[SubElement]  # empty for gb-bare
    body: bytes  # bytes after the header (gb-bare: the manufacturer image, without the signature block)
    signature: bytes | None  # gb-bare trailing signature (64 bytes) if present; None for zigbee
    raw: bytes = field(repr=False)
    integrity_ok: bool | None = None  # None: no Image Integrity Code element

    @property
    def manufacturer_code(self) -> int:
        return self.header.manufacturer_code

    @property
    def image_type(self) -> int:
        return self.header.image_type

    @property
    def file_version(self) -> int:
        return self.header.file_version

    @property
    def total_image_size(self) -> int:
        return self.header.total_image_size

    @property
    def header_string(self) -> str:
        return self.header.header_string

    @property
    def min_hw_version(self) -> int | None:
        return self.header.min_hw_version

    @property
    def max_hw_version(self) -> int | None:
        return self.header.max_hw_version

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def firmware(self) -> bytes:
        """The upgrade payload: the first Upgrade Image element (zigbee) or the manufacturer image."""
        if self.format == FORMAT_GB_BARE:
            return self.body
        for element in self.elements:
            if element.tag == ElementTag.UPGRADE_IMAGE:
                return element.data
        return b""

    def element(self, tag: int) -> SubElement | None:
        return next((e for e in self.elements if e.tag == tag), None)
