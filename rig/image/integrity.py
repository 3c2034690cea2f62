"""Zigbee AES-MMO hash (Matyas-Meyer-Oseas over AES-128), Zigbee spec Annex B.6: the one copy in the rig.

Used for the OTA Image Integrity Code element (tag 0x0003) and for install-code link keys; the emulated
devices use it too (rig.image is a leaf package). zigpy.util.aes_mmo_hash only implements the short padding
form (messages < 2**16 bits, i.e. < 8 KiB); OTA files are far longer, so both forms of B.6 are here.

Each block is H_i = E(key=H_{i-1}, M_i) XOR M_i: the key changes every block, so the AES key schedule runs
once per block and the loop cannot be handed to a bulk cipher mode. `rig.image._mmo` (a small C
extension over OpenSSL's AES, built when a compiler and the OpenSSL headers are there) runs the whole
loop in C; without it, the loop runs in Python over the `cryptography` package's AES. CTR mode with the
block as both nonce and plaintext yields E(M_i) XOR M_i in one call, which saves the XOR in Python.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # the C loop; optional (see the module docstring)
    from rig.image._mmo import compress as _c_compress
except ImportError:  # pragma: no cover - depends on the build machine
    _c_compress = None

LOGGER = logging.getLogger(__name__)
BLOCK = 16
_SLOW_LOOP_NOTICE_BYTES = 256 * 1024  # from here on the Python loop takes a noticeable fraction of a second
_slow_loop_noticed = False
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


def _py_compress(h: bytes, blocks: bytes) -> bytes:
    aes, ctr = algorithms.AES, modes.CTR
    view = memoryview(blocks)
    for start in range(0, len(blocks), BLOCK):
        m = bytes(view[start : start + BLOCK])
        h = Cipher(aes(h), ctr(m)).encryptor().update(m)  # E_h(m) XOR m
    return h


def _compress(h: bytes, blocks: bytes) -> bytes:
    """Run the MMO chain from state `h` over `blocks` (a multiple of 16 bytes)."""
    if _c_compress is not None:
        return _c_compress(h, blocks)
    global _slow_loop_noticed
    if len(blocks) >= _SLOW_LOOP_NOTICE_BYTES and not _slow_loop_noticed:
        _slow_loop_noticed = True
        LOGGER.warning("AES-MMO runs its Python loop (about 0.3 s a MB): rig.image._mmo was not built; install a "
                       "C compiler and the OpenSSL headers (Debian: gcc python3-dev libssl-dev), then reinstall")
    return _py_compress(h, blocks)


def backend() -> str:
    """Which AES-MMO loop runs: 'c' (rig.image._mmo) or 'python' (cryptography, block by block)."""
    return "c" if _c_compress is not None else "python"


class AesMmo:
    """Incremental AES-MMO: update() with chunks of any size, digest() any number of times, copy() to fork.

    Forking is what lets one pass over an image give the hash at two cut points (both integrity code
    coverages, see rig.image.validate).
    """

    def __init__(self, data: bytes = b"") -> None:
        self._h = bytes(BLOCK)
        self._pending = b""
        self._length = 0
        if data:
            self.update(data)

    def update(self, data: bytes) -> None:
        self._length += len(data)
        buf = self._pending + bytes(data)
        whole = len(buf) - len(buf) % BLOCK
        if whole:
            self._h = _compress(self._h, buf[:whole])
        self._pending = buf[whole:]

    def copy(self) -> AesMmo:
        clone = AesMmo()
        clone._h, clone._pending, clone._length = self._h, self._pending, self._length
        return clone

    def digest(self) -> bytes:
        return _compress(self._h, self._pending + _pad(self._length))


def aes_mmo_hash(data: bytes) -> bytes:
    """The 16-byte Zigbee AES-MMO digest of `data`."""
    return AesMmo(data).digest()
