"""GB "bare" images (domain.md §2.4): an OTA header followed directly by the manufacturer image.

The GBCS Upgrade Image carried in DUIS SR 11.1 / 11.4 is not a TLV file: after the 56..69-byte
header comes the manufacturer image itself. The SR 11.1 sample ends with `00 40` + 64 bytes, read
here as a big-endian 16-bit length and a 64-byte signature; Total Image Size includes that block.
That reading is unverified (domain.md marks it [K]) and is a heuristic: a manufacturer image whose
66th-from-last and 65th-from-last bytes happen to be 00 40 looks the same, hence `signature=`.
"""

from __future__ import annotations

SIGNATURE_LENGTH = 64
SIGNATURE_PREFIX = SIGNATURE_LENGTH.to_bytes(2, "big")
SIGNATURE_BLOCK_LENGTH = len(SIGNATURE_PREFIX) + SIGNATURE_LENGTH


def has_signature_block(body: bytes) -> bool:
    return len(body) >= SIGNATURE_BLOCK_LENGTH and body[-SIGNATURE_BLOCK_LENGTH:-SIGNATURE_LENGTH] == SIGNATURE_PREFIX


def split_body(body: bytes, signature: bool | None = None) -> tuple[bytes, bytes | None]:
    """(manufacturer image, signature or None). `signature`: None = detect, True/False = force."""
    present = has_signature_block(body) if signature is None else signature
    if not present:
        return bytes(body), None
    return bytes(body[:-SIGNATURE_BLOCK_LENGTH]), bytes(body[-SIGNATURE_LENGTH:])


def signature_block(signature: bytes) -> bytes:
    if len(signature) != SIGNATURE_LENGTH:
        raise ValueError(f"GB image signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    return SIGNATURE_PREFIX + bytes(signature)
