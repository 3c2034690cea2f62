"""Literal byte vectors shared by the image tests (written out by hand, see the comments)."""

from __future__ import annotations

ALL_OPTIONS_STRING = b"HAN OTA Rig all options".ljust(32, b"\x00")
# Offsets in the comments are the §2.1 table's.
ALL_OPTIONS_HEADER = (
    bytes.fromhex("1EF1EE0B")  # 0  OTA Upgrade File Identifier 0x0BEEF11E
    + bytes.fromhex("0001")  # 4  header version 0x0100
    + bytes.fromhex("4500")  # 6  header length 69 (56 + 1 + 8 + 4)
    + bytes.fromhex("0700")  # 8  field control: credential version, destination, hardware versions
    + bytes.fromhex("3412")  # 10 manufacturer code 0x1234
    + bytes.fromhex("0101")  # 12 image type 0x0101
    + bytes.fromhex("78563412")  # 14 file version 0x12345678
    + bytes.fromhex("0200")  # 18 stack version 0x0002 (PRO)
    + ALL_OPTIONS_STRING  # 20 header string, 32 bytes, NUL padded
    + bytes.fromhex("4F000000")  # 52 total image size 79 = 69 + 6 + 4
    + bytes.fromhex("02")  # 56 security credential version 0x02 (SE 2.0)
    + bytes.fromhex("1122334455667788")  # 57 upgrade file destination, little-endian EUI64
    + bytes.fromhex("0001")  # 65 minimum hardware version 0x0100
    + bytes.fromhex("FF01")  # 67 maximum hardware version 0x01FF
)
ALL_OPTIONS_FILE = ALL_OPTIONS_HEADER + bytes.fromhex("0000" "04000000" "DEADBEEF")  # UPGRADE_IMAGE, 4 bytes

# DUIS SR 11.4 sample (SmartDCCInnovation/duis-templates 11.4_UPDATE_PPMID_FIRMWARE_REQUEST_DUIS.XML),
# header from the values in domain.md §2.4: a 60-byte header, then 235 bytes of manufacturer image.
SR114_HEADER = (
    bytes.fromhex("1EF1EE0B" "0001" "3C00" "0400" "1D12" "8400" "DCACDCAC" "0200")
    + b"I am a GFI PPMID firmware image "  # exactly 32 bytes, space padded
    + bytes.fromhex("27010000")  # total image size 295
    + bytes.fromhex("1111" "1112")  # hardware versions 0x1111 .. 0x1211
)
SR114_BODY = b"CriticalSoftware sample firmware image_" * 6 + b"\n"
SR114_FILE = SR114_HEADER + SR114_BODY
# SHA-256 of the base64 FirmwareImage in that DCC template, decoded.
SR114_SHA256 = "eb9bc9140bd389530bf3b2974270cc4d2ba1bfd3822ddc5faad4801125847c32"
