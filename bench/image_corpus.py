"""Read every file under a folder with the rig and with zigpy; say where they differ.

    .venv/bin/python bench/image_corpus.py DIR              # one row per file, then the counts
    .venv/bin/python bench/image_corpus.py DIR --summary    # the counts only
    .venv/bin/python bench/image_corpus.py DIR --json       # one object per file + the counts

Meant for a corpus of real OTA files, e.g. the public Koenkk/zigbee-OTA repository (its images*/
folders), extracted outside this repository: no vendor file is ever committed here.

Per file: the rig's format, container, integrity code coverage, trailing bytes, verdict (ok, warn = read
with warnings, problems = read with defects the hub refuses, refused = not readable), what the hub does
with the file (its own reading path, `Inventory.read_image`: with default settings, and with the shipped
benches' `fatal_image_warnings: [integrity]`), every header field in which the rig and zigpy disagree
(and "bytes" when the image zigpy re-serializes differs from what the rig would serve), and how long each
took. The counts group every refusal and warning by its reason. Goal: every image zigpy reads is read by
the rig and stored by the hub, with no field in disagreement, and every refusal or warning names a real
defect of the file.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from zigpy.ota.image import HueSBLOTAImage, OTAImage, TelinkOTAImage, parse_ota_image

from rig.hub.config import HubConfig
from rig.hub.errors import ImageRejected
from rig.hub.inventory import Inventory
from rig.image import OtaImage, Problem, analyse
from rig.image.integrity import backend

HUBS = {"hub": HubConfig(), "hub_shipped": HubConfig(fatal_image_warnings=("integrity",))}


def zigpy_fields(image: Any) -> dict[str, Any]:
    h = image.header
    destination = h.upgrade_file_destination
    return {
        "header_version": int(h.header_version), "header_length": int(h.header_length),
        "field_control": int(h.field_control), "manufacturer_code": int(h.manufacturer_id),
        "image_type": int(h.image_type), "file_version": int(h.file_version), "stack_version": int(h.stack_version),
        "header_string": bytes(h.header_string), "total_image_size": int(h.image_size),
        "security_credential_version": None if h.security_credential_version is None
        else int(h.security_credential_version),
        "upgrade_file_destination": None if destination is None else str(destination).lower(),
        "min_hw_version": None if h.minimum_hardware_version is None else int(h.minimum_hardware_version),
        "max_hw_version": None if h.maximum_hardware_version is None else int(h.maximum_hardware_version),
    }


def rig_fields(image: OtaImage) -> dict[str, Any]:
    h = image.header
    return {
        "header_version": h.header_version, "header_length": h.header_length, "field_control": h.field_control,
        "manufacturer_code": h.manufacturer_code, "image_type": h.image_type, "file_version": h.file_version,
        "stack_version": h.stack_version, "header_string": h.header_string_bytes,
        "total_image_size": h.total_image_size, "security_credential_version": h.security_credential_version,
        "upgrade_file_destination": h.upgrade_file_destination, "min_hw_version": h.min_hw_version,
        "max_hw_version": h.max_hw_version,
    }


ZIGPY_FORMATS = {OTAImage: "zigbee", TelinkOTAImage: "telink", HueSBLOTAImage: "hue-sbl"}


def examine(path: Path, root: Path) -> dict[str, Any]:
    data = path.read_bytes()
    row: dict[str, Any] = {"file": str(path.relative_to(root)), "size": len(data)}
    start = time.perf_counter()
    try:
        image, findings = analyse(data)
    except Exception as exc:  # noqa: BLE001 - the point is to see anything that escapes
        image, findings = None, None
        row["escaped"] = f"{type(exc).__name__}: {exc}"
    row["rig_ms"] = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    try:
        theirs, rest = parse_ota_image(data)
        row["zigpy"] = ZIGPY_FORMATS.get(type(theirs), type(theirs).__name__)
    except Exception as exc:  # noqa: BLE001 - zigpy refuses with ValueError, KeyError, AssertionError...
        theirs, rest = None, b""
        row["zigpy"] = "refused"
        row["zigpy_error"] = f"{type(exc).__name__}: {str(exc)[:100]}"
    row["zigpy_ms"] = (time.perf_counter() - start) * 1000

    for name, config in HUBS.items():  # the CH's own reading of a file it is asked to store
        try:
            Inventory.read_image(data, config)
            row[name] = "stores"
        except ImageRejected as exc:
            row[name] = "refuses: " + (exc.problems[0] if getattr(exc, "problems", None) else str(exc))
    if image is None or findings is None or findings.fatal:
        row["verdict"] = "refused"
        problems = findings.all() if findings is not None else []
        row["why"] = problems[0].describe(row["file"]) if problems else row.get("escaped", "")
        row["reasons"] = [reason(p) for p in problems]
        return row
    row.update(format=image.format, container=image.container, coverage=image.integrity_coverage,
               trailing=len(image.trailing), warnings=sorted({w.kind for w in image.warnings}),
               binary_header_string=image.header.header_string_binary,
               warning_reasons=sorted({reason(w) for w in image.warnings}))
    row["verdict"] = "problems" if findings.all() else ("warn" if image.warnings else "ok")
    if findings.all():
        row["why"] = findings.all()[0].describe(row["file"])
    if theirs is not None:
        ours, zig = rig_fields(image), zigpy_fields(theirs)
        row["disagree"] = [k for k in ours if ours[k] != zig[k]]
        try:
            served = theirs.serialize()
        except Exception:  # noqa: BLE001 - zigpy cannot always re-serialize what it read
            served = None
        # zigpy grows an IKEA image over the container's trailing data; compare what both would serve.
        if served is not None and served != image.raw and not (image.container == "ikea" and served.startswith(image.raw)):
            row["disagree"].append("bytes")
    return row


def reason(problem: Problem) -> str:
    """A refusal's or warning's reason without this file's numbers, so that files can be counted by it."""
    if problem.kind == "trailing-bytes":
        looks = re.search(r"looks like: ([^)]*)\)", problem.message)
        return f"trailing bytes (looks like: {looks.group(1) if looks else '?'})"
    field = re.sub(r"\[\d+\]", "", problem.field)
    detail = problem.message or f"found {problem.found}, expected {problem.expected}"
    if problem.message == "reserved sub-element tag":
        detail += f" {problem.found}"
    detail = re.sub(r"(?<![0-9A-Za-z])\d+(?![0-9A-Za-z])", "N", detail)  # counts and offsets, not hex
    return f"{problem.kind + ': ' if problem.kind else ''}{field}: {detail}"


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    return dict(collections.Counter(v for r in rows for v in r.get(key) or []).most_common())


def counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    zigpy_reads = [r for r in rows if r["zigpy"] != "refused"]
    rig_reads = [r for r in rows if r["verdict"] != "refused"]
    return {
        "files": len(rows),
        "zigpy reads": len(zigpy_reads),
        "rig reads": len(rig_reads),
        "zigpy reads, rig refuses": len([r for r in zigpy_reads if r["verdict"] == "refused"]),
        "zigpy reads, rig finds problems the hub refuses": len([r for r in zigpy_reads if r["verdict"] == "problems"]),
        "rig reads, zigpy refuses": len([r for r in rig_reads if r["zigpy"] == "refused"]),
        "neither reads": len([r for r in rows if r["verdict"] == "refused" and r["zigpy"] == "refused"]),
        "hub stores (default settings)": len([r for r in rows if r["hub"] == "stores"]),
        "zigpy reads, hub refuses (default settings)": len([r for r in zigpy_reads if r["hub"] != "stores"]),
        "hub stores (shipped benches: integrity fatal)": len([r for r in rows if r["hub_shipped"] == "stores"]),
        "a field disagrees": len([r for r in rows if r.get("disagree")]),
        "escaped (not ImageError)": len([r for r in rows if "escaped" in r]),
        "verdicts": dict(collections.Counter(r["verdict"] for r in rows)),
        "formats": dict(collections.Counter(r["format"] for r in rig_reads)),
        "rig format / zigpy's reading": dict(collections.Counter(
            f"{r.get('format') or 'refused'} / {r['zigpy']}" for r in rows).most_common()),
        "containers": dict(collections.Counter(r["container"] for r in rig_reads if r["container"])),
        "integrity coverage": dict(collections.Counter(r["coverage"] for r in rig_reads if r["coverage"])),
        "trailing bytes": len([r for r in rig_reads if r["trailing"]]),
        "binary header strings": len([r for r in rig_reads if r["binary_header_string"]]),
        "files with warnings, by kind": dict(collections.Counter(k for r in rig_reads for k in r["warnings"])),
        "files with warnings, by reason": _by(rig_reads, "warning_reasons"),
        "refusals, by reason": dict(collections.Counter(  # the first problem; the others follow from it
            r["reasons"][0] if r["reasons"] else r.get("escaped", "?") for r in rows if r["verdict"] == "refused")),
        "rig reads, zigpy refuses: zigpy's reason (rig's format)": dict(collections.Counter(
            f"{r['zigpy_error'].split(' for ')[0][:60]} ({r['format']})" for r in rig_reads
            if r["zigpy"] == "refused").most_common()),
        "rig parse s (total)": round(sum(r["rig_ms"] for r in rows) / 1000, 2),
        "zigpy parse s (total)": round(sum(r["zigpy_ms"] for r in rows) / 1000, 2),
        "slowest rig parse ms": round(max((r["rig_ms"] for r in rows), default=0), 1),
        "aes-mmo backend": backend(),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'verdict':<9} {'format':<13} {'container':<10} {'coverage':<10} {'trail':>5} {'zigpy':<8} " \
           f"{'disagree':<10} {'rig ms':>7} {'zig ms':>7}  file"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['verdict']:<9} {r.get('format') or '-':<13} {r.get('container') or '-':<10} "
              f"{r.get('coverage') or '-':<10} {r.get('trailing', 0):>5} {r['zigpy']:<8} "
              f"{','.join(r.get('disagree') or []) or '-':<10} {r['rig_ms']:7.1f} {r['zigpy_ms']:7.1f}  {r['file']}")
        if r["verdict"] in ("refused", "problems") and r.get("why"):
            print(f"{'':<9} {r['why'][:200]}")
        for text in r.get("warning_reasons") or []:
            print(f"{'':<9} warning: {text}")
        if r["hub_shipped"] != "stores" and r["verdict"] != "refused":
            print(f"{'':<9} hub (shipped benches) {r['hub_shipped'][:180]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder to read, recursively")
    parser.add_argument("--summary", action="store_true", help="print the counts only")
    parser.add_argument("--json", action="store_true", help="print the rows and the counts as JSON")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"image_corpus: {args.folder} is not a folder", file=sys.stderr)
        return 2
    logging.getLogger("rig.hub").setLevel(logging.ERROR)  # the hub logs each warning; the rows say them
    root = args.folder.resolve()
    files = sorted(Path(d) / f for d, _, names in os.walk(root) for f in names)
    rows = [examine(f, root) for f in files]
    summary = counts(rows)
    if args.json:
        print(json.dumps({"rows": rows, "counts": summary}, indent=1, default=str))
        return 0
    if not args.summary:
        print_table(rows)
        print()
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if isinstance(value, dict) and "reason" in key:
            print(f"{key}:")
            for text, n in value.items():
                print(f"  {n:>5}  {text}")
        else:
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
