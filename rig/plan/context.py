"""What steps run against: the session (radio, hub, devices), the back end, the images, the record."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, Callable

from rig.backend import Backend, BackendConfig, Fixtures
from rig.backend.fixtures import duis_eui
from rig.bench.quiet import quiet_enough
from rig.bench.session import GAS_SUPPLIER, IMPORT_SUPPLIER, BenchProblem, DeviceHandle, Session
from rig.clock import VirtualClock
from rig.hub.errors import HubError
from rig.hub.events import HubEvent, TransferOutcome, TransferResult, VersionObserved, VersionSource
from rig.image import parse_image
from rig.image.samples import make_large_image
from rig.plan.loader import Plan
from rig.report.record import RunRecord

PROFILE_HW_SPAN = 0xFF  # a generated image accepts hardware_version .. hardware_version + 0xFF
IDENTITY_QUERY_S = 60.0  # how long a device on hardware may take to answer Image Notifies with a query
NOTIFY_AGAIN_S = 15.0  # ... notified again this often
OTA_MANUFACTURER_ID, OTA_IMAGE_TYPE_ID = 0x0007, 0x0008  # optional OTA client attributes
# The hub's reasons for NO_IMAGE_AVAILABLE that no waiting can change (rig.hub.policy.decide_query).
_NEVER_SERVED = ("already runs the offered version", "not allowed", "manufacturer 0x", "image type 0x",
                 "hardware version")


class StepFailed(Exception):
    """An expectation of the plan was not met."""


class PlanContext:
    def __init__(self, plan: Plan, session: Session, record: RunRecord, log: Callable[[str], None], *,
                 artifacts: Path | None = None, progress: Any = None) -> None:
        self.plan = plan
        self.artifacts = artifacts  # where the capture goes (None: no capture)
        self.progress = progress  # rig.report.progress.Progress, or None
        self.capture = None
        self._untap: Callable[[], None] | None = None
        self.session = session
        self.record = record
        self.log = log
        self.images: dict[str, bytes] = {}
        self.requests: dict[str, str] = {}  # save_as name -> request id
        self.frame_marks: dict[str, int] = {}  # save_as name -> the hub's frames_logged when that step ran
        self.alert_cursor: dict[tuple, int] = {}  # what an await_alert already consumed
        self.hub_events: list[HubEvent] = []
        self._event_waiters: list[tuple[Callable[[HubEvent], bool], asyncio.Future]] = []
        self.backend: Backend | None = None
        self.t0 = 0.0
        self.transfer_marks: dict[str, dict[str, float]] = {}  # device -> first/last block rig time, bytes
        self.start_versions: dict[str, int | None] = {}  # what each device ran when the plan started

    # -- bring-up ----------------------------------------------------------------------------------
    @property
    def clock(self):
        return self.session.clock

    @property
    def hub(self):
        return self.session.hub

    async def start(self) -> None:
        await self.session.start()
        self.t0 = self.clock.now()
        for name, ref in self.plan.devices.items():
            handle = self.session.add_device(name, ref.profile, in_device_log=ref.in_device_log,
                                             install_code=ref.install_code)
            self.record.devices[name] = {"profile": ref.profile, "kind": handle.kind, "ieee": handle.ieee}
        self.hub.subscribe(self._on_hub_event)  # before reading versions: a query it sends counts
        for name in self.plan.devices:
            version = await self._version_now(self.session.devices[name])
            self.start_versions[name] = version
            self.record.devices[name]["start_version"] = version
            await self._reset_if_needed(name)
        for name, ref in self.plan.images.items():
            data = ref.file.read_bytes() if ref.file is not None else await self._generate(name, ref.generate)
            self.images[name] = data
            image = parse_image(data, source=str(ref.file or name))
            if self.session.hub_config.kind_of_image_type(image.image_type) is None:
                raise BenchProblem(
                    f"{self.plan.path}: image '{name}' ({ref.file or 'generated'}) has image type "
                    f"0x{image.image_type:04X}, which the hub maps to no device kind (known: "
                    f"{self.session.hub_config.known_image_types()}); map it under hub.image_types in the "
                    "bench file or the plan's settings.hub")
            self.record.images[name] = {"file": str(ref.file) if ref.file else "generated", "size": len(data),
                                        "manufacturer_code": image.manufacturer_code, "image_type": image.image_type,
                                        "file_version": image.file_version, "sha256": image.sha256,
                                        "format": image.format}
        self.hub.server.frame_listeners.append(self._on_frame)
        self.hub.radio_listeners.append(self._on_radio)
        if self.artifacts is not None:
            from rig.report.capture import Capture

            config = self.session.hub_config
            self.capture = Capture(pan_id=config.pan_id, channel=config.channel, now=self.clock.now)
            self._untap = self._tap()
        self.backend = Backend(self.session.workdir / "backend.sqlite3", self.clock, _CurrentHub(self.session),
                               self._fixtures(), self._backend_config())

    def _on_radio(self, state: str, detail: str) -> None:
        self.event("radio", None, detail=f"{state}: {detail}", actor="CH", to="CH")
        if state == "up" and self.capture is not None and self._untap is not None:
            self._untap = self._tap()  # the hub reopened the stick: a new zigpy application to tap

    def reattach_hub(self) -> None:
        """After a CH restart: subscriptions carry over (Session.restart_hub); frame listeners don't."""
        self.hub.server.frame_listeners.append(self._on_frame)
        self.hub.radio_listeners.append(self._on_radio)
        if self.capture is not None:
            self._untap = self._tap()

    def _tap(self) -> Callable[[], None]:
        from rig.report.capture import tap

        return tap(self.hub.app, self.capture)

    # -- versions and identities of the devices on the bench --------------------------------------
    async def _version_now(self, handle: DeviceHandle) -> int | None:
        """The version the device runs now: an emulated device's flash; a real one read over the air
        (CurrentFileVersion), else from the Query Next Image it sends when notified. None: no answer."""
        if handle.emulated is not None:
            return handle.emulated.flash.current_file_version
        version = await self.hub.read_version(handle.ieee)
        if version is None:
            qni = await self._query(handle)
            version = qni.version if qni is not None else None
        return version

    async def _reset_if_needed(self, name: str) -> None:
        """A device kept across plans may already run a file: image's version (or newer), and then the hub
        can never offer it. The bench's reset: command (a programmer or bootloader tool) brings it back
        first; without one, say so (the waits end at once with "already runs the offered version")."""
        from rig.bench.power import PowerError, run_command

        handle = self.session.devices[name]
        start = self.start_versions.get(name)
        if handle.emulated is not None or start is None:
            return
        stale = []
        for image_name, ref in self.plan.images.items():
            if ref.file is None:
                continue
            image = parse_image(ref.file.read_bytes(), source=str(ref.file))
            if self.session.hub_config.kind_of_image_type(image.image_type) == handle.kind and image.file_version <= start:
                stale.append((image_name, image.file_version))
        if not stale:
            return
        what = ", ".join(f"{n} (0x{v:08X})" for n, v in stale)
        reset = self.session.bench.reset
        if not reset.command:
            self.log(f"  note: {name} runs 0x{start:08X}, not below the plan's image {what}, and the bench has no "
                     "reset: command to bring it back; the hub will not offer it")
            self.record.devices[name]["reset"] = "needed, but the bench has no reset: command"
            return
        self.log(f"  {name} runs 0x{start:08X}, not below the plan's image {what}: running the bench's reset")
        try:
            await run_command("reset", reset.command, handle.power_fields(), reset.timeout_s)
        except PowerError as exc:
            raise BenchProblem(str(exc)) from None
        lowest = min(v for _, v in stale)
        loop = asyncio.get_running_loop()
        end = loop.time() + reset.timeout_s
        version = None
        while loop.time() < end:  # real time: the device boots its old firmware and answers again
            version = await self._version_now(handle)
            if version is not None and version < lowest:
                break
            await asyncio.sleep(2.0)
        if version is None or version >= lowest:
            raise BenchProblem(f"after the bench's reset {name} runs {'?' if version is None else f'0x{version:08X}'}, "
                               f"still not below the plan's image {what}")
        self.start_versions[name] = version
        self.record.devices[name].update(start_version=version, reset=f"0x{start:08X} -> 0x{version:08X} by the bench's reset")
        self.event("reset", name, actor="rig", to="device", detail=f"0x{start:08X} -> 0x{version:08X}")

    async def read_end_versions(self) -> None:
        """Each device's version when the plan ended, for the record and the summary."""
        for name, handle in self.session.devices.items():
            if name not in self.record.devices:
                continue
            try:
                version = (handle.emulated.flash.current_file_version if handle.emulated is not None
                           else await asyncio.wait_for(self.hub.read_version(handle.ieee), 30))
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
        heard = [e for e in self.hub_events if isinstance(e, VersionObserved) and handle is not None
                 and e.ieee == handle.ieee and e.version is not None]
        if not heard:
            return None
        version = self.start_versions[device] = heard[0].version
        self.record.devices[device]["start_version"] = version
        return version

    async def _query(self, handle: DeviceHandle) -> VersionObserved | None:
        """The device's newest Query Next Image (identity and version); unicast an Image Notify (jitter
        100: query now) if it has sent none in this plan."""
        def heard() -> VersionObserved | None:
            found = [e for e in self.hub_events if isinstance(e, VersionObserved) and e.ieee == handle.ieee
                     and e.source is VersionSource.QUERY_NEXT_IMAGE]
            return found[-1] if found else None

        tries = int(IDENTITY_QUERY_S // NOTIFY_AGAIN_S)
        for _ in range(tries):  # a device busy ending an old download takes a notify only once idle
            if heard() is not None:
                break
            try:
                self.hub.send_image_notify(ieee=handle.ieee, payload_type=0, jitter=100)
            except HubError:
                return None  # zigpy knows no OTA client for it (not paired)
            try:
                await self.wait_until(lambda: heard() is not None, NOTIFY_AGAIN_S)
            except (asyncio.TimeoutError, TimeoutError):
                continue
        return heard()

    async def _identity(self, name: str, source: str) -> tuple[dict[str, int | None], str]:
        """Manufacturer code, image type and hardware version of device `name`, and where they came from:
        the device itself (its Query Next Image, else its OTA attributes), the bench file, or the
        emulated profile."""
        handle = self.session.devices[name]
        if handle.emulated is not None or source == "profile":
            from rig.emu.profiles import load_profile

            prof = handle.emulated.profile if handle.emulated is not None else load_profile(handle.profile)
            ids = {"manufacturer_code": prof.manufacturer_code, "image_type": prof.image_type,
                   "hardware_version": prof.hardware_version}
            return ids, ("the emulated device" if handle.emulated is not None else f"the profile {prof.name}")
        if source == "bench":
            ids = dict(handle.real.identity) if handle.real is not None else {}
            missing = [k for k in ("manufacturer_code", "image_type") if k not in ids]
            if missing:
                raise BenchProblem(f"generate: identity: bench, but the bench file's devices.{handle.real.name if handle.real else name} "
                                   f"has no {' / '.join(missing)}")
            ids.setdefault("hardware_version", None)
            return ids, "the bench file"
        qni = await self._query(handle)
        if qni is not None and qni.manufacturer_code is not None:
            return ({"manufacturer_code": qni.manufacturer_code, "image_type": qni.image_type,
                     "hardware_version": qni.hardware_version}, "the device's Query Next Image")
        mfr = await self.hub.read_ota_attribute(handle.ieee, OTA_MANUFACTURER_ID)
        itype = await self.hub.read_ota_attribute(handle.ieee, OTA_IMAGE_TYPE_ID)
        if mfr not in (None, 0xFFFF) and itype not in (None, 0xFFFF):  # 0xFFFF: not set (or an aborted download)
            return ({"manufacturer_code": mfr, "image_type": itype, "hardware_version": None},
                    "the device's OTA attributes ManufacturerID / ImageTypeID")
        if handle.real is not None and {"manufacturer_code", "image_type"} <= set(handle.real.identity):
            ids = {"hardware_version": None, **handle.real.identity}
            return ids, "the bench file (the device sent no query and has no ManufacturerID/ImageTypeID)"
        raise BenchProblem(f"cannot learn {name}'s manufacturer code and image type: it sent no Query Next Image "
                           f"within {IDENTITY_QUERY_S:g} s of an Image Notify and has no ManufacturerID/ImageTypeID "
                           "attributes; give them in the bench file (devices: manufacturer_code, image_type, "
                           "hardware_version) and `identity: bench` in the plan's generate:")

    async def _generate(self, image_name: str, spec: dict[str, Any]) -> bytes:
        like = spec["like"]
        ident, source = await self._identity(like, spec.get("identity") or "device")
        if "version_from_current" in spec:
            version = self.version_value(f"current+{spec['version_from_current']}", like)
        else:
            version = spec.get("version", (self.start_versions.get(like) or 1) + 1)
        hw = ident.get("hardware_version")
        hw_min = spec.get("hw_min", hw)
        hw_max = spec.get("hw_max", None if hw is None else min(0xFFFF, hw + PROFILE_HW_SPAN))
        if (hw_min is None) != (hw_max is None):
            hw_min, hw_max = hw_min if hw_min is not None else 0, hw_max if hw_max is not None else 0xFFFF
        fmt = spec.get("format", "zigbee")
        self.record.devices[like]["identity"] = {**{k: v for k, v in ident.items() if v is not None},
                                                 "source": source}
        self.log(f"  image {image_name}: 0x{ident['manufacturer_code']:04X}/0x{ident['image_type']:04X} "
                 f"v0x{version:08X} from {source}")
        kind = self.session.devices[like].kind
        ids = dict(manufacturer_code=ident["manufacturer_code"], image_type=ident["image_type"],
                   file_version=version, header_string=f"rig {kind} v{version}"[:32],
                   min_hw_version=hw_min, max_hw_version=hw_max, format=fmt)
        if fmt == "zigbee":
            ids["integrity_code"] = True
        size = spec.get("size") or 4096
        data = make_large_image(size, seed=f"{self.plan.id}:{spec}", **ids)
        if spec.get("corrupt_integrity"):
            data = data[:-1] + bytes([data[-1] ^ 0xFF])  # the integrity code no longer matches
        return data

    def _fixtures(self) -> Fixtures:
        devices = []
        for handle in self.session.devices.values():
            devices.append({"id": duis_eui(handle.ieee), "kind": handle.kind.upper(), "model": self.model_of(handle),
                            "import_supplier": IMPORT_SUPPLIER,
                            "gas_supplier": GAS_SUPPLIER})
        ch = self.ch_ieee()
        devices.append({"id": duis_eui(ch), "kind": "CH", "model": "CH", "import_supplier": IMPORT_SUPPLIER,
                        "gas_supplier": GAS_SUPPLIER})
        models = {self.model_of(h) for h in self.session.devices.values()}
        entries = []
        for name, data in self.images.items():
            if self.plan.images[name].generate and self.plan.images[name].generate.get("off_cpl"):
                continue
            image = parse_image(data)
            for model in sorted(models):
                entries.append({"model": model, "manufacturer_code": image.manufacturer_code,
                                "image_type": image.image_type, "firmware_version": image.file_version,
                                "sha256": hashlib.sha256(data).hexdigest()})
        estate = {"suppliers": [{"id": IMPORT_SUPPLIER}, {"id": GAS_SUPPLIER}, {"id": "OTHER-SUPPLIER-09"}],
                  "devices": devices}
        return Fixtures.from_dicts(estate, {"entries": entries}, where=(f"{self.plan.path} devices", "CPL"))

    def _backend_config(self) -> BackendConfig:
        from rig.plan.backend_settings import backend_config

        return backend_config(self.session.backend_settings, str(self.plan.path))

    def model_of(self, handle: DeviceHandle) -> str:
        return f"{handle.kind.upper()}-{handle.profile}"

    def ch_ieee(self) -> str:
        return str(self.hub.app.state.node_info.ieee)

    def extra_limit_s(self, kind: str, args: dict[str, Any]) -> float:
        """Real seconds a step needs beyond its own window: a power cycle's commands and, when the step
        gives no within:, the bench's restart window."""
        if kind != "power_cycle":
            return 0.0
        settings = self.session.bench.power
        handle = self.session.devices.get(args.get("device", ""))
        budget = handle.power(settings).budget_s if handle is not None else 0.0
        return budget + (0.0 if args.get("within") else settings.restart_within_s)

    # -- observing ---------------------------------------------------------------------------------
    def rig_time(self) -> float:
        return self.clock.now() - self.t0

    def event(self, kind: str, device: str | None = None, **fields: Any) -> None:
        self.record.events.append({"t": round(self.rig_time(), 3), "kind": kind, "device": device, **fields})

    def device_name(self, ieee: str) -> str | None:
        for name, handle in self.session.devices.items():
            if handle.ieee == ieee:
                return name
        return None

    def _on_hub_event(self, event: HubEvent) -> None:
        if event in self.hub_events:  # a replay after a CH restart: already known
            return
        self.hub_events.append(event)
        name = self.device_name(getattr(event, "ieee", ""))
        kind = type(event).__name__
        detail = {k: (v.name if hasattr(v, "name") else v) for k, v in vars(event).items() if k != "ieee"}
        self.event(_TIMELINE_KIND.get(kind, kind), name, actor="CH", to="CSP", detail=str(detail))
        if self.progress is not None and kind == "TransferOutcome" and name in self.transfer_marks:
            self.progress.done(name, getattr(event, "result", 1) == 0)
        for entry in list(self._event_waiters):
            check, fut = entry
            if not fut.done() and check(event):
                fut.set_result(event)
                self._event_waiters.remove(entry)

    def _on_frame(self, frame) -> None:
        name = self.device_name(frame.ieee)
        if frame.offset is not None and frame.status == 0:
            marks = self.transfer_marks.setdefault(name or frame.ieee, {"first": self.rig_time(), "bytes": 0})
            marks["last"] = self.rig_time()
            marks["bytes"] += frame.size or 0
            marks["high"] = max(marks.get("high", 0), frame.offset + (frame.size or 0))
            marks["total"] = frame.total or 0
            marks["blocks"] = marks.get("blocks", 0) + 1
            if self.progress is not None:
                self.progress.update(name or frame.ieee, marks["high"], frame.total or 0, self.rig_time())
            # The timeline keeps about one point per 2 % of the image per device, not every block.
            step = max(1, (frame.total or 1) // 50)
            if frame.offset // step != marks.get("last_point", -1):
                marks["last_point"] = frame.offset // step
                self.event("block", name, offset=frame.offset, size=frame.total, actor="CH", to="device")
        elif frame.status == 0x97:  # WAIT_FOR_DATA
            marks = self.transfer_marks.setdefault(name or frame.ieee, {"first": self.rig_time(), "bytes": 0})
            marks["waits"] = marks.get("waits", 0) + 1
            if self.progress is not None:
                self.progress.pause(name or frame.ieee, float(self.session.hub_config.wait_for_data_delay_s))
            if self.rig_time() - marks.get("last_wait_event", -1e9) >= 1.0:  # a flood shows as one mark a second
                marks["last_wait_event"] = self.rig_time()
                self.event("wait_for_data", name, detail=frame.detail, actor="CH", to="device")
        elif frame.command in ("QUERY_NEXT_IMAGE", "QUERY_NEXT_IMAGE_RSP", "UPGRADE_END", "IMAGE_NOTIFY",
                               "UPGRADE_END_RSP"):
            broadcast = frame.ieee.startswith("broadcast")  # logged under "broadcast 0xFFFF", not a device
            self.event(frame.command.lower(), name, detail=frame.detail, status=frame.status,
                       actor="device" if frame.direction == "rx" else "CH",
                       to="CH" if frame.direction == "rx" else frame.ieee if broadcast else "device")
        elif frame.status == 0x95:  # ABORT
            self.event("abort", name, detail=frame.detail, actor="CH", to="device")

    def transfer_failure(self, name: str) -> str | None:
        """If the device's newest offer already ended in a failed transfer: what failed, with the status
        and what the device sent last. A wait for progress or activation can end at once then."""
        ieee = self.session.devices[name].ieee
        offer = self.hub.store.latest_offer(ieee)
        if offer is None:
            return None
        failed = [e for e in self.hub_events if isinstance(e, TransferOutcome) and e.ieee == ieee
                  and e.offer_id == offer.id and e.result is not TransferResult.SUCCESS]
        if not failed:
            return self._offer_refused(ieee, offer) if offer.state == "offered" else None
        outcome = failed[-1]
        text = f"the transfer already failed: {outcome.result.name.lower()}" + (f" ({outcome.detail})" if outcome.detail else "")
        said = [f for f in self.hub.frames if f.ieee == ieee and f.direction == "rx"]
        if said:
            last = said[-1]
            status = f" status 0x{last.status:02X}" if last.status is not None else ""
            text += (f"; the device last sent {last.command}{status}" + (f" {last.detail}" if last.detail else "")
                     + f" at {last.time - self.t0:.1f} s")
        return text

    def _offer_refused(self, ieee: str, offer: Any) -> str | None:
        """The device asked after the offer was made and cannot be given it (it already runs that version,
        a downgrade, another manufacturer / image type / hardware): no transfer will ever start."""
        answers = [f for f in self.hub.frames if f.ieee == ieee and f.time >= offer.created_at
                   and f.direction == "tx" and f.command == "QUERY_NEXT_IMAGE_RSP"]
        if not answers or answers[-1].status in (None, 0x00) or not any(
                why in answers[-1].detail for why in _NEVER_SERVED):
            return None
        asked = [f for f in self.hub.frames if f.ieee == ieee and f.direction == "rx" and f.command == "QUERY_NEXT_IMAGE"]
        return (f"the transfer cannot start: the device queried ({asked[-1].detail if asked else 'its version unknown'}) "
                f"and the hub answered NO_IMAGE_AVAILABLE (0x{answers[-1].status:02X}): {answers[-1].detail}")

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
        return quiet_enough(quiet_s, idle, self.session.hub, self.session.emulator)

    def _activity(self) -> tuple[int, ...]:
        emu = self.session.emulator
        # EZSP commands count too: bellows' extended-timeout/lookup round trips before a send
        # carry no air frame, and jumping time under them fires device timeouts (a CI flake).
        air = (emu.network.frames_to_host, emu.network.frames_to_devices, emu.ncp.commands_received) if emu is not None else ()
        alerts = self.backend.alerts.last_seq() if self.backend is not None else 0
        return (len(self.hub.frames), alerts, *air)

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
        emu = self.session.emulator
        return list(emu.errors) if emu is not None else []

    # -- wrap-up -----------------------------------------------------------------------------------
    def finish(self) -> None:
        if self._untap is not None:
            self._untap()
            self._untap = None
        if self.capture is not None and self.artifacts is not None:
            path = self.capture.write_pcapng(self.artifacts / f"{self.plan.id}.pcapng")
            self.capture.close()
            self.record.artifacts["capture"] = str(path)
        for name, handle in self.session.devices.items():  # reboots a fault triggered inside a device
            ota = [o for o in getattr(getattr(handle.emulated, "ota", None), "records", [])
                   if o.name in ("activated", "fault_reboot")]
            for rec in getattr(handle.emulated, "records", []):
                if rec.name == "reboot":
                    # The OTA client reboots into a new image right after it records "activated": that
                    # reboot is the upgrade working, not a fault (the report draws it apart).
                    why = next((o.name for o in reversed(ota) if rec.time - 1.0 <= o.time <= rec.time), None)
                    self.record.events.append({"t": round(rec.time - self.t0, 3), "kind": "reboot", "device": name,
                                               "offset": None, "actor": "device", "to": "device",
                                               "reason": {"activated": "activation", "fault_reboot": "fault"}.get(
                                                   why, "power cycle"),
                                               "detail": "reboot into the new image" if why == "activated"
                                               else "device power cycle"})
        self.record.events.sort(key=lambda e: e.get("t", 0))
        if self.backend is not None:
            for alert in self.backend.alerts.list():
                entry = alert.to_json()
                entry["device_name"] = self.device_name(alert.device or "")
                entry["t"] = round(alert.time - self.t0, 3)
                self.record.alerts.append(entry)

    async def stop(self) -> None:
        try:
            if self.backend is not None:
                self.backend.close()
                self.backend = None
        finally:
            self.session.backend = None
            await self.session.stop()


class _CurrentHub:
    """The CH port the back end drives: always the hub process that is running now (a CH restart
    replaces the Hub object, as a real CH reboot replaces its firmware's state in RAM)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def store_image(self, *args: Any, **kwargs: Any) -> int:
        return self._session.hub.store_image(*args, **kwargs)

    def offer(self, *args: Any, **kwargs: Any) -> int:
        return self._session.hub.offer(*args, **kwargs)

    def activate(self, *args: Any, **kwargs: Any) -> None:
        self._session.hub.activate(*args, **kwargs)

    async def read_version(self, ieee: str) -> int | None:
        return await self._session.hub.read_version(ieee)

    def subscribe(self, sink: Callable[[HubEvent], None]) -> None:
        self._session.hub.subscribe(sink)


_TIMELINE_KIND = {"TransferOutcome": "transfer_outcome", "ActivationOutcome": "activation_outcome",
                  "VersionObserved": "version", "ImageDiscarded": "image_discarded"}
