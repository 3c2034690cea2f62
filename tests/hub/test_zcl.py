from __future__ import annotations

import struct

import pytest

from rig.hub import zcl


def test_header_and_manufacturer_specific() -> None:
    hdr, payload = zcl.parse_header(bytes([0x01, 0x22, 0x01, 0xAA]))
    assert hdr.cluster_specific and not hdr.from_server and hdr.tsn == 0x22 and hdr.command_id == 1
    assert payload == b"\xaa"
    hdr, _ = zcl.parse_header(bytes([0x05, 0x34, 0x12, 0x07, 0x01]))
    assert hdr.manufacturer == 0x1234 and hdr.tsn == 7
    with pytest.raises(zcl.Malformed):
        zcl.parse_header(b"\x05\x34\x12")


def test_qni_with_and_without_hw() -> None:
    qni = zcl.decode_query_next_image(struct.pack("<BHHIH", 1, 0x1234, 0x0101, 5, 0x0100))
    assert (qni.current_file_version, qni.hardware_version) == (5, 0x0100)
    assert zcl.decode_query_next_image(struct.pack("<BHHI", 0, 1, 2, 3)).hardware_version is None
    with pytest.raises(zcl.Malformed, match="HardwareVersion"):
        zcl.decode_query_next_image(struct.pack("<BHHI", 1, 1, 2, 3))
    with pytest.raises(zcl.Malformed):
        zcl.decode_query_next_image(b"\x00\x34")


def test_block_request_optional_fields() -> None:
    base = struct.pack("<BHHIIB", 0x03, 0x1234, 0x0101, 2, 80, 40)
    req = zcl.decode_image_block(base + b"\x11" * 8 + struct.pack("<H", 250))
    assert req.file_offset == 80 and req.request_node == b"\x11" * 8 and req.min_block_period == 250
    with pytest.raises(zcl.Malformed, match="MinimumBlockPeriod"):
        zcl.decode_image_block(struct.pack("<BHHIIB", 0x02, 1, 2, 3, 4, 5))


def test_upgrade_end_is_tolerant_of_status_only_failures() -> None:
    assert zcl.decode_upgrade_end(b"\x96").image is None
    full = zcl.decode_upgrade_end(struct.pack("<BHHI", 0, 0x1234, 0x0101, 2))
    assert full.image == zcl.ImageId(0x1234, 0x0101, 2)
    with pytest.raises(zcl.Malformed):
        zcl.decode_upgrade_end(b"\x00\x34\x12")


def test_encoders() -> None:
    assert zcl.default_response(9, 0x01, zcl.Status.MALFORMED_COMMAND) == bytes([0x18, 9, 0x0B, 0x01, 0x80])
    assert zcl.default_response(9, 0x01, 0x83, manufacturer=0x1234)[:3] == bytes([0x1C, 0x34, 0x12])
    wait = zcl.block_response_wait(1, 50)
    assert wait == struct.pack("<BIIH", 0x97, 0, 1, 50)
    assert zcl.cluster_frame(3, zcl.Cmd.UPGRADE_END_RSP, b"")[:3] == bytes([0x19, 3, 0x07])
