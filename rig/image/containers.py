"""Vendor containers around an OTA file: recognise, unwrap, or say where the OTA image starts.

Some vendors ship the Zigbee OTA file inside a wrapper of their own; the device receives the image
inside (zigpy unwraps the same ones, zigpy/ota/image.py `parse_ota_image`):
* ikea          - "NGIS" + a 24-byte header whose u32 at 16 is the image offset and at 20 its size; a
                  signature of the container follows the image.
* legrand       - u32 (little-endian) size of the image, the image, then a 17-byte suffix (1 + 16 bytes).
* third-reality - a 152-byte header that starts with SHA-512 of everything after byte 64 and holds the
                  image length at 68.
Anything else that does not start with the OTA magic is not unwrapped: `find_magic` says where the magic
appears, so a user can tell an unknown container from a file that is no OTA image at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rig.image.header import MAGIC

MAGIC_BYTES = MAGIC.to_bytes(4, "little")

IKEA_MAGIC = b"NGIS"
IKEA_HEADER_LENGTH = 24
LEGRAND_PREFIX = 4
LEGRAND_SUFFIX = 17
THIRD_REALITY_HEADER = 152


@dataclass(frozen=True)
class Unwrapped:
    container: str  # "ikea" | "legrand" | "third-reality"
    offset: int  # where the OTA image starts in the file
    data: bytes  # the wrapped bytes, from the OTA magic to the end of what the container says is the image
    after: int  # bytes of the container after the image (signature, suffix)


def unwrap(data: bytes) -> Unwrapped | None:
    """The OTA image inside a known vendor container, or None when `data` is not one."""
    size = len(data)
    if size > LEGRAND_PREFIX + LEGRAND_SUFFIX and int.from_bytes(data[:4], "little") + 21 == size \
            and data[LEGRAND_PREFIX : LEGRAND_PREFIX + 4] == MAGIC_BYTES:
        return Unwrapped("legrand", LEGRAND_PREFIX, bytes(data[LEGRAND_PREFIX:-LEGRAND_SUFFIX]), LEGRAND_SUFFIX)
    if data.startswith(IKEA_MAGIC) and size > IKEA_HEADER_LENGTH:
        offset = int.from_bytes(data[16:20], "little")
        length = int.from_bytes(data[20:24], "little")
        if IKEA_HEADER_LENGTH <= offset and offset + length <= size and data[offset : offset + 4] == MAGIC_BYTES:
            return Unwrapped("ikea", offset, bytes(data[offset : offset + length]), size - offset - length)
    if size > THIRD_REALITY_HEADER and int.from_bytes(data[68:72], "little") + 64 == size \
            and data[THIRD_REALITY_HEADER : THIRD_REALITY_HEADER + 4] == MAGIC_BYTES \
            and data.startswith(hashlib.sha512(data[64:]).digest()):
        return Unwrapped("third-reality", THIRD_REALITY_HEADER, bytes(data[THIRD_REALITY_HEADER:]), 0)
    return None


def find_magic(data: bytes, start: int = 1) -> int | None:
    """Offset of the first OTA magic (1E F1 EE 0B) at or after `start`, or None."""
    at = data.find(MAGIC_BYTES, start)
    return None if at < 0 else at
