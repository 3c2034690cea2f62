"""Every defect becomes a Problem naming offset, field, found and expected; all are reported at once."""

from __future__ import annotations

import pytest

from rig.image import ImageError, Problem, SubElement, build_image, parse_image, validate_image
from rig.image.integrity import aes_mmo_hash

IDS = dict(manufacturer_code=0x1234, image_type=0x0101, file_version=2, header_string="t",
           min_hw_version=0x0100, max_hw_version=0x01FF)
FIRMWARE = bytes(range(256)) * 4


def good(**kw) -> bytes:
    return build_image(FIRMWARE, **(IDS | {"integrity_code": True} | kw))


def plain(**kw) -> bytes:
    """Without an integrity code, so that a mutation shows only its own problem."""
    return good(integrity_code=False, **kw)


def put(data: bytes, offset: int, value: int, size: int) -> bytes:
    out = bytearray(data)
    out[offset : offset + size] = value.to_bytes(size, "little")
    return bytes(out)


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


def test_valid_image_has_no_problems() -> None:
    assert validate_image(good()) == []
    assert parse_image(good()).integrity_ok is True


def test_error_text_lists_every_problem_on_its_own_line() -> None:
    data = put(good(), 4, 0x0200, 2)  # wrong header version
    data = put(data, 52, 120, 4)  # lying total size
    with pytest.raises(ImageError) as caught:
        parse_image(data, source="bad.ota", format="zigbee")
    err = caught.value
    assert err.source == "bad.ota"
    assert fields(err.problems)[:2] == ["header_version", "total_image_size"]
    lines = str(err).splitlines()
    assert len(lines) == len(err.problems) >= 2
    assert lines[1].startswith(f"bad.ota: offset 0x34 (total_image_size): found 120, expected {len(data)} (the file length)")
    assert lines[0].startswith("bad.ota: offset 0x04 (header_version): found 0x0200, expected 0x0100")


def test_wrong_magic() -> None:
    problems = validate_image(b"NGIS" + good(integrity_code=False)[4:])
    assert fields(problems) == ["file_identifier"]
    assert "appears nowhere" in problems[0].message
    # Nothing is read from a file that is not an OTA file: no follow-on problems from its bytes.
    assert fields(validate_image(b"NGIS" + good()[4:])) == ["file_identifier"]


def test_header_version() -> None:
    problems = validate_image(put(good(integrity_code=False), 4, 0x0200, 2))
    assert [(p.offset, p.field, p.found, p.expected) for p in problems] == [(4, "header_version", "0x0200", "0x0100")]


@pytest.mark.parametrize("length", [56, 59, 61, 69, 0, 0xFFFF])
def test_header_length_disagreeing_with_field_control(length: int) -> None:
    problems = validate_image(put(plain(), 6, length, 2))  # field control says 60
    assert [(p.offset, p.field, p.found) for p in problems] == [(6, "header_length", str(length))]
    assert problems[0].expected.startswith("60 ")
    with pytest.raises(ImageError):
        parse_image(put(plain(), 6, length, 2))


def test_field_control_bit_without_the_bytes_is_a_truncated_header() -> None:
    header_only = build_image(b"", manufacturer_code=1, image_type=1, file_version=1)[:56]
    data = put(put(header_only, 8, 0x0007, 2), 6, 69, 2)
    data = put(data, 52, len(data), 4)
    problems = validate_image(data)
    assert [(p.offset, p.field) for p in problems] == [(56, "security_credential_version")]


def test_truncated_hardware_versions() -> None:
    data = good()[:58]  # the 60-byte header stops after min_hw_version
    problems = validate_image(data)
    assert fields(problems) == ["max_hw_version"]
    assert next(p for p in problems if p.field == "max_hw_version").offset == 58


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 20, 55])
def test_shorter_than_the_fixed_header(size: int) -> None:
    problems = validate_image(good()[:size])
    assert "header" in fields(problems)
    with pytest.raises(ImageError):
        parse_image(good()[:size])


def test_file_ending_right_after_the_header() -> None:
    problems = validate_image(good()[:62])
    assert fields(problems) == ["total_image_size", "element[0].header"]


def test_total_size_larger_than_file() -> None:
    data = good()
    problems = validate_image(data[:-10])
    assert fields(problems)[0] == "total_image_size"
    assert any(p.field.startswith("element[1]") for p in problems)  # the integrity code is cut


def test_oversized_file_trailing_junk_is_a_warning_and_not_served() -> None:
    assert validate_image(good() + b"junk") == []
    image = parse_image(good() + b"junk")
    assert image.raw == good() and image.trailing == b"junk" and image.integrity_ok is True
    assert [(w.kind, w.offset) for w in image.warnings] == [("trailing-bytes", len(good()))]
    assert "4 bytes after the declared end (looks like: unknown)" in image.warnings[0].message


