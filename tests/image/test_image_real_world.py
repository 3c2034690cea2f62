"""Every layout found in real vendors' images is read, named, and served as exactly the declared image."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from zigpy.ota.image import parse_ota_image

from rig.cli import main
from rig.image import ImageError, parse_image, validate_image
from rig.image.integrity import aes_mmo_hash
from tests.image import real_world as rw


@pytest.mark.parametrize("coverage", ["to-value", "to-element"])
def test_both_integrity_coverages_are_accepted_and_named(coverage: str) -> None:
    data = rw.zigbee(coverage)
    image = parse_image(data)
    assert (image.integrity_ok, image.integrity_coverage, image.warnings) == (True, coverage, [])
    code_at = len(data) - 22
    covered = data[:code_at] if coverage == "to-element" else data[: code_at + 6]
    assert data[-16:] == aes_mmo_hash(covered)
    assert validate_image(data) == []


def test_an_integrity_code_matching_neither_coverage_is_a_warning_with_both_values() -> None:
    data = bytearray(rw.zigbee("to-element"))
    data[-1] ^= 0x01
    image = parse_image(bytes(data))
    assert (image.integrity_ok, image.integrity_coverage) == (False, "neither")
    [warning] = image.warnings
    assert warning.kind == "integrity" and warning.message == "integrity code matches neither coverage"
    assert aes_mmo_hash(bytes(data[:-22])).hex() in warning.expected
    assert aes_mmo_hash(bytes(data[:-16])).hex() in warning.expected


@pytest.mark.parametrize(("wrap", "looks"), [
    (rw.with_crc32, "CRC-32"),
    (rw.with_padding_and_raw_crc, "padding + CRC-32"),
    (lambda image: image + bytes(66), "padding"),
    (lambda image: image + bytes.fromhex("0040") + bytes(range(1, 65)), "signature"),
    (lambda image: image + b"\x17\x2a\x99", "unknown"),
])
def test_trailing_bytes_are_named_and_not_served(wrap, looks: str) -> None:
    declared = rw.zigbee()
    data = wrap(declared)
    image = parse_image(data)
    assert image.raw == declared and image.trailing == data[len(declared):]
    assert image.integrity_ok is True and validate_image(data) == []
    [warning] = image.warnings
    extra = len(data) - len(declared)
    assert warning.kind == "trailing-bytes" and warning.offset == len(declared)
    assert warning.message.startswith(f"{extra} bytes after the declared end (looks like: {looks})")
    theirs, rest = parse_ota_image(data)  # zigpy reads the same image and leaves the same bytes
    assert theirs.serialize() == image.raw and rest == image.trailing


@pytest.mark.parametrize(("wrap", "container"), [(rw.in_ikea_container, "ikea"), (rw.with_size_prefix, "legrand"),
                                                (rw.in_third_reality_header, "third-reality")])
def test_vendor_containers_are_unwrapped(wrap, container: str) -> None:
    inner = rw.zigbee("to-element")
    data = wrap(inner)
    image = parse_image(data)
    assert (image.container, image.raw, image.integrity_coverage) == (container, inner, "to-element")
    assert data[image.offset : image.offset + len(inner)] == inner
    assert validate_image(data) == [] and image.warnings == []
    theirs, _ = parse_ota_image(data)
    assert theirs.serialize() == inner


def test_an_unknown_prefix_says_where_the_ota_image_starts() -> None:
    data = b"VNDR" + bytes(8) + rw.zigbee()
    with pytest.raises(ImageError) as caught:
        parse_image(data, source="wrapped.ota")
    [problem] = caught.value.problems  # no follow-on problems read from the wrapper
    assert problem.field == "file_identifier" and "appears at offset 12 (0xC)" in problem.message


def test_telink_element_with_its_tag_info() -> None:
    data = rw.telink(tag_info=0x0C01)
    image = parse_image(data)
    assert image.format == "telink" and validate_image(data) == []
    [element] = image.elements
    assert (element.tag, element.tag_info, len(element.data)) == (0xF000, 0x0C01, 600)
    assert image.firmware == element.data and image.raw == data
    theirs, _ = parse_ota_image(data)
    assert type(theirs).__name__ == "TelinkOTAImage" and theirs.subelements[0].data == element.data


def test_hue_sbl_and_unknown_bodies_are_named_not_called_gb() -> None:
    assert parse_image(rw.hue_sbl()).format == "hue-sbl"
    not_hue = rw.hue_sbl()[:10] + (0x1234).to_bytes(2, "little") + rw.hue_sbl()[12:]
    assert parse_image(not_hue).format == "unknown-body"
    signed_gb = not_hue[:-66] + bytes.fromhex("0040") + bytes(64)
    assert parse_image(signed_gb).format == "gb-bare"


def test_a_body_that_stops_being_sub_elements_is_served_as_it_is_and_says_where() -> None:
    data = rw.combined()
    image = parse_image(data)
    assert (image.format, image.raw, image.body) == ("unknown-body", data, data[60:])
    [warning] = image.warnings
    assert warning.kind == "elements" and warning.offset == 60 + 6 + 600 + 2  # the length that breaks the chain
    assert "1 sub-element(s): UPGRADE_IMAGE (600 bytes)" in warning.found
    assert "starts as sub-elements but is not one to its end" in warning.message
    with pytest.raises(ValueError):
        parse_ota_image(data)  # zigpy refuses it; the rig serves it
    # Bodies that never were sub-elements have nothing to say: GB bare, Hue SBL, a vendor's opaque body.
    from tests.image.image_vectors import SR114_FILE

    vendor_body = rw._header_then(b"\x34\x12" + (10).to_bytes(4, "little") + bytes(10) + b"\xff" * 40, version=2)
    for other in (SR114_FILE, rw.hue_sbl(), vendor_body):  # the vendor's first 16 bytes read as a tag 0x1234
        assert parse_image(other).warnings == []


def test_binary_header_string_shows_text_and_bytes(tmp_path: Path, capsys) -> None:
    raw = b"FW\x00" + bytes([0x01, 0xFE, 0x80]) + bytes(26)
    path = tmp_path / "binary.ota"
    path.write_bytes(rw.binary_header_string(raw))
    assert main(["image", "inspect", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    # The text goes on past the first zero byte (up to the zero padding); the JSON has every raw byte too.
    assert info["header_string"] == r"FW\x00\x01\xfe\x80" and info["header_string_hex"] == raw.hex()
    assert info["header_string_binary"] is True
    assert main(["image", "inspect", str(path)]) == 0
    assert r"'FW\x00\x01\xfe\x80' (binary; bytes: 46 57 00 01 fe 80 00" in capsys.readouterr().out
    image = parse_image(path.read_bytes())
    assert image.header.serialize()[20:52] == raw and image.integrity_coverage == "to-value"  # kept byte for byte


@pytest.mark.parametrize(("raw", "text"), [
    (b"plain text", "plain text"),  # not binary: the text as it is
    (b"I am a GFI PPMID firmware image ", "I am a GFI PPMID firmware image "),  # space padded, no zero
    (bytes.fromhex("537b7d3640") + b"\x00`>@\x00\x13p@\\" + bytes(4) + b"\xff\xff", r"S{}6@\x00`>@\x00\x13p@\\\x00\x00\x00\x00\xff\xff"),
    (b"caf\xc3\xa9\x00\x07", "café" + r"\x00\x07"),  # UTF-8 kept, control escaped
])
def test_header_string_text_is_the_whole_field(raw: bytes, text: str) -> None:
    header = parse_image(rw.binary_header_string(raw)).header
    assert header.header_string_text == text
    assert header.header_string_bytes == raw.ljust(32, b"\x00")


def test_inspect_json_names_container_coverage_and_trailing_bytes(tmp_path: Path, capsys) -> None:
    path = tmp_path / "salus-like.ota"
    path.write_bytes(rw.with_crc32(rw.zigbee("to-element")))
    assert main(["image", "inspect", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["integrity_coverage"], info["trailing_bytes"], info["trailing_looks_like"]) == ("to-element", 4, "CRC-32")
    assert info["size"] == info["total_image_size"] == info["file_size"] - 4
    assert info["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() != info["sha256"]
    assert [w["kind"] for w in info["warnings"]] == ["trailing-bytes"]
    ikea = tmp_path / "ikea.ota"
    ikea.write_bytes(rw.in_ikea_container(rw.zigbee()))
    assert main(["image", "inspect", "--json", str(ikea)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["container"], info["offset"], info["warnings"]) == ("ikea", 64, [])


def test_verify_strict_makes_chosen_warnings_fatal(tmp_path: Path, capsys) -> None:
    path = tmp_path / "crc.ota"
    path.write_bytes(rw.with_crc32(rw.zigbee()))
    assert main(["image", "verify", str(path)]) == 0
    assert "warning: " in capsys.readouterr().out
    assert main(["image", "verify", "--strict", "integrity", str(path)]) == 0
    assert main(["image", "verify", "--strict", "trailing-bytes", str(path)]) == 1
    assert main(["image", "verify", "--strict", "all", str(path)]) == 1
    assert main(["image", "verify", "--strict", "nonsense", str(path)]) == 2
    capsys.readouterr()
    neither = bytearray(rw.zigbee("to-element"))
    neither[-1] ^= 0x01
    path.write_bytes(bytes(neither))
    assert main(["image", "verify", str(path)]) == 0  # a warning by default: real devices take such files
    assert "warning: " in capsys.readouterr().out
    assert main(["image", "verify", "--strict", "integrity", str(path)]) == 1
    out = capsys.readouterr().out
    assert "integrity code matches neither coverage" in out and "INVALID" in out
    assert aes_mmo_hash(bytes(neither[:-22])).hex() in out and aes_mmo_hash(bytes(neither[:-16])).hex() in out
