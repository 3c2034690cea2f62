"""Reading a whole OTA file: containers, format detection, structural and content checks, warnings.

`parse_image` raises nothing but `ImageError`, and `validate_image` never raises on any bytes at all:
every defect becomes a `Problem` with an offset, a field, what was found and what was expected.

What is read, in order:
1. A vendor container (IKEA, Legrand, Third Reality) is unwrapped; a file that starts with anything
   else but the OTA magic is refused, saying where the magic appears if it does (rig.image.containers).
2. The header. Offsets in problems are offsets in the OTA image (`OtaImage.offset` says where that
   starts in the file).
3. The body up to the declared Total Image Size. Bytes after it are a warning naming what they look
   like (rig.image.trailing); the image is exactly the declared bytes, as a device downloads it.
4. Format detection ("auto"): a consistent sub-element chain is "zigbee" (also when the file is merely
   truncated), a chain in Telink's layout "telink", a Hue SBL body "hue-sbl", a body ending in the GB
   `00 40` + 64-byte signature block "gb-bare", anything else "unknown-body" (opaque, still served).
   A Zigbee file whose chain is broken by a lying element length therefore reads as "unknown-body"
   under "auto"; callers that know what they expect (`rig image verify --format zigbee`) should say so,
   and then the broken chain is reported.
"""

from __future__ import annotations

from rig.image import bare, containers, trailing
from rig.image.elements import (
    ELEMENT_HEADER_LENGTH,
    EXPECTED_LENGTHS,
    SIGNATURE_TAGS,
    TELINK_TAG,
    ElementTag,
    ElementWalk,
    SubElement,
    is_known_tag,
    tag_name,
    walk_elements,
)
from rig.image.errors import Findings, ImageError, Problem
from rig.image.header import MAGIC, OFF_TOTAL_IMAGE_SIZE, read_header
from rig.image.integrity import INTEGRITY_CODE_LENGTH, AesMmo
from rig.image.model import (
    COVERAGE_NEITHER,
    COVERAGE_TO_ELEMENT,
    COVERAGE_TO_VALUE,
    FORMAT_GB_BARE,
    FORMAT_HUE_SBL,
    FORMAT_TELINK,
    FORMAT_UNKNOWN_BODY,
    FORMAT_ZIGBEE,
    FORMATS,
    OtaImage,
)

FORMAT_AUTO = "auto"
HUE_MANUFACTURER = 0x100B
HUE_SBL_MAGIC = b"\x2a\x00\x01"

# Warning kinds (Problem.kind), which a bench may make fatal (hub option `fatal_image_warnings`).
WARN_INTEGRITY = "integrity"
WARN_TRAILING = "trailing-bytes"
WARN_ELEMENTS = "elements"
WARNING_KINDS = (WARN_INTEGRITY, WARN_TRAILING, WARN_ELEMENTS)


def parse_image(data: bytes, *, source: str = "<bytes>", format: str = FORMAT_AUTO,
                signature: bool | None = None) -> OtaImage:
    """Parse an OTA file. `format`: "auto" (see the module docstring) or one of FORMATS.
    `signature` (gb-bare only): None = detect the trailing `00 40` + 64-byte block, True/False = it is /
    is not there.

    Raises ImageError listing every problem if the structure is broken; defects in a readable file
    (hardware range upside down, duplicate elements) do not raise, see `validate_image`, and neither
    do warnings (`OtaImage.warnings`).
    """
    image, findings = analyse(data, format=format, signature=signature)
    if findings.fatal or image is None:
        raise ImageError(findings.all(), source)
    return image


def validate_image(data: bytes, *, source: str = "<bytes>", format: str = FORMAT_AUTO,
                   signature: bool | None = None) -> list[Problem]:
    """Every problem found in `data` (warnings excluded), sorted by offset; empty when the file is valid.

    `source` is accepted for symmetry with `parse_image`; problems carry offsets, not file names.
    """
    del source
    return analyse(data, format=format, signature=signature)[1].all()


