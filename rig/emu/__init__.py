"""The emulated HAN: an EZSP Zigbee stick (NCP) on a pty/TCP port, a simulated network, devices."""

from __future__ import annotations

from rig.emu.emulator import Emulator, NcpFaults
from rig.emu.network import JoinRefused, LinkModel, PermitJoinClosed, SimNetwork

__all__ = ["Emulator", "JoinRefused", "LinkModel", "NcpFaults", "PermitJoinClosed", "SimNetwork"]
