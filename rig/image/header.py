"""The Zigbee OTA file header (ZCL §11.4.2; layout in domain.md §2.1): model, reader, writer.

All multi-byte fields are little-endian. The header is 56 bytes plus optional fields selected by the
Field Control bits, in this order: security credential version (1), upgrade file destination (8),
minimum and maximum hardware version (2 + 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.image.errors import Findings, Problem

MAGIC = 0x0BEEF11E
HEADER_VERSION = 0x0100
FIXED_HEADER_LENGTH = 56
HEADER_STRING_LENGTH = 32

FC_SECURITY_CREDENTIAL_VERSION = 0x0001
FC_DEVICE_SPECIFIC_FILE = 0x0002
FC_HARDWARE_VERSIONS = 0x0004
_FC_KNOWN_BITS = FC_SECURITY_CREDENTIAL_VERSION | FC_DEVICE_SPECIFIC_FILE | FC_HARDWARE_VERSIONS

# Offsets of the fixed fields (domain.md §2.1).
OFF_MAGIC = 0
OFF_HEADER_VERSION = 4
OFF_HEADER_LENGTH = 6
OFF_FIELD_CONTROL = 8
OFF_MANUFACTURER = 10
OFF_IMAGE_TYPE = 12
OFF_FILE_VERSION = 14
OFF_STACK_VERSION = 18
OFF_HEADER_STRING = 20
OFF_TOTAL_IMAGE_SIZE = 52

SECURITY_CREDENTIAL_VERSIONS = {0x00: "SE 1.0", 0x01: "SE 1.1", 0x02: "SE 2.0", 0x03: "SE 1.2"}
STACK_VERSIONS = {0x0000: "ZigBee 2006", 0x0001: "ZigBee 2007", 0x0002: "ZigBee PRO", 0x0003: "ZigBee IP"}


def expected_header_length(field_control: int) -> int:
    """Header length implied by the Field Control bits: 56 (none) .. 69 (all)."""
    length = FIXED_HEADER_LENGTH
    if field_control & FC_SECURITY_CREDENTIAL_VERSION:
        length += 1
    if field_control & FC_DEVICE_SPECIFIC_FILE:
        length += 8
    if field_control & FC_HARDWARE_VERSIONS:
        length += 4
    return length


def eui64_to_str(raw: bytes) -> str:
    """8 little-endian bytes -> 'aa:bb:..' most significant byte first (zigpy's EUI64 notation)."""
    return ":".join(f"{b:02x}" for b in reversed(raw))


def eui64_from_str(text: str) -> bytes:
    """'aa:bb:cc:dd:ee:ff:00:11' or 'aabbccddeeff0011' (most significant first) -> 8 bytes in file order."""
    digits = text.replace(":", "").replace("-", "").strip()
    if len(digits) != 16:
        raise ValueError(f"upgrade_file_destination must be an EUI64 of 8 bytes, got {text!r}")
    try:
        value = bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"upgrade_file_destination is not hexadecimal: {text!r}") from None
    return value[::-1]


def _decode_header_string(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


def _escaped(raw: bytes) -> str:
    out = []
    for char in raw.decode("utf-8", errors="surrogateescape"):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape keeps its value)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif char == "\\":
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)


def encode_header_string(text: str | bytes) -> bytes:
    """The 32-byte field: UTF-8 text, or bytes as given (binary strings exist in the field), zero padded."""
    encoded = bytes(text) if isinstance(text, (bytes, bytearray)) else text.encode("utf-8")
    if len(encoded) > HEADER_STRING_LENGTH:
        raise ValueError(f"header_string is {len(encoded)} bytes; the header holds {HEADER_STRING_LENGTH}")
    return encoded.ljust(HEADER_STRING_LENGTH, b"\x00")


