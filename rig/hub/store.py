"""The CH's non-volatile state in SQLite: image slots, the device log, offers, outcomes, versions.

Memory model (R-STORE-01): slots "ch", "esme" and one "gsme_block" shared by GSME, PPMID and HCALCS images,
one live image per slot. Everything here survives a hub restart when `path` is a file (R-CH-12), and the
outcome table's primary key is what makes "exactly one TransferOutcome per (device, offer)" hold across
restarts.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slot TEXT NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,
    manufacturer_code INTEGER NOT NULL, image_type INTEGER NOT NULL, file_version INTEGER NOT NULL,
    total_size INTEGER NOT NULL, min_hw INTEGER, max_hw INTEGER, sha256 TEXT,
    stored_at REAL NOT NULL, request_id TEXT,
    discarded_at REAL, discard_reason TEXT
);
CREATE TABLE IF NOT EXISTS devices (
    ieee TEXT PRIMARY KEY, kind TEXT, added_at REAL NOT NULL,
    ota_endpoint INTEGER, ota_profile INTEGER
);
CREATE TABLE IF NOT EXISTS offers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ieee TEXT NOT NULL, image_id INTEGER NOT NULL, plan TEXT NOT NULL, upgrade_time REAL,
    request_id TEXT, allow_downgrade INTEGER NOT NULL, created_at REAL NOT NULL,
    state TEXT NOT NULL,                -- offered | transferred | withdrawn | failed
    withdrawn_reason TEXT,
    ended_at REAL,                      -- first successful Upgrade End exchange
    activation_at REAL,                 -- when the device was told to activate (None: still waiting)
    version_check_due REAL,             -- next post-transfer CurrentFileVersion read
    version_check_tries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outcomes (
    ieee TEXT NOT NULL, offer_id INTEGER NOT NULL, kind TEXT NOT NULL,
    result INTEGER NOT NULL, time REAL NOT NULL, detail TEXT,
    PRIMARY KEY (ieee, offer_id, kind)
);
CREATE TABLE IF NOT EXISTS versions (
    ieee TEXT PRIMARY KEY, version INTEGER NOT NULL, source TEXT NOT NULL, time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS version_history (
    ieee TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL, time REAL NOT NULL,
    unexplained INTEGER NOT NULL, regression INTEGER NOT NULL
);
"""


@dataclasses.dataclass(frozen=True)
class ImageRow:
    id: int
    slot: str
    kind: str
    manufacturer_code: int
    image_type: int
    file_version: int
    total_size: int
    min_hw: int | None
    max_hw: int | None
    sha256: str | None
    stored_at: float
    request_id: str | None
    discarded_at: float | None
    discard_reason: str | None

    @property
    def live(self) -> bool:
        return self.discarded_at is None


@dataclasses.dataclass(frozen=True)
class OfferRow:
    id: int
    ieee: str
    image_id: int
    plan: str
    upgrade_time: float | None
    request_id: str | None
    allow_downgrade: bool
    created_at: float
    state: str
    withdrawn_reason: str | None
    ended_at: float | None
    activation_at: float | None
    version_check_due: float | None
    version_check_tries: int


_IMAGE_COLS = ("id, slot, kind, manufacturer_code, image_type, file_version, total_size, min_hw, max_hw, sha256, "
               "stored_at, request_id, discarded_at, discard_reason")
_OFFER_COLS = ("id, ieee, image_id, plan, upgrade_time, request_id, allow_downgrade, created_at, state, "
               "withdrawn_reason, ended_at, activation_at, version_check_due, version_check_tries")


