"""AES-MMO (Matyas-Meyer-Oseas) hash, Zigbee spec Annex B.6, including the long-message padding.

The OTA Image Integrity Code (sub-element tag 0x0003) is this hash. zigpy's `aes_mmo_hash` only
implements the short form (messages under 2**16 bits = 8192 bytes); OTA images are far longer, so
the emulated devices carry their own implementation (rig.emu may not import rig.image).

Padding (n = 128-bit block): message M of l bits, then a single 1 bit, then zeros, then
* l < 2**16: l as a 16-bit big-endian string, the zeros chosen so the total is a multiple of n;
* 2**16 <= l < 2**32: l as a 32-bit big-endian string followed by 16 zero bits.
Each 16-byte block M_i updates H_i = E(H_{i-1}, M_i) xor M_i with H_0 = 0.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import ECB

BLOCK = 16
_SHORT_LIMIT_BITS = 1 << 16
_LONG_LIMIT_BITS = 1 << 32


def _padding(length_bytes: int) -> bytes:
    bits = length_bytes * 8
    if bits >= _LONG_LIMIT_BITS:
        raise ValueError(f"AES-MMO input of {length_bytes} bytes is too long (limit 2**32 bits)")
    if bits < _SHORT_LIMIT_BITS:
        trailer = bits.to_bytes(2, "big")
    else:
        trailer = bits.to_bytes(4, "big") + b"\x00\x00"
    # 0x80 then zeros so that (length + 1 + zeros + len(trailer)) is a multiple of the block size
    zeros = (-(length_bytes + 1 + len(trailer))) % BLOCK
    return b"\x80" + b"\x00" * zeros + trailer


class AesMmo:
    """Incremental AES-MMO: feed any chunk sizes with update(), then digest()."""

    def __init__(self) -> None:
        self._h = bytes(BLOCK)
        self._pending = b""
        self._length = 0

    def update(self, data: bytes) -> None:
        self._length += len(data)
        buf = self._pending + bytes(data)
        whole = len(buf) - len(buf) % BLOCK
        if whole:
            self._h = _compress(self._h, buf[:whole])
        self._pending = buf[whole:]

    def digest(self) -> bytes:
        tail = self._pending + _padding(self._length)
        return _compress(self._h, tail)


def _compress(h: bytes, blocks: bytes) -> bytes:
    for i in range(0, len(blocks), BLOCK):
        m = blocks[i : i + BLOCK]
        enc = Cipher(AES(h), ECB()).encryptor()
        c = enc.update(m) + enc.finalize()
        h = bytes(a ^ b for a, b in zip(c, m))
    return h


def aes_mmo(data: bytes) -> bytes:
    """The 16-byte AES-MMO digest of `data`."""
    hasher = AesMmo()
    hasher.update(data)
    return hasher.digest()
