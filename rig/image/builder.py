"""Writing OTA files: Zigbee TLV form (optionally with an Image Integrity Code) or GB bare form."""

from __future__ import annotations

from collections.abc import Iterable

from rig.image import bare
from rig.image.elements import ELEMENT_HEADER_LENGTH, ElementTag, SubElement
from rig.image.header import (
    FC_DEVICE_SPECIFIC_FILE,
    FC_HARDWARE_VERSIONS,
    FC_SECURITY_CREDENTIAL_VERSION,
    HEADER_VERSION,
    OtaHeader,
    _decode_header_string,
    encode_header_string,
    eui64_from_str,
    expected_header_length,
)
from rig.image.integrity import INTEGRITY_CODE_LENGTH, aes_mmo_hash
from rig.image.model import BUILDABLE_FORMATS, COVERAGE_TO_ELEMENT, COVERAGE_TO_VALUE, COVERAGES, FORMAT_ZIGBEE


def build_image(
    firmware: bytes,
    *,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    header_string: str | bytes = "",
    stack_version: int = 2,
    security_credential_version: int | None = None,
    upgrade_file_destination: str | None = None,
    min_hw_version: int | None = None,
    max_hw_version: int | None = None,
    format: str = FORMAT_ZIGBEE,
    integrity_code: bool = False,
    integrity_coverage: str = COVERAGE_TO_VALUE,
    extra_elements: Iterable[SubElement | tuple[int, bytes]] = (),
    signature: bytes | None = None,
) -> bytes:
    """A complete, self-consistent OTA file (header lengths, field control and total size computed).

    zigbee: header + UPGRADE_IMAGE(firmware) + `extra_elements` (+ IMAGE_INTEGRITY_CODE, last).
    `extra_elements` are written as given, whatever their tags, so that deliberately defective files
    (a second upgrade image, a misplaced integrity code) can be made for negative tests.
    `header_string`: text (UTF-8), or up to 32 raw bytes (binary strings are found in the field).
    `integrity_coverage`: "to-value" (the hash covers the file up to the code's value, its tag and length
    included) or "to-element" (up to the element, tag and length excluded), both found in the field.
    gb-bare: header + firmware (+ `00 40` + 64-byte `signature`).
    Raises ValueError for arguments that cannot describe a valid file.
    """
    _check_arguments(format, integrity_coverage, min_hw_version, max_hw_version, upgrade_file_destination,
                     header_string)
    body, trailer_length = _body(firmware, format, integrity_code, extra_elements, signature)
    field_control = (
        (FC_SECURITY_CREDENTIAL_VERSION if security_credential_version is not None else 0)
        | (FC_DEVICE_SPECIFIC_FILE if upgrade_file_destination is not None else 0)
        | (FC_HARDWARE_VERSIONS if min_hw_version is not None else 0)
    )
    header_length = expected_header_length(field_control)
    header = OtaHeader(
        header_version=HEADER_VERSION,
        header_length=header_length,
        field_control=field_control,
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        stack_version=stack_version,
        header_string=header_string if isinstance(header_string, str) else _decode_header_string(header_string),
        header_string_raw=None if isinstance(header_string, str) else encode_header_string(header_string),
        total_image_size=header_length + len(body) + trailer_length,
        security_credential_version=security_credential_version,
        upgrade_file_destination=upgrade_file_destination,
        min_hw_version=min_hw_version,
        max_hw_version=max_hw_version,
    )
    if header.total_image_size > 0xFFFFFFFF:
        raise ValueError("image larger than a 32-bit Total Image Size can describe")
    out = header.serialize() + body
    return _with_integrity_code(out, integrity_coverage) if integrity_code else out


def _check_arguments(format: str, integrity_coverage: str, min_hw_version: int | None,
                     max_hw_version: int | None, upgrade_file_destination: str | None,
                     header_string: str | bytes) -> None:
    if format not in BUILDABLE_FORMATS:
        raise ValueError(f"format must be 'zigbee' or 'gb-bare', got {format!r}")
    if integrity_coverage not in COVERAGES:
        raise ValueError(f"integrity_coverage must be one of {', '.join(COVERAGES)}, got {integrity_coverage!r}")
    if (min_hw_version is None) != (max_hw_version is None):
        raise ValueError("give both min_hw_version and max_hw_version, or neither")
    if min_hw_version is not None and max_hw_version is not None and min_hw_version > max_hw_version:
        raise ValueError(f"min_hw_version 0x{min_hw_version:04X} is above max_hw_version 0x{max_hw_version:04X}")
    if upgrade_file_destination is not None:
        eui64_from_str(upgrade_file_destination)  # raises a clear ValueError if malformed
    encode_header_string(header_string)  # same


def _body(firmware: bytes, format: str, integrity_code: bool,
          extra_elements: Iterable[SubElement | tuple[int, bytes]], signature: bytes | None) -> tuple[bytes, int]:
    """What follows the header, and the length of the integrity code element still to come after it."""
    extras = [e if isinstance(e, SubElement) else SubElement(int(e[0]), bytes(e[1])) for e in extra_elements]
    if format == FORMAT_ZIGBEE:
        if signature is not None:
            raise ValueError("a Zigbee TLV file carries signatures as ECDSA sub-elements: pass them in extra_elements")
        body = SubElement(ElementTag.UPGRADE_IMAGE, bytes(firmware)).serialize()
        body += b"".join(e.serialize() for e in extras)
        return body, (ELEMENT_HEADER_LENGTH + INTEGRITY_CODE_LENGTH if integrity_code else 0)
    if integrity_code or extras:
        raise ValueError("a GB bare image has no sub-elements: integrity_code and extra_elements need format='zigbee'")
    return bytes(firmware) + (bare.signature_block(signature) if signature is not None else b""), 0


def _with_integrity_code(out: bytes, integrity_coverage: str) -> bytes:
    covered = out  # "to-element"; "to-value" (domain.md §2.3) also covers the tag and length
    out += ElementTag.IMAGE_INTEGRITY_CODE.to_bytes(2, "little") + INTEGRITY_CODE_LENGTH.to_bytes(4, "little")
    return out + aes_mmo_hash(covered if integrity_coverage == COVERAGE_TO_ELEMENT else out)
