"""The place's power switch, driven by labgrid's own power drivers through `labgrid-client power`.

Any power resource labgrid knows works the same way: a network PDU or relay (NetworkPowerPort), a USB
hub port (NetworkUSBPowerPort, YKUSH), PDUDaemon, a Tasmota plug, a GPIO. The off time of a cycle is
real time on the bench (the device must actually lose power), so it is labgrid's delay, not the
rig's clock.
"""

from __future__ import annotations

from rig.lab import client


class LabgridPower:
    # Exported resource classes `labgrid-client power` drives (labgrid 25.0, 26.0).
    RESOURCE_CLASSES = frozenset({"NetworkPowerPort", "NetworkUSBPowerPort", "NetworkSiSPMPowerPort",
                                  "PDUDaemonPort", "TasmotaPowerPort", "NetworkYKUSHPowerPort",
                                  "NetworkSysfsGPIO"})

    def __init__(self, place: str, *, coordinator: str | None = None, name: str | None = None,
                 timeout_s: float = 30.0) -> None:
        self.place = place
        self.coordinator = client.coordinator_address(coordinator)
        self.name = name  # the resource's name when a place has several power resources
        self.timeout_s = timeout_s
        self.description = f"labgrid place {place}'s power" + (f" ({name})" if name else "")

    async def off(self) -> None:
        await self._power("off")

    async def on(self) -> None:
        await self._power("on")

    async def cycle(self, off_seconds: float = 2.0) -> None:
        await self._power("cycle", "--delay", f"{off_seconds:g}", extra_timeout=off_seconds)

    async def _power(self, action: str, *options: str, extra_timeout: float = 0.0) -> None:
        await client.run(self._args(action, *options), coordinator=self.coordinator,
                         timeout=self.timeout_s + extra_timeout)

    def _args(self, action: str, *options: str) -> list[str]:
        named = ["--name", self.name] if self.name else []
        return ["-p", self.place, "power", action, *options, *named]
