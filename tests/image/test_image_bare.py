"""GB bare images (domain.md §2.4): header + manufacturer image, optional 00 40 + 64-byte signature."""

from __future__ import annotations

import pytest

from rig.image import ImageError, build_image, parse_image, validate_image
from image_vectors import SR114_BODY, SR114_HEADER

SIG = bytes(range(64))


def sr111_shaped() -> bytes:
    """The SR 11.1 sample's shape: header (image type 0x0000), the same manufacturer image, 00 40 + 64 bytes."""
    return build_image(SR114_BODY, manufacturer_code=0x121D, image_type=0x0000, file_version=0xACDCACDC,
                       header_string="I am a GFI ESME[] firmware image", min_hw_version=0x1111,
                       max_hw_version=0x1211, format="gb-bare", signature=SIG)


def test_sr111_shape_total_size_includes_the_signature_block() -> None:
    data = sr111_shaped()
    assert len(data) == 361  # as the DCC SR 11.1 sample
    assert data[60 + 235 : 60 + 237] == bytes.fromhex("0040")
    image = parse_image(data)
    assert image.format == "gb-bare" and image.total_image_size == 361
    assert image.firmware == SR114_BODY and image.signature == SIG
    assert validate_image(data) == []


def test_signature_detection_can_be_forced_either_way() -> None:
    data = sr111_shaped()
    unsigned = parse_image(data, signature=False)
    assert unsigned.signature is None and unsigned.firmware == SR114_BODY + bytes.fromhex("0040") + SIG
    plain = SR114_HEADER + SR114_BODY
    with pytest.raises(ImageError) as caught:
        parse_image(plain, signature=True)
    assert caught.value.problems[0].field == "signature"


def test_builder_refuses_mixed_forms() -> None:
    ids = dict(manufacturer_code=1, image_type=1, file_version=1)
    with pytest.raises(ValueError, match="gb-bare|format"):
        build_image(b"fw", **ids, format="gb-bare", integrity_code=True)
    with pytest.raises(ValueError, match="ECDSA"):
        build_image(b"fw", **ids, signature=SIG)
    with pytest.raises(ValueError, match="64"):
        build_image(b"fw", **ids, format="gb-bare", signature=b"short")
    with pytest.raises(ValueError, match="both"):
        build_image(b"fw", **ids, min_hw_version=1)
    with pytest.raises(ValueError, match="above"):
        build_image(b"fw", **ids, min_hw_version=2, max_hw_version=1)
    with pytest.raises(ValueError, match="16-bit"):
        build_image(b"fw", manufacturer_code=0x10000, image_type=1, file_version=1)
    with pytest.raises(ValueError, match="EUI64"):
        build_image(b"fw", **ids, upgrade_file_destination="00:11")


def test_same_firmware_in_both_forms() -> None:
    ids = dict(manufacturer_code=0x1234, image_type=0x0102, file_version=2, min_hw_version=0x100, max_hw_version=0x1FF)
    firmware = bytes(range(1, 250))
    zig = parse_image(build_image(firmware, **ids, integrity_code=True))
    gb = parse_image(build_image(firmware, **ids, format="gb-bare"), format="gb-bare")
    assert (zig.format, gb.format) == ("zigbee", "gb-bare")
    # Unsigned, nothing in the bytes says GB: "auto" calls the body what it is, opaque.
    assert parse_image(build_image(firmware, **ids, format="gb-bare")).format == "unknown-body"
    assert zig.firmware == gb.firmware == firmware
    assert zig.header.header_length == gb.header.header_length == 60
    assert gb.total_image_size == 60 + len(firmware)
    assert zig.total_image_size == 60 + 6 + len(firmware) + 6 + 16


def test_forcing_the_zigbee_reading_on_a_bare_image_reports_the_broken_chain() -> None:
    data = SR114_HEADER + SR114_BODY
    problems = validate_image(data, format="zigbee")
    overrun = [p for p in problems if p.field.startswith("element[0].length")]
    assert overrun and overrun[0].offset == 62 and overrun[0].found == str(int.from_bytes(b"itic", "little"))
    assert validate_image(data, format="gb-bare") == []
