"""Small synthetic OTA files, one per layout found in real vendors' images (no vendor bytes copied).

Each reproduces what the Koenkk/zigbee-OTA corpus showed (see bench/image_corpus.py): the two integrity
code coverages (Ubisys/Innr/Bosch vs NodOn), a trailing CRC-32 (Salus), padding + CRC-32 without final
inversion (SDevices), IKEA's "NGIS" container, Legrand's size prefix, a Telink 0xF000 element with its
2-byte tag info, a Hue SBL body, a header string with bytes after its first zero, and Datek's "combined"
body (an element, then raw bytes).
"""

from __future__ import annotations

import hashlib
import zlib

from rig.image import SubElement, build_image
from rig.image.header import OtaHeader, expected_header_length

MFR, PPMID = 0x1234, 0x0101


def firmware(size: int = 600, seed: int = 1) -> bytes:
    return bytes((i * 31 + seed * 7) % 251 for i in range(size))


def zigbee(coverage: str = "to-value", *, version: int = 2, size: int = 600, **ids) -> bytes:
    ids = dict(manufacturer_code=MFR, image_type=PPMID, file_version=version, min_hw_version=0x0100,
               max_hw_version=0x0100) | ids
    return build_image(firmware(size), **ids, integrity_code=True, integrity_coverage=coverage)


def with_crc32(image: bytes) -> bytes:
    """Salus: the CRC-32 of the image, little-endian, after it."""
    return image + zlib.crc32(image).to_bytes(4, "little")


def with_padding_and_raw_crc(image: bytes, padding: int = 12) -> bytes:
    """SDevices: 0xFF padding, then CRC-32 without the final inversion of everything before it."""
    padded = image + b"\xff" * padding
    return padded + (zlib.crc32(padded) ^ 0xFFFFFFFF).to_bytes(4, "little")


def in_ikea_container(image: bytes, *, header_gap: int = 40, signature: int = 512) -> bytes:
    """'NGIS', a 24-byte header (u32 offset of the image at 16, u32 size at 20), the image, a signature."""
    offset = 24 + header_gap
    head = b"NGIS" + bytes(12) + offset.to_bytes(4, "little") + len(image).to_bytes(4, "little")
    return head + bytes(range(header_gap)) + image + bytes((i * 13) % 256 for i in range(signature))


def with_size_prefix(image: bytes) -> bytes:
    """Legrand: u32 size of the image, the image, then 1 + 16 bytes."""
    return len(image).to_bytes(4, "little") + image + b"\x01" + bytes(range(16))


def in_third_reality_header(image: bytes) -> bytes:
    """Third Reality: SHA-512 of everything after byte 64, then a header holding (length - 64) at 68; 152 bytes."""
    rest = bytes(4) + (88 + len(image)).to_bytes(4, "little") + bytes(80) + image
    return hashlib.sha512(rest).digest() + rest


def telink(*, version: int = 2, size: int = 600, tag_info: int = 0x0C01) -> bytes:
    """Header + one Telink encrypted element: tag 0xF000, length, 2 bytes tag info, data."""
    element = SubElement(0xF000, firmware(size, seed=3), tag_info=tag_info).serialize()
    return _header_then(element, version=version)


def hue_sbl(*, version: int = 2, size: int = 600) -> bytes:
    return _header_then(b"\x2a\x00\x01" + firmware(size, seed=4), version=version, mfr=0x100B)


def combined(*, version: int = 2, tail: int = 4000) -> bytes:
    """Datek's "combined" files: an UPGRADE_IMAGE element, then a second MCU's raw firmware (AVR jump
    vectors here), both inside Total Image Size; no sub-element header before the raw part."""
    element = SubElement(0x0000, firmware(600, seed=5)).serialize()
    return _header_then(element + b"\x0c\x94\x00\x00" * (tail // 4), version=version)


def binary_header_string(raw: bytes, *, version: int = 2) -> bytes:
    """A header string with bytes after its first zero (and not UTF-8), integrity code computed over it."""
    return zigbee(version=version, header_string=raw)


def _header_then(body: bytes, *, version: int, mfr: int = MFR) -> bytes:
    length = expected_header_length(0x0004)
    header = OtaHeader(header_version=0x0100, header_length=length, field_control=0x0004, manufacturer_code=mfr,
                       image_type=PPMID, file_version=version, stack_version=2, header_string="variant",
                       total_image_size=length + len(body), min_hw_version=0x0100, max_hw_version=0x0100)
    return header.serialize() + body
