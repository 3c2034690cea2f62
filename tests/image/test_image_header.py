"""Header bytes written out by hand from the domain.md §2.1 table, and the DCC SR 11.4 sample."""

from __future__ import annotations

import hashlib

import pytest
from zigpy.ota.image import OTAImage, parse_ota_image

from rig.image import OtaHeader, build_image, parse_image, validate_image

from image_vectors import (
    ALL_OPTIONS_FILE,
    ALL_OPTIONS_HEADER,
    SR114_BODY,
    SR114_FILE,
    SR114_HEADER,
    SR114_SHA256,
)


def test_all_optional_fields_parse_from_literal_bytes() -> None:
    assert len(ALL_OPTIONS_HEADER) == 69
    image = parse_image(ALL_OPTIONS_FILE)
    assert image.format == "zigbee"
    assert image.header == OtaHeader(
        header_version=0x0100, header_length=69, field_control=0x0007, manufacturer_code=0x1234,
        image_type=0x0101, file_version=0x12345678, stack_version=2, header_string="HAN OTA Rig all options",
        total_image_size=79, security_credential_version=2, upgrade_file_destination="88:77:66:55:44:33:22:11",
        min_hw_version=0x0100, max_hw_version=0x01FF)
    assert image.firmware == bytes.fromhex("DEADBEEF")
    assert [(e.tag, e.offset, e.name) for e in image.elements] == [(0, 69, "UPGRADE_IMAGE")]
    assert image.header.serialize() == ALL_OPTIONS_HEADER
    assert validate_image(ALL_OPTIONS_FILE) == []


def test_builder_writes_the_literal_bytes() -> None:
    built = build_image(
        bytes.fromhex("DEADBEEF"), manufacturer_code=0x1234, image_type=0x0101, file_version=0x12345678,
        header_string="HAN OTA Rig all options", security_credential_version=2,
        upgrade_file_destination="88:77:66:55:44:33:22:11", min_hw_version=0x0100, max_hw_version=0x01FF)
    assert built == ALL_OPTIONS_FILE


def test_zigpy_reads_the_literal_bytes_the_same_way() -> None:
    zimage, rest = parse_ota_image(ALL_OPTIONS_FILE)
    assert rest == b"" and isinstance(zimage, OTAImage)
    h = zimage.header
    assert (h.manufacturer_id, h.image_type, h.file_version, h.image_size) == (0x1234, 0x0101, 0x12345678, 79)
    assert str(h.upgrade_file_destination) == "88:77:66:55:44:33:22:11"
    assert (h.minimum_hardware_version, h.maximum_hardware_version, h.security_credential_version) == (
        0x0100, 0x01FF, 2)


@pytest.mark.parametrize(
    ("field_control", "length"), [(0, 56), (1, 57), (2, 64), (3, 65), (4, 60), (5, 61), (6, 68), (7, 69)])
def test_header_length_follows_field_control(field_control: int, length: int) -> None:
    built = build_image(
        b"x", manufacturer_code=1, image_type=2, file_version=3,
        security_credential_version=0 if field_control & 1 else None,
        upgrade_file_destination="0011223344556677" if field_control & 2 else None,
        min_hw_version=1 if field_control & 4 else None, max_hw_version=2 if field_control & 4 else None)
    assert int.from_bytes(built[6:8], "little") == length
    assert int.from_bytes(built[8:10], "little") == field_control
    assert parse_image(built).header.header_length == length


def test_sr114_sample_is_a_gb_bare_image() -> None:
    assert len(SR114_FILE) == 295
    assert hashlib.sha256(SR114_FILE).hexdigest() == SR114_SHA256  # our literal bytes are DCC's sample
    assert parse_image(SR114_FILE).format == "unknown-body"  # unsigned: the bytes cannot say GB
    image = parse_image(SR114_FILE, source="sr11.4.ota", format="gb-bare")
    assert image.format == "gb-bare"
    assert (image.manufacturer_code, image.image_type, image.file_version) == (0x121D, 0x0084, 0xACDCACDC)
    assert (image.min_hw_version, image.max_hw_version) == (0x1111, 0x1211)
    assert image.header.header_string == "I am a GFI PPMID firmware image "
    assert image.header.stack_version == 2 and image.header.field_control == 0x0004
    assert image.total_image_size == 295 and image.header.header_length == 60
    assert image.firmware == SR114_BODY and image.body == SR114_BODY and image.elements == []
    assert image.signature is None and image.integrity_ok is None
    assert image.header.serialize() == SR114_HEADER  # space-padded string round-trips
    assert validate_image(SR114_FILE) == []


def test_sr114_sample_rebuilt_by_the_builder() -> None:
    built = build_image(SR114_BODY, manufacturer_code=0x121D, image_type=0x0084, file_version=0xACDCACDC,
                        header_string="I am a GFI PPMID firmware image ", min_hw_version=0x1111,
                        max_hw_version=0x1211, format="gb-bare")
    # The header string is exactly 32 characters, so there is no padding to differ: identical bytes.
    assert built == SR114_FILE


def test_zigpy_cannot_parse_the_sr114_sample() -> None:
    # domain.md §2.4 / R-PLAT-04: the reason rig.image has a GB bare form.
    with pytest.raises(ValueError):
        parse_ota_image(SR114_FILE)


def test_header_string_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        build_image(b"x", manufacturer_code=1, image_type=1, file_version=1, header_string="x" * 33)
