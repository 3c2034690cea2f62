"""What crosses the simulated HAN: APS-level frames between the emulated stick and emulated devices.

This is the seam between the NCP side (rig.emu.ncp / rig.emu.network) and the device side
(rig.emu.device / rig.emu.ota_client): devices never see EZSP, the NCP never parses ZCL.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import zigpy.types as t

BROADCAST_ALL = 0xFFFF  # all devices
BROADCAST_RX_ON = 0xFFFD  # rx-on-when-idle devices
BROADCAST_ROUTERS = 0xFFFC  # routers and coordinator
COORDINATOR_NWK = 0x0000


@dataclasses.dataclass(frozen=True)
class AirFrame:
    """One APS data frame on the simulated network (NWK + APS addressing and the APS payload)."""

    src_nwk: int
    dst_nwk: int  # a NWK address, or one of the BROADCAST_* addresses
    src_ep: int
    dst_ep: int
    profile_id: int
    cluster_id: int
    payload: bytes  # the ZDO or ZCL frame, header included
    aps_counter: int = 0
    group_id: int | None = None  # set for multicast; dst_nwk is then ignored

    @property
    def is_broadcast(self) -> bool:
        return self.group_id is None and self.dst_nwk >= 0xFFF8


class Medium(Protocol):
    """What an emulated device is given to talk on (implemented by rig.emu.network.SimNetwork)."""

    def send_from_device(self, device: "RadioNode", frame: AirFrame) -> None:
        """Queue `frame` from `device` onto the air (subject to that device's link model)."""


class RadioNode(Protocol):
    """What the network needs from an emulated device."""

    ieee: t.EUI64
    nwk: int
    rx_on_when_idle: bool  # False = sleepy end device: frames to it wait for its next poll

    def receive(self, frame: AirFrame) -> None:
        """A frame addressed to this node (unicast, or a broadcast it hears). Must not block."""

    def power_on(self) -> None:
        """Joined / rejoined / rebooted: start timers (query interval, ...)."""

    def power_off(self) -> None:
        """Left the network or powered down: cancel timers; keep what it would keep in flash."""
