"""The alert log: append-only, exactly-once, queryable, awaitable on the rig clock.

Every alert carries the id of the service request it stems from (R-ALERT-04) and a dedup key; the
UNIQUE constraint on that key is what makes alerts exactly-once across hub-event replays and restarts:
an alert whose key is already in the log is not written again. Alerts appended inside a transaction
are announced to listeners (`subscribe`) and waiters only after that transaction commits.

Device alert codes are stored as "0x8F8A" strings; DCC alert codes as written ("N63").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rig.backend.alert import Alert, device_code
from rig.backend.duis import alert_xml
from rig.backend.fixtures import normalise_eui
from rig.backend.store import Store
from rig.clock import Clock
from rig.signals import Signal

Match = Callable[[Alert], bool] | dict[str, Any] | None


def _matcher(match: Match, fields: dict[str, Any]) -> Callable[[Alert], bool]:
    wanted = dict(match) if isinstance(match, dict) else {}
    wanted.update(fields)
    pred = match if callable(match) else None
    norm: dict[str, Any] = {}
    for key, value in wanted.items():
        if key == "code" and isinstance(value, int):
            value = device_code(value)
        if key == "device" and isinstance(value, str):
            value = normalise_eui(value) or value
        norm[key] = value

    def check(alert: Alert) -> bool:
        for key, value in norm.items():
            have = getattr(alert, key) if key in _ATTRS else alert.fields.get(key, _MISSING)
            if have != value:
                return False
        return pred(alert) if pred else True

    return check


_ATTRS = {f.name for f in dataclasses.fields(Alert)}
_MISSING = object()


class AlertLog:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._pending: list[Alert] = []
        self.alert_written = Signal("alert written")  # Alert, once its transaction has committed

    # -- listening --------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[Alert], None]) -> None:
        """Tell `listener` of every alert written from now on, once its transaction has committed."""
        self.alert_written.connect(listener)

    def unsubscribe(self, listener: Callable[[Alert], None]) -> None:
        """Stop telling `listener` (a no-op if it is not subscribed)."""
        self.alert_written.disconnect(listener)

    # -- writing (inside a store transaction) ------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A store transaction whose alerts are announced once the outermost one commits (nested calls
        join the outer one)."""
        outer = not self._store.in_transaction
        try:
            with self._store.transaction():
                yield
        except BaseException:
            if outer:
                self.rolled_back()
            raise
        if outer:
            self.committed()

    def append(self, *, dedup_key: str, family: str, code: str, device: str | None, request_id: str | None,
               recipients: Iterable[str], fields: dict[str, Any], late: bool = False,
               time: float | None = None) -> Alert | None:
        """Write one alert unless its dedup key is already logged; returns it, or None if a duplicate."""
        now = self._clock.now() if time is None else time
        recips = tuple(dict.fromkeys(r for r in recipients if r))
        cur = self._store.db.execute(
            "INSERT OR IGNORE INTO alerts (dedup_key, time, family, code, device, request_id, recipients, fields, late)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dedup_key, now, family, code, device, request_id, json.dumps(list(recips)),
             json.dumps(fields, sort_keys=True), int(late)))
        if cur.rowcount == 0:
            return None
        alert = Alert(cur.lastrowid, now, family, code, device, request_id, recips, fields, late, dedup_key)
        self._pending.append(alert)
        return alert

    def committed(self) -> None:
        """Call after the transaction that appended alerts commits: tells the listeners."""
        pending, self._pending = self._pending, []
        for alert in pending:
            self.alert_written.emit(alert)

    def rolled_back(self) -> None:
        self._pending.clear()

    # -- reading ----------------------------------------------------------------------------------
    def list(self, match: Match = None, *, after: int = 0, **fields: Any) -> list[Alert]:
        check = _matcher(match, fields)
        rows = self._store.all("SELECT * FROM alerts WHERE seq > ? ORDER BY seq", after)
        return [a for a in map(_from_row, rows) if check(a)]

    def count(self, match: Match = None, **fields: Any) -> int:
        return len(self.list(match, **fields))

    def last_seq(self) -> int:
        row = self._store.one("SELECT MAX(seq) AS s FROM alerts")
        return int(row["s"] or 0)

    async def next_matching(self, match: Match = None, *, timeout: float | None = None, after: int = 0,
                            **fields: Any) -> Alert:
        """The first alert with seq > `after` that matches (a predicate, a dict of fields, and/or
        keyword fields); waits for it up to `timeout` seconds of rig time (asyncio.TimeoutError).
        Pass `after=log.last_seq()` to wait only for alerts written from now on."""
        check = _matcher(match, fields)
        for alert in self.list(after=after):
            if check(alert):
                return alert
        fut = asyncio.get_running_loop().create_future()

        def listener(alert: Alert) -> None:
            if not fut.done() and check(alert):
                fut.set_result(alert)

        self.subscribe(listener)
        try:
            return await self._clock.wait_for(fut, timeout)
        finally:
            self.unsubscribe(listener)

    # -- export -----------------------------------------------------------------------------------
    def export_jsonl(self, path: str | Path) -> int:
        alerts = self.list()
        with open(path, "w", encoding="utf-8") as fh:
            for alert in alerts:
                fh.write(json.dumps(alert.to_json(), sort_keys=True) + "\n")
        return len(alerts)

    def export_xml(self, directory: str | Path) -> list[Path]:
        """One DUIS-shaped XML file per alert: <seq>_<code>.xml (validates against xsd/rig-duis.xsd)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for alert in self.list():
            path = out / f"{alert.seq:06d}_{alert.code.replace('0x', '')}.xml"
            path.write_bytes(alert_xml(alert))
            paths.append(path)
        return paths


def _from_row(row: Any) -> Alert:
    return Alert(row["seq"], row["time"], row["family"], row["code"], row["device"], row["request_id"],
                 tuple(json.loads(row["recipients"])), json.loads(row["fields"]), bool(row["late"]),
                 row["dedup_key"])
