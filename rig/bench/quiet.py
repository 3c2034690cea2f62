"""When an emulated bench is quiet enough for a driver of virtual time to jump the clock.

Jumping fires the earliest rig timer. If that is a device's response timeout while the answer it waits
for is still in bellows' hands (EZSP round trips, an ASH retransmission after a corrupted CRC: real
time, up to seconds under load), the jump invents a timeout the device would never see. The same holds
the other way: a device's request the stick has written up the line but the hub has not read yet (a
starved host: the pty and the host's loop lag) is answered only after the jump, too late. So a bench is
busy while the hub has more unfinished sends than the simulated air is holding (for a sleepy device's
poll, an APS retry, a link latency: rig time, which a jump is right to cross), or while the stick has
frames up the line that the host has not acknowledged (bellows ACKs a frame as it reads it).
"""

from __future__ import annotations

from typing import Any

SERIAL_BUSY_CAP_S = 10.0  # a frame stuck longer than this in the serial path is not ours to wait for


def sends_in_serial_path(hub: Any, radio: Any) -> bool:
    """Some hub frame is between the hub and the simulated air (bellows, the pty, the NCP). `radio`: an
    emulated stick (rig.emu.Emulator or rig.bench.radio.EmulatedRadio); None, or a radio whose
    `sends_on_air` is None (real air, nothing to count), never holds time."""
    on_air = None if radio is None else radio.sends_on_air
    if hub is None or on_air is None:
        return False
    return hub.sends_in_flight > on_air


def frames_up_in_serial_path(radio: Any) -> bool:
    """The stick has written frames up the line (a device's request, a callback) the host has not read."""
    unacked = getattr(radio, "frames_up_unacked", None)
    return bool(unacked)


def quiet_enough(quiet_s: float, idle_s: float, hub: Any, radio: Any) -> bool:
    """Nothing has moved for `quiet_s` real seconds: may time jump now?"""
    if sends_in_serial_path(hub, radio) or frames_up_in_serial_path(radio):
        return quiet_s >= max(idle_s, SERIAL_BUSY_CAP_S)
    return quiet_s >= idle_s
