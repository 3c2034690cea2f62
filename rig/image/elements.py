"""OTA sub-elements (ZCL §11.4.3; domain.md §2.2): tag uint16, length uint32, data, repeated."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from rig.image.errors import Problem

ELEMENT_HEADER_LENGTH = 6  # tag (2) + length (4)
MANUFACTURER_TAG_FIRST = 0xF000
# Telink's encrypted firmware element: tag 0xF000, length, then a 2-byte "tag info" the length does not
# count, then the data (zigpy's TelinkEncryptedSubElement). Only readable as such when the plain TLV
# reading of the same bytes fails.
TELINK_TAG = 0xF000
TELINK_INFO_LENGTH = 2


class ElementTag(enum.IntEnum):
    UPGRADE_IMAGE = 0x0000
    ECDSA_SIG_1 = 0x0001
    ECDSA_CERT_1 = 0x0002
    IMAGE_INTEGRITY_CODE = 0x0003
    PICTURE_DATA = 0x0004
    ECDSA_SIG_2 = 0x0005
    ECDSA_CERT_2 = 0x0006


# Fixed lengths of the security elements (domain.md §2.2).
EXPECTED_LENGTHS = {
    ElementTag.ECDSA_SIG_1: 50,
    ElementTag.ECDSA_CERT_1: 48,
    ElementTag.IMAGE_INTEGRITY_CODE: 16,
    ElementTag.ECDSA_SIG_2: 80,
    ElementTag.ECDSA_CERT_2: 74,
}
SIGNATURE_TAGS = (ElementTag.ECDSA_SIG_1, ElementTag.ECDSA_SIG_2)


def is_manufacturer_tag(tag: int) -> bool:
    return MANUFACTURER_TAG_FIRST <= tag <= 0xFFFF


def is_known_tag(tag: int) -> bool:
    return tag in ElementTag._value2member_map_ or is_manufacturer_tag(tag)


def tag_name(tag: int) -> str:
    if tag in ElementTag._value2member_map_:
        return ElementTag(tag).name
    if is_manufacturer_tag(tag):
        return f"MANUFACTURER_SPECIFIC_0x{tag:04X}"
    return f"RESERVED_0x{tag:04X}"


@dataclass
class SubElement:
    tag: int
    data: bytes
    offset: int | None = field(default=None, compare=False)  # file offset of the tag, when parsed
    tag_info: int | None = field(default=None, compare=False)  # Telink's 2 bytes after the length, if any

    @property
    def name(self) -> str:
        return tag_name(self.tag)

    def __repr__(self) -> str:  # firmware payloads are large; show their size, not their bytes
        return f"SubElement(tag=0x{self.tag:04X} {self.name}, length={len(self.data)}, offset={self.offset})"

    @property
    def length(self) -> int:
        return len(self.data)

    def serialize(self) -> bytes:
        if not 0 <= self.tag <= 0xFFFF:
            raise ValueError(f"element tag must fit in 16 bits, got {self.tag!r}")
        if len(self.data) > 0xFFFFFFFF:
            raise ValueError("element data longer than a 32-bit length can describe")
        info = b"" if self.tag_info is None else self.tag_info.to_bytes(TELINK_INFO_LENGTH, "little")
        return self.tag.to_bytes(2, "little") + len(self.data).to_bytes(4, "little") + info + bytes(self.data)


@dataclass
class ElementWalk:
    elements: list[SubElement]
    problems: list[Problem]
    tiles: bool  # elements exactly fill [start, end) with at least one element
    cut_by_file_end: bool  # the only defect is that the file stops before the declared end
    last_is_partial: bool = False  # the last element's data was cut short by the end of the image


def walk_elements(data: bytes, start: int, end: int, declared_end: int | None = None, *,
                  telink: bool = False) -> ElementWalk:
    """Read TLV elements from data[start:end]; a broken chain becomes problems, never an exception.

    `declared_end` is where the header says the file ends; when the file is shorter (truncated), an
    element that runs past the real end but not past `declared_end` is a symptom of the truncation.
    `telink`: read tag 0xF000 elements in Telink's layout (2 bytes of tag info after the length).
    """
    declared_end = end if declared_end is None else declared_end
    elements: list[SubElement] = []
    problems: list[Problem] = []
    cut = partial = False
    pos = start
    while pos < end:
        index = len(elements)
        if pos + ELEMENT_HEADER_LENGTH > end:
            problems.append(Problem(pos, f"element[{index}].header", f"{end - pos} bytes left",
                                    f"{ELEMENT_HEADER_LENGTH} bytes (tag + length)",
                                    "image ends inside a sub-element header"))
            cut = pos + ELEMENT_HEADER_LENGTH <= declared_end and end < declared_end
            break
        tag = int.from_bytes(data[pos : pos + 2], "little")
        length = int.from_bytes(data[pos + 2 : pos + 6], "little")
        data_start = pos + ELEMENT_HEADER_LENGTH
        info = None
        if telink and tag == TELINK_TAG and data_start + TELINK_INFO_LENGTH <= end:
            info = int.from_bytes(data[data_start : data_start + TELINK_INFO_LENGTH], "little")
            data_start += TELINK_INFO_LENGTH
        if data_start + length > end:
            problems.append(Problem(pos + 2, f"element[{index}].length ({tag_name(tag)})", str(length),
                                    f"<= {end - data_start} (bytes left in the image)",
                                    "sub-element runs past the end of the image"))
            cut = data_start + length <= declared_end and end < declared_end
            elements.append(SubElement(tag, bytes(data[data_start:end]), pos, info))
            partial = True
            break
        elements.append(SubElement(tag, bytes(data[data_start : data_start + length]), pos, info))
        pos = data_start + length
    tiles = not problems and bool(elements) and pos == end
    return ElementWalk(elements, problems, tiles, cut and len(problems) == 1, partial)
