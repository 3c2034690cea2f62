"""Zigbee OTA upgrade files: parse, build, validate; the body formats and vendor containers found in the field.

A leaf package: it imports nothing else from `rig`, so hub, emulator and tools can all use it.
"""

from __future__ import annotations

from rig.image.builder import build_image
from rig.image.elements import ElementTag, SubElement, tag_name
from rig.image.errors import ImageError, Problem
from rig.image.header import OtaHeader
from rig.image.integrity import AesMmo, aes_mmo_hash
from rig.image.model import (
    FORMAT_GB_BARE,
    FORMAT_HUE_SBL,
    FORMAT_TELINK,
    FORMAT_UNKNOWN_BODY,
    FORMAT_ZIGBEE,
    FORMATS,
    OtaImage,
)
from rig.image.validate import WARNING_KINDS, analyse, parse_image, validate_image

__all__ = [
    "FORMATS",
    "FORMAT_GB_BARE",
    "FORMAT_HUE_SBL",
    "FORMAT_TELINK",
    "FORMAT_UNKNOWN_BODY",
    "FORMAT_ZIGBEE",
    "WARNING_KINDS",
    "AesMmo",
    "ElementTag",
    "ImageError",
    "OtaHeader",
    "OtaImage",
    "Problem",
    "SubElement",
    "aes_mmo_hash",
    "analyse",
    "build_image",
    "parse_image",
    "tag_name",
    "validate_image",
]
