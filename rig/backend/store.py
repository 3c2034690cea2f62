"""SQLite state of the back end: one file, every change in a transaction.

What must survive a crash lives here: service requests (with the image bytes, so a resumed retry can
still send them), distribution/activation jobs with their retry schedule (`next_due`), the in-progress
table (with its expiry), the CSP inbox (hub events and CSP statuses not yet turned into alerts), the ids
of hub events already handled, the version register, and the alert log. The alert log is append-only:
triggers refuse UPDATE and DELETE on it.

WAL mode: a SIGKILLed process loses at most the transaction it was in; committed rows survive.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, sr TEXT NOT NULL, user_id TEXT NOT NULL, time REAL NOT NULL,
    status TEXT NOT NULL, body TEXT NOT NULL, response TEXT, image_sha256 TEXT, image_id INTEGER,
    security INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS images (request_id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, device TEXT NOT NULL,
    op TEXT NOT NULL, plan TEXT, upgrade_time REAL, file_version INTEGER, status TEXT NOT NULL,
    offer_id INTEGER, created REAL NOT NULL, first_attempt REAL, attempts INTEGER NOT NULL DEFAULT 0,
    next_due REAL, transfer_result INTEGER, activation_result INTEGER, superseded INTEGER NOT NULL DEFAULT 0,
    security INTEGER NOT NULL DEFAULT 0, large INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '',
    UNIQUE (request_id, device, op));
CREATE INDEX IF NOT EXISTS jobs_device ON jobs (device, created);
CREATE INDEX IF NOT EXISTS jobs_offer ON jobs (offer_id);
CREATE TABLE IF NOT EXISTS in_progress (
    device TEXT PRIMARY KEY, job_id INTEGER NOT NULL, since REAL NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS csp_inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    payload TEXT NOT NULL, received REAL NOT NULL, processed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS capacity (day INTEGER PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS register_current (
    device TEXT PRIMARY KEY, version INTEGER, source TEXT, time REAL,
    pending_target INTEGER, pending_request TEXT);
CREATE TABLE IF NOT EXISTS register_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, version INTEGER, source TEXT NOT NULL,
    time REAL NOT NULL, note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS cs06 (
    request_id TEXT PRIMARY KEY, ch TEXT NOT NULL, target_version INTEGER, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key TEXT NOT NULL UNIQUE, time REAL NOT NULL,
    family TEXT NOT NULL, code TEXT NOT NULL, device TEXT, request_id TEXT, recipients TEXT NOT NULL,
    fields TEXT NOT NULL, late INTEGER NOT NULL DEFAULT 0);
CREATE TRIGGER IF NOT EXISTS alerts_no_update BEFORE UPDATE ON alerts
    BEGIN SELECT RAISE(ABORT, 'the alert log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alerts_no_delete BEFORE DELETE ON alerts
    BEGIN SELECT RAISE(ABORT, 'the alert log is append-only'); END;
"""


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._depth = 0
        with self.transaction():
            for statement in _statements(SCHEMA):
                self.db.execute(statement)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Nested calls join the outer transaction; the outermost one commits or rolls back."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def log(self, now: float, what: str, **detail: Any) -> None:
        self.db.execute("INSERT INTO log (time, what, detail) VALUES (?, ?, ?)",
                        (now, what, json.dumps(detail, sort_keys=True, default=str)))

    def entries(self, what: str | None = None) -> list[dict[str, Any]]:
        """The log, oldest first (only entries of kind `what`, when given)."""
        rows = self.all("SELECT * FROM log ORDER BY seq") if what is None else self.all(
            "SELECT * FROM log WHERE what = ? ORDER BY seq", what)
        return [{"seq": r["seq"], "time": r["time"], "what": r["what"], **json.loads(r["detail"])} for r in rows]

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def next_counter(self, name: str) -> int:
        with self.transaction():
            row = self.one("SELECT value FROM meta WHERE key = ?", name)
            value = int(row["value"]) + 1 if row else 1
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, str(value)))
        return value

    def close(self) -> None:
        self.db.close()


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN … END)."""
    out, buf = [], ""
    for line in script.strip().splitlines():
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out
