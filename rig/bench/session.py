"""Bring a bench up for one plan and down again: the strategy layer.

Emulated bench: a virtual clock, the emulated stick on a pty with the plan's devices behind it, the hub on
that pty, the back end on the hub. Hardware bench: the real clock, the stick at the bench's serial path,
the plan's devices mapped to real ones by the bench file. Everything above the serial line is the same
code; only `_start_radio` and `_add_device` differ.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import zlib
from pathlib import Path
from typing import Any, Callable

from rig.bench.config import Bench
from rig.clock import Clock, RealClock, VirtualClock
from rig.hub import Hub
from rig.hub.config import HubConfig

LOGGER = logging.getLogger(__name__)

IMPORT_SUPPLIER = "IMPORT-SUPPLIER-01"
GAS_SUPPLIER = "GAS-SUPPLIER-01"


class BenchProblem(Exception):
    """The bench cannot do what the plan asks (missing device mapping, radio lost, ...)."""


class PlanNotForThisBench(Exception):
    """The plan needs a device this bench does not have (an HCALCS plan on a PPMID bench): a skip, with why."""


@dataclasses.dataclass
class DeviceHandle:
    name: str
    kind: str
    profile: str
    ieee: str
    emulated: Any = None  # rig.emu.device.EmulatedDevice on an emulated bench
    in_device_log: bool = True  # the CH was told of it
    install_code: str | None = None  # joins with this install code's link key only
    real: Any = None  # rig.bench.config.HardwareDevice on a hardware bench

    def power(self, settings):
        """How this device's power is switched (rig.bench.power)."""
        from rig.bench.power import power_control

        return power_control(settings, self.emulated)

    def power_fields(self) -> dict[str, str]:
        """Placeholders for the bench's power commands."""
        fields = dict(self.real.fields) if self.real is not None else {}
        return {**fields, "plan_device": self.name, "ieee": self.ieee, "kind": self.kind,
                "device": fields.get("device", self.name)}


class Session:
    def __init__(self, bench: Bench, workdir: Path, *, hub_settings: dict | None = None,
                 backend_settings: dict | None = None, seed: int = 0,
                 log: Callable[[str], None] | None = None) -> None:
        self.bench = bench
        self.workdir = workdir
        self.seed = seed
        self.log = log or (lambda line: LOGGER.info(line))
        self.clock: Clock = VirtualClock() if bench.emulated else RealClock()
        self.hub_config: HubConfig = bench.hub.with_hub_settings(hub_settings or {}, "plan settings.hub")
        self.hub_config = self.hub_config.with_options(db_path=str(workdir / "hub.sqlite3"))
        self.backend_settings = backend_settings or {}
        self.emulator = None
        self.port = ""
        self.hub: Hub | None = None
        self.backend = None
        self.devices: dict[str, DeviceHandle] = {}
        self.hub_restarts = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._start_radio()
        await self._start_hub()

    async def stop(self) -> None:
        if self.backend is not None:
            self.backend.close()
        if self.hub is not None:
            await self.hub.stop()
            self.hub = None
        if self.emulator is not None:
            await self.emulator.stop()
            self.emulator = None

    async def _start_radio(self) -> None:
        if self.bench.emulated:
            from rig.emu import Emulator  # only an emulated bench needs the emulator

            self.emulator = Emulator(ezsp_version=self.hub_config.ezsp_version, clock=self.clock, seed=self.seed)
            await self.emulator.start()
            self.port = self.emulator.port
        else:
            self.port = self.hub_config.radio

    async def _start_hub(self) -> None:
        self.hub = Hub(self.hub_config, clock=self.clock)
        await self.hub.start(self.current_port)
        for handle in self.devices.values():
            if handle.in_device_log:
                self.hub.allow_device(handle.ieee, handle.kind)

    def current_port(self) -> str:
        """Where the stick is now: an emulated stick whose line was closed comes back on a new pty."""
        return self.emulator.port if self.emulator is not None else self.port

    async def restart_hub(self) -> None:
        """The CH reboots: the hub process goes away and comes back on the same database."""
        assert self.hub is not None
        sinks = self.hub.subscribers
        await self.hub.stop()
        await self._start_hub()
        for sink in sinks:
            self.hub.subscribe(sink)
        self.hub.replay_outcomes()  # anything committed but not heard before the restart
        self.hub_restarts += 1

    # -- devices -----------------------------------------------------------------------------------
    def add_device(self, name: str, profile: str, *, in_device_log: bool = True,
                   install_code: str | None = None) -> DeviceHandle:
        if self.emulator is not None:
            from rig.emu.profiles import load_profile

            prof = load_profile(profile)
            dev = self.emulator.add_device(prof)
            handle = DeviceHandle(name, prof.kind, profile, str(dev.ieee), dev)
        else:
            kind = kind_of_profile(profile)
            real, playing = self.bench.device_for(name, kind)
            if real is None and playing:
                raise PlanNotForThisBench(
                    f"the plan needs {name} to be a {kind}; on bench {self.bench.name} {name} is "
                    + " / ".join(f"{d.name} ({d.kind})" for d in playing)
                    + f" (add a {kind} with `stands_for: {name}` under devices: to run it)")
            if real is None:
                raise BenchProblem(f"bench {self.bench.path} has no device '{name}': add it under devices: with "
                                   "its ieee and kind to run this plan on hardware")
            handle = DeviceHandle(name, real.kind, profile, real.ieee, install_code=real.install_code, real=real)
        handle.in_device_log = in_device_log
        handle.install_code = install_code or handle.install_code
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
        if handle.emulated is not None:
            key = None
            if handle.install_code:
                from zigpy.util import convert_install_code  # the device derives the same key from its code

                key = bytes(convert_install_code(bytes.fromhex(handle.install_code)))
            await self.emulator.join(handle.emulated, link_key=key)
        await self.wait_interviewed(handle, within)

    async def wait_interviewed(self, handle: DeviceHandle, within: float) -> None:
        import zigpy.types as t

        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            try:
                device = self.hub.app.get_device(ieee=t.EUI64.convert(handle.ieee))
            except KeyError:
                device = None
            if device is not None and device.is_initialized:
                return
            await asyncio.sleep(0.02)
        raise BenchProblem(f"{handle.name} ({handle.ieee}) did not join and complete its interview within {within:.0f} s")


def kind_of_profile(profile: str) -> str:
    """The device kind a plan's profile stands for (ppmid-ha -> ppmid); on hardware only the kind matters."""
    from rig.emu.profiles import load_profile

    try:
        return load_profile(profile).kind
    except Exception:  # noqa: BLE001 - not a profile file: the name is the kind (ppmid, hcalcs, ...)
        return profile


def seed_for(text: str) -> int:
    return zlib.crc32(text.encode())
