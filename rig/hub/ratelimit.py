"""Rate limiting of Image Block Requests (R-CH-05) and the per-device conformance record it produces.

The server throttles with WAIT_FOR_DATA (CurrentTime 0, RequestTime relative seconds) when too many
devices download at once, when the manual busy switch is on, or once to push a device model's
MinimumBlockPeriod to a client that advertises rate-limit support. It then watches the client: did it
wait at least RequestTime and re-request the same offset, and do its later gaps respect the period?

Devices turned away because every download slot is taken queue up in arrival order. Each is told to
come back when its turn is likely (when the running downloads should end, going by the typical
completed download, and a round later per full set of slots ahead of it; never less than the
configured delay), so a fleet does not re-ask every second: each re-ask is a radio exchange that costs
the stick as much as a block, and slots sat idle between waves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from rig.hub.config import HubConfig

# Gaps are measured at the hub, on arrival. The path from the device (air, stick, serial line, host) adds
# a variable delay to each request, so one request delayed more than the next shortens the gap seen here
# below what the device actually waited. Measured on the emulated path under load: up to ~15 ms.
_TOLERANCE_S = 0.01  # for WAIT_FOR_DATA waits (seconds long)
_GAP_JITTER_S = 0.025  # for MinimumBlockPeriod gaps: absolute floor ...
_GAP_JITTER_SHARE = 0.2  # ... or this share of the period, whichever is larger
MAX_QUEUE_WAIT_S = 600  # a queued device is told to come back within 10 minutes at most
_TYPICAL_WEIGHT = 0.3  # share of the newest download in the running typical duration


@dataclasses.dataclass(frozen=True)
class Wait:
    request_time_s: int
    min_block_period: int | None  # value to echo in the WAIT_FOR_DATA (only to clients that set bit1)
    reason: str


@dataclasses.dataclass(frozen=True)
class WaitRecord:
    offset: int
    requested_s: float
    waited_s: float
    same_offset: bool
    honoured: bool  # waited >= RequestTime and re-requested the same offset


@dataclasses.dataclass
class Conformance:
    """How one device behaved under rate limiting (a DUT metric, R-CH-05)."""

    ieee: str
    waits_issued: int = 0
    early_requests: int = 0
    wait_records: list[WaitRecord] = dataclasses.field(default_factory=list)
    supports_rate_limit: bool | None = None  # set bit1 (MinimumBlockPeriod) in its block requests
    min_block_period_s: float = 0.0
    gaps_checked: int = 0
    gap_violations: int = 0

    @property
    def waited_as_told(self) -> bool | None:
        """None if never told to wait; else whether every wait was honoured."""
        if not self.wait_records:
            return None
        return all(r.honoured for r in self.wait_records)

    @property
    def respects_block_period(self) -> bool | None:
        if self.gaps_checked == 0:
            return None
        return self.gap_violations == 0


@dataclasses.dataclass
class _State:
    kind: str | None
    last_request: float | None = None
    active: bool = False
    wait_until: float | None = None
    wait_sent_at: float = 0.0
    wait_offset: int = 0
    wait_requested: float = 0.0
    told_period: bool = False
    skip_next_gap: bool = False
    started_at: float | None = None  # when its current download took a slot


class RateLimiter:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.busy = False  # manual "busy" switch
        self._state: dict[str, _State] = {}
        self._conformance: dict[str, Conformance] = {}
        self._queue: dict[str, float] = {}  # turned away for want of a slot, in arrival order -> told to return at
        self.typical_download_s: float | None = None  # running estimate over finished downloads (rig s)
        self.on_finish: Callable[[str], None] | None = None  # told when a download ends (a slot frees)

    def conformance(self, ieee: str) -> Conformance:
        return self._conformance.setdefault(ieee, Conformance(ieee))

    def on_request(self, ieee: str, kind: str | None, offset: int, client_period: int | None,
                   now: float) -> Wait | None:
        """Called for every valid block/page request; returns a Wait to answer WAIT_FOR_DATA, else None."""
        st = self._state.setdefault(ieee, _State(kind))
        conf = self.conformance(ieee)
        conf.supports_rate_limit = client_period is not None
        period = self.config.block_period_for(kind)
        conf.min_block_period_s = period.seconds

        if st.wait_until is not None:
            waited = now - st.wait_sent_at
            same = offset == st.wait_offset
            if now + _TOLERANCE_S < st.wait_until:
                conf.early_requests += 1
                conf.wait_records.append(WaitRecord(offset, st.wait_requested, waited, same, False))
                return self._issue(st, conf, offset, now, client_period, period.value, "re-requested early")
            conf.wait_records.append(WaitRecord(offset, st.wait_requested, waited, same, same))
            st.wait_until = None
            st.skip_next_gap = True

        self._check_gap(st, conf, now, period.seconds)

        if self.busy:
            return self._issue(st, conf, offset, now, client_period, period.value, "server busy")
        if not st.active and len(self.active(now)) >= self.config.max_concurrent_downloads:
            wait = self._issue(st, conf, offset, now, client_period, period.value,
                               f"{self.config.max_concurrent_downloads} downloads already running",
                               delay=self._queue_delay(ieee, now))
            self._queue[ieee] = now + wait.request_time_s
            return wait
        self._queue.pop(ieee, None)
        if client_period is not None and period.value and client_period != period.value and not st.told_period:
            st.told_period = True
            return self._issue(st, conf, offset, now, client_period, period.value, "push MinimumBlockPeriod")
        if not st.active:
            st.started_at = now
        st.active = True
        st.last_request = now
        return None

    def finish(self, ieee: str, now: float | None = None) -> None:
        """The download ended (Upgrade End, abort): it no longer counts as concurrent."""
        self._queue.pop(ieee, None)
        st = self._state.get(ieee)
        if st is not None:
            if now is not None and st.active and st.started_at is not None and now > st.started_at:
                took = now - st.started_at
                old = self.typical_download_s
                self.typical_download_s = took if old is None else old + _TYPICAL_WEIGHT * (took - old)
            st.started_at = None
            st.active = False
            st.wait_until = None
            st.last_request = None
            st.told_period = False
        if self.on_finish is not None:
            self.on_finish(ieee)

    def active(self, now: float) -> list[str]:
        """Devices holding a download slot now."""
        idle = self.config.download_idle_s
        return [ieee for ieee, st in self._state.items()
                if st.active and st.last_request is not None and now - st.last_request <= idle]

    def _check_gap(self, st: _State, conf: Conformance, now: float, period_s: float) -> None:
        if st.skip_next_gap or st.last_request is None or period_s <= 0:
            st.skip_next_gap = False
            return
        conf.gaps_checked += 1
        if now - st.last_request + max(_GAP_JITTER_S, _GAP_JITTER_SHARE * period_s) < period_s:
            conf.gap_violations += 1

    def _queue_delay(self, ieee: str, now: float) -> int | None:
        """Seconds until this queued device's turn is likely (None: no download has finished yet).

        The running downloads should end at start + typical; the first in line gets the slot that frees
        first, the next the one after, and once every slot has been handed on, a round later again.
        """
        typical = self.typical_download_s
        if typical is None:
            return None
        # entries long past their return time belong to devices that went away: they hold no place
        grace = self.config.download_idle_s
        for gone in [q for q, due in self._queue.items() if due + grace < now and q != ieee]:
            del self._queue[gone]
        ahead = list(self._queue).index(ieee) if ieee in self._queue else len(self._queue)
        slots = max(1, self.config.max_concurrent_downloads)
        frees = sorted(st.started_at + typical for q in self.active(now)
                       if (st := self._state[q]).started_at is not None)
        frees += [now] * (slots - len(frees))  # a slot nobody holds is free now
        turn = frees[ahead % slots] + (ahead // slots) * typical
        return min(MAX_QUEUE_WAIT_S, int(math.ceil(max(0.0, turn - now))))

    def _issue(self, st: _State, conf: Conformance, offset: int, now: float, client_period: int | None,
               period_value: int, reason: str, delay: int | None = None) -> Wait:
        delay = max(1, int(math.ceil(self.config.wait_for_data_delay_s)), delay or 0)
        st.wait_until = now + delay
        st.wait_sent_at = now
        st.wait_offset = offset
        st.wait_requested = float(delay)
        st.last_request = now
        conf.waits_issued += 1
        return Wait(delay, period_value if client_period is not None else None, reason)
