"""Where a run's records go: every run its own folder, so nothing one run writes is overwritten by another.

    runs/20261204-191502-3fa9c1/   one folder per run: time + a short random id (two runs started in
                                   the same second still get two folders)
    runs/latest -> 20261204-...    the newest run

A report folder (`--report DIR`) may be shared by several runs: each record keeps its own file (a second
run of the same plan gets `<plan>.<run id>.json`), and the report there is rebuilt from every record in the
folder under a file lock, so two runs into one folder give one report listing both.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterator

DEFAULT_BASE = Path("runs")
LATEST = "latest"


def new_run_id(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def run_folder(run_id: str, base: Path = DEFAULT_BASE) -> Path:
    """Create (if needed) the folder of this run and point `base/latest` at it (call once per run)."""
    folder = base / run_id
    folder.mkdir(parents=True, exist_ok=True)
    point_latest(base, run_id)
    return folder


def point_latest(base: Path, run_id: str) -> None:
    """Replace the `latest` link atomically (a second run never sees it missing)."""
    link = base / LATEST
    tmp = base / f".{LATEST}.{run_id}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        tmp.symlink_to(run_id, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:  # a file system without symlinks: a text file naming the run instead
        with contextlib.suppress(OSError):
            tmp.unlink()
        with contextlib.suppress(OSError):
            (base / f"{LATEST}.txt").write_text(run_id + "\n", encoding="utf-8")


@contextlib.contextmanager
def folder_lock(directory: Path) -> Iterator[None]:
    """Serialise writers of one report folder (two `rig run --report DIR` at once)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".rig-lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_path(directory: Path, plan_id: str, run_id: str) -> Path:
    """`<plan>.json`, unless another run's record of that plan is already there."""
    path = directory / f"{plan_id}.json"
    if not path.exists() or _run_of(path) in (run_id, None):
        return path
    return directory / f"{plan_id}.{run_id}.json"


def _run_of(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run = data.get("run") if isinstance(data, dict) else None
    return run.get("id") if isinstance(run, dict) else None


def write_record(directory: Path, record: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    plan_id = str(record["plan"]["id"])
    run_id = str((record.get("run") or {}).get("id") or "")
    path = record_path(directory, plan_id, run_id) if run_id else directory / f"{plan_id}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a record
    return path


def records_in(directory: Path) -> list[dict[str, Any]]:
    """Every readable run record in a folder, oldest first (files that are not records are passed over)."""
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("plan"), dict) and "verdict" in data:
            out.append(data)
    return sorted(out, key=lambda r: (r.get("started_wall") or 0, str(r["plan"].get("id"))))


class RunOutputs:
    """What one run writes: its records into its own folder (`runs/<run id>/` unless a record folder is
    given), and, with a report folder, the record there too and the report rebuilt from that folder."""

    def __init__(self, run_id: str, *, record_dir: str | Path | None = None, report_dir: str | Path | None = None,
                 base: Path = DEFAULT_BASE) -> None:
        self.run_id = run_id
        self.base = base
        self.record_dir = Path(record_dir) if record_dir else None  # None: base/<run id>, made on first use
        self.report_dir = Path(report_dir) if report_dir else None

    def records_folder(self) -> Path:
        if self.record_dir is None:
            self.record_dir = run_folder(self.run_id, self.base)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        return self.record_dir

    def save(self, record: dict[str, Any]) -> Path:
        record.setdefault("run", {"id": self.run_id})
        path = write_record(self.records_folder(), record)
        if self.report_dir is not None and self.report_dir.resolve() != path.parent.resolve():
            with folder_lock(self.report_dir):
                write_record(self.report_dir, record)
        return path

    def write_report(self) -> Path | None:
        """The report of every record in the report folder (this run's and any earlier run's there)."""
        if self.report_dir is None:
            return None
        from rig.report.html import write_report

        with folder_lock(self.report_dir):
            return write_report(records_in(self.report_dir), self.report_dir)
