"""Bytes after the declared end of an OTA image: what they look like.

Real files carry them (Salus: a CRC-32 of the image; SDevices: 0xFF padding then a CRC-32 without the
final inversion). The header's Total Image Size is right in those files, and it is what a device is
told and what it downloads, so the rig serves exactly the declared image and only names the rest.
"""

from __future__ import annotations

import zlib

CRC_LENGTH = 4
_SIGNATURE_LENGTHS = (64, 66, 70, 71, 72)  # raw r||s, GB "00 40"+64, DER-encoded P-256 signatures


def looks_like(before: bytes, trailing: bytes) -> str:
    """'CRC-32', 'padding + CRC-32', 'padding', 'signature' or 'unknown'. `before`: every byte before them."""
    if len(trailing) >= CRC_LENGTH:
        covered = bytes(before) + bytes(trailing[:-CRC_LENGTH])
        crc = zlib.crc32(covered)
        candidates = {v.to_bytes(4, order) for v in (crc, crc ^ 0xFFFFFFFF) for order in ("little", "big")}
        if trailing[-CRC_LENGTH:] in candidates:
            padding = trailing[:-CRC_LENGTH]
            if not padding:
                return "CRC-32"
            return "padding + CRC-32" if _is_padding(padding) else "CRC-32 after unknown bytes"
    if _is_padding(trailing):
        return "padding"
    if len(trailing) in _SIGNATURE_LENGTHS or (trailing[:1] == b"\x30" and 8 <= len(trailing) <= 72):
        return "signature"
    return "unknown"


def _is_padding(data: bytes) -> bool:
    return data.strip(b"\xff") == b"" or data.strip(b"\x00") == b""
