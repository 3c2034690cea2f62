"""`OtaImage`: a parsed OTA file, in one of the body formats found in the field.

* zigbee       - the body is a chain of ZCL sub-elements (tag, length, data).
* telink       - a chain where tag 0xF000 carries 2 bytes of "tag info" after its length (Telink SoCs).
* hue-sbl      - Philips Hue (manufacturer 0x100B) bodies starting 2A 00 01, no sub-elements.
* gb-bare      - GBCS "Upgrade Image": header + manufacturer image + `00 40` + 64-byte signature
                 (domain.md §2.4); unsigned ones only when the caller says so (auto cannot tell them).
* unknown-body - a valid header followed by bytes in none of the above layouts; served as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from rig.image.elements import TELINK_TAG, ElementTag, SubElement
from rig.image.errors import Problem
from rig.image.header import OtaHeader

FORMAT_ZIGBEE = "zigbee"
FORMAT_TELINK = "telink"
FORMAT_HUE_SBL = "hue-sbl"
FORMAT_GB_BARE = "gb-bare"
FORMAT_UNKNOWN_BODY = "unknown-body"
FORMATS = (FORMAT_ZIGBEE, FORMAT_TELINK, FORMAT_HUE_SBL, FORMAT_GB_BARE, FORMAT_UNKNOWN_BODY)
BUILDABLE_FORMATS = (FORMAT_ZIGBEE, FORMAT_GB_BARE)
TLV_FORMATS = (FORMAT_ZIGBEE, FORMAT_TELINK)

# Which bytes an Image Integrity Code (tag 0x0003) hashes: the file up to the start of that element
# (its tag and length excluded: Ubisys, Innr, Bosch images), or up to its value (tag and length
# included: NodOn images, and the rig's builder by default).
COVERAGE_TO_ELEMENT = "to-element"
COVERAGE_TO_VALUE = "to-value"
COVERAGE_NEITHER = "neither"
COVERAGES = (COVERAGE_TO_ELEMENT, COVERAGE_TO_VALUE)


@dataclass
class OtaImage:
    header: OtaHeader
    format: str  # one of FORMATS
    elements: list[SubElement]  # empty unless zigbee or telink
    body: bytes  # bytes after the header (gb-bare: the manufacturer image, without the signature block)
    signature: bytes | None  # gb-bare trailing signature (64 bytes) if present; None otherwise
    raw: bytes = field(repr=False)  # the image exactly as declared (header .. Total Image Size): what is served
    integrity_ok: bool | None = None  # None: no Image Integrity Code element
    integrity_coverage: str | None = None  # COVERAGE_* that matched, "neither", or None (no code)
    container: str | None = None  # vendor container the image was unwrapped from (rig.image.containers)
    offset: int = 0  # where the image starts in the file (inside a container)
    trailing: bytes = field(default=b"", repr=False)  # bytes after the declared end, not served
    file_size: int | None = None  # the whole file as read
    warnings: list[Problem] = field(default_factory=list)

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
        """The upgrade payload: the first Upgrade Image element (zigbee; Telink's encrypted element when
        there is none), or the body after the header (gb-bare: without its signature block)."""
        if self.format not in TLV_FORMATS:
            return self.body
        for tag in (ElementTag.UPGRADE_IMAGE, TELINK_TAG):
            for element in self.elements:
                if element.tag == tag:
                    return element.data
        return b""

    def element(self, tag: int) -> SubElement | None:
        return next((e for e in self.elements if e.tag == tag), None)
