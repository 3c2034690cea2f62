"""What steps run against: the session (radio, hub, devices), the back end, the images, the record.

`PlanContext` is the one object the steps hold; each concern behind it is its own module, given its
collaborators: the devices' versions (rig.plan.versions), the plan's images (rig.plan.plan_images), the
back end's fixtures and settings (rig.plan.plan_backend), the timeline and what the hub says onto it
(rig.plan.timeline_feed), the capture (rig.plan.plan_capture). Waiting in rig time is here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

from rig.backend import Backend
from rig.bench.quiet import quiet_enough
from rig.bench.session import DeviceHandle, Session
from rig.clock import VirtualClock
from rig.hub.events import HubEvent
from rig.plan import plan_backend
from rig.plan.loader import Plan
from rig.plan.plan_capture import PlanCapture
from rig.plan.plan_images import PlanImages
from rig.plan.timeline_feed import Timeline, TimelineFeed, device_name
from rig.plan.versions import DeviceVersions
from rig.report.record import RunRecord


class StepFailed(Exception):
    """An expectation of the plan was not met."""


class PlanContext:
    def __init__(self, plan: Plan, session: Session, record: RunRecord, log: Callable[[str], None], *,
                 artifacts: Path | None = None, progress: Any = None) -> None:
        self.plan = plan
        self.artifacts = artifacts  # where the capture goes (None: no capture)
        self.progress = progress  # rig.report.progress.Progress, or None
        self.capture: PlanCapture | None = None
        self.session = session
        self.record = record
        self.log = log
        self.images: dict[str, bytes] = {}
        self.requests: dict[str, str] = {}  # save_as name -> request id
        self.frame_marks: dict[str, int] = {}  # save_as name -> the hub's frames_logged when that step ran
        self.alert_cursor: dict[tuple, int] = {}  # what an await_alert already consumed
        self._event_waiters: list[tuple[Callable[[HubEvent], bool], asyncio.Future]] = []
        self.timeline = Timeline(session.clock, record)
        self.feed = TimelineFeed(session, self.timeline, progress)
        self.versions = DeviceVersions(session, record, self.feed, self.timeline, self.wait_until, log)
        self.plan_images = PlanImages(plan, session, record, self.versions, log)

    # -- what the steps read -----------------------------------------------------------------------
    @property
    def clock(self):
        return self.session.clock

    @property
    def hub(self):
        return self.session.hub

    @property
    def backend(self) -> Backend | None:
        return self.session.backend

    @property
    def t0(self) -> float:
        return self.timeline.t0

    @property
    def hub_events(self) -> list[HubEvent]:
        return self.feed.hub_events

    @property
    def transfer_marks(self) -> dict[str, dict[str, float]]:
        return self.feed.transfer_marks  # device -> first/last block rig time, bytes

    @property
    def start_versions(self) -> dict[str, int | None]:
        return self.versions.start_versions  # what each device ran when the plan started

    # -- bring-up ----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.session.start()
        self.timeline.start()
        for name, ref in self.plan.devices.items():
            handle = self.session.add_device(name, ref.profile, in_device_log=ref.in_device_log,
                                             install_code=ref.install_code)
            self.record.devices[name] = {"profile": ref.profile, "kind": handle.kind, "ieee": handle.ieee}
        self.session.hub_events.connect(self._on_hub_event)  # before reading versions: a query it sends counts
        await self.versions.read_start(list(self.plan.devices), self.plan.images)
        self.images.update(await self.plan_images.load())
        self.session.frames.connect(self.feed.on_frame)
        self.session.radio_changes.connect(self._on_radio)
        if self.artifacts is not None:
            self.capture = PlanCapture(self.session, self.artifacts / f"{self.plan.id}.pcapng")
            self.capture.tap()
        self.session.start_backend(plan_backend.plan_fixtures(self.plan, self.session, self.images),
                                   plan_backend.plan_backend_config(self.plan, self.session))

    def _on_radio(self, state: str, detail: str) -> None:
        self.event("radio", None, detail=f"{state}: {detail}", actor="CH", to="CH")
        if self.capture is not None:
            self.capture.on_radio(state)

    async def restart_hub(self) -> None:
        """The CH reboots. The session's signals carry the listeners over; the capture taps the new hub's
        zigpy application."""
        await self.session.restart_hub()
        if self.capture is not None:
            self.capture.tap()

    # -- the devices, their versions, the timeline (rig.plan.versions, rig.plan.timeline_feed) ------
    async def read_end_versions(self) -> None:
        await self.versions.read_end_versions()

    def version_value(self, value: Any, device: str) -> int:
        return self.versions.version_value(value, device)

    def model_of(self, handle: DeviceHandle) -> str:
        return plan_backend.model_of(handle)

    def ch_ieee(self) -> str:
        return self.hub.coordinator_ieee

    def extra_limit_s(self, kind: str, args: dict[str, Any]) -> float:
        """Real seconds a step needs beyond its own window: a power cycle's commands and, when the step
        gives no within:, the bench's restart window."""
        if kind != "power_cycle":
            return 0.0
        settings = self.session.bench.power
        handle = self.session.devices.get(args.get("device", ""))
        budget = handle.power(settings).budget_s if handle is not None else 0.0
        return budget + (0.0 if args.get("within") else settings.restart_within_s)

    def rig_time(self) -> float:
        return self.timeline.rig_time()

    def event(self, kind: str, device: str | None = None, **fields: Any) -> None:
        self.timeline.event(kind, device, **fields)

    def device_name(self, ieee: str) -> str | None:
        return device_name(self.session.devices, ieee)

    def transfer_failure(self, name: str) -> str | None:
        return self.feed.transfer_failure(name)

    # -- waiting -------------------------------------------------------------------------------------
    def _on_hub_event(self, event: HubEvent) -> None:
        if not self.feed.on_hub_event(event):  # a replay after a CH restart: already known
            return
        for entry in list(self._event_waiters):
            check, fut = entry
            if not fut.done() and check(event):
                fut.set_result(event)
                self._event_waiters.remove(entry)

    async def wait_hub_event(self, check: Callable[[HubEvent], bool], within: float) -> HubEvent:
        found: list[HubEvent] = []

        def done() -> bool:
            if not found:
                found.extend(e for e in self.hub_events if check(e))
            return bool(found)

        await self.wait_until(done, within)
        return found[0]

    async def wait_until(self, done: Callable[[], bool], within: float, *, idle: float = 0.1,
                         poll: float = 0.02) -> None:
        """Wait until done(), for at most `within` seconds of rig time (asyncio.TimeoutError after).

        On a virtual clock, once the bench has been quiet for `idle` real seconds (no OTA frame, no
        frame on the simulated air, no alert), jump to the next rig timer inside the window rather than
        sit through it: a 15-minute version check or an hourly re-ask then costs milliseconds.
        """
        loop = asyncio.get_running_loop()
        deadline = self.clock.now() + within
        activity, quiet_since = self._activity(), loop.time()
        while not done():
            if self.clock.now() >= deadline:
                raise asyncio.TimeoutError(f"not within {within:g} s of rig time")
            await asyncio.sleep(poll)
            now_activity = self._activity()
            if now_activity != activity:
                activity, quiet_since = now_activity, loop.time()
                continue
            if isinstance(self.clock, VirtualClock) and self._quiet_for(loop.time() - quiet_since, idle) and not done():
                nxt = self.clock.next_deadline()
                target = deadline if nxt is None else min(nxt, deadline)
                if target > self.clock.now():
                    await self.advance(target - self.clock.now(), quiet_already=True)
                quiet_since = loop.time()

    def _quiet_for(self, quiet_s: float, idle: float) -> bool:
        return quiet_enough(quiet_s, idle, self.session.hub, self.session.radio)

    def _activity(self) -> tuple[int, ...]:
        # The radio's counters include EZSP commands: bellows' extended-timeout/lookup round trips
        # before a send carry no air frame, and jumping time under them fires device timeouts (a CI flake).
        alerts = self.backend.alerts.last_seq() if self.backend is not None else 0
        return (len(self.hub.frames), alerts, *self.session.radio.activity())

    async def advance(self, seconds: float, *, quiet_already: bool = False) -> None:
        if not isinstance(self.clock, VirtualClock):
            raise StepFailed("advance_clock needs an emulated bench (a real bench cannot jump time)")

        async def settle() -> None:  # let radio round trips started by a fired timer finish
            await asyncio.sleep(0.005)

        if not quiet_already:  # wait_until has just seen the bench quiet: a second wait costs each jump 0.1 s
            await self.quiesce()  # frames already on their way land before time jumps past them
        await self.clock.advance(seconds, settle=settle)

    async def quiesce(self, quiet: float = 0.1, limit: float = 3.0) -> None:
        """Wait (real time) until the bench has been quiet for `quiet` s, at most `limit` s."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        activity, since = self._activity(), loop.time()
        while loop.time() < end and not self._quiet_for(loop.time() - since, quiet):
            await asyncio.sleep(0.02)
            if (now := self._activity()) != activity:
                activity, since = now, loop.time()

    def radio_trouble_since(self, rig_t: float) -> str:
        """What happened to the stick since `rig_t` (plan time), if it was lost; '' if all was well."""
        hub = self.session.hub
        if hub is None:
            return ""
        trouble = [(t - self.t0, state, detail) for t, state, detail in hub.radio_log
                   if t - self.t0 >= rig_t - 0.001 and state != "up"]
        if not trouble and hub.radio_state == "up":
            return ""
        parts = [f"{state} at {t:.1f} s: {detail}" for t, state, detail in trouble]
        if hub.radio_state != "up":
            parts.append(f"now {hub.radio_state}")
        return "; ".join(parts)

    def rig_errors(self) -> list[str]:
        return self.session.radio.errors()

    # -- wrap-up -----------------------------------------------------------------------------------
    def finish(self) -> None:
        if self.capture is not None:
            self.record.artifacts["capture"] = str(self.capture.close())
        self.feed.record_reboots()  # reboots a fault triggered inside a device
        self.record.events.sort(key=lambda e: e.get("t", 0))
        if self.backend is not None:
            self.feed.record_alerts(self.backend)

    async def stop(self) -> None:
        await self.session.stop()  # the back end first, then the hub, then the radio
