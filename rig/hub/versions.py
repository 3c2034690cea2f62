"""The version register (R-VER-01..03) and the post-transfer version check (R-CH-10).

Every QNI and attribute read becomes a VersionObserved. A change with no upgrade pending is flagged
"unexplained" once (compare-before-report), and a drop below the register separately as a regression.
After a successful Upgrade End exchange, `version_check_delay_s` after the activation time the hub reads
CurrentFileVersion (retrying) and emits exactly one ActivationOutcome for the offer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rig.clock import Clock, TimerHandle
from rig.hub.config import HubConfig
from rig.hub.events import ActivationOutcome, ActivationResult, HubEvent, VersionObserved, VersionSource
from rig.hub.store import Store

LOGGER = logging.getLogger(__name__)

VersionReader = Callable[[str], Awaitable[int | None]]


class VersionRegister:
    def __init__(self, store: Store, clock: Clock, emit: Callable[[HubEvent], None]) -> None:
        self.store = store
        self.clock = clock
        self.emit = emit
        self._qni_seen: dict[str, tuple[int, float]] = {}  # last QNI version per device (for sleepy devices)

    def observe(self, ieee: str, version: int, source: VersionSource, *, manufacturer_code: int | None = None,
                image_type: int | None = None, hardware_version: int | None = None) -> VersionObserved:
        now = self.clock.now()
        last = self.store.known_version(ieee)
        unexplained = regression = False
        if last is not None and version != last and not self._explained(ieee, version):
            unexplained = True
            regression = version < last
        self.store.record_version(ieee, version, source.value, now, unexplained=unexplained, regression=regression)
        if source is VersionSource.QUERY_NEXT_IMAGE:
            self._qni_seen[ieee] = (version, now)
        event = VersionObserved(ieee, version, source, now, manufacturer_code, image_type, hardware_version,
                                unexplained_change=unexplained, regression=regression)
        self.emit(event)
        return event

    def qni_version_since(self, ieee: str, since: float) -> int | None:
        seen = self._qni_seen.get(ieee)
        if seen is None or seen[1] < since:
            return None
        return seen[0]

    def _explained(self, ieee: str, version: int) -> bool:
        """A change is explained by an offer of that version the device downloaded (DCC-driven upgrade)."""
        for offer in self.store.offers_for(ieee):
            image = self.store.image(offer.image_id)
            if image is not None and image.file_version == version and offer.ended_at is not None:
                return True
        return False


class VersionChecker:
    """Schedules and runs the post-transfer CurrentFileVersion read for each activated offer."""

    def __init__(self, store: Store, clock: Clock, config: HubConfig, register: VersionRegister,
                 emit: Callable[[HubEvent], None]) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.register = register
        self.emit = emit
        self.reader: VersionReader | None = None
        self._timers: dict[int, TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()

    def schedule(self, offer_id: int, due: float) -> None:
        self.store.update_offer(None, offer_id, version_check_due=due)
        self._arm(offer_id, due)

    def resume(self) -> None:
        """Re-arm checks persisted by a previous hub run."""
        for offer in self.store.pending_version_checks():
            self._arm(offer.id, offer.version_check_due or self.clock.now())

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()

    def _arm(self, offer_id: int, due: float) -> None:
        old = self._timers.pop(offer_id, None)
        if old is not None:
            old.cancel()
        try:
            self._timers[offer_id] = self.clock.call_later(max(0.0, due - self.clock.now()), self._fire, offer_id)
        except RuntimeError:  # no event loop yet: persisted, re-armed by resume() at Hub.start()
            pass

    def _fire(self, offer_id: int) -> None:
        self._timers.pop(offer_id, None)
        task = asyncio.get_running_loop().create_task(self._check(offer_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(self, offer_id: int) -> None:
        offer = self.store.offer(offer_id)
        if offer is None or offer.version_check_due is None:
            return
        image = self.store.image(offer.image_id)
        target = image.file_version if image else 0
        observed: int | None = None
        if self.reader is not None:
            try:
                observed = await self.reader(offer.ieee)
            except Exception:  # noqa: BLE001 - a failed read is "no answer", never a crash
                LOGGER.exception("version read for %s failed", offer.ieee)
        if observed is None:
            tries = offer.version_check_tries + 1
            if tries <= self.config.version_check_retries:
                self.store.update_offer(None, offer_id, version_check_tries=tries)
                self.schedule(offer_id, self.clock.now() + self.config.version_check_retry_interval_s)
                return
            # A sleepy device may never answer a read but report the version in its next QNI.
            observed = self.register.qni_version_since(offer.ieee, offer.activation_at or offer.created_at)
        now = self.clock.now()
        if observed is None:
            result, detail = ActivationResult.FAILURE, "no response"
        elif observed == target:
            result, detail = ActivationResult.SUCCESS, ""
        else:
            result, detail = ActivationResult.FAILURE, f"running 0x{observed:08x}, expected 0x{target:08x}"
        with self.store.transaction() as db:
            first = self.store.record_outcome(db, offer.ieee, offer_id, "activation", int(result), now, detail)
            self.store.update_offer(db, offer_id, version_check_due=None)
        if first:
            self.emit(ActivationOutcome(offer.ieee, offer_id, offer.request_id, result, target, observed, now,
                                        detail))
