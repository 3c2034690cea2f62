"""CSP stub: the WAN between the DSP and the Communications Hub.

Drives the CH only through `CommsHubPort`. It can be told to answer "too busy" or "not available"
(always, or for the next N attempts) so the DSP's long retry can be exercised. Whatever comes back up —
the hub's outcome events and the CSP's own "image delivered to / failed at the CH" statuses — is first
written to the persisted CSP inbox (so nothing received is lost in a crash; a replayed hub event with the
same identity is ignored there), then handed to the DSP in batches: when `batch_size` items are waiting,
or `batch_period` seconds of rig time after the first one arrived (G13, R-DSP-05).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable
from typing import Any

from rig.backend.store import Store
from rig.clock import Clock, TimerHandle
from rig.hub.events import (ActivationOutcome, ActivationPlan, ActivationResult, CommsHubPort, HubEvent,
                            ImageDiscarded, TransferOutcome, TransferResult, VersionObserved, VersionSource)

AVAILABLE = "available"
TOO_BUSY = "too_busy"
NOT_AVAILABLE = "not_available"


class CspUnavailable(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(f"CSP answered {kind}")
        self.kind = kind


def event_key(event: HubEvent) -> str:
    """Identity of a hub event: a replay with the same identity is the same event."""
    if isinstance(event, (TransferOutcome, ActivationOutcome)):
        kind = "transfer" if isinstance(event, TransferOutcome) else "activation"
        return f"{kind}:{event.ieee}:{event.offer_id}"
    if isinstance(event, VersionObserved):
        return f"version:{event.ieee}:{event.version}:{event.source.value}:{event.time!r}"
    if isinstance(event, ImageDiscarded):
        return f"discarded:{event.image_id}:{event.reason}"
    raise TypeError(f"not a hub event: {event!r}")


def event_payload(event: HubEvent | CspStatus) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in dataclasses.asdict(event).items()}


class Delivery(enum.StrEnum):
    DELIVERED = "delivered"  # the image reached the CH (N60)
    FAILED = "failed"  # it did not, or the job was given up (N61)


@dataclasses.dataclass(frozen=True)
class CspStatus:
    """The CSP's own report on a distribution."""

    job: int
    outcome: Delivery
    detail: str = ""


Upcoming = HubEvent | CspStatus

# inbox kind -> (type, how its enum fields are rebuilt from the stored JSON)
_KINDS: dict[str, tuple[type, dict[str, Callable[[Any], Any]]]] = {
    "status": (CspStatus, {"outcome": Delivery}),
    "TransferOutcome": (TransferOutcome, {"result": TransferResult}),
    "ActivationOutcome": (ActivationOutcome, {"result": ActivationResult}),
    "VersionObserved": (VersionObserved, {"source": VersionSource}),
    "ImageDiscarded": (ImageDiscarded, {}),
}


@dataclasses.dataclass(frozen=True)
class InboxItem:
    seq: int
    key: str
    kind: str
    event: Upcoming | None  # None: a kind this version does not know (logged, skipped)


def _decode(row: Any) -> InboxItem:
    known = _KINDS.get(row["kind"])
    event = None
    if known is not None:
        cls, enums = known
        payload = json.loads(row["payload"])
        event = cls(**{k: enums[k](v) if k in enums else v for k, v in payload.items()})
    return InboxItem(row["seq"], row["key"], row["kind"], event)


class CspStub:
    def __init__(self, port: CommsHubPort, clock: Clock, store: Store,
                 deliver: Callable[[list[InboxItem]], None], *, batch_size: int = 1, batch_period: float = 0.0) -> None:
        self._port = port
        self._clock = clock
        self._store = store
        self._deliver = deliver
        self.batch_size = max(1, batch_size)
        self.batch_period = max(0.0, batch_period)
        self._mode = AVAILABLE
        self._mode_remaining: int | None = None
        self._flush_timer: TimerHandle | None = None
        self.attempts = 0  # every CSP command attempt, busy or not (for tests and reports)
        port.subscribe(self._on_hub_event)

    # -- availability ------------------------------------------------------------------------------
    def set_availability(self, mode: str = AVAILABLE, *, count: int | None = None) -> None:
        """`mode` for the next `count` attempts (None = until changed), then available again."""
        if mode not in (AVAILABLE, TOO_BUSY, NOT_AVAILABLE):
            raise ValueError(f"CSP availability {mode!r}: expected {AVAILABLE}, {TOO_BUSY} or {NOT_AVAILABLE}")
        self._mode, self._mode_remaining = mode, count

    def check_available(self) -> None:
        self.attempts += 1
        if self._mode == AVAILABLE:
            return
        mode = self._mode
        if self._mode_remaining is not None:
            self._mode_remaining -= 1
            if self._mode_remaining <= 0:
                self._mode, self._mode_remaining = AVAILABLE, None
        raise CspUnavailable(mode)

    # -- commands to the CH --------------------------------------------------------------------------
    def store_image(self, image: bytes, request_id: str) -> int:
        return self._port.store_image(image, request_id=request_id)

    def offer(self, ieee: str, image_id: int, plan: ActivationPlan, upgrade_time: float | None, request_id: str) -> int:
        return self._port.offer(ieee, image_id, plan=plan, upgrade_time=upgrade_time, request_id=request_id)

    def activate(self, ieee: str, offer_id: int, at: float | None) -> None:
        self._port.activate(ieee, offer_id, at=at)

    async def read_version(self, ieee: str) -> int | None:
        return await self._port.read_version(ieee)

    # -- reports up -----------------------------------------------------------------------------------
    def report_status(self, status: CspStatus) -> None:
        """A CSP distribution status (caller's transaction)."""
        self._enqueue(f"dist:{status.job}", "status", event_payload(status))

    def _on_hub_event(self, event: HubEvent) -> None:
        with self._store.transaction():
            self._enqueue(event_key(event), type(event).__name__, event_payload(event))

    def _enqueue(self, key: str, kind: str, payload: dict[str, Any]) -> None:
        self._store.db.execute("INSERT OR IGNORE INTO csp_inbox (key, kind, payload, received) VALUES (?,?,?,?)",
                               (key, kind, json.dumps(payload, sort_keys=True), self._clock.now()))
        self.schedule_flush()

    def schedule_flush(self) -> None:
        waiting = self._store.one("SELECT COUNT(*) AS n FROM csp_inbox WHERE processed = 0")["n"]
        if waiting == 0:
            return
        if waiting >= self.batch_size or self.batch_period == 0:
            self._arm(0.0)
        elif self._flush_timer is None:
            self._arm(self.batch_period)

    def _arm(self, delay: float) -> None:
        if self._flush_timer is not None:
            if delay > 0:
                return  # already armed for this batch
            self._flush_timer.cancel()
        self._flush_timer = self._clock.call_later(delay, self.flush)

    def flush(self) -> int:
        """Hand every waiting inbox item to the DSP (in arrival order, as batches of `batch_size`)."""
        self._flush_timer = None
        total = 0
        while True:
            rows = self._store.all("SELECT * FROM csp_inbox WHERE processed = 0 ORDER BY seq LIMIT ?", self.batch_size)
            if not rows:
                return total
            self._deliver([_decode(r) for r in rows])
            total += len(rows)

    def mark_processed(self, item: InboxItem) -> None:
        """The DSP has taken `item` (caller's transaction, with whatever it did about it)."""
        self._store.db.execute("UPDATE csp_inbox SET processed = 1 WHERE seq = ?", (item.seq,))

    def close(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
