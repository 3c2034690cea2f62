"""Small OTA files for hub tests (built with rig.image, identities matching fixtures/devices)."""

from __future__ import annotations

import hashlib

from rig.image import build_image

MFR = 0x1234
PPMID, HCALCS, GSME = 0x0101, 0x0102, 0x0103


def firmware(size: int, seed: int = 0) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(bytes([seed]) + counter.to_bytes(4, "little")).digest()
        counter += 1
    return bytes(out[:size])


def image(image_type: int = PPMID, version: int = 2, size: int = 300, *, mfr: int = MFR,
          hw: tuple[int, int] | None = (0x0100, 0x0100), seed: int = 0) -> bytes:
    lo, hi = hw if hw is not None else (None, None)
    return build_image(firmware(size, seed), manufacturer_code=mfr, image_type=image_type, file_version=version,
                       min_hw_version=lo, max_hw_version=hi, integrity_code=True)