def analyse(data: bytes, *, format: str = FORMAT_AUTO, signature: bool | None = None
            ) -> tuple[OtaImage | None, Findings]:
    """The parsed image (None if even the header is unreadable) and every problem, split by severity."""
    if format != FORMAT_AUTO and format not in FORMATS:
        raise ValueError(f"format must be 'auto' or one of {', '.join(FORMATS)}; got {format!r}")
    data = bytes(data)
    findings = Findings()
    container, offset, inner = None, 0, data
    if len(data) >= 4 and not data.startswith(containers.MAGIC_BYTES):
        wrapped = containers.unwrap(data)
        if wrapped is None:
            findings.fatal.append(_not_an_ota_file(data))
            return None, findings
        container, offset, inner = wrapped.container, wrapped.offset, wrapped.data

    reading = read_header(inner, findings)
    header = reading.header
    if header is None:
        return None, findings

    start, size, total = reading.body_start, len(inner), header.total_image_size
    declared_end = total if total >= start else size  # the header's idea of the end, if a usable one
    end = min(declared_end, size)
    size_is_wrong = total != declared_end or total > size

    walk, telink_walk, end, size_is_wrong = _walk_body(inner, start, end, declared_end, format, size_is_wrong)
    _check_total_size(total, size, size_is_wrong, findings)

    chosen = format
    if format == FORMAT_AUTO:
        chosen = _detect(header.manufacturer_code, inner[start:end], walk, telink_walk, signature)
    if chosen == FORMAT_TELINK and telink_walk is None:
        telink_walk = walk_elements(inner, start, end, declared_end, telink=True)

    raw = inner[:end]
    after = inner[end:]
    common = dict(container=container, offset=offset, trailing=after, file_size=len(data),
                  warnings=findings.warnings)
    if after and not size_is_wrong:
        findings.warnings.append(Problem(
            end, "trailing bytes", f"{len(after)} bytes", f"the file to end at Total Image Size {total}",
            f"{len(after)} bytes after the declared end (looks like: {trailing.looks_like(raw, after)}); "
            f"the image served is the declared {total} bytes", WARN_TRAILING))

    if chosen in (FORMAT_ZIGBEE, FORMAT_TELINK):
        chain = walk if chosen == FORMAT_ZIGBEE else telink_walk
        assert chain is not None
        findings.fatal.extend(chain.problems)
        coverage = _check_elements(raw, chain, start, findings)
        ok = None if coverage is None else coverage != COVERAGE_NEITHER
        return OtaImage(header, chosen, chain.elements, inner[start:end], None, raw, ok, coverage, **common), findings

    if chosen == FORMAT_UNKNOWN_BODY:
        _note_broken_chain(walk, findings)
    manufacturer_image, sig = _bare_body(inner, start, end, chosen, signature, findings)
    return OtaImage(header, chosen, [], manufacturer_image, sig, raw, **common), findings


def _walk_body(inner: bytes, start: int, end: int, declared_end: int, format: str, size_is_wrong: bool):
    """The element chain (and the Telink-style one, when it may apply) over the body; when no chain tiles
    the declared body but one tiles the whole file, Total Image Size is the only lie: take the whole file.
    Returns (walk, telink walk or None, end, whether the size is wrong)."""
    walk = walk_elements(inner, start, end, declared_end)
    telink_walk = None
    if not walk.tiles and format in (FORMAT_AUTO, FORMAT_TELINK):
        telink_walk = walk_elements(inner, start, end, declared_end, telink=True)
    if not walk.tiles and end != len(inner) and format in (FORMAT_AUTO, FORMAT_ZIGBEE, FORMAT_TELINK):
        for telink in (False, True):
            whole = walk_elements(inner, start, len(inner), telink=telink)
            if whole.tiles and (not telink or _has_telink_element(whole)):
                return whole, (whole if telink else None), len(inner), True
    return walk, telink_walk, end, size_is_wrong


