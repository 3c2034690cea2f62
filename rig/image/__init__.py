"""Zigbee OTA upgrade files: parse, build, validate; Zigbee TLV form and GB "bare" form.

A leaf package: it imports nothing else from `rig`, so hub, emulator and tools can all use it.
"""

from __future__ import annotations

from rig.image.builder import build_image
from rig.image.elements import ElementTag, SubElement, tag_name
from rig.image.errors import ImageError, Problem
from rig.image.header import OtaHeader
from rig.image.integrity import aes_mmo_hash
from rig.image.model import FORMAT_GB_BARE, FORMAT_ZIGBEE, OtaImage
from rig.image.validate import parse_image, validate_image

__all__ = [
    "FORMAT_GB_BARE",
    "FORMAT_ZIGBEE",
    "ElementTag",
    "ImageError",
    "OtaHeader",
    "OtaImage",
    "Problem",
    "SubElement",
    "aes_mmo_hash",
    "build_image",
    "parse_image",
    "tag_name",
    "validate_image",
]
