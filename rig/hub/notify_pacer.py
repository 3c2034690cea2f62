"""Image Notify within the download slots (hub setting `notify_within_slots`, off by default).

With `max_concurrent_downloads` slots and more offers than that, notifying every device at once sends
all but a few into WAIT_FOR_DATA, whose RequestTime is whole seconds: on a fast link the slots then sit
idle between a download ending and the next waiting device coming back, and every wait costs a round
trip. With this setting the hub notifies only as many devices as there are free slots, queues the other
offers, and notifies the next one as soon as a download ends. A queued device that asks on its own
(its query timer, or zigpy's interview notify) is told NO_IMAGE_AVAILABLE until its turn.

Off by default because WAIT_FOR_DATA is the CH behaviour the GB plans check (R-CH-05, ec16).
"""

from __future__ import annotations

import collections
from collections.abc import Callable

from rig.clock import Clock, TimerHandle
from rig.hub.config import HubConfig
from rig.hub.ratelimit import RateLimiter

RESERVATION_S = 30.0  # a notified device that has not started downloading by then gives its slot back
RECHECK_S = 5.0  # while offers wait, look again this often (a slot can also free by a download going idle)


class NotifyPacer:
    def __init__(self, config: HubConfig, clock: Clock, limiter: RateLimiter,
                 notify: Callable[[str], bool]) -> None:
        self.config = config
        self.clock = clock
        self.limiter = limiter
        self._notify = notify  # sends the Image Notify for the device's open offer; False if none is due
        self._waiting: collections.deque[str] = collections.deque()
        self._reserved: dict[str, float] = {}  # notified, not downloading yet -> when (rig time)
        self._timer: TimerHandle | None = None
        self.held = 0  # notifies that waited for a slot (a figure for benches and reports)

    @property
    def waiting(self) -> list[str]:
        return list(self._waiting)

    def is_waiting(self, ieee: str) -> bool:
        """Its offer waits for a slot: a Query Next Image from it is answered NO_IMAGE_AVAILABLE for now."""
        return ieee in self._waiting

    def offer(self, ieee: str) -> None:
        """A new offer to an awake device: notify now if a slot is free, else queue it."""
        if ieee in self._waiting:
            return
        if self._free_slots() > 0:
            self._send(ieee)
            return
        self.held += 1
        self._waiting.append(ieee)
        self._arm()

    def slot_freed(self, ieee: str | None = None) -> None:
        """A download ended (Upgrade End, abort, withdrawal): hand its slot on."""
        if ieee is not None:
            self._reserved.pop(ieee, None)
        self._drain()

    def _on_timer(self) -> None:
        self._timer = None
        self._drain()

    def _drain(self) -> None:
        while self._waiting and self._free_slots() > 0:
            self._send(self._waiting.popleft())
        self._arm()

    def _send(self, ieee: str) -> None:
        if self._notify(ieee):
            self._reserved[ieee] = self.clock.now()

    def _free_slots(self) -> int:
        now = self.clock.now()
        active = set(self.limiter.active(now))
        for ieee, since in list(self._reserved.items()):
            if ieee in active or now - since > RESERVATION_S:
                del self._reserved[ieee]
        return self.config.max_concurrent_downloads - len(active) - len(self._reserved)

    def _arm(self) -> None:
        if self._waiting and self._timer is None:
            self._timer = self.clock.call_later(RECHECK_S, self._on_timer)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._reserved.clear()
