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
from rig.image.model import FORMAT_GB_BARE, FORMAT_ZIGBEE, OtaImage
from rig.image.validate import FORMAT_AUTO, analyse

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
        cmd.add_argument("--format", choices=[FORMAT_AUTO, FORMAT_ZIGBEE, FORMAT_GB_BARE], default=FORMAT_AUTO,
                         help="auto (default): a body that is a consistent sub-element chain is zigbee, "
                              "anything else gb-bare")
        if name == "inspect":
            cmd.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
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
            format=args.format, integrity_code=args.integrity, signature=signature)
    except ValueError as exc:
        return _fail("build", str(exc), EXIT_USAGE)
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        return _fail("build", f"cannot write {args.output}: {exc.strerror or exc}", EXIT_INVALID)
    image, _ = analyse(data, format=args.format)
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
        print(json.dumps(describe(image, str(args.file)) | {"problems": problems}, indent=2))
    else:
        print(_table(image, str(args.file)))
        for line in problems:
            print(f"problem: {line}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    data = _read(args.file, "verify")
    if data is None:
        return EXIT_USAGE
    image, findings = analyse(data, format=args.format)
    problems = findings.all()
    if problems:
        for problem in problems:
            print(problem.describe(str(args.file)))
        print(f"INVALID: {len(problems)} problem(s) in {args.file}")
        return EXIT_INVALID
    assert image is not None
    print(f"OK: {args.file} ({image.format}, {len(data)} bytes, manufacturer 0x{image.manufacturer_code:04X}, "
          f"image type 0x{image.image_type:04X}, version 0x{image.file_version:08X})")
    return EXIT_OK


def describe(image: OtaImage, file: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of a parsed image (what `rig image inspect --json` prints)."""
    h = image.header
    return {
        "file": file,
        "format": image.format,
        "size": len(image.raw),
        "sha256": image.sha256,
        "header_version": h.header_version,
        "header_length": h.header_length,
        "field_control": h.field_control,
        "manufacturer_code": h.manufacturer_code,
        "image_type": h.image_type,
        "file_version": h.file_version,
        "stack_version": h.stack_version,
        "header_string": h.header_string,
        "total_image_size": h.total_image_size,
        "security_credential_version": h.security_credential_version,
        "upgrade_file_destination": h.upgrade_file_destination,
        "min_hw_version": h.min_hw_version,
        "max_hw_version": h.max_hw_version,
        "elements": [{"tag": e.tag, "name": tag_name(e.tag), "length": len(e.data), "offset": e.offset}
                     for e in image.elements],
        "integrity_ok": image.integrity_ok,
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
    rows = [
        ("file", file),
        ("format", image.format),
        ("size", f"{len(image.raw)} bytes"),
        ("sha256", image.sha256),
        ("header version", f"0x{h.header_version:04X}"),
        ("header length", str(h.header_length)),
        ("field control", f"0x{h.field_control:04X}" + (f" ({', '.join(flags)})" if flags else "")),
        ("manufacturer code", f"0x{h.manufacturer_code:04X}"),
        ("image type", f"0x{h.image_type:04X}"),
        ("file version", f"0x{h.file_version:08X}"),
        ("stack version", opt(h.stack_version, 4, STACK_VERSIONS)),
        ("header string", repr(h.header_string)),
        ("total image size", str(h.total_image_size)),
        ("security credential", opt(h.security_credential_version, 2, SECURITY_CREDENTIAL_VERSIONS)),
        ("upgrade destination", opt(h.upgrade_file_destination)),
        ("min hw version", opt(h.min_hw_version, 4)),
        ("max hw version", opt(h.max_hw_version, 4)),
    ]
    if image.format == FORMAT_ZIGBEE:
        integrity = {None: "none", True: "ok", False: "MISMATCH"}[image.integrity_ok]
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
            lines.append(f"  0x{e.offset or 0:06X}  0x{e.tag:04X}  {tag_name(e.tag):<28}  {len(e.data)}")
    return "\n".join(lines)
