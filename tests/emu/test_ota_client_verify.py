"""AES-MMO (Zigbee Annex B.6) and the client's image verification."""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import ECB
from zigpy.util import aes_mmo_hash

from rig.image.integrity import AesMmo
from rig.image.integrity import aes_mmo_hash as aes_mmo
from rig.emu.ota_codec import ImageId
from rig.emu.ota_verify import verify_image

try:
    from test_device_fakes import build_image
except ImportError:
    from .test_device_fakes import build_image


@pytest.mark.parametrize("n", [0, 1, 13, 14, 15, 16, 17, 31, 32, 100, 1000, 8191])
def test_short_form_matches_zigpy(n: int) -> None:
    data = os.urandom(n)
    assert aes_mmo(data) == bytes(aes_mmo_hash(data))


def _reference_long(data: bytes) -> bytes:
    """Annex B.6 long form spelled out bit by bit: M || 1 || 0^k || l (32 bits) || 0^16."""
    bits = "".join(f"{b:08b}" for b in data) + "1"
    while len(bits) % 128 != 80:
        bits += "0"
    bits += f"{len(data) * 8:032b}" + "0" * 16
    padded = int(bits, 2).to_bytes(len(bits) // 8, "big")
    h = bytes(16)
    for i in range(0, len(padded), 16):
        m = padded[i:i + 16]
        e = Cipher(AES(h), ECB()).encryptor()
        c = e.update(m) + e.finalize()
        h = bytes(x ^ y for x, y in zip(c, m))
    return h


@pytest.mark.parametrize("n", [8192, 8193, 8201, 8202, 8203, 9000, 20000])
def test_long_form_padding(n: int) -> None:
    data = os.urandom(n)
    assert aes_mmo(data) == _reference_long(data)
    assert aes_mmo(data) != bytes(aes_mmo_hash(data))  # zigpy only implements the short form


def test_incremental_equals_one_shot() -> None:
    data = os.urandom(10_000)
    h = AesMmo()
    for i in range(0, len(data), 37):
        h.update(data[i:i + 37])
    assert h.digest() == aes_mmo(data)


CHECKS = ("header", "ids", "size", "hardware_version", "integrity")


def test_verify_accepts_good_image_and_names_each_failure() -> None:
    img = build_image(2, 9000)  # long enough for the long padding form
    offer = ImageId(0x1234, 0x0101, 2)
    assert verify_image(img, offer, len(img), 0x0100, CHECKS) is None
    bad = bytearray(img)
    bad[0] ^= 1
    assert "file identifier" in verify_image(bytes(bad), offer, len(img), 0x0100, CHECKS)
    assert "differs from the offer" in verify_image(img, ImageId(0x1234, 0x0101, 3), len(img), 0x0100, CHECKS)
    assert "total image size" in verify_image(img[:-1], offer, len(img), 0x0100, CHECKS)
    assert "hardware version 0x0300" in verify_image(img, offer, len(img), 0x0300, CHECKS)
    bad = bytearray(img)
    bad[5000] ^= 0x40
    assert "Integrity Code" in verify_image(bytes(bad), offer, len(img), 0x0100, CHECKS)
    assert verify_image(bytes(bad), offer, len(img), 0x0100, ("header", "ids", "size")) is None


def test_opaque_gbcs_body_and_required_integrity() -> None:
    # a GBCS-style file: header then raw manufacturer image, no sub-element list
    body = bytes(range(200))
    header = struct.pack("<IHHHHHIH", 0x0BEEF11E, 0x0100, 56, 0, 0x1234, 0x0101, 2, 2) + bytes(32) + struct.pack("<I", 256)
    img = header + body
    offer = ImageId(0x1234, 0x0101, 2)
    assert verify_image(img, offer, 256, 0x0100, CHECKS) is None
    assert "no Image Integrity Code" in verify_image(img, offer, 256, 0x0100, CHECKS + ("require_integrity",))
    plain = build_image(2, 100, integrity=False)
    assert verify_image(plain, offer, len(plain), 0x0100, CHECKS) is None


@pytest.mark.parametrize("coverage", ["to-value", "to-element"])
def test_either_integrity_coverage_passes_and_a_wrong_code_fails(coverage: str) -> None:
    from rig.image import build_image as rig_build

    img = rig_build(os.urandom(9000), manufacturer_code=0x1234, image_type=0x0101, file_version=2,
                    integrity_code=True, integrity_coverage=coverage)
    offer = ImageId(0x1234, 0x0101, 2)
    assert verify_image(img, offer, len(img), 0x0100, CHECKS) is None
    bad = img[:-1] + bytes([img[-1] ^ 1])
    assert "Integrity Code" in verify_image(bad, offer, len(bad), 0x0100, CHECKS)
