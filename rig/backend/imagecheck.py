"""What the back end needs to know about an OTA image before anything reaches the CH: manufacturer
code, image type, file version, SHA-256 and size, read with the project's parser `rig.image.parse_image`
(GB bare images included). A bad image becomes `ImageInvalid` with the parser's message (file, offset,
found, expected)."""

from __future__ import annotations

import dataclasses
import hashlib

from rig.image import ImageError, parse_image


class ImageInvalid(ValueError):
    """The image cannot be used; the message names the field/offset, what was found and expected."""


@dataclasses.dataclass(frozen=True)
class ImageFacts:
    manufacturer_code: int
    image_type: int
    file_version: int
    sha256: str  # of the whole file, lower-case hex
    size: int


def image_facts(data: bytes, source: str = "FirmwareImage") -> ImageFacts:
    try:
        img = parse_image(data, source=source)
    except ImageError as exc:
        raise ImageInvalid(str(exc)) from None
    return ImageFacts(int(img.manufacturer_code), int(img.image_type), int(img.file_version),
                      hashlib.sha256(data).hexdigest(), len(data))  # img.sha256 is of the declared image only
