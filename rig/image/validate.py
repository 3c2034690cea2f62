"""Reading a whole OTA file: format detection, structural and content checks, `parse_image`, `validate_image`.

Bad bytes never raise anything but `ImageError` from `parse_image`, and `validate_image` never raises
on any bytes at all: every defect becomes a `Problem` with an offset, a field, what was found and what
was expected.

Format detection ("auto") is a heuristic, because the GB bare body is opaque bytes: a body that is a
consistent sub-element chain is "zigbee" (also when the file is merely truncated), anything else
"gb-bare". So a Zigbee file whose chain is broken by a lying element length reads as a valid GB bare
image under "auto"; callers that know what they expect (the CH ingesting a rig-built image, `rig image
verify --format zigbee`) should say so, and then the broken chain is reported.
"""

from __future__ import annotations

from rig.image import bare
from rig.image.elements import (
    EXPECTED_LENGTHS,
    SIGNATURE_TAGS,
    ElementTag,
    ElementWalk,
    SubElement,
    is_known_tag,
    tag_name,
    walk_elements,
)
from rig.image.errors import Findings, ImageError, Problem
from rig.image.header import read_header
from rig.image.integrity import INTEGRITY_CODE_LENGTH, aes_mmo_hash
from rig.image.model import FORMAT_GB_BARE, FORMAT_ZIGBEE, FORMATS, OtaImage

FORMAT_AUTO = "auto"


def parse_image(data: bytes, *, source: str = "<bytes>", format: str = FORMAT_AUTO,
                signature: bool | None = None) -> OtaImage:
    """Parse an OTA file. `format`: "auto" (a body that is a consistent TLV chain is "zigbee",
    anything else "gb-bare"), "zigbee" or "gb-bare". `signature` (gb-bare only): None = detect the
    trailing `00 40` + 64-byte block, True/False = it is / is not there.

    Raises ImageError listing every problem if the structure is broken; defects in a readable file
    (integrity mismatch, hardware range upside down, duplicate elements) do not raise, see
    `validate_image` and `OtaImage.integrity_ok`.
    """
    image, findings = analyse(data, format=format, signature=signature)
    if findings.fatal or image is None:
        raise ImageError(findings.all(), source)
    return image


def validate_image(data: bytes, *, source: str = "<bytes>", format: str = FORMAT_AUTO,
                   signature: bool | None = None) -> list[Problem]:
    """Every problem found in `data`, sorted by offset; empty when the file is valid.

    `source` is accepted for symmetry with `parse_image`; problems carry offsets, not file names.
    """
    del source
    return analyse(data, format=format, signature=signature)[1].all()


def analyse(data: bytes, *, format: str = FORMAT_AUTO, signature: bool | None = None
            ) -> tuple[OtaImage | None, Findings]:
    """The parsed image (None if even the header is unreadable) and every problem, split by severity."""
    if format != FORMAT_AUTO and format not in FORMATS:
        raise ValueError(f"format must be 'auto', 'zigbee' or 'gb-bare', got {format!r}")
    data = bytes(data)
    findings = Findings()
    reading = read_header(data, findings)
    header = reading.header
    if header is None:
        return None, findings

    start, size, total = reading.body_start, len(data), header.total_image_size
    # The header's own idea of where the file ends, if it is a usable one.
    declared_end = total if total >= start else size
    end = min(declared_end, size)
    walk = walk_elements(data, start, end, declared_end)
    if not walk.tiles and end != size:
        # Total Image Size may be the only lie (reported already): try the real file end too.
        whole = walk_elements(data, start, size)
        if whole.tiles:
            walk, end = whole, size

    chosen = format
    if format == FORMAT_AUTO:
        chosen = FORMAT_ZIGBEE if (walk.tiles or walk.cut_by_file_end) else FORMAT_GB_BARE

    if chosen == FORMAT_ZIGBEE:
        findings.fatal.extend(walk.problems)
        integrity_ok = _check_elements(data, walk, start, findings)
        image = OtaImage(header, FORMAT_ZIGBEE, walk.elements, data[start:end], None, data, integrity_ok)
        return image, findings

    body = data[start:end]
    if signature and not bare.has_signature_block(body):
        at = max(start, end - bare.SIGNATURE_BLOCK_LENGTH)
        findings.fatal.append(Problem(at, "signature", data[at : at + 2].hex(" ") or "end of file",
                                      f"a {bare.SIGNATURE_BLOCK_LENGTH}-byte block starting 00 40 at the end of the image"))
        manufacturer_image, sig = body, None
    else:
        manufacturer_image, sig = bare.split_body(body, signature)
    if not manufacturer_image:
        findings.content.append(Problem(start, "manufacturer_image", "0 bytes", "at least 1 byte",
                                        "nothing follows the OTA header"))
    return OtaImage(header, FORMAT_GB_BARE, [], manufacturer_image, sig, data), findings


