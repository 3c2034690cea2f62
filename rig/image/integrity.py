"""Zigbee AES-MMO hash (Matyas-Meyer-Oseas over AES-128), Zigbee spec Annex B.6.

Used for the OTA Image Integrity Code element (tag 0x0003) and for install-code link keys.
zigpy.util.aes_mmo_hash only implements the short padding form (messages < 2**16 bits, i.e. < 8 KiB);
OTA files are far longer, so both forms of the B.6 padding are implemented here.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
INTEGRITY_CODE_LENGTH = 16
_SHORT_FORM_LIMIT_BITS = 1 << 16  # below this, the bit length is appended as 16 bits
_LONG_FORM_LIMIT_BITS = 1 << 32  # B.6 defines no form beyond this


def _pad(length_bytes: int) -> bytes:
    """Padding appended to a message of `length_bytes` octets (B.6, with n = 16 bits)."""
    bits = length_bytes * 8
    if bits < _SHORT_FORM_LIMIT_BITS:
        # '1' bit, zeros up to 14 mod 16 octets, then the bit length as 16 bits, big-endian.
        zeros = (BLOCK - 2 - (length_bytes + 1) % BLOCK) % BLOCK
        return b"\x80" + bytes(zeros) + bits.to_bytes(2, "big")
    if bits < _LONG_FORM_LIMIT_BITS:
        # '1' bit, zeros up to 10 mod 16 octets, the bit length as 32 bits, then 16 zero bits.
        zeros = (BLOCK - 6 - (length_bytes + 1) % BLOCK) % BLOCK
        return b"\x80" + bytes(zeros) + bits.to_bytes(4, "big") + bytes(2)
    raise ValueError(f"AES-MMO input too long: {length_bytes} bytes (limit {(_LONG_FORM_LIMIT_BITS // 8) - 1})")


def aes_mmo_hash(data: bytes) -> bytes:
    """The 16-byte Zigbee AES-MMO digest of `data`."""
    message = bytes(data) + _pad(len(data))
    digest = bytes(BLOCK)
    for start in range(0, len(message), BLOCK):
        block = message[start : start + BLOCK]
        # MMO: H_i = E(key=H_{i-1}, M_i) XOR M_i; the key changes every block, so one cipher each.
        encrypted = Cipher(algorithms.AES(digest), modes.ECB()).encryptor().update(block)
        digest = (int.from_bytes(encrypted, "big") ^ int.from_bytes(block, "big")).to_bytes(BLOCK, "big")
    return digest
