"""Our TLV files read identically in zigpy, and zigpy-built files read identically in ours."""

from __future__ import annotations

import zigpy.types as t
from hypothesis import given, settings
from hypothesis import strategies as st
from zigpy.ota.image import (
    ElementTagId,
    FieldControl,
    HeaderString,
    OTAImage,
    OTAImageHeader,
    SubElement as ZSubElement,
    parse_ota_image,
)

from rig.image import SubElement, build_image, parse_image
from rig.image.header import expected_header_length

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
eui64s = st.binary(min_size=8, max_size=8).map(lambda b: ":".join(f"{x:02x}" for x in b))
header_strings = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=32).filter(
    lambda s: len(s.encode("utf-8")) <= 32)
tags = st.one_of(st.integers(0x0001, 0x0006), st.integers(0xF000, 0xFFFF))
extra_elements = st.lists(st.builds(SubElement, tags, st.binary(max_size=40)), max_size=3)


@st.composite
def build_args(draw):
    hw = draw(st.none() | st.tuples(u16, u16).map(sorted))
    return dict(
        manufacturer_code=draw(u16), image_type=draw(u16), file_version=draw(u32),
        header_string=draw(header_strings), stack_version=draw(st.integers(0, 3)),
        security_credential_version=draw(st.none() | st.integers(0, 3)),
        upgrade_file_destination=draw(st.none() | eui64s),
        min_hw_version=None if hw is None else hw[0], max_hw_version=None if hw is None else hw[1],
        integrity_code=draw(st.booleans()), extra_elements=draw(extra_elements),
    )


def assert_same_header(ours, theirs: OTAImageHeader) -> None:
    assert theirs.upgrade_file_id == 0x0BEEF11E
    assert ours.header_version == theirs.header_version
    assert ours.header_length == theirs.header_length
    assert ours.field_control == theirs.field_control
    assert ours.manufacturer_code == theirs.manufacturer_id
    assert ours.image_type == theirs.image_type
    assert ours.file_version == theirs.file_version
    assert ours.stack_version == theirs.stack_version
    assert ours.header_string.encode("utf-8").ljust(32, b"\x00") == bytes(theirs.header_string)
    assert ours.total_image_size == theirs.image_size
    assert ours.security_credential_version == theirs.security_credential_version
    dest = theirs.upgrade_file_destination
    assert ours.upgrade_file_destination == (None if dest is None else str(dest))
    assert ours.min_hw_version == theirs.minimum_hardware_version
    assert ours.max_hw_version == theirs.maximum_hardware_version


@settings(max_examples=120, deadline=None)
@given(build_args(), st.binary(max_size=300))
def test_our_files_parse_identically_in_zigpy(args, firmware) -> None:
    data = build_image(firmware, **args)
    ours = parse_image(data)
    theirs, rest = parse_ota_image(data)
    assert rest == b"" and isinstance(theirs, OTAImage)
    assert_same_header(ours.header, theirs.header)
    assert [(e.tag, e.data) for e in ours.elements] == [(int(e.tag_id), bytes(e.data)) for e in theirs.subelements]
    assert theirs.serialize() == data


@st.composite
def zigpy_images(draw):
    hw = draw(st.none() | st.tuples(u16, u16).map(sorted))
    scv = draw(st.none() | st.integers(0, 3))
    dest = draw(st.none() | st.binary(min_size=8, max_size=8))
    fc = (FieldControl.SECURITY_CREDENTIAL_VERSION_PRESENT if scv is not None else 0) | (
        FieldControl.DEVICE_SPECIFIC_FILE_PRESENT if dest is not None else 0) | (
        FieldControl.HARDWARE_VERSIONS_PRESENT if hw is not None else 0)
    elements = [ZSubElement(tag_id=ElementTagId.UPGRADE_IMAGE, data=draw(st.binary(max_size=200)))]
    elements += [ZSubElement(tag_id=ElementTagId(tag), data=data)
                 for tag, data in draw(st.lists(st.tuples(tags, st.binary(max_size=40)), max_size=3))]
    header_length = expected_header_length(int(fc))
    size = header_length + sum(6 + len(e.data) for e in elements)
    header = OTAImageHeader(
        upgrade_file_id=OTAImageHeader.MAGIC_VALUE, header_version=0x0100, header_length=header_length,
        field_control=FieldControl(fc), manufacturer_id=draw(u16), image_type=draw(u16), file_version=draw(u32),
        stack_version=draw(st.integers(0, 3)), header_string=HeaderString(draw(header_strings)), image_size=size,
        security_credential_version=scv,
        upgrade_file_destination=None if dest is None else t.EUI64(dest),
        minimum_hardware_version=None if hw is None else hw[0],
        maximum_hardware_version=None if hw is None else hw[1],
    )
    return OTAImage(header=header, subelements=elements)


@settings(max_examples=120, deadline=None)
@given(zigpy_images())
def test_zigpy_files_parse_identically_in_ours(zimage) -> None:
    data = zimage.serialize()
    ours = parse_image(data)
    assert ours.format == "zigbee"
    assert_same_header(ours.header, zimage.header)
    assert [(e.tag, e.data) for e in ours.elements] == [(int(e.tag_id), bytes(e.data)) for e in zimage.subelements]
    assert ours.firmware == bytes(zimage.subelements[0].data)
    assert ours.header.serialize() + b"".join(e.serialize() for e in ours.elements) == data


def test_zigpy_built_integrity_code_verifies_in_ours() -> None:
    # An integrity code computed by us, placed by zigpy's serializer, checks out in our parser.
    from rig.image import aes_mmo_hash

    firmware = bytes(range(200))
    header = OTAImageHeader(
        upgrade_file_id=OTAImageHeader.MAGIC_VALUE, header_version=0x0100, header_length=56,
        field_control=FieldControl(0), manufacturer_id=0x1234, image_type=0x0103, file_version=7,
        stack_version=2, header_string=HeaderString("zigpy"), image_size=56 + 6 + 200 + 6 + 16)
    without_code = OTAImage(header=header, subelements=[ZSubElement(tag_id=ElementTagId.UPGRADE_IMAGE, data=firmware)])
    prefix = without_code.header.serialize() + without_code.subelements[0].serialize() + bytes.fromhex("0300" "10000000")
    zimage = OTAImage(header=header, subelements=[
        ZSubElement(tag_id=ElementTagId.UPGRADE_IMAGE, data=firmware),
        ZSubElement(tag_id=ElementTagId.IMAGE_INTEGRITY_CODE, data=aes_mmo_hash(prefix)),
    ])
    assert parse_image(zimage.serialize()).integrity_ok is True
