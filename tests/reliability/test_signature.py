"""rig.image.signature: sign/verify GB bare images (keys made at test time, never stored)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rig.image import ImageError, build_image, parse_image
from rig.image.signature import (SignatureInvalid, generate_signing_key, public_key_pem, sign_bare_image,
                                 verify_bare_image)


def _bare() -> bytes:
    return build_image(bytes(range(256)) * 2, manufacturer_code=0x121D, image_type=0x84, file_version=7,
                       format="gb-bare")


def test_sign_then_verify_round_trip() -> None:
    key = generate_signing_key()
    signed = sign_bare_image(_bare(), key)
    img = parse_image(signed, format="gb-bare", signature=True)
    assert img.total_image_size == len(signed) == len(_bare()) + 66 and img.signature is not None
    assert img.firmware == bytes(range(256)) * 2
    assert verify_bare_image(signed, public_key_pem(key))


@pytest.mark.parametrize("offset", [0x10, 52, 100, -70, -1])  # version, total size, body, just before block, sig
def test_any_flipped_byte_fails(offset) -> None:
    key = generate_signing_key()
    signed = bytearray(sign_bare_image(_bare(), key))
    signed[offset] ^= 0x01
    with pytest.raises(SignatureInvalid) as err:
        verify_bare_image(bytes(signed), public_key_pem(key))
    assert err.value.problems and "offset" in str(err.value)


def test_wrong_key_and_unsigned_and_bad_keys() -> None:
    signed = sign_bare_image(_bare(), generate_signing_key())
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_bare_image(signed, public_key_pem(generate_signing_key()))
    with pytest.raises(SignatureInvalid, match="00 40"):
        verify_bare_image(_bare(), public_key_pem(generate_signing_key()))
    with pytest.raises(ValueError, match="not a PEM public key"):
        verify_bare_image(signed, "garbage")
    other_curve = public_key_pem(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="P-256"):
        verify_bare_image(signed, other_curve)
    rsa_pem = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="P-256"):
        verify_bare_image(signed, rsa_pem)


def test_signing_an_inconsistent_image_is_refused() -> None:
    bad = bytearray(_bare())
    bad[52] ^= 0x01  # Total Image Size no longer the file length
    with pytest.raises((ImageError, ValueError)):
        sign_bare_image(bytes(bad), generate_signing_key())
