"""The radio a Session brings up, behind one interface (the way labgrid puts emulated and real hardware
behind one driver): the hub above it sees a serial port and nothing else.

`EmulatedRadio`: the emulated EZSP stick (rig.emu.Emulator) on a pty or TCP port, its devices made from
profiles and joined on demand, on a virtual clock by default. `HardwareRadio`: the bench's real stick at
its serial path, on the real clock, the plan's devices mapped to real ones by the bench file.
Everything one of them cannot do (jump time, inject a fault, count frames on the air) it says so by
what it returns (None, no counters), not by the caller asking which one it is.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from rig.bench.config import Bench
from rig.clock import Clock, RealClock, VirtualClock


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


class Radio(Protocol):
    """What a Session needs of the stick and the devices behind it."""

    clock: Clock  # the rig clock the hub and the devices run on
    emulator: Any  # the emulated stick, for what only an emulator can do (NCP faults); None on hardware

    async def start(self) -> str:
        """Open the stick; returns the port the hub opens."""

    def current_port(self) -> str:
        """Where the stick is now (an emulated stick whose line was closed comes back on a new pty)."""

    def add_device(self, name: str, profile: Any, *, install_code: str | None = None, **options: Any) -> DeviceHandle:
        """The plan's device `name` (a profile name or rig.emu.profiles.DeviceProfile): made, or mapped."""

    async def join(self, handle: DeviceHandle, link_key: bytes | None = None) -> None:
        """Make the device join the open network (a real device joins by itself: nothing to do)."""

    def activity(self) -> tuple[int, ...]:
        """Counters that move whenever the radio does anything (empty: not observable)."""

    @property
    def sends_on_air(self) -> int | None:
        """Host frames the air is holding for rig time (None: not known, real air)."""

    @property
    def frames_up_unacked(self) -> int | None:
        """Frames the stick has sent up the serial line that the host has not read yet (None: not known)."""

    def errors(self) -> list[str]:
        """What the stick could not do (an emulated NCP's unanswered commands); empty on hardware."""

    async def stop(self) -> None: ...


class EmulatedRadio:
    """The emulated stick, made with `emulator_options` (ezsp_version, seed, transport 'pty' | 'tcp', trace,
    pacing, xncp, ...: rig.emu.Emulator's) on `clock` (a new VirtualClock by default). `remote`: the stick
    and its devices run in a second process (rig.emu.remote.RemoteEmulator, real time only: the clock stays
    the hub's). `emulator`: one made already, used as it is."""

    def __init__(self, *, clock: Clock | None = None, remote: bool = False, emulator: Any = None,
                 **emulator_options: Any) -> None:
        self.clock: Clock = clock or VirtualClock()
        self.emulator = emulator or _new_emulator(remote, self.clock, emulator_options)

    async def start(self) -> str:
        await self.emulator.start()
        return self.emulator.port

    def current_port(self) -> str:
        return self.emulator.port

    def add_device(self, name: str, profile: Any, *, install_code: str | None = None, **options: Any) -> DeviceHandle:
        """`options`: rig.emu.Emulator.add_device's (ieee, nwk, link, profile field overrides)."""
        from rig.emu.profiles import load_profile

        prof = load_profile(profile) if isinstance(profile, str) else profile
        dev = self.emulator.add_device(prof, **options)
        return DeviceHandle(name, prof.kind, profile if isinstance(profile, str) else prof.name, str(dev.ieee), dev,
                            install_code=install_code)

    async def join(self, handle: DeviceHandle, link_key: bytes | None = None) -> None:
        # no key: the well-known one (a RemoteEmulator's join takes no key)
        await self.emulator.join(handle.emulated, **({"link_key": link_key} if link_key is not None else {}))

    def activity(self) -> tuple[int, ...]:
        return self.emulator.activity()

    @property
    def sends_on_air(self) -> int | None:
        return self.emulator.sends_on_air

    @property
    def frames_up_unacked(self) -> int | None:
        # a stick in a child process runs on real time: nothing to hold a jump for
        return getattr(self.emulator, "frames_up_unacked", None)

    def errors(self) -> list[str]:
        return list(self.emulator.errors)

    async def stop(self) -> None:
        await self.emulator.stop()


class HardwareRadio:
    """The bench's real stick at `port` (default: the bench file's radio), on the real clock."""

    emulator = None

    def __init__(self, bench: Bench, port: str | None = None) -> None:
        self.bench = bench
        self.port = port or bench.hub.radio
        self.clock: Clock = RealClock()

    async def start(self) -> str:
        return self.port

    def current_port(self) -> str:
        return self.port

    def add_device(self, name: str, profile: Any, *, install_code: str | None = None, **options: Any) -> DeviceHandle:
        """The bench file's device standing for the plan's `name`; on hardware only the profile's kind matters."""
        if options:
            raise BenchProblem(f"{name}: {sorted(options)} shape an emulated device; a real one is what it is")
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
        return DeviceHandle(name, real.kind, profile, real.ieee, install_code=install_code or real.install_code,
                            real=real)

    async def join(self, handle: DeviceHandle, link_key: bytes | None = None) -> None:
        """A real device joins by itself once joining is permitted (power, a button, its own retries)."""

    def activity(self) -> tuple[int, ...]:
        return ()

    @property
    def sends_on_air(self) -> int | None:
        return None

    @property
    def frames_up_unacked(self) -> int | None:
        return None

    def errors(self) -> list[str]:
        return []

    async def stop(self) -> None:
        """The stick stays where it is; the hub closed the port."""


def _new_emulator(remote: bool, clock: Clock, options: dict[str, Any]) -> Any:
    # imported here: only an emulated bench needs the emulator
    if remote:
        from rig.emu.remote import RemoteEmulator

        return RemoteEmulator(**options)
    from rig.emu import Emulator

    return Emulator(clock=clock, **options)


def kind_of_profile(profile: str) -> str:
    """The device kind a plan's profile stands for (ppmid-ha -> ppmid); on hardware only the kind matters."""
    from rig.emu.profiles import load_profile

    try:
        return load_profile(profile).kind
    except Exception:  # noqa: BLE001 - not a profile file: the name is the kind (ppmid, hcalcs, ...)
        return profile
