"""Deterministic sample images: firmware bytes from a seeded hash stream, no clock, no randomness.

`make_large_image` produces GB-sized files at test time (350 kB average, 750 kB maximum PPMID image,
domain.md §3.5; kB = 1000 bytes) instead of committing them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rig.image.bare import SIGNATURE_BLOCK_LENGTH
from rig.image.builder import build_image
from rig.image.elements import ELEMENT_HEADER_LENGTH
from rig.image.header import (
    FC_DEVICE_SPECIFIC_FILE,
    FC_HARDWARE_VERSIONS,
    FC_SECURITY_CREDENTIAL_VERSION,
    expected_header_length,
)
from rig.image.integrity import INTEGRITY_CODE_LENGTH
from rig.image.model import FORMAT_ZIGBEE

GB_AVERAGE_IMAGE_BYTES = 350_000
GB_MAX_IMAGE_BYTES = 750_000


def payload(seed: str, length: int) -> bytes:
    """`length` pseudo-random bytes fixed by `seed` (SHA-256 in counter mode: stable everywhere)."""
    out = bytearray()
    counter = 0
    prefix = seed.encode("utf-8") + b"\x00"
    while len(out) < length:
        out += hashlib.sha256(prefix + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def make_large_image(size_bytes: int, *, seed: str = "large-image", **ids: Any) -> bytes:
    """An image of exactly `size_bytes` bytes. `ids` are `build_image` keywords; manufacturer_code,
    image_type and file_version default to the emulated PPMID's (0x1234, 0x0101, 0x00000002)."""
    ids.setdefault("manufacturer_code", 0x1234)
    ids.setdefault("image_type", 0x0101)
    ids.setdefault("file_version", 0x00000002)
    overhead = expected_header_length(
        (FC_SECURITY_CREDENTIAL_VERSION if ids.get("security_credential_version") is not None else 0)
        | (FC_DEVICE_SPECIFIC_FILE if ids.get("upgrade_file_destination") is not None else 0)
        | (FC_HARDWARE_VERSIONS if ids.get("min_hw_version") is not None else 0)
    )
    if ids.get("format", FORMAT_ZIGBEE) == FORMAT_ZIGBEE:
        overhead += ELEMENT_HEADER_LENGTH
        overhead += sum(ELEMENT_HEADER_LENGTH + len(e[1] if isinstance(e, tuple) else e.data)
                        for e in ids.get("extra_elements", ()))
        if ids.get("integrity_code"):
            overhead += ELEMENT_HEADER_LENGTH + INTEGRITY_CODE_LENGTH
    elif ids.get("signature") is not None:
        overhead += SIGNATURE_BLOCK_LENGTH
    if size_bytes < overhead:
        raise ValueError(f"{size_bytes} bytes cannot hold the header and elements ({overhead} bytes)")
    image = build_image(payload(seed, size_bytes - overhead), **ids)
    if len(image) != size_bytes:  # the overhead arithmetic above must mirror build_image
        raise RuntimeError(f"built {len(image)} bytes, wanted {size_bytes}")
    return image