def _check_elements(data: bytes, walk: ElementWalk, start: int, findings: Findings) -> bool | None:
    """Content rules for the TLV chain; returns integrity_ok (None when there is no integrity code)."""
    elements = walk.elements
    # The last element may be cut short by a broken chain; length rules apply to complete ones only.
    complete_ids = {id(e) for e in (elements[:-1] if walk.last_is_partial else elements)}
    seen: dict[int, SubElement] = {}
    for index, element in enumerate(elements):
        at = element.offset if element.offset is not None else start
        if element.tag in seen and element.tag in _AT_MOST_ONCE:
            findings.content.append(Problem(at, f"element[{index}].tag", f"a second {tag_name(element.tag)}",
                                            "at most one element with this tag"))
        seen.setdefault(element.tag, element)
        if not is_known_tag(element.tag):
            findings.content.append(Problem(at, f"element[{index}].tag", f"0x{element.tag:04X}",
                                            "0x0000..0x0006 or 0xF000..0xFFFF", "reserved sub-element tag"))
        wanted = EXPECTED_LENGTHS.get(element.tag)
        if wanted is not None and id(element) in complete_ids and len(element.data) != wanted:
            findings.content.append(Problem(at + 2, f"element[{index}].length ({tag_name(element.tag)})",
                                            str(len(element.data)), str(wanted)))

    if ElementTag.UPGRADE_IMAGE not in seen and not walk.problems:  # a broken chain is reported already
        findings.content.append(Problem(start, "elements", "no UPGRADE_IMAGE element (tag 0x0000)",
                                        "exactly one UPGRADE_IMAGE element"))

    last = elements[-1] if elements else None
    for tag in (ElementTag.IMAGE_INTEGRITY_CODE, *SIGNATURE_TAGS):
        element = seen.get(tag)
        if element is not None and element is not last:
            findings.content.append(Problem(element.offset or start, "elements", f"{tag_name(tag)} before other elements",
                                            f"{tag_name(tag)} as the last element",
                                            "it covers every byte before it"))
    if ElementTag.IMAGE_INTEGRITY_CODE in seen and any(t in seen for t in SIGNATURE_TAGS):
        findings.content.append(Problem(seen[ElementTag.IMAGE_INTEGRITY_CODE].offset or start, "elements",
                                        "both an IMAGE_INTEGRITY_CODE and an ECDSA signature",
                                        "one or the other"))

    code = seen.get(ElementTag.IMAGE_INTEGRITY_CODE)
    if code is None:
        return None
    if id(code) not in complete_ids or len(code.data) != INTEGRITY_CODE_LENGTH or code.offset is None:
        return False
    hashed_until = code.offset + 6  # the hash covers the file up to its own value
    computed = aes_mmo_hash(data[:hashed_until])
    if computed != code.data:
        findings.content.append(Problem(hashed_until, "image_integrity_code", code.data.hex(),
                                        f"{computed.hex()} (AES-MMO of the first {hashed_until} bytes)",
                                        "image integrity code does not match the file"))
        return False
    return True


# One firmware, one integrity code, one signature and certificate per suite. Picture data and
# manufacturer-specific elements may repeat.
_AT_MOST_ONCE = frozenset(ElementTag) - {ElementTag.PICTURE_DATA}
