"""`rig image build | inspect | verify`: make, look into and check OTA upgrade files."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from rig.image.builder import build_image
from rig.image.elements import tag_name
from rig.image.errors import ImageError
from rig.image.header import SECURITY_CREDENTIAL_VERSIONS, STACK_VERSIONS
from rig.image.model import FORMAT_GB_BARE, FORMAT_ZIGBEE, FORMATS, TLV_FORMATS, OtaImage
from rig.image.trailing import looks_like
from rig.image.validate import FORMAT_AUTO, WARNING_KINDS, analyse

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    image = subparsers.add_parser(
        "image", help="build, inspect and verify Zigbee OTA upgrade files",
        description="Zigbee OTA upgrade files (ZCL 11.4) in the Zigbee TLV form or the GB bare form "
                    "(header + manufacturer image, as carried by DUIS SR 11.1 / 11.4).")
    sub = image.add_subparsers(dest="image_command", metavar="ACTION")
    image.set_defaults(func=lambda args: (image.print_help(), EXIT_USAGE)[1])

    build = sub.add_parser(
        "build", help="wrap a raw firmware file in an OTA header",
        description="Wrap a raw firmware file in an OTA header. zigbee: header + Upgrade Image element "
                    "(+ Image Integrity Code with --integrity). gb-bare: header + firmware bytes. "
                    "Sizes, header length and field control are computed.")
    build.add_argument("--firmware", required=True, type=Path, metavar="RAW", help="raw firmware bytes to wrap")
    build.add_argument("--manufacturer", required=True, type=_uint(16), help="manufacturer code, e.g. 0x1234")
    build.add_argument("--image-type", required=True, type=_uint(16), help="image type, e.g. 0x0101")
    build.add_argument("--version", dest="file_version", required=True, type=_uint(32),
                       help="file version, e.g. 0x00000002")
    build.add_argument("--header-string", default="", help="free text, at most 32 bytes of UTF-8")
    build.add_argument("--stack-version", type=_uint(16), default=2, help="Zigbee stack version (default 0x0002 PRO)")
    build.add_argument("--hw-min", type=_uint(16), help="minimum hardware version (give with --hw-max)")
    build.add_argument("--hw-max", type=_uint(16), help="maximum hardware version (give with --hw-min)")
    build.add_argument("--security-credential-version", type=_uint(8), help="0x00 SE1.0 .. 0x03 SE1.2")
    build.add_argument("--destination", help="upgrade file destination EUI64 (device-specific file)")
    build.add_argument("--format", choices=[FORMAT_ZIGBEE, FORMAT_GB_BARE], default=FORMAT_ZIGBEE,
                       help="zigbee (TLV sub-elements, default) or gb-bare (header + firmware)")
    build.add_argument("--integrity", action="store_true", help="append an Image Integrity Code (AES-MMO), zigbee only")
    build.add_argument("--integrity-coverage", choices=["to-value", "to-element"], default="to-value",
                       help="what the integrity code hashes: the file up to its value (tag and length included, "
                            "default) or up to the element (tag and length excluded, as Ubisys, Innr, Bosch)")
    build.add_argument("--signature", type=Path, metavar="FILE",
                       help="gb-bare only: 64 bytes appended as the trailing 00 40 + signature block")
    build.add_argument("-o", "--output", required=True, type=Path, metavar="OUT", help="file to write")
    build.set_defaults(func=_build)

    for name, func, text in (
        ("inspect", _inspect, "show every header field and element of an OTA file "
                              "(exit 1 if it cannot be read as one; other defects are listed as problems)"),
        ("verify", _verify, "check an OTA file; exit 0 and print OK if valid, else exit 1 listing every problem"),
    ):
        cmd = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ". "
                             "Problems are given with the byte offset and field where they occur.")
        cmd.add_argument("file", type=Path, metavar="FILE", help="OTA file to read")
        cmd.add_argument("--format", choices=[FORMAT_AUTO, *FORMATS], default=FORMAT_AUTO,
                         help="auto (default): a consistent sub-element chain is zigbee, one in Telink's layout "
                              "telink, a Hue SBL body hue-sbl, a body ending in the GB 00 40 + 64-byte signature "
                              "gb-bare, anything else unknown-body (an unsigned GB image: say --format gb-bare)")
        if name == "inspect":
            cmd.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
        else:
            cmd.add_argument("--strict", metavar="KINDS",
                             help="make warnings fatal: 'all', or a comma-separated list of kinds "
                                  f"({', '.join(WARNING_KINDS)})")
        cmd.set_defaults(func=func)


def _uint(bits: int):
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r} (use decimal or 0x hex)") from None
        if not 0 <= value < (1 << bits):
            raise argparse.ArgumentTypeError(f"{text} does not fit in {bits} bits")
        return value
    parse.__name__ = f"uint{bits}"
    return parse


def _fail(command: str, message: str, code: int) -> int:
    print(f"rig image {command}: error: {message}", file=sys.stderr)
    return code


def _read(path: Path, command: str) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(command, f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
        return None


def _build(args: argparse.Namespace) -> int:
    firmware = _read(args.firmware, "build")
    if firmware is None:
        return EXIT_USAGE
    signature = None
    if args.signature is not None:
        signature = _read(args.signature, "build")
        if signature is None:
            return EXIT_USAGE
    try:
        data = build_image(
            firmware, manufacturer_code=args.manufacturer, image_type=args.image_type,
            file_version=args.file_version, header_string=args.header_string, stack_version=args.stack_version,
            security_credential_version=args.security_credential_version,
            upgrade_file_destination=args.destination, min_hw_version=args.hw_min, max_hw_version=args.hw_max,
            format=args.format, integrity_code=args.integrity, signature=signature,
            integrity_coverage=args.integrity_coverage)
    except ValueError as exc:
        return _fail("build", str(exc), EXIT_USAGE)
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        return _fail("build", f"cannot write {args.output}: {exc.strerror or exc}", EXIT_INVALID)
    image, _ = analyse(data, format=args.format, signature=args.signature is not None)
    assert image is not None
    print(f"wrote {args.output}: {args.format}, {len(data)} bytes, sha256 {image.sha256}")
    return EXIT_OK


def _inspect(args: argparse.Namespace) -> int:
    data = _read(args.file, "inspect")
    if data is None:
        return EXIT_USAGE
    image, findings = analyse(data, format=args.format)
    if image is None or findings.fatal:
        print(str(ImageError(findings.all(), str(args.file))), file=sys.stderr)
        return EXIT_INVALID
    problems = [p.describe(str(args.file)) for p in findings.all()]
    if args.json:
        whole = {"file_sha256": hashlib.sha256(data).hexdigest()}  # "sha256" is of the declared image
        print(json.dumps(describe(image, str(args.file)) | whole | {"problems": problems}, indent=2))
    else:
        print(_table(image, str(args.file)))
        for line in problems:
            print(f"problem: {line}")
        for warning in image.warnings:
            print(f"warning: {warning.describe(str(args.file))}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    data = _read(args.file, "verify")
    if data is None:
        return EXIT_USAGE
    image, findings = analyse(data, format=args.format)
    strict = _strict_kinds(args.strict)
    if strict is None:
        return _fail("verify", f"--strict takes 'all' or kinds from {', '.join(WARNING_KINDS)}; got {args.strict!r}",
                     EXIT_USAGE)
    fatal_warnings = [w for w in findings.warnings if w.kind in strict]
    problems = sorted(findings.all() + fatal_warnings, key=lambda p: p.offset)
    for problem in problems:
        print(problem.describe(str(args.file)))
    for warning in findings.warnings:
        if warning not in fatal_warnings:
            print(f"warning: {warning.describe(str(args.file))}")
    if problems:
        print(f"INVALID: {len(problems)} problem(s) in {args.file}")
        return EXIT_INVALID
    assert image is not None
    where = f", {image.container} container, image at offset {image.offset}" if image.container else ""
    print(f"OK: {args.file} ({image.format}{where}, {len(image.raw)} bytes, manufacturer 0x{image.manufacturer_code:04X}, "
          f"image type 0x{image.image_type:04X}, version 0x{image.file_version:08X})")
    return EXIT_OK


def _strict_kinds(text: str | None) -> set[str] | None:
    """The warning kinds --strict makes fatal; None if `text` names an unknown kind."""
    if text is None:
        return set()
    if text == "all":
        return set(WARNING_KINDS)
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    return kinds if kinds and kinds <= set(WARNING_KINDS) else None


def describe(image: OtaImage, file: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of a parsed image (what `rig image inspect --json` prints)."""
    h = image.header
    return {
        "file": file,
        "format": image.format,
        "container": image.container,
        "offset": image.offset,
        "file_size": image.file_size,
        "size": len(image.raw),
        "sha256": image.sha256,
        "trailing_bytes": len(image.trailing),
        "trailing_looks_like": looks_like(image.raw, image.trailing) if image.trailing else None,
        "header_version": h.header_version,
        "header_length": h.header_length,
        "field_control": h.field_control,
        "manufacturer_code": h.manufacturer_code,
        "image_type": h.image_type,
        "file_version": h.file_version,
        "stack_version": h.stack_version,
        "header_string": h.header_string_text,  # the whole field as text (binary bytes as \xNN), not cut at a zero
        "header_string_hex": h.header_string_bytes.hex(),  # all 32 bytes as in the file
        "header_string_binary": h.header_string_binary,
        "total_image_size": h.total_image_size,
        "security_credential_version": h.security_credential_version,
        "upgrade_file_destination": h.upgrade_file_destination,
        "min_hw_version": h.min_hw_version,
        "max_hw_version": h.max_hw_version,
        "elements": [{"tag": e.tag, "name": tag_name(e.tag), "length": len(e.data), "offset": e.offset}
                     | ({"tag_info": e.tag_info} if e.tag_info is not None else {})
                     for e in image.elements],
        "integrity_ok": image.integrity_ok,
        "integrity_coverage": image.integrity_coverage,
        "warnings": [{"kind": w.kind, "offset": w.offset, "field": w.field, "found": w.found,
                      "expected": w.expected, "message": w.message} for w in image.warnings],
        "firmware_length": len(image.firmware),
        "firmware_sha256": hashlib.sha256(image.firmware).hexdigest(),
        "signature_length": None if image.signature is None else len(image.signature),
    }


