"""Bring a bench up for one run and down again: radio, hub, back end, in one place.

One `Session` for the plan runner, the Python harness, the pytest fixtures, the benches and the soak. The
radio is a strategy (rig.bench.radio): the emulated stick on a pty with the devices behind it on a
virtual clock, or the bench's real stick on the real clock with the devices the bench file maps.
Everything above the serial line is the same code, and nothing here asks which radio it has.

Observers that must outlive a CH restart connect to the session's signals (`hub_events`, `frames`,
`radio_changes`): each hub the session starts feeds them. Whatever connects to a Hub directly lives
and dies with that Hub object.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from pathlib import Path
from typing import Any, Callable

from rig.bench.config import Bench
from rig.bench.radio import (  # noqa: F401 - re-exported: the plan layer imports them from here
    BenchProblem,
    DeviceHandle,
    EmulatedRadio,
    HardwareRadio,
    PlanNotForThisBench,
    Radio,
    kind_of_profile,
)
from rig.clock import Clock
from rig.hub import Hub
from rig.hub.config import HubConfig
from rig.hub.events import HubEvent
from rig.signals import Signal

LOGGER = logging.getLogger(__name__)

IMPORT_SUPPLIER = "IMPORT-SUPPLIER-01"
GAS_SUPPLIER = "GAS-SUPPLIER-01"


class Session:
    """`radio` (a rig.bench.radio strategy) + a Hub with `hub_config` on it (+ a back end on the hub).

    `workdir` holds the back end's database (the hub's is wherever `hub_config.db_path` says); `bench`,
    when the session is for a bench file, is what the plan layer reads power and reset settings from.
    """

    def __init__(self, radio: Radio, hub_config: HubConfig, workdir: Path | None = None, *,
                 bench: Bench | None = None, backend_settings: dict | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.radio = radio
        self.clock: Clock = radio.clock
        self.hub_config = hub_config
        self.workdir = workdir
        self.bench = bench
        self.backend_settings = backend_settings or {}
        self.log = log or (lambda line: LOGGER.info(line))
        self.hub: Hub | None = None
        self.backend = None
        self.devices: dict[str, DeviceHandle] = {}
        self.hub_restarts = 0
        self.hub_start_s = 0.0  # wall seconds the last hub took to open the stick and form/resume (a figure)
        # Fed by whichever hub is running: they survive a CH restart, the hub's own signals do not.
        self.hub_events = Signal("session hub event")  # HubEvent
        self.frames = Signal("session OTA frame")  # rig.hub.ota_server.FrameRecord
        self.radio_changes = Signal("session radio state")  # (state, detail)
        self._unhook: list[Callable[[], None]] = []

    @classmethod
    def for_bench(cls, bench: Bench, workdir: Path, *, hub_settings: dict | None = None,
                  backend_settings: dict | None = None, seed: int = 0,
                  log: Callable[[str], None] | None = None) -> Session:
        """The session a plan runs in on `bench` (its hub settings overlaid by the plan's)."""
        config = bench.hub.with_hub_settings(hub_settings or {}, "plan settings.hub")
        config = config.with_options(db_path=str(workdir / "hub.sqlite3"))
        radio = (EmulatedRadio(ezsp_version=config.ezsp_version, seed=seed) if bench.emulated
                 else HardwareRadio(bench, config.radio))
        return cls(radio, config, workdir, bench=bench, backend_settings=backend_settings, log=log)

    @property
    def emulator(self) -> Any:
        """The emulated stick (None on hardware): for what only an emulator can do."""
        return self.radio.emulator

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.workdir is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
        await self.radio.start()
        await self._start_hub()

    async def stop(self) -> None:
        """The back end, then the hub, then the radio (each even if the one before failed to close)."""
        try:
            if self.backend is not None:
                backend, self.backend = self.backend, None
                backend.close()
        finally:
            try:
                if self.hub is not None:
                    await self.hub.stop()
                    self._unhook_hub()
                    self.hub = None
            finally:
                await self.radio.stop()

    async def _start_hub(self) -> None:
        self.hub = hub = Hub(self.hub_config, clock=self.clock)
        started = time.perf_counter()
        await hub.start(self.radio.current_port)
        self.hub_start_s = time.perf_counter() - started
        # After start: what the hub says while opening the stick is its own (as it always was).
        self._unhook = [hub.event_emitted.connect(self.hub_events.emit),
                        hub.frame_logged.connect(self.frames.emit),
                        hub.radio_changed.connect(self.radio_changes.emit)]
        for handle in self.devices.values():
            if handle.in_device_log:
                hub.allow_device(handle.ieee, handle.kind)

    def _unhook_hub(self) -> None:
        for unhook in self._unhook:
            unhook()
        self._unhook = []

    def current_port(self) -> str:
        """Where the stick is now: an emulated stick whose line was closed comes back on a new pty."""
        return self.radio.current_port()

    async def restart_hub(self, *, replay: bool = True, **hub_options: Any) -> Hub:
        """The CH reboots: the hub process goes away and comes back on the same database (`hub_options`:
        HubConfig options changed across the reboot). `replay`: emit every persisted outcome again, for
        anyone who missed one committed just before the restart (the back end de-duplicates)."""
        assert self.hub is not None
        await self.hub.stop()
        self._unhook_hub()
        if hub_options:
            self.hub_config = self.hub_config.with_options(**hub_options)
        await self._start_hub()
        if replay:
            self.hub.replay_outcomes()
        self.hub_restarts += 1
        return self.hub

    # -- back end ----------------------------------------------------------------------------------
    def start_backend(self, fixtures: Any, config: Any = None, *, db_path: Path | None = None) -> Any:
        """The DSP/CSP back end on this session's CH (`fixtures`: rig.backend.Fixtures; `config`:
        rig.backend.BackendConfig): it keeps driving whichever hub runs now, across CH restarts."""
        from rig.backend import Backend  # only a session with a back end needs it

        if db_path is None:
            assert self.workdir is not None, "a session without a workdir needs db_path= for its back end"
            db_path = self.workdir / "backend.sqlite3"
        self.backend = Backend(db_path, self.clock, CurrentHub(self), fixtures, config)
        return self.backend

    # -- devices -----------------------------------------------------------------------------------
    def add_device(self, name: str, profile: Any, *, in_device_log: bool = True,
                   install_code: str | None = None, **radio_options: Any) -> DeviceHandle:
        """Make (emulated) or map (hardware) the device `name` and tell the CH of it when `in_device_log`.
        `radio_options` go to the radio (an emulated device's ieee, link, profile overrides)."""
        handle = self.radio.add_device(name, profile, install_code=install_code, **radio_options)
        handle.in_device_log = in_device_log
        self.devices[name] = handle
        assert self.hub is not None
        if in_device_log:
            self.hub.allow_device(handle.ieee, handle.kind)
        return handle

    async def pair(self, name: str, within: float = 120.0) -> None:
        """Permit joining and wait until zigpy has interviewed the device (emulated: join it)."""
        handle = self.devices[name]
        assert self.hub is not None
        seconds = int(min(254, max(30, within)))
        if handle.install_code:
            await self.hub.permit_with_install_code(handle.ieee, handle.install_code, seconds)
        else:
            await self.hub.permit(seconds)
        key = None
        if handle.install_code:
            from zigpy.util import convert_install_code  # the device derives the same key from its code

            key = bytes(convert_install_code(bytes.fromhex(handle.install_code)))
        await self.radio.join(handle, key)
        await self.wait_interviewed(handle, within)

    async def wait_interviewed(self, handle: DeviceHandle, within: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if self.hub.is_interviewed(handle.ieee):
                return
            await asyncio.sleep(0.02)
        raise BenchProblem(f"{handle.name} ({handle.ieee}) did not join and complete its interview within {within:.0f} s")


class CurrentHub:
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
        self._session.hub_events.connect(sink)


def seed_for(text: str) -> int:
    return zlib.crc32(text.encode())
