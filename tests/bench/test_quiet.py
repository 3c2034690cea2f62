"""When a virtual-clock driver may jump time: never while a hub frame is still in the serial path."""

from types import SimpleNamespace

from rig.bench.quiet import SERIAL_BUSY_CAP_S, quiet_enough, sends_in_serial_path


def bench(hub_sends: int, on_air: int):
    return SimpleNamespace(sends_in_flight=hub_sends), SimpleNamespace(sends_on_air=on_air)


def test_idle_bench_may_jump_after_idle() -> None:
    hub, emu = bench(0, 0)
    assert not quiet_enough(0.01, 0.05, hub, emu)
    assert quiet_enough(0.05, 0.05, hub, emu)


def test_a_send_in_bellows_hands_holds_time_until_the_cap() -> None:
    hub, emu = bench(1, 0)  # the answer a device waits for is between the hub and the air
    assert sends_in_serial_path(hub, emu)
    assert not quiet_enough(3.0, 0.05, hub, emu)  # e.g. an ASH retransmission after a bad CRC
    assert quiet_enough(SERIAL_BUSY_CAP_S, 0.05, hub, emu)


def test_a_send_held_on_the_air_for_rig_time_does_not_hold_time() -> None:
    hub, emu = bench(1, 1)  # held for a sleepy device's poll: only a jump will deliver it
    assert not sends_in_serial_path(hub, emu)
    assert quiet_enough(0.05, 0.05, hub, emu)


def test_hardware_bench_has_no_emulator() -> None:
    assert not sends_in_serial_path(SimpleNamespace(sends_in_flight=3), None)
    assert not sends_in_serial_path(SimpleNamespace(sends_in_flight=3), SimpleNamespace(sends_on_air=None))


def test_a_frame_up_the_line_the_host_has_not_read_holds_time_until_the_cap() -> None:
    """A device's request the stick has written up a lagging pty: a jump now would time the device out
    before the hub can answer (seen on a starved machine: a Query Next Image answered after its timeout)."""
    hub = SimpleNamespace(sends_in_flight=0)
    emu = SimpleNamespace(sends_on_air=0, frames_up_unacked=1)
    assert not quiet_enough(3.0, 0.05, hub, emu)
    assert quiet_enough(SERIAL_BUSY_CAP_S, 0.05, hub, emu)
    emu.frames_up_unacked = 0  # the host read (and ACKed) it
    assert quiet_enough(0.05, 0.05, hub, emu)
    assert quiet_enough(0.05, 0.05, hub, SimpleNamespace(sends_on_air=None, frames_up_unacked=None))
