"""Unmodified bellows + zigpy against the emulated stick: form, permit, join, interview, ZCL read."""

from __future__ import annotations

import pytest
import zigpy.zcl.clusters.general as general

from tests.emu.conftest import wait_until


def _interviewed(app, node) -> bool:
    """zigpy sets is_initialized once endpoints are known; the Basic model read comes last."""
    device = app.devices.get(node.ieee)
    return device is not None and device.is_initialized and device.model is not None


@pytest.mark.parametrize("version", [13, 14])
async def test_form_join_interview_read(version, make_emulator, make_app, make_node):
    emu = await make_emulator(ezsp_version=version)
    app, seconds = await make_app(emu)
    print(f"\nstartup to a formed network (EZSP v{version}, pty): {seconds:.2f} s, "
          f"{emu.ncp.commands_received} EZSP commands")

    assert app._ezsp.ezsp_version == version
    assert app.state.node_info.ieee == emu.eui64
    assert app.state.network_info.channel == 15

    node = make_node(emu)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: _interviewed(app, node))

    device = app.devices[node.ieee]
    assert device.nwk == node.nwk
    assert device.model == node.MODEL
    assert device.manufacturer == node.MANUFACTURER

    basic = device.endpoints[1].in_clusters[general.Basic.cluster_id]
    success, failure = await basic.read_attributes(["model"], allow_cache=False)
    assert success == {"model": node.MODEL}
    assert not failure
    assert emu.errors == []


async def test_tcp_transport(make_emulator, make_app, make_node):
    emu = await make_emulator(transport="tcp")
    assert emu.port.startswith("tcp://127.0.0.1:")
    app, seconds = await make_app(emu)
    print(f"\nstartup to a formed network (EZSP v13, tcp): {seconds:.2f} s")
    assert app._ezsp.ezsp_version == 13

    node = make_node(emu)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: _interviewed(app, node))


@pytest.mark.parametrize("version", [4, 7, 8, 12, 16, 19])
async def test_other_versions_form_and_interview(version, make_emulator, make_app, make_node):
    emu = await make_emulator(ezsp_version=version)
    app, _ = await make_app(emu)
    assert app._ezsp.ezsp_version == version
    node = make_node(emu)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: _interviewed(app, node))