def _note_broken_chain(walk: ElementWalk, findings: Findings) -> None:
    """An opaque body that starts with whole Zigbee sub-elements and then stops being one (Datek's
    "combined" files: an UPGRADE_IMAGE element, then a second MCU's raw firmware inside Total Image Size).
    The rig serves it as it is, as a device that knows its layout takes it, but says where the chain
    breaks: zigpy refuses such a file, and a broken element length reads the same."""
    whole = walk.elements[:-1] if walk.last_is_partial else walk.elements
    if not whole or not walk.problems or whole[0].tag not in ElementTag._value2member_map_:
        return  # no standard element first: a body of its own kind (GB bare, vendor), nothing to say
    broken = walk.problems[0]
    names = ", ".join(f"{tag_name(e.tag)} ({len(e.data)} bytes)" for e in whole)
    findings.warnings.append(Problem(
        broken.offset, "elements", f"{len(whole)} sub-element(s): {names}; then {broken.field}: found {broken.found}",
        f"sub-elements up to Total Image Size ({broken.expected})",
        f"the body starts as sub-elements but is not one to its end ({broken.message}); read as an opaque "
        "body and served as it is", WARN_ELEMENTS))


def _check_total_size(total: int, size: int, size_is_wrong: bool, findings: Findings) -> None:
    if size_is_wrong and total > size:
        findings.fatal.append(Problem(OFF_TOTAL_IMAGE_SIZE, "total_image_size", str(total), f"{size} (the file length)",
                                      f"the file ends {total - size} bytes before its declared end: it is cut short"))
    elif size_is_wrong:
        findings.fatal.append(Problem(OFF_TOTAL_IMAGE_SIZE, "total_image_size", str(total), f"{size} (the file length)"))


def _bare_body(inner: bytes, start: int, end: int, chosen: str, signature: bool | None,
               findings: Findings) -> tuple[bytes, bytes | None]:
    """A body without elements: the manufacturer image and, in GB bare form, its signature block."""
    body = inner[start:end]
    manufacturer_image, sig = body, None
    if chosen == FORMAT_GB_BARE:
        if signature and not bare.has_signature_block(body):
            at = max(start, end - bare.SIGNATURE_BLOCK_LENGTH)
            findings.fatal.append(Problem(at, "signature", inner[at : at + 2].hex(" ") or "end of file",
                                          f"a {bare.SIGNATURE_BLOCK_LENGTH}-byte block starting 00 40 at the end of the image"))
        else:
            manufacturer_image, sig = bare.split_body(body, signature)
    if not manufacturer_image:
        findings.content.append(Problem(start, "manufacturer_image", "0 bytes", "at least 1 byte",
                                        "nothing follows the OTA header"))
    return manufacturer_image, sig


def _not_an_ota_file(data: bytes) -> Problem:
    at = containers.find_magic(data)
    if at is None:
        hint = "not a Zigbee OTA upgrade file (the OTA magic 1E F1 EE 0B appears nowhere in it)"
    else:
        hint = (f"not a Zigbee OTA upgrade file at offset 0, nor a known vendor container; the OTA magic "
                f"appears at offset {at} (0x{at:X}): an unknown container may wrap an image starting there")
    found = int.from_bytes(data[:4], "little")
    return Problem(0, "file_identifier", f"0x{found:08X}", f"0x{MAGIC:08X} (bytes 1E F1 EE 0B)", hint)


def _has_telink_element(walk: ElementWalk) -> bool:
    return any(e.tag == TELINK_TAG and e.tag_info is not None for e in walk.elements)