@dataclass
class OtaHeader:
    """Every field of the OTA header, as found in (or to be written to) the file."""

    header_version: int
    header_length: int
    field_control: int
    manufacturer_code: int
    image_type: int
    file_version: int
    stack_version: int
    header_string: str
    total_image_size: int
    security_credential_version: int | None = None
    upgrade_file_destination: str | None = None
    min_hw_version: int | None = None
    max_hw_version: int | None = None
    # The 32 bytes as read, kept so that a parsed header re-serializes byte-for-byte even when its
    # string is not NUL-padded UTF-8 (e.g. space padded, as in the DCC SR 11.4 sample).
    header_string_raw: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def header_string_bytes(self) -> bytes:
        """The 32 bytes of the header string as in the file (or as they would be written)."""
        return self.header_string_raw if self.header_string_raw is not None else encode_header_string(self.header_string)

    @property
    def header_string_binary(self) -> bool:
        """True when `header_string` (text up to the first zero byte) does not tell the whole field:
        non-zero bytes after the first zero, or bytes that are not UTF-8."""
        raw = self.header_string_bytes
        text, _, rest = raw.partition(b"\x00")
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return any(rest)

    @property
    def header_string_text(self) -> str:
        """The whole field as text, not cut at the first zero byte: `header_string` when that tells all;
        otherwise every byte up to the zero padding at the end, with NULs, control characters and bytes
        that are not UTF-8 written as \\xNN (and a backslash as \\\\), e.g. 'FW\\x00\\x01\\xfe'."""
        if not self.header_string_binary:
            return self.header_string
        return _escaped(self.header_string_bytes.rstrip(b"\x00"))

    @property
    def hardware_versions_present(self) -> bool:
        return bool(self.field_control & FC_HARDWARE_VERSIONS)

    def serialize(self) -> bytes:
        """The header bytes, optional fields written as selected by `field_control`."""
        if self.header_string_raw is not None and _decode_header_string(self.header_string_raw) == self.header_string:
            string = self.header_string_raw
        else:
            string = encode_header_string(self.header_string)
        out = bytearray()
        out += MAGIC.to_bytes(4, "little")
        out += _u(self.header_version, 2, "header_version")
        out += _u(self.header_length, 2, "header_length")
        out += _u(self.field_control, 2, "field_control")
        out += _u(self.manufacturer_code, 2, "manufacturer_code")
        out += _u(self.image_type, 2, "image_type")
        out += _u(self.file_version, 4, "file_version")
        out += _u(self.stack_version, 2, "stack_version")
        out += string
        out += _u(self.total_image_size, 4, "total_image_size")
        if self.field_control & FC_SECURITY_CREDENTIAL_VERSION:
            out += _u(_present(self.security_credential_version, "security_credential_version"), 1,
                      "security_credential_version")
        if self.field_control & FC_DEVICE_SPECIFIC_FILE:
            out += eui64_from_str(_present(self.upgrade_file_destination, "upgrade_file_destination"))
        if self.field_control & FC_HARDWARE_VERSIONS:
            out += _u(_present(self.min_hw_version, "min_hw_version"), 2, "min_hw_version")
            out += _u(_present(self.max_hw_version, "max_hw_version"), 2, "max_hw_version")
        return bytes(out)


def _present(value, name: str):
    if value is None:
        raise ValueError(f"{name} is selected by field_control but is None")
    return value


def _u(value: int, size: int, name: str) -> bytes:
    if not isinstance(value, int) or not 0 <= value < (1 << (8 * size)):
        raise ValueError(f"{name} must be an unsigned {8 * size}-bit integer, got {value!r}")
    return value.to_bytes(size, "little")


def _hex(value: int, size: int) -> str:
    return f"0x{value:0{2 * size}X}"


@dataclass
class HeaderReading:
    header: OtaHeader | None  # None when the header is too damaged or short to read
    body_start: int  # where the elements / manufacturer image begin (trusted length, see read_header)


def read_header(data: bytes, findings: Findings) -> HeaderReading:
    """Read the header, recording every defect in `findings`; never raises on bad bytes."""
    fixed = _read_fixed(data, findings)
    if fixed is None:
        return HeaderReading(None, len(data))
    field_control, header_length, wanted_length = fixed
    optional = _read_optional(data, field_control, findings)
    if optional is None:
        return HeaderReading(None, len(data))
    _check_optional(optional, wanted_length, findings)

    def u(offset: int, length: int) -> int:
        return int.from_bytes(data[offset : offset + length], "little")

    raw_string = data[OFF_HEADER_STRING : OFF_HEADER_STRING + HEADER_STRING_LENGTH]
    header = OtaHeader(
        header_version=u(OFF_HEADER_VERSION, 2),
        header_length=header_length,
        field_control=field_control,
        manufacturer_code=u(OFF_MANUFACTURER, 2),
        image_type=u(OFF_IMAGE_TYPE, 2),
        file_version=u(OFF_FILE_VERSION, 4),
        stack_version=u(OFF_STACK_VERSION, 2),
        header_string=_decode_header_string(raw_string),
        total_image_size=u(OFF_TOTAL_IMAGE_SIZE, 4),  # checked against the body by rig.image.validate
        security_credential_version=optional["security_credential_version"],  # type: ignore[arg-type]
        upgrade_file_destination=optional["upgrade_file_destination"],  # type: ignore[arg-type]
        min_hw_version=optional["min_hw_version"],  # type: ignore[arg-type]
        max_hw_version=optional["max_hw_version"],  # type: ignore[arg-type]
        header_string_raw=raw_string,
    )
    # A header_length that disagrees with field control was reported above; the fields are where
    # field control puts them, so the body starts right after them.
    return HeaderReading(header, wanted_length)


