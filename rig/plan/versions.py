"""What each device of a plan runs: when the plan starts (and the bench's reset when that is too new for
the plan's images), what a step's 'current+N' means, and what it runs when the plan ends."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from rig.bench.session import BenchProblem, DeviceHandle, Session
from rig.hub.errors import HubError
from rig.hub.events import VersionObserved, VersionSource
from rig.image import parse_image
from rig.plan.loader import ImageRef
from rig.plan.timeline_feed import Timeline, TimelineFeed
from rig.report.record import RunRecord

IDENTITY_QUERY_S = 60.0  # how long a device on hardware may take to answer Image Notifies with a query
NOTIFY_AGAIN_S = 15.0  # ... notified again this often
RESET_POLL_S = 2.0  # real seconds between version reads while a reset device boots its old firmware

WaitUntil = Callable[[Callable[[], bool], float], Awaitable[None]]


class DeviceVersions:
    """The versions of the session's devices, read from the device (emulated: its flash) or heard from
    it (the hub events `feed` keeps), onto `record` (its devices' start/end versions).

    `wait_until(done, within)` waits in rig time (the plan's virtual-time wait)."""

    def __init__(self, session: Session, record: RunRecord, feed: TimelineFeed, timeline: Timeline,
                 wait_until: WaitUntil, log: Callable[[str], None]) -> None:
        self.session = session
        self.record = record
        self.feed = feed
        self.timeline = timeline
        self.wait_until = wait_until
        self.log = log
        self.start_versions: dict[str, int | None] = {}  # what each device ran when the plan started

    async def read_start(self, names: list[str], images: dict[str, ImageRef]) -> None:
        """Each device's version as the plan starts; reset a device already on one of `images`' versions."""
        for name in names:
            version = await self.version_now(self.session.devices[name])
            self.start_versions[name] = version
            self.record.devices[name]["start_version"] = version
            await self._reset_if_needed(name, images)

    async def version_now(self, handle: DeviceHandle) -> int | None:
        """The version the device runs now: an emulated device's flash; a real one read over the air
        (CurrentFileVersion), else from the Query Next Image it sends when notified. None: no answer."""
        if handle.emulated is not None:
            return handle.emulated.flash.current_file_version
        version = await self.session.hub.read_version(handle.ieee)
        if version is None:
            qni = await self.query(handle)
            version = qni.version if qni is not None else None
        return version

    async def read_end_versions(self) -> None:
        """Each device's version when the plan ended, for the record and the summary."""
        for name, handle in self.session.devices.items():
            if name not in self.record.devices:
                continue
            try:
                version = (handle.emulated.flash.current_file_version if handle.emulated is not None
                           else await asyncio.wait_for(self.session.hub.read_version(handle.ieee), 30))
            except Exception:  # noqa: BLE001 - the bench may be in any state after a failed plan
                version = None
            self.record.devices[name]["end_version"] = version

    def version_value(self, value: Any, device: str) -> int:
        """A version from a step: a number, or 'current' / 'current+N' (what `device` ran at plan start)."""
        if isinstance(value, int):
            return value
        offset = int(str(value)[len("current"):] or 0)
        start = self.start_versions.get(device)
        if start is None:
            start = self._first_version_heard(device)
        if start is None:
            raise BenchProblem(f"'{value}' needs the version {device} ran when the plan started, and it could "
                               "not be read (no answer to a CurrentFileVersion read nor to an Image Notify)")
        return start + offset

    def _first_version_heard(self, device: str) -> int | None:
        """A device that was not on the network when the plan started (the plan pairs it) starts on the
        version it reports when it first shows up: its first Query Next Image or version read."""
        handle = self.session.devices.get(device)
        heard = [e for e in self.feed.hub_events if isinstance(e, VersionObserved) and handle is not None
                 and e.ieee == handle.ieee and e.version is not None]
        if not heard:
            return None
        version = self.start_versions[device] = heard[0].version
        self.record.devices[device]["start_version"] = version
        return version

    async def query(self, handle: DeviceHandle) -> VersionObserved | None:
        """The device's newest Query Next Image (identity and version); unicast an Image Notify (jitter
        100: query now) if it has sent none in this plan."""
        def heard() -> VersionObserved | None:
            found = [e for e in self.feed.hub_events if isinstance(e, VersionObserved) and e.ieee == handle.ieee
                     and e.source is VersionSource.QUERY_NEXT_IMAGE]
            return found[-1] if found else None

        tries = int(IDENTITY_QUERY_S // NOTIFY_AGAIN_S)
        for _ in range(tries):  # a device busy ending an old download takes a notify only once idle
            if heard() is not None:
                break
            try:
                self.session.hub.send_image_notify(ieee=handle.ieee, payload_type=0, jitter=100)
            except HubError:
                return None  # zigpy knows no OTA client for it (not paired)
            try:
                await self.wait_until(lambda: heard() is not None, NOTIFY_AGAIN_S)
            except (asyncio.TimeoutError, TimeoutError):
                continue
        return heard()

    # -- a device kept across plans ------------------------------------------------------------------
    def _stale_images(self, handle: DeviceHandle, start: int, images: dict[str, ImageRef]) -> list[tuple[str, int]]:
        """The plan's file: images for the device's kind whose version it already runs (or a newer one)."""
        stale = []
        for image_name, ref in images.items():
            if ref.file is None:
                continue
            image = parse_image(ref.file.read_bytes(), source=str(ref.file))
            kind = self.session.hub_config.kind_of_image_type(image.image_type)
            if kind == handle.kind and image.file_version <= start:
                stale.append((image_name, image.file_version))
        return stale

    async def _reset_if_needed(self, name: str, images: dict[str, ImageRef]) -> None:
        """A device kept across plans may already run a file: image's version (or newer), and then the hub
        can never offer it. The bench's reset: command (a programmer or bootloader tool) brings it back
        first; without one, say so (the waits end at once with "already runs the offered version")."""
        handle = self.session.devices[name]
        start = self.start_versions.get(name)
        if handle.emulated is not None or start is None:
            return
        stale = self._stale_images(handle, start, images)
        if not stale:
            return
        what = ", ".join(f"{n} (0x{v:08X})" for n, v in stale)
        if not self.session.bench.reset.command:
            self.log(f"  note: {name} runs 0x{start:08X}, not below the plan's image {what}, and the bench has no "
                     "reset: command to bring it back; the hub will not offer it")
            self.record.devices[name]["reset"] = "needed, but the bench has no reset: command"
            return
        self.log(f"  {name} runs 0x{start:08X}, not below the plan's image {what}: running the bench's reset")
        version = await self._reset(handle, min(v for _, v in stale))
        if version is None or version >= min(v for _, v in stale):
            raise BenchProblem(f"after the bench's reset {name} runs {'?' if version is None else f'0x{version:08X}'}, "
                               f"still not below the plan's image {what}")
        self.start_versions[name] = version
        self.record.devices[name].update(start_version=version,
                                         reset=f"0x{start:08X} -> 0x{version:08X} by the bench's reset")
        self.timeline.event("reset", name, actor="rig", to="device", detail=f"0x{start:08X} -> 0x{version:08X}")

    async def _reset(self, handle: DeviceHandle, below: int) -> int | None:
        """Run the bench's reset: command on the device and read its version until it runs one below
        `below` or the reset's timeout passes (real time: the device boots its old firmware and answers
        again). Returns the version read last (None: no answer)."""
        from rig.bench.power import PowerError, run_command

        reset = self.session.bench.reset
        try:
            await run_command("reset", reset.command, handle.power_fields(), reset.timeout_s)
        except PowerError as exc:
            raise BenchProblem(str(exc)) from None
        loop = asyncio.get_running_loop()
        end = loop.time() + reset.timeout_s
        version = None
        while loop.time() < end:
            version = await self.version_now(handle)
            if version is not None and version < below:
                break
            await asyncio.sleep(RESET_POLL_S)
        return version