def _detect(manufacturer: int, body: bytes, walk: ElementWalk, telink_walk: ElementWalk | None,
            signature: bool | None) -> str:
    if walk.tiles or walk.cut_by_file_end:
        return FORMAT_ZIGBEE
    if telink_walk is not None and telink_walk.tiles and _has_telink_element(telink_walk):
        return FORMAT_TELINK
    if manufacturer == HUE_MANUFACTURER and body.startswith(HUE_SBL_MAGIC):
        return FORMAT_HUE_SBL
    if signature is not None or bare.has_signature_block(body):  # a caller naming a signature means GB
        return FORMAT_GB_BARE
    return FORMAT_UNKNOWN_BODY


def _check_elements(data: bytes, walk: ElementWalk, start: int, findings: Findings) -> str | None:
    """Content rules for the chain; returns the integrity code's coverage (None when there is no code)."""
    elements = walk.elements
    # The last element may be cut short by a broken chain; length rules apply to complete ones only.
    complete_ids = {id(e) for e in (elements[:-1] if walk.last_is_partial else elements)}
    seen: dict[int, SubElement] = {}
    for index, element in enumerate(elements):
        at = element.offset if element.offset is not None else start
        if element.tag in seen and element.tag in _AT_MOST_ONCE:
            # Lumi and UHome ship two UPGRADE_IMAGE elements (bootloader and application); devices take them.
            findings.warnings.append(Problem(at, f"element[{index}].tag", f"a second {tag_name(element.tag)}",
                                             "at most one element with this tag", "", WARN_ELEMENTS))
        seen.setdefault(element.tag, element)
        if not is_known_tag(element.tag):
            # Real devices take such files (Lumi, UHome: 0xCDEF): the device knows its own elements.
            findings.warnings.append(Problem(at, f"element[{index}].tag", f"0x{element.tag:04X}",
                                             "0x0000..0x0006 or 0xF000..0xFFFF", "reserved sub-element tag",
                                             WARN_ELEMENTS))
        wanted = EXPECTED_LENGTHS.get(element.tag)
        if wanted is not None and id(element) in complete_ids and len(element.data) != wanted:
            findings.content.append(Problem(at + 2, f"element[{index}].length ({tag_name(element.tag)})",
                                            str(len(element.data)), str(wanted)))

    has_payload = ElementTag.UPGRADE_IMAGE in seen or TELINK_TAG in seen
    if not has_payload and not walk.problems:  # a broken chain is reported already
        # Lumi ships its firmware in a manufacturer-specific element only; the device takes it.
        findings.warnings.append(Problem(start, "elements", "no UPGRADE_IMAGE element (tag 0x0000)",
                                         "exactly one UPGRADE_IMAGE element", "", WARN_ELEMENTS))

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
        return COVERAGE_NEITHER  # the length problem is reported above; there is no 16-byte code to compare
    to_element, to_value = integrity_codes(data, code.offset)
    if code.data == to_value:
        return COVERAGE_TO_VALUE
    if code.data == to_element:
        return COVERAGE_TO_ELEMENT
    value_at = code.offset + ELEMENT_HEADER_LENGTH
    findings.warnings.append(Problem(
        value_at, "image_integrity_code", code.data.hex(),
        f"{to_element.hex()} (AES-MMO of the first {code.offset} bytes, up to the element) or "
        f"{to_value.hex()} (of the first {value_at} bytes, up to its value)",
        "integrity code matches neither coverage", WARN_INTEGRITY))
    return COVERAGE_NEITHER


def integrity_codes(data: bytes, element_offset: int) -> tuple[bytes, bytes]:
    """AES-MMO of `data` up to an integrity element at `element_offset` and up to its value, in one pass."""
    hasher = AesMmo(data[:element_offset])
    to_element = hasher.copy().digest()
    hasher.update(data[element_offset : element_offset + ELEMENT_HEADER_LENGTH])
    return to_element, hasher.digest()


# One firmware, one integrity code, one signature and certificate per suite. Picture data and
# manufacturer-specific elements may repeat.
_AT_MOST_ONCE = frozenset(ElementTag) - {ElementTag.PICTURE_DATA}
