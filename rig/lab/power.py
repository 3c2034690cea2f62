"""The place's power switch, driven by labgrid's own power drivers through `labgrid-client power`.

Any power resource labgrid knows works the same way: a network PDU or relay (NetworkPowerPort), a USB
hub port (NetworkUSBPowerPort, YKUSH), PDUDaemon, a Tasmota plug, a GPIO. The off time of a cycle is
real time on the bench (the device must actually lose power), so it is labgrid's delay, not the
rig's clock.
"""

from __future__ import annotations

from rig.lab import client
from rig.lab.client import LabgridError


class LabgridPower:
    # Exported resource classes `labgrid-client power` drives (labgrid 25.0, 26.0).
    RESOURCE_CLASSES = frozenset({"NetworkPowerPort", "NetworkUSBPowerPort", "NetworkSiSPMPowerPort",
                                  "PDUDaemonPort", "TasmotaPowerPort", "NetworkYKUSHPowerPort",
                                  "NetworkSysfsGPIO"})

    # The bench file's device entry names its power resource with this field when the place has several.
    DEVICE_FIELD = "labgrid_power"

    def __init__(self, place: str, *, coordinator: str | None = None, name: str | None = None,
                 timeout_s: float = 30.0, names: tuple[str, ...] = ()) -> None:
        self.place = place
        self.coordinator = client.coordinator_address(coordinator)
        self.name = name  # the resource's name when a place has several power resources
        self.names = names  # every power resource of the place, by name
        self.timeout_s = timeout_s
        self.description = f"labgrid place {place}'s power" + (f" ({name})" if name else "")

    async def off(self) -> None:
        await self._power("off")

    async def on(self) -> None:
        await self._power("on")

    async def cycle(self, off_seconds: float = 2.0, device: dict[str, str] | None = None) -> None:
        """Off, `off_seconds`, on. `device`: the bench file's entry of the device a power_cycle step
        names; on a place with several power resources its `labgrid_power:` field says which one."""
        name = self.resource_for(device or {})
        await self._power("cycle", "--delay", f"{off_seconds:g}", name=name, extra_timeout=off_seconds)

    def resource_for(self, device: dict[str, str]) -> str | None:
        wanted = device.get(self.DEVICE_FIELD) or self.name
        if wanted is not None:
            if self.names and wanted not in self.names:
                raise LabgridError(f"labgrid place {self.place}: no power resource named {wanted!r} "
                                   f"(has: {', '.join(self.names)})")
            return wanted
        if len(self.names) > 1:  # switching the first one might power-cycle another device on the bench
            raise LabgridError(f"labgrid place {self.place} has {len(self.names)} power resources "
                               f"({', '.join(self.names)}): give the device's entry in the bench file "
                               f"{self.DEVICE_FIELD}: NAME")
        return None

    async def _power(self, action: str, *options: str, name: str | None = None,
                     extra_timeout: float = 0.0) -> None:
        await client.run(self._args(action, *options, name=name), coordinator=self.coordinator,
                         timeout=self.timeout_s + extra_timeout)

    def _args(self, action: str, *options: str, name: str | None = None) -> list[str]:
        name = name or self.name
        named = ["--name", name] if name else []
        return ["-p", self.place, "power", action, *options, *named]