def _table(image: OtaImage, file: str) -> str:
    h = image.header

    def opt(value: int | str | None, width: int = 0, names: dict[int, str] | None = None) -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            return value
        text = f"0x{value:0{width}X}"
        return f"{text} ({names[value]})" if names and value in names else text

    flags = [name for bit, name in ((1, "security credential version"), (2, "device specific file"),
                                    (4, "hardware versions")) if h.field_control & bit]
    string = repr(h.header_string)
    if h.header_string_binary:  # the whole field, not cut at its first zero byte, and the raw bytes
        string = f"'{h.header_string_text}'"
        string += f" (binary; bytes: {h.header_string_bytes.hex(' ')})"
    rows = [
        ("file", file),
        ("format", image.format),
        ("container", f"{image.container} (image at offset {image.offset})" if image.container else "-"),
        ("size", f"{len(image.raw)} bytes"),
        ("trailing bytes", f"{len(image.trailing)} (looks like: {looks_like(image.raw, image.trailing)}; not served)"
                           if image.trailing else "-"),
        ("sha256", image.sha256),
        ("header version", f"0x{h.header_version:04X}"),
        ("header length", str(h.header_length)),
        ("field control", f"0x{h.field_control:04X}" + (f" ({', '.join(flags)})" if flags else "")),
        ("manufacturer code", f"0x{h.manufacturer_code:04X}"),
        ("image type", f"0x{h.image_type:04X}"),
        ("file version", f"0x{h.file_version:08X}"),
        ("stack version", opt(h.stack_version, 4, STACK_VERSIONS)),
        ("header string", string),
        ("total image size", str(h.total_image_size)),
        ("security credential", opt(h.security_credential_version, 2, SECURITY_CREDENTIAL_VERSIONS)),
        ("upgrade destination", opt(h.upgrade_file_destination)),
        ("min hw version", opt(h.min_hw_version, 4)),
        ("max hw version", opt(h.max_hw_version, 4)),
    ]
    if image.format in TLV_FORMATS:
        coverage = image.integrity_coverage
        integrity = {None: "none", "to-value": "ok (hash up to its value)",
                     "to-element": "ok (hash up to the element, tag and length excluded)",
                     "neither": "matches neither coverage"}[coverage]
        rows.append(("integrity code", integrity))
    else:
        rows.append(("manufacturer image", f"{len(image.body)} bytes"))
        rows.append(("signature", "-" if image.signature is None else f"{len(image.signature)} bytes"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    if image.elements:
        lines.append("elements:")
        lines.append(f"  {'offset':<8}  {'tag':<6}  {'name':<28}  length")
        for e in image.elements:
            info = "" if e.tag_info is None else f"  (tag info 0x{e.tag_info:04X})"
            lines.append(f"  0x{e.offset or 0:06X}  0x{e.tag:04X}  {tag_name(e.tag):<28}  {len(e.data)}{info}")
    return "\n".join(lines)
