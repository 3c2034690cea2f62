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
    """Files as given; a folder gives its records, and a folder of run folders (runs/) every run's.
    A record reached twice (runs/latest is a link to a run folder) counts once."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(x for x in p.glob("*.json")) or sorted(
                x for x in p.glob("*/*.json") if not x.parent.is_symlink())
            if not found:
                raise RecordError(f"{p}: folder holds no *.json run records (nor do its run folders)")
        else:
            found = [p]
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                out.append(path)
    return out


def run(args: argparse.Namespace) -> int:
    try:
        paths = _expand(args.records)
        loaded = sorted(((load_record(p), p) for p in paths), key=lambda rp: rp[0].get("started_wall") or 0)
    except RecordError as exc:
        print(f"rig report: {exc}", file=sys.stderr)
        return 2
    records = [r for r, _ in loaded]
    folders = {p.parent.resolve() for p in paths}
    if args.output:
        directory = Path(args.output)
    elif len(args.records) == 1 and Path(args.records[0]).is_dir():
        directory = Path(args.records[0])  # `rig report runs/`: the merged report beside the run folders
    elif len(folders) == 1:
        directory = paths[0].parent
    else:
        print("rig report: the records come from several folders; say where the merged report goes with -o DIR",
              file=sys.stderr)
        return 2
    try:
        path = write_report(records, directory)
    except OSError as exc:
        print(f"rig report: cannot write {directory / REPORT_NAME}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    runs = {str((r.get("run") or {}).get("id") or p.parent) for r, p in loaded}
    plans = f"{len(records)} plan{'s' if len(records) != 1 else ''}"
    print(f"report: {path} ({plans}" + (f" from {len(runs)} runs)" if len(runs) > 1 else ")"))
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
