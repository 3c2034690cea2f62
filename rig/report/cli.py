"""`rig report RECORD.json [RECORD2.json ...] [-o DIR]`: regenerate the HTML report from run records."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rig.report.html import REPORT_NAME, write_report


class RecordError(Exception):
    pass


def load_record(path: Path) -> dict[str, Any]:
    """One JSON run record; RecordError naming the file and what is wrong otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise RecordError(f"{path}: not UTF-8 text (byte {exc.start}); expected a JSON run record") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
                          "expected a run record written by `rig run`") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: found a JSON {type(data).__name__}, expected an object (a run record)")
    if not isinstance(data.get("plan"), dict) or "verdict" not in data:
        raise RecordError(f"{path}: no 'plan' object or 'verdict' field; expected a run record "
                          "(RunRecord.to_json(), record_version 1)")
    version = data.get("record_version", 1)
    if version != 1:
        raise RecordError(f"{path}: record_version {version!r}, this rig reads record_version 1")
    return data


def _expand(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(x for x in p.glob("*.json"))
            if not found:
                raise RecordError(f"{p}: directory holds no *.json run records")
            out.extend(found)
        else:
            out.append(p)
    return out


def run(args: argparse.Namespace) -> int:
    try:
        paths = _expand(args.records)
        records = [load_record(p) for p in paths]
    except RecordError as exc:
        print(f"rig report: {exc}", file=sys.stderr)
        return 2
    directory = Path(args.output) if args.output else paths[0].parent
    try:
        path = write_report(records, directory)
    except OSError as exc:
        print(f"rig report: cannot write {directory / REPORT_NAME}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"report: {path} ({len(records)} plan{'s' if len(records) != 1 else ''})")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="regenerate the HTML report from JSON run records",
        description="Write a self-contained HTML report (timeline and sequence pictures inline, no network) "
                    "from one or more JSON run records, or directories of them.")
    parser.add_argument("records", nargs="+", metavar="RECORD.json", help="run record file(s) or directories")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help=f"where to write {REPORT_NAME} (default: the first record's directory)")
    parser.set_defaults(func=run)
