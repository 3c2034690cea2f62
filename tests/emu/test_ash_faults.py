"""Faults of the stick itself, seen through unmodified bellows: lossy ASH link, NCP crash, line loss."""

from __future__ import annotations

import asyncio

import zigpy.zcl.clusters.general as general

from tests.emu.conftest import wait_until


class _LostListener:
    def __init__(self) -> None:
        self.lost: list[BaseException | None] = []

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.append(exc)


async def test_dropped_acks_and_corrupted_crcs_survived(make_emulator, make_app, make_node):
    emu = await make_emulator(seed=7)
    emu.faults.drop_ack_probability = 0.2
    emu.faults.corrupt_crc_probability = 0.1
    app, seconds = await make_app(emu)
    print(f"\nstartup with ASH faults: {seconds:.2f} s, {emu.faults.dropped_acks} ACKs dropped, "
          f"{emu.faults.corrupted_frames} frames corrupted")

    node = make_node(emu)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: node.ieee in app.devices and app.devices[node.ieee].model is not None)
    basic = app.devices[node.ieee].endpoints[1].in_clusters[general.Basic.cluster_id]
    success, _ = await basic.read_attributes(["model"], allow_cache=False)
    assert success == {"model": node.MODEL}

    assert emu.faults.dropped_acks > 0
    assert emu.faults.corrupted_frames > 0
    assert emu.ncp.duplicate_commands == 0  # retransmitted host frames were ACKed, not re-executed


async def test_unsolicited_reset_is_detected_and_network_resumes(make_emulator, make_app):
    emu = await make_emulator()
    app, _ = await make_app(emu)
    listener = _LostListener()
    app.add_listener(listener)

    emu.faults.reset()
    await wait_until(lambda: listener.lost, timeout=5)
    assert "RESET_SOFTWARE" in repr(listener.lost[0])
    assert not emu.ncp.ram.network_up  # the reboot took the network down

    # What a supervisor (e.g. Home Assistant) does next: restart the radio on the same port.
    await app.shutdown()
    forms_before = sum(1 for d, name in emu.trace if name == "formNetwork")
    app2, _ = await make_app(emu)
    assert emu.ncp.ram.network_up
    assert sum(1 for d, name in emu.trace if name == "formNetwork") == forms_before  # resumed, not re-formed
    assert app2.state.network_info.pan_id == app.state.network_info.pan_id


async def test_error_frame_is_detected(make_emulator, make_app):
    emu = await make_emulator()
    app, _ = await make_app(emu)
    listener = _LostListener()
    app.add_listener(listener)
    emu.faults.error()
    await wait_until(lambda: listener.lost, timeout=5)
    assert "ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT" in repr(listener.lost[0])


async def test_serial_line_close_is_detected_pty(make_emulator, make_app):
    emu = await make_emulator()
    app, _ = await make_app(emu)
    old_port = emu.port
    listener = _LostListener()
    app.add_listener(listener)
    emu.faults.close_line()
    await wait_until(lambda: listener.lost, timeout=5)
    assert emu.port != old_port  # a pty cannot be re-plugged: the stick comes back on a new path
    await app.shutdown()
    app2, _ = await make_app(emu)
    assert app2._ezsp.ezsp_version == 13


async def test_serial_line_close_is_detected_tcp(make_emulator, make_app):
    emu = await make_emulator(transport="tcp")
    app, _ = await make_app(emu)
    listener = _LostListener()
    app.add_listener(listener)
    emu.faults.close_line()
    await wait_until(lambda: listener.lost, timeout=5)
    await app.shutdown()
    await asyncio.sleep(0)
    app2, _ = await make_app(emu)  # same URL: the listener keeps accepting
    assert app2._ezsp.ezsp_version == 13
