"""Version register (R-VER-01..04): per device the active firmware version, where it was learnt and
when, the pending target of a DCC-driven upgrade, and the history of every observation.

Fed by the hub's VersionObserved (QNI, attribute read, Upgrade End) and ActivationOutcome (0x8F8B)
events, SR 11.2 over-the-air reads (CS08) and CS06 responses (N63). Writes happen inside the caller's
store transaction so the register moves together with the alert that explains the change.
"""

from __future__ import annotations

import dataclasses

from rig.backend.store import Store


@dataclasses.dataclass(frozen=True)
class RegisterEntry:
    device: str
    version: int | None
    source: str | None  # "qni" | "attribute" | "upgrade_end" | "0x8F8B" | "cs08" | "cs06"
    time: float | None
    pending_target: int | None
    pending_request: str | None


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    version: int | None
    source: str
    time: float
    note: str


class VersionRegister:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- reading ----------------------------------------------------------------------------------
    def current(self, device: str) -> RegisterEntry | None:
        row = self._store.one("SELECT * FROM register_current WHERE device = ?", device)
        if row is None:
            return None
        return RegisterEntry(row["device"], row["version"], row["source"], row["time"],
                             row["pending_target"], row["pending_request"])

    def version(self, device: str) -> int | None:
        entry = self.current(device)
        return entry.version if entry else None

    def history(self, device: str) -> list[HistoryEntry]:
        rows = self._store.all("SELECT * FROM register_history WHERE device = ? ORDER BY seq", device)
        return [HistoryEntry(r["version"], r["source"], r["time"], r["note"]) for r in rows]

    def all(self) -> list[RegisterEntry]:
        return [self.current(r["device"]) for r in self._store.all("SELECT device FROM register_current ORDER BY device")]

    # -- writing (caller holds a transaction) -------------------------------------------------------
    def _ensure(self, device: str) -> None:
        self._store.db.execute("INSERT OR IGNORE INTO register_current (device) VALUES (?)", (device,))

    def set_pending(self, device: str, target: int, request_id: str, time: float) -> None:
        self._ensure(device)
        self._store.db.execute("UPDATE register_current SET pending_target = ?, pending_request = ? WHERE device = ?",
                               (target, request_id, device))
        self._store.db.execute("INSERT INTO register_history (device, version, source, time, note) VALUES (?,?,?,?,?)",
                               (device, None, "request", time, f"pending target {target:08X} ({request_id})"))

    def clear_pending(self, device: str, request_id: str | None = None) -> None:
        """Clear the pending target (only if it still belongs to `request_id`, when given)."""
        if request_id is None:
            self._store.db.execute("UPDATE register_current SET pending_target = NULL, pending_request = NULL"
                                   " WHERE device = ?", (device,))
        else:
            self._store.db.execute("UPDATE register_current SET pending_target = NULL, pending_request = NULL"
                                   " WHERE device = ? AND pending_request = ?", (device, request_id))

    def observe(self, device: str, version: int, source: str, time: float, note: str = "") -> int | None:
        """Record an observed active version; returns the previous one."""
        self._ensure(device)
        previous = self.version(device)
        self._store.db.execute("UPDATE register_current SET version = ?, source = ?, time = ? WHERE device = ?",
                               (version, source, time, device))
        self._store.db.execute("INSERT INTO register_history (device, version, source, time, note) VALUES (?,?,?,?,?)",
                               (device, version, source, time, note))
        return previous
