"""The emulated NCP's own EZSP frame definitions (ids and parameters per protocol version).

Written from Silicon Labs' EZSP reference (UG100 for EmberZNet 6.x/7.x, the EmberZNet 8.x EZSP
reference and its command handlers) rather than taken from a host's tables, so a mistake in a
host (bellows, zigbee-herdsman) shows up as a difference instead of hiding behind a shared schema.
tests/interop/test_frame_definitions.py lists every difference from bellows and herdsman, with the
reason. Structs are the emulator's own too (rig.emu.ezsp.structs); the named integer types their
fields and parameters use (enums, bitmaps, EUI64, KeyData) come from zigpy.types / bellows.types.
"""

from rig.emu.ezsp.frames import SUPPORTED_VERSIONS, Frame, FrameTable, frames_for

__all__ = ["SUPPORTED_VERSIONS", "Frame", "FrameTable", "frames_for"]