def test_lying_total_size_smaller_than_file_still_locates_elements() -> None:
    problems = validate_image(put(plain(), 52, 120, 4), format="zigbee")
    assert fields(problems) == ["total_image_size"]


def test_tlv_length_overrunning() -> None:
    data = put(good(), 60 + 2, 5000, 4)  # UPGRADE_IMAGE claims 5000 bytes
    problems = validate_image(data, format="zigbee")
    assert [(p.offset, p.field, p.found) for p in problems][0] == (62, "element[0].length (UPGRADE_IMAGE)", "5000")
    assert "missing" not in str(problems)
    with pytest.raises(ImageError):
        parse_image(data, format="zigbee")


def test_integrity_mismatch_is_reported_and_parse_still_returns() -> None:
    data = bytearray(good())
    data[100] ^= 0x01
    assert validate_image(bytes(data)) == []  # a warning, which a bench may make fatal
    image = parse_image(bytes(data))
    assert image.integrity_ok is False and image.integrity_coverage == "neither"
    [warning] = image.warnings
    assert (warning.kind, warning.field) == ("integrity", "image_integrity_code")
    assert warning.message == "integrity code matches neither coverage"
    assert aes_mmo_hash(bytes(data[:-22])).hex() in warning.expected  # both computed values are given
    assert aes_mmo_hash(bytes(data[:-16])).hex() in warning.expected


def test_integrity_wrong_length_and_not_last() -> None:
    data = build_image(FIRMWARE, **IDS, extra_elements=[SubElement(0x0003, b"short")])
    problems = validate_image(data)
    assert ["element[1].length (IMAGE_INTEGRITY_CODE)"] == fields(problems)
    data = build_image(FIRMWARE, **IDS, extra_elements=[SubElement(0x0003, bytes(16)), SubElement(0xF001, b"m")])
    problems = validate_image(data)
    assert fields(problems) == ["elements"]
    assert [w.field for w in parse_image(data).warnings] == ["image_integrity_code"]


def test_integrity_code_covers_everything_before_its_value() -> None:
    data = good()
    assert data[-22:-16] == bytes.fromhex("0300" "10000000")
    assert data[-16:] == aes_mmo_hash(data[:-16])


def test_missing_and_duplicate_upgrade_image() -> None:
    header = build_image(b"", manufacturer_code=1, image_type=1, file_version=1)
    only_picture = SubElement(0x0004, b"pic").serialize()
    data = put(header[:56] + only_picture, 52, 56 + len(only_picture), 4)
    assert validate_image(data) == []  # warnings: real devices take such files (Lumi, UHome)
    assert [w.field for w in parse_image(data).warnings] == ["elements"]
    twice = build_image(b"a", manufacturer_code=1, image_type=1, file_version=1,
                        extra_elements=[SubElement(0x0000, b"b")])
    assert validate_image(twice) == []
    warnings = parse_image(twice).warnings
    assert [w.field for w in warnings] == ["element[1].tag"] and "UPGRADE_IMAGE" in warnings[0].found


def test_hardware_min_above_max() -> None:
    data = put(good(), 56, 0x0300, 2)  # min 0x0300 > max 0x01FF; integrity code now mismatches too
    problems = validate_image(data)
    assert fields(problems) == ["min_hw_version"]
    assert parse_image(data).min_hw_version == 0x0300


def test_reserved_tag_and_signature_lengths() -> None:
    data = build_image(FIRMWARE, **IDS, extra_elements=[SubElement(0x0042, b"r"), SubElement(0x0001, bytes(10))])
    problems = validate_image(data)
    assert fields(problems) == ["element[2].length (ECDSA_SIG_1)"]
    assert [(w.kind, w.field, w.found) for w in parse_image(data).warnings] == [("elements", "element[1].tag", "0x0042")]


def test_many_defects_at_once_are_all_reported() -> None:
    data = put(put(put(good(), 4, 0x0300, 2), 6, 61, 2), 56, 0x0FFF, 2)
    data += b"xx"
    problems = validate_image(data)
    assert {"header_version", "header_length", "min_hw_version"} <= set(fields(problems))
    assert [p.offset for p in problems] == sorted(p.offset for p in problems)


def test_gb_bare_empty_manufacturer_image() -> None:
    data = build_image(b"", manufacturer_code=1, image_type=1, file_version=1, format="gb-bare")
    assert fields(validate_image(data)) == ["manufacturer_image"]


def test_non_bytes_format_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_image(good(), format="tlv")