def _read_fixed(data: bytes, findings: Findings) -> tuple[int, int, int] | None:
    """Magic, header version, field control and header length: (field control, header length as stored,
    header length field control implies), or None when the file ends inside the fixed header."""
    size = len(data)

    def u(offset: int, length: int) -> int:
        return int.from_bytes(data[offset : offset + length], "little")

    if size >= 4 and u(OFF_MAGIC, 4) != MAGIC:
        findings.fatal.append(Problem(OFF_MAGIC, "file_identifier", _hex(u(0, 4), 4),
                                      "0x0BEEF11E (bytes 1E F1 EE 0B)", "not a Zigbee OTA upgrade file"))
    if size >= 6 and u(OFF_HEADER_VERSION, 2) != HEADER_VERSION:
        findings.content.append(Problem(OFF_HEADER_VERSION, "header_version", _hex(u(4, 2), 2), "0x0100"))
    if size < FIXED_HEADER_LENGTH:
        findings.fatal.append(Problem(size, "header", f"{size} bytes", f"at least {FIXED_HEADER_LENGTH} bytes",
                                      "file ends inside the fixed OTA header"))
        return None
    field_control = u(OFF_FIELD_CONTROL, 2)
    if field_control & ~_FC_KNOWN_BITS:
        findings.content.append(Problem(OFF_FIELD_CONTROL, "field_control", _hex(field_control, 2),
                                        "only bits 0-2 set", "reserved bits are set"))
    wanted_length = expected_header_length(field_control)
    header_length = u(OFF_HEADER_LENGTH, 2)
    if header_length != wanted_length:
        findings.fatal.append(Problem(
            OFF_HEADER_LENGTH, "header_length", str(header_length),
            f"{wanted_length} (56 + the optional fields selected by field control {_hex(field_control, 2)})"))
    return field_control, header_length, wanted_length


# Optional fields in file order: (field control bit, name, length, bit number).
_OPTIONAL_LAYOUT = (
    (FC_SECURITY_CREDENTIAL_VERSION, "security_credential_version", 1, 0),
    (FC_DEVICE_SPECIFIC_FILE, "upgrade_file_destination", 8, 1),
    (FC_HARDWARE_VERSIONS, "min_hw_version", 2, 2),
    (FC_HARDWARE_VERSIONS, "max_hw_version", 2, 2),
)


def _read_optional(data: bytes, field_control: int, findings: Findings) -> dict[str, int | str | None] | None:
    """The optional fields field control selects (which is also how zigpy reads them); None (and a fatal
    finding) when the file ends inside them."""
    offset, size = FIXED_HEADER_LENGTH, len(data)
    optional: dict[str, int | str | None] = {}
    for bit, name, length, bit_no in _OPTIONAL_LAYOUT:
        if not field_control & bit:
            optional[name] = None
            continue
        if offset + length > size:
            findings.fatal.append(Problem(offset, name, f"{max(size - offset, 0)} bytes left in the file",
                                          f"{length} bytes (field control bit {bit_no} is set)",
                                          "file ends inside the optional header fields"))
            return None
        chunk = data[offset : offset + length]
        optional[name] = eui64_to_str(chunk) if length == 8 else int.from_bytes(chunk, "little")
        offset += length
    return optional


def _check_optional(optional: dict[str, int | str | None], wanted_length: int, findings: Findings) -> None:
    scv = optional["security_credential_version"]
    if scv is not None and scv not in SECURITY_CREDENTIAL_VERSIONS:
        findings.content.append(Problem(FIXED_HEADER_LENGTH, "security_credential_version", _hex(scv, 1),
                                        "0x00..0x03 (SE 1.0, 1.1, 2.0, 1.2)"))
    hw_min, hw_max = optional["min_hw_version"], optional["max_hw_version"]
    if hw_min is not None and hw_max is not None and hw_min > hw_max:
        findings.content.append(Problem(wanted_length - 4, "min_hw_version", _hex(hw_min, 2),
                                        f"<= max_hw_version {_hex(hw_max, 2)}",
                                        "hardware version range is empty"))
