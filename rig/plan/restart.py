"""Evidence that a device restarted: it left and came back, as the CH sees it over the air.

A power cycle passes only on one of these, named in the record:
  - a Device_annce from it (a Zigbee device announces itself on every power-up),
  - a rejoin (the trust centre or zigpy saw it join again, or it left and joined),
  - a fresh Query Next Image after a silence of at least `silence_s` (it went quiet, then queried anew).
The next block request of a download that was never interrupted is none of these.
"""

from __future__ import annotations

from typing import Any

import zigpy.types as t

from rig.hub.ota_server import FrameRecord


class RestartWatch:
    """Listens to zigpy (the hub's application and the device's ZDO) from the moment the cycle starts."""

    def __init__(self, hub: Any, ieee: str, *, since: float, frames_mark: int, silence_s: float) -> None:
        self.hub = hub
        self.ieee = ieee
        self.since = since  # clock time the cycle started
        self.frames_mark = frames_mark
        self.silence_s = silence_s
        self.seen: list[tuple[float, str]] = []  # (clock time, what)
        self._app_listener: int | None = None
        self._zdo: Any = None
        self._zdo_listener: int | None = None
        self._attach()

    # zigpy listener callbacks ----------------------------------------------------------------------
    def device_joined(self, device: Any) -> None:
        if str(device.ieee) == self.ieee:
            self.seen.append((self.hub.clock.now(), "it joined the network again (rejoin)"))

    def device_left(self, device: Any) -> None:
        if str(device.ieee) == self.ieee:
            self.seen.append((self.hub.clock.now(), "left"))

    def device_announce(self, device: Any) -> None:
        if str(device.ieee) == self.ieee:
            self.seen.append((self.hub.clock.now(), "it sent a Device_annce (announced itself on power-up)"))

    def device_initialized(self, device: Any) -> None:  # zigpy calls every app listener with this too
        pass

    # ------------------------------------------------------------------------------------------------
    def _attach(self) -> None:
        app = self.hub.app
        self._app_listener = app.add_listener(self)
        try:
            device = app.get_device(ieee=t.EUI64.convert(self.ieee))
        except KeyError:
            return
        self._zdo = device.zdo
        self._zdo_listener = device.zdo.add_listener(self)

    def close(self) -> None:
        try:
            if self._app_listener is not None and self.hub._app is not None:
                self.hub.app.remove_listener(self._app_listener)
            if self._zdo is not None and self._zdo_listener is not None:
                self._zdo.remove_listener(self._zdo_listener)
        except Exception:  # noqa: BLE001 - the hub may have restarted under us; nothing left to detach
            pass

    def evidence(self) -> str | None:
        """What shows the device restarted, or None (yet)."""
        found = self._restart()
        if found is None:
            return None
        when, text = found
        return text + self._activation_note(when)

    def _restart(self) -> tuple[float, str] | None:
        came_back = [(when, what) for when, what in self.seen if what != "left"]
        if came_back:
            left = any(what == "left" for _, what in self.seen)
            return came_back[0][0], ("it left and " if left else "") + came_back[0][1]
        return self._fresh_query()

    def _activation_note(self, when: float) -> str:
        """A device told to activate its new image during the cycle reboots by itself: a restart after
        that time may be that reboot, not the power cycle. The record says so (the restart still counts:
        a real power cycle may land there too)."""
        try:
            offer = self.hub.store.latest_offer(self.ieee)
        except Exception:  # noqa: BLE001 - the hub may have restarted under us: no note then
            return ""
        at = getattr(offer, "activation_at", None)
        if at is None or not self.since <= at <= when:
            return ""
        return (f"; note: the hub told it to activate its new image {at - self.since:.1f} s into the power "
                "cycle, so this may be its activation reboot rather than the power cycle")

    def _fresh_query(self) -> tuple[float, str] | None:
        frames: list[FrameRecord] = self.hub.frames
        own = [f for f in frames if f.ieee == self.ieee and f.direction == "rx"]
        recent = self.hub.frames_since(self.frames_mark)
        recent_ids = {id(f) for f in recent}
        previous: float | None = None
        for f in own:
            if id(f) in recent_ids and f.command == "QUERY_NEXT_IMAGE":
                gap = f.time - max(previous if previous is not None else self.since, self.since)
                if gap >= self.silence_s:
                    return f.time, f"it went silent for {gap:.1f} s, then sent a fresh Query Next Image ({f.detail})"
            previous = f.time
        return None

    def summary(self) -> str:
        """What was heard from the device since the cycle started (for a failure message)."""
        recent = [f for f in self.hub.frames_since(self.frames_mark) if f.ieee == self.ieee
                  and f.direction == "rx"]
        kinds = sorted({f.command for f in recent})
        events = sorted({what for _, what in self.seen})
        heard = (f"{len(recent)} OTA frame(s) ({', '.join(kinds)})" if recent else "no OTA frame")
        return heard + (f"; zigpy saw: {', '.join(events)}" if events else "; no Device_annce, no rejoin")
