"""`Emulator`: the emulated Zigbee stick (EZSP NCP on a pty or TCP port) plus its simulated network.

    async with Emulator(ezsp_version=13) as emu:
        config = {"device": {"path": emu.port}, "use_thread": False, ...}
        app = await bellows.zigbee.application.ControllerApplication.new(config, auto_form=True)
        meter = emu.add_device("ppmid")
        await app.permit(60)
        await emu.join(meter)

It runs on the caller's event loop (bellows with `use_thread: False` shares it) or standalone
(`rig emulate`). Everything random (addresses, link loss, faults) comes from `seed`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import random
from typing import Any

import bellows.types as bt
import zigpy.types as zt

from rig.clock import RealClock
from rig.emu.ash import AshFaultKnobs, NcpAshProtocol
from rig.emu.ncp import EzspNcp
from rig.emu.network import LinkModel, SimNetwork
from rig.emu.pacing import Pacing
from rig.emu.transport import PacedProtocol, PtyServer, TcpServer

LOGGER = logging.getLogger(__name__)


TRACE_FRAMES = 20_000


class NcpFaults:
    """Faults of the stick itself (the ASH link and the NCP), seeded through the Emulator."""

    def __init__(self, emulator: Emulator, knobs: AshFaultKnobs) -> None:
        self._emu = emulator
        self._knobs = knobs

    @property
    def drop_ack_probability(self) -> float:
        return self._knobs.drop_ack_probability

    @drop_ack_probability.setter
    def drop_ack_probability(self, value: float) -> None:
        self._knobs.drop_ack_probability = _probability("drop_ack_probability", value)

    @property
    def corrupt_crc_probability(self) -> float:
        return self._knobs.corrupt_crc_probability

    @corrupt_crc_probability.setter
    def corrupt_crc_probability(self, value: float) -> None:
        self._knobs.corrupt_crc_probability = _probability("corrupt_crc_probability", value)

    @property
    def dropped_acks(self) -> int:
        return self._knobs.dropped_acks

    @property
    def corrupted_frames(self) -> int:
        return self._knobs.corrupted_frames

    def reset(self, code: bt.NcpResetCode = bt.NcpResetCode.RESET_SOFTWARE) -> None:
        """The NCP reboots on its own (watchdog, assert...): RSTACK with no RST pending."""
        ncp = self._emu.ncp
        ncp.reboot()
        if ncp._ash is not None and ncp._ash._transport is not None:
            ncp._ash.unsolicited_reset(code)

    def error(self, code: bt.NcpResetCode = bt.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT) -> None:
        """The NCP reports an ASH ERROR frame (it then waits for the host's RST)."""
        ncp = self._emu.ncp
        if ncp._ash is not None and ncp._ash._transport is not None:
            ncp._ash.send_error(code)

    def close_line(self) -> None:
        """The serial line dies (USB unplugged / socket closed). pty: a new path replaces the old."""
        self._emu._server.drop_line()
        self._emu.port = self._emu._server.url


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")
    return value


class Emulator:
    def __init__(
        self,
        ezsp_version: int = 13,
        transport: str = "pty",
        clock: Any = None,
        seed: int = 0,
        eui64: zt.EUI64 | str | None = None,
        *,
        tcp_port: int = 0,
        trace: bool = True,
        pacing: Pacing | None = None,
        xncp: bool = False,
    ) -> None:
        """`pacing` (rig.emu.pacing.Pacing, e.g. `Pacing.real_bench()`) charges real UART, air and
        device time; None (the default) runs as fast as the host can talk. `xncp` makes the stick a
        firmware build with the XNCP extension (rig.emu.ncp_xncp); the default is stock EmberZNet."""
        if transport not in ("pty", "tcp"):
            raise ValueError(f"transport must be 'pty' or 'tcp', got {transport!r}")
        self.clock = clock or RealClock()
        self.seed = seed
        self._rng = random.Random(seed)
        if eui64 is None:
            eui64 = zt.EUI64(bytes(self._rng.getrandbits(8) for _ in range(8)))
        elif isinstance(eui64, str):
            eui64 = zt.EUI64.convert(eui64)
        self.eui64 = eui64
        self.errors: list[str] = []
        # The last TRACE_FRAMES frame names (a bounded log: a long soak must not grow without end).
        self.trace: collections.deque[tuple[str, str]] | None = (
            collections.deque(maxlen=TRACE_FRAMES) if trace else None)
        self.ncp = EzspNcp(
            version=ezsp_version,
            eui64=eui64,
            clock=self.clock,
            rng=random.Random(f"{seed}:ncp"),
            errors=self.errors,
            trace=self.trace,
            xncp=xncp,
        )
        self.pacing = pacing
        self.network = SimNetwork(self.ncp, self.clock, random.Random(f"{seed}:air"), pacing=pacing)
        self.ncp.network = self.network
        self._knobs = AshFaultKnobs(random.Random(f"{seed}:ash"))
        self.faults = NcpFaults(self, self._knobs)
        self.transport = transport
        if transport == "pty":
            self._server: PtyServer | TcpServer = PtyServer(self._make_ash)
        else:
            self._server = TcpServer(self._make_ash, port=tcp_port)
        self.port = ""
        self._devices: list[Any] = []
        self._started = False

    @property
    def ezsp_version(self) -> int:
        return self.ncp.version

    def activity(self) -> tuple[int, int, int]:
        """Counters that move whenever the stick does anything: frames up to the host, frames out to the
        devices, EZSP commands (bellows' round trips before a send carry no air frame, yet are work)."""
        return (self.network.frames_to_host, self.network.frames_to_devices, self.ncp.commands_received)

    @property
    def sends_on_air(self) -> int:
        """Host frames the simulated air is holding (a sleepy device's poll, an APS retry, a latency)."""
        return self.network.sends_on_air

    @property
    def frames_up_unacked(self) -> int:
        """Frames the stick has sent up the serial line that the host has not acknowledged (read) yet."""
        return self.ncp.frames_to_host_unacked

    def _make_ash(self) -> NcpAshProtocol | PacedProtocol:
        proto = NcpAshProtocol(self.ncp, self._knobs)
        self.ncp.attach_ash(proto)
        if self.pacing is not None:
            return PacedProtocol(proto, self.pacing.uart_s(1))
        return proto

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> Emulator:
        if self._started:
            return self
        await self._server.start()
        self.port = self._server.url
        self._started = True
        return self

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for device in self._devices:
            try:
                device.power_off()
            except Exception:
                LOGGER.exception("device %s failed to power off", getattr(device, "ieee", device))
        self.network.stop()
        await self._server.stop()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- devices -----------------------------------------------------------------------------------
    def _new_ieee(self) -> zt.EUI64:
        return zt.EUI64(bytes(self._rng.getrandbits(8) for _ in range(8)))

    def _new_nwk(self) -> int:
        used = {getattr(d, "nwk", None) for d in self._devices}
        while True:
            nwk = self._rng.randint(0x0001, 0xFFF7)
            if nwk not in used:
                return nwk

    def add_device(
        self,
        profile_or_name: Any,
        ieee: zt.EUI64 | str | None = None,
        nwk: int | None = None,
        link: LinkModel | None = None,
        **overrides: Any,
    ) -> Any:
        """Create an emulated device (profile name, profile path or DeviceProfile) within radio range.

        A ready-made RadioNode (anything with receive/power_on/power_off) is attached as is.
        `overrides` replace fields of the profile. The device is not joined: `await emu.join(dev)`.
        """
        if all(hasattr(profile_or_name, a) for a in ("receive", "power_on", "power_off", "ieee")):
            device = profile_or_name
        else:
            from rig.emu.device import EmulatedDevice  # noqa: PLC0415  (device models land separately)
            from rig.emu.profiles import load_profile  # noqa: PLC0415

            profile = load_profile(profile_or_name) if isinstance(profile_or_name, str) else profile_or_name
            if overrides:
                if not dataclasses.is_dataclass(profile):
                    raise TypeError(f"cannot apply overrides {sorted(overrides)} to profile {profile!r}")
                profile = dataclasses.replace(profile, **overrides)
            if isinstance(ieee, str):
                ieee = zt.EUI64.convert(ieee)
            device = EmulatedDevice(
                profile,
                ieee=ieee or self._new_ieee(),
                nwk=nwk if nwk is not None else self._new_nwk(),
                medium=self.network,
                clock=self.clock,
            )
        self.network.attach(device, link)
        self._devices.append(device)
        return device

    @property
    def devices(self) -> list[Any]:
        return list(self._devices)

    async def join(self, device: Any, *, wait: float | None = None, link_key: bytes | None = None) -> None:
        """Join `device`; permit-join must be open (or open within `wait` seconds). `link_key`: the key
        the device authenticates with (its install-code key; None = the well-known key)."""
        await self.network.join(device, wait=wait, link_key=link_key)

    def set_link(self, device: Any, link: LinkModel) -> None:
        """Change the device's radio link (loss, latency) from now on."""
        self.network.set_link(device, link)

    def leave(self, device: Any) -> None:
        self.network.leave(device)

    def rejoin(self, device: Any) -> None:
        self.network.rejoin(device)