class Store:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self._db = sqlite3.connect(path or ":memory:", isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._data_cache: dict[int, bytes] = {}
        # Row reads repeated for every block (device kind, offers, image) are cached until this connection
        # changes anything: sqlite3's total_changes counts every row inserted, updated or deleted through
        # it, committed or not. The hub is the store's only writer.
        self._reads: dict[tuple, Any] = {}
        self._reads_at = -1

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            self._reads_at = -1  # total_changes does not go back: forget what was read inside
            raise
        self._db.execute("COMMIT")

    # -- images ------------------------------------------------------------------------------
    def insert_image(self, db: sqlite3.Connection, *, slot: str, kind: str, data: bytes, manufacturer_code: int,
                     image_type: int, file_version: int, min_hw: int | None, max_hw: int | None,
                     sha256: str | None, stored_at: float, request_id: str | None) -> int:
        cur = db.execute(
            "INSERT INTO images (slot, kind, data, manufacturer_code, image_type, file_version, total_size, "
            "min_hw, max_hw, sha256, stored_at, request_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (slot, kind, data, manufacturer_code, image_type, file_version, len(data), min_hw, max_hw, sha256,
             stored_at, request_id))
        return int(cur.lastrowid)

    def _cached(self, key: tuple, load: Callable[[], Any]) -> Any:
        stamp = self._db.total_changes
        if stamp != self._reads_at:
            self._reads.clear()
            self._reads_at = stamp
        try:
            return self._reads[key]
        except KeyError:
            value = self._reads[key] = load()
            return value

    def image(self, image_id: int) -> ImageRow | None:
        return self._cached(("image", image_id), lambda: self._image(image_id))

    def _image(self, image_id: int) -> ImageRow | None:
        row = self._db.execute(f"SELECT {_IMAGE_COLS} FROM images WHERE id=?", (image_id,)).fetchone()
        return ImageRow(*row) if row else None

    def image_data(self, image_id: int) -> bytes | None:
        # Block serving reads the same image thousands of times; keep live images' bytes in memory.
        data = self._data_cache.get(image_id)
        if data is None:
            row = self._db.execute("SELECT data FROM images WHERE id=? AND discarded_at IS NULL",
                                   (image_id,)).fetchone()
            if row is None:
                return None
            data = self._data_cache[image_id] = bytes(row[0])
        return data

    def live_images(self, slot: str | None = None) -> list[ImageRow]:
        sql = f"SELECT {_IMAGE_COLS} FROM images WHERE discarded_at IS NULL"
        args: tuple = ()
        if slot is not None:
            sql += " AND slot=?"
            args = (slot,)
        return [ImageRow(*r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def discard_image(self, db: sqlite3.Connection, image_id: int, reason: str, when: float) -> None:
        # The bytes go (the block is freed); the row stays for reports.
        db.execute("UPDATE images SET discarded_at=?, discard_reason=?, data=x'' WHERE id=? AND discarded_at IS NULL",
                   (when, reason, image_id))
        self._data_cache.pop(image_id, None)

    def corrupt_stored_copy(self, sha256: str, offset: int) -> list[int]:
        """Flip the byte at `offset` of every live stored copy of the image whose SHA-256 (as ingested) is
        `sha256`, as a bad flash cell would after the ingest checks passed (the rig's 4.7-3 fault: a
        deliberately corrupted copy is served). Returns the image ids changed; [] if none is held."""
        rows = self._db.execute("SELECT id, data FROM images WHERE sha256 = ? AND discarded_at IS NULL",
                                (sha256,)).fetchall()
        changed = []
        for image_id, stored in rows:
            if not 0 <= offset < len(stored):
                raise ValueError(f"offset {offset} is outside image {image_id} ({len(stored)} bytes)")
            bad = bytearray(stored)
            bad[offset] ^= 0xFF
            self._db.execute("UPDATE images SET data = ? WHERE id = ?", (bytes(bad), image_id))
            self._data_cache.pop(image_id, None)  # the next block is served from the corrupted bytes
            changed.append(int(image_id))
        return changed

    # -- devices -----------------------------------------------------------------------------
    def allow_device(self, ieee: str, kind: str | None, when: float) -> None:
        self._db.execute("INSERT INTO devices (ieee, kind, added_at) VALUES (?,?,?) "
                         "ON CONFLICT(ieee) DO UPDATE SET kind=COALESCE(excluded.kind, devices.kind)",
                         (ieee, kind, when))

    def device_kind(self, ieee: str) -> tuple[bool, str | None]:
        return self._cached(("device_kind", ieee), lambda: self._device_kind(ieee))

    def _device_kind(self, ieee: str) -> tuple[bool, str | None]:
        row = self._db.execute("SELECT kind FROM devices WHERE ieee=?", (ieee,)).fetchone()
        return (row is not None, row[0] if row else None)

    def remember_ota_endpoint(self, ieee: str, endpoint: int, profile: int) -> None:
        self._db.execute("UPDATE devices SET ota_endpoint=?, ota_profile=? WHERE ieee=?", (endpoint, profile, ieee))

    def ota_endpoint(self, ieee: str) -> tuple[int, int] | None:
        row = self._db.execute("SELECT ota_endpoint, ota_profile FROM devices WHERE ieee=?", (ieee,)).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    # -- offers ------------------------------------------------------------------------------
    def insert_offer(self, db: sqlite3.Connection, *, ieee: str, image_id: int, plan: str,
                     upgrade_time: float | None, request_id: str | None, allow_downgrade: bool,
                     created_at: float) -> int:
        cur = db.execute(
            "INSERT INTO offers (ieee, image_id, plan, upgrade_time, request_id, allow_downgrade, created_at, state)"
            " VALUES (?,?,?,?,?,?,?, 'offered')",
            (ieee, image_id, plan, upgrade_time, request_id, int(allow_downgrade), created_at))
        return int(cur.lastrowid)

    def offer(self, offer_id: int) -> OfferRow | None:
        row = self._db.execute(f"SELECT {_OFFER_COLS} FROM offers WHERE id=?", (offer_id,)).fetchone()
        return _offer(row) if row else None

    def latest_offer(self, ieee: str) -> OfferRow | None:
        return self._cached(("latest_offer", ieee), lambda: self._latest_offer(ieee))

    def _latest_offer(self, ieee: str) -> OfferRow | None:
        row = self._db.execute(f"SELECT {_OFFER_COLS} FROM offers WHERE ieee=? ORDER BY id DESC LIMIT 1",
                               (ieee,)).fetchone()
        return _offer(row) if row else None

    def offers_for(self, ieee: str) -> list[OfferRow]:
        return list(self._cached(("offers_for", ieee), lambda: tuple(_offer(r) for r in self._db.execute(
            f"SELECT {_OFFER_COLS} FROM offers WHERE ieee=? ORDER BY id DESC", (ieee,)))))

    def open_offers(self, *, image_id: int | None = None, ieee: str | None = None) -> list[OfferRow]:
        """Offers still able to serve bytes or an Upgrade End (offered or transferred)."""
        sql = f"SELECT {_OFFER_COLS} FROM offers WHERE state IN ('offered','transferred')"
        args: list = []
        if image_id is not None:
            sql += " AND image_id=?"
            args.append(image_id)
        if ieee is not None:
            sql += " AND ieee=?"
            args.append(ieee)
        return [_offer(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def pending_version_checks(self) -> list[OfferRow]:
        return [_offer(r) for r in self._db.execute(
            f"SELECT {_OFFER_COLS} FROM offers WHERE version_check_due IS NOT NULL ORDER BY id")]

    def update_offer(self, db: sqlite3.Connection | None, offer_id: int, **fields: object) -> None:
        allowed = {"state", "withdrawn_reason", "ended_at", "activation_at", "version_check_due",
                   "version_check_tries", "upgrade_time"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not an updatable offer field: {sorted(bad)}")
        sets = ", ".join(f"{k}=?" for k in fields)
        (db or self._db).execute(f"UPDATE offers SET {sets} WHERE id=?", (*fields.values(), offer_id))

    # -- outcomes ----------------------------------------------------------------------------
    def record_outcome(self, db: sqlite3.Connection | None, ieee: str, offer_id: int, kind: str, result: int,
                       when: float, detail: str = "") -> bool:
        """True if this is the first outcome of that kind for (device, offer); False if one exists."""
        cur = (db or self._db).execute(
            "INSERT OR IGNORE INTO outcomes (ieee, offer_id, kind, result, time, detail) VALUES (?,?,?,?,?,?)",
            (ieee, offer_id, kind, result, when, detail))
        return cur.rowcount == 1

    def outcomes(self, ieee: str | None = None) -> list[tuple[str, int, str, int, float, str]]:
        sql = "SELECT ieee, offer_id, kind, result, time, detail FROM outcomes"
        args: tuple = ()
        if ieee is not None:
            sql += " WHERE ieee=?"
            args = (ieee,)
        return list(self._db.execute(sql + " ORDER BY time", args))

    def has_outcome(self, ieee: str, offer_id: int, kind: str) -> bool:
        return self._db.execute("SELECT 1 FROM outcomes WHERE ieee=? AND offer_id=? AND kind=?",
                                (ieee, offer_id, kind)).fetchone() is not None

    # -- version register --------------------------------------------------------------------
    def known_version(self, ieee: str) -> int | None:
        row = self._db.execute("SELECT version FROM versions WHERE ieee=?", (ieee,)).fetchone()
        return int(row[0]) if row else None

    def record_version(self, ieee: str, version: int, source: str, when: float, *, unexplained: bool,
                       regression: bool) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO versions (ieee, version, source, time) VALUES (?,?,?,?) ON CONFLICT(ieee) DO "
                       "UPDATE SET version=excluded.version, source=excluded.source, time=excluded.time",
                       (ieee, version, source, when))
            db.execute("INSERT INTO version_history VALUES (?,?,?,?,?,?)",
                       (ieee, version, source, when, int(unexplained), int(regression)))

    def version_history(self, ieee: str) -> list[tuple[int, str, float, bool, bool]]:
        return [(v, s, t, bool(u), bool(r)) for v, s, t, u, r in self._db.execute(
            "SELECT version, source, time, unexplained, regression FROM version_history WHERE ieee=? ORDER BY rowid",
            (ieee,))]


def _offer(row: tuple) -> OfferRow:
    values = list(row)
    values[6] = bool(values[6])
    return OfferRow(*values)
