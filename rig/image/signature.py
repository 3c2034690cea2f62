"""Signing and verifying GB "bare" images (domain.md §2.4): `00 40` + a 64-byte ECDSA P-256 signature.

What is signed (a rig assumption, the GBCS text is not in our sources, see domain.md [K]): SHA-256 of
every byte of the file before the signature block, i.e. the OTA header (whose Total Image Size already
counts the block) and the manufacturer image. The signature is r||s, 32 bytes each, big-endian.

    key = generate_signing_key()                       # tests make keys at run time; never commit one
    signed = sign_bare_image(unsigned_image, key)      # appends the block, fixes Total Image Size
    verify_bare_image(signed, public_key_pem(key))     # raises SignatureInvalid if anything is off
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from rig.image import bare
from rig.image.errors import ImageError, Problem
from rig.image.validate import parse_image

TOTAL_SIZE_OFFSET = 52  # Total Image Size in the OTA header (after the 32-byte header string)
_COORD = 32  # bytes of r and of s on P-256


class SignatureInvalid(ImageError):
    """The image's signature is missing, malformed or does not verify against the given key."""


def generate_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_key_pem(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str | bytes, source: str = "public key") -> ec.EllipticCurvePublicKey:
    """A P-256 public key from PEM; ValueError naming `source` otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source}: not a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{source}: found a {type(key).__name__}, expected an ECDSA P-256 (secp256r1) public key")
    return key


def sign_bare_image(data: bytes, private_key: ec.EllipticCurvePrivateKey | bytes) -> bytes:
    """An unsigned GB bare image + `00 40` + signature, with Total Image Size grown by 66 bytes."""
    if isinstance(private_key, (bytes, str)):
        raw = private_key.encode() if isinstance(private_key, str) else private_key
        private_key = serialization.load_pem_private_key(raw, password=None)  # type: ignore[assignment]
    image = parse_image(data, format="gb-bare", signature=False)
    if image.total_image_size != len(data):
        raise ValueError(f"Total Image Size {image.total_image_size} != {len(data)} bytes: sign a consistent image")
    out = bytearray(data)
    struct.pack_into("<I", out, TOTAL_SIZE_OFFSET, len(data) + bare.SIGNATURE_BLOCK_LENGTH)
    der = private_key.sign(bytes(out), ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    return bytes(out) + bare.signature_block(r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big"))


def signed_part(data: bytes) -> bytes:
    """The bytes the signature covers: everything before the `00 40` block."""
    return bytes(data[: len(data) - bare.SIGNATURE_BLOCK_LENGTH])


def verify_bare_image(data: bytes, public_key_pem: str | bytes | ec.EllipticCurvePublicKey,
                      *, source: str = "<bytes>") -> bool:
    """True if `data` is a GB bare image whose trailing signature verifies; SignatureInvalid otherwise."""
    key = public_key_pem if isinstance(public_key_pem, ec.EllipticCurvePublicKey) else load_public_key(public_key_pem)
    try:
        image = parse_image(data, source=source, format="gb-bare", signature=True)
    except ImageError as exc:
        raise SignatureInvalid(exc.problems, source) from None
    at = len(data) - bare.SIGNATURE_LENGTH
    if image.total_image_size != len(data):
        raise SignatureInvalid([Problem(TOTAL_SIZE_OFFSET, "total_image_size", str(image.total_image_size),
                                        f"{len(data)} (the file, signature block included)")], source)
    assert image.signature is not None
    r = int.from_bytes(image.signature[:_COORD], "big")
    s = int.from_bytes(image.signature[_COORD:], "big")
    try:
        key.verify(encode_dss_signature(r, s), signed_part(data), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureInvalid([Problem(at, "signature", image.signature[:8].hex() + "…",
                                        f"an ECDSA P-256 signature over SHA-256 of bytes 0..{at - 3}"
                                        " by the manufacturer's key", "signature does not verify")], source) from None
    return True
