"""The simulated HAN as the host sees it through bellows: APS acks, sleepy polling, joins, ZDO routing."""

from __future__ import annotations

import asyncio

import pytest
import zigpy.exceptions
import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from rig.clock import VirtualClock
from rig.emu import LinkModel, PermitJoinClosed
from rig.emu.air import AirFrame
from tests.emu.conftest import wait_until


def _interviewed(app, node) -> bool:
    device = app.devices.get(node.ieee)
    return device is not None and device.is_initialized and device.model is not None


async def _joined_app(make_emulator, make_app, make_node, **node_kwargs):
    clock = node_kwargs.pop("clock", None)
    emu = await make_emulator(clock=clock) if clock else await make_emulator()
    app, _ = await make_app(emu)
    node = make_node(emu, **node_kwargs)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: _interviewed(app, node))
    return emu, app, node


async def _unacked_send(app, node, payload: bytes = b"\x00\x01\x00\x04\x00", retries: int | None = None):
    """A ZCL frame with no reply expected: zigpy asks for an APS ack, so delivery is reported."""
    device = app.devices[node.ieee]
    return await device.request(0x0104, 0x0000, 1, 1, app.get_sequence(), payload, expect_reply=False,
                                retries=retries)


async def test_join_requires_permit(make_emulator, make_app, make_node):
    emu = await make_emulator()
    app, _ = await make_app(emu)
    node = make_node(emu)
    with pytest.raises(PermitJoinClosed):
        await emu.join(node)
    assert node.ieee not in app.devices


async def test_join_waits_for_permit(make_emulator, make_app, make_node):
    emu = await make_emulator()
    app, _ = await make_app(emu)
    node = make_node(emu)
    joining = asyncio.create_task(emu.join(node, wait=10))
    await asyncio.sleep(0.1)
    assert not joining.done()
    await app.permit(30)
    await joining
    await wait_until(lambda: _interviewed(app, node))


async def test_lossy_link_retried_by_aps(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(make_emulator, make_app, make_node)
    emu.network.set_link(node, LinkModel(loss=0.5))
    before = len(node.received)
    for _ in range(4):
        await _unacked_send(app, node)
    assert emu.network.frames_lost > 0
    assert len(node.received) - before == 4  # every frame arrived in the end


async def test_dead_link_reports_delivery_failed(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(make_emulator, make_app, make_node)
    emu.network.set_link(node, LinkModel(loss=1.0))
    with pytest.raises(zigpy.exceptions.DeliveryError):
        await _unacked_send(app, node, retries=0)


async def test_unreachable_device_reports_delivery_failed(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(make_emulator, make_app, make_node)
    emu.network.set_reachable(node, False)
    with pytest.raises(zigpy.exceptions.DeliveryError):
        await _unacked_send(app, node, retries=0)


async def test_sleepy_device_gets_frames_on_poll(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(
        make_emulator, make_app, make_node, rx_on_when_idle=False, poll_interval_s=0.1
    )
    assert app.devices[node.ieee].node_desc.is_end_device
    before = len(node.received)
    await _unacked_send(app, node)
    assert len(node.received) == before + 1


async def test_sleepy_device_indirect_timeout(make_emulator, make_app, make_node):
    clock = VirtualClock()
    emu, app, node = await _joined_app(
        make_emulator, make_app, make_node, rx_on_when_idle=False, poll_interval_s=0.1, clock=clock
    )
    emu.network.set_link(node, LinkModel(poll_interval_s=3600))  # asleep for an hour
    await clock.advance(0.2)  # let the running 0.1 s poll fire and re-arm at the new interval
    before = len(node.received)
    send = asyncio.create_task(_unacked_send(app, node, retries=0))
    await wait_until(lambda: any(n.held for n in emu.network._nodes.values()))
    await clock.advance(8)  # beyond CONFIG_INDIRECT_TRANSMISSION_TIMEOUT (7680 ms, set by bellows)
    with pytest.raises(zigpy.exceptions.DeliveryError):
        await asyncio.wait_for(send, 5)
    assert len(node.received) == before


@pytest.mark.parametrize("window", [3.0, 0.0])
async def test_sleepy_device_short_polls_after_it_transmits(make_emulator, make_app, make_node, window):
    clock = VirtualClock()
    emu, app, node = await _joined_app(
        make_emulator, make_app, make_node, rx_on_when_idle=False, poll_interval_s=0.1, clock=clock
    )
    node.poll_interval_s = 60.0  # a long poll from now on ...
    node.short_poll_interval_s, node.short_poll_window_s = 0.25, window  # ... short while awaiting answers
    await clock.advance(0.2)  # the running 0.1 s poll fires and re-arms at 60 s
    node.power_on()  # it transmits (a Device_annce): awake, awaiting an answer
    await clock.advance(0.01)
    before = len(node.received)
    send = asyncio.create_task(_unacked_send(app, node, retries=0))
    await wait_until(lambda: any(n.held for n in emu.network._nodes.values()))
    await clock.advance(0.3)
    if window:
        await asyncio.wait_for(send, 5)  # picked up by a short poll, not 60 s later
        assert len(node.received) == before + 1
    else:
        assert len(node.received) == before and not send.done()
        await clock.advance(8)  # no poll before the indirect transmission timeout: the frame is lost
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await asyncio.wait_for(send, 5)


async def test_leave_and_rejoin(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(make_emulator, make_app, make_node)
    left = []
    app.add_listener(type("Listener", (), {"device_left": lambda self, dev: left.append(dev.ieee)})())
    emu.leave(node)
    await wait_until(lambda: node.ieee in left)
    assert not node.on
    emu.rejoin(node)  # a secured rejoin needs no permit
    await wait_until(lambda: _interviewed(app, node))


async def test_nwk_lookup_follows_leave_and_reuse(make_emulator, make_app, make_node):
    """The NWK -> node index is a hint: a node that left, or whose NWK moved on, is never returned."""
    emu, app, first = await _joined_app(make_emulator, make_app, make_node)
    assert emu.network.ieee_of(first.nwk) == first.ieee
    emu.leave(first)
    assert emu.network.ieee_of(first.nwk) is None
    second = make_node(emu, index=2)
    second.nwk = first.nwk  # the trust centre hands the freed address to a new device
    await app.permit(30)
    await emu.join(second)
    assert emu.network.ieee_of(first.nwk) == second.ieee


async def test_broadcast_and_multicast_reach_devices(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(make_emulator, make_app, make_node)
    node.groups = {0x1234}
    before = len(node.received)
    await app.broadcast(0x0104, 0x0006, 1, 0xFF, 0, 30, app.get_sequence(), b"\x01\x00\x02",
                        broadcast_address=zt.BroadcastAddress.RX_ON_WHEN_IDLE)
    await app.send_packet(
        zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=0x0000), src_ep=1,
            dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.Group, address=0x1234), dst_ep=0xFF,
            tsn=1, profile_id=0x0104, cluster_id=0x0006, data=zt.SerializableBytes(b"\x01\x01\x02"),
            radius=30, non_member_radius=7,
        )
    )
    await wait_until(lambda: len(node.received) >= before + 2)
    frames = node.received[before:]
    assert any(f.dst_nwk == 0xFFFD and f.group_id is None for f in frames)
    assert any(f.group_id == 0x1234 for f in frames)


async def test_device_zdo_request_answered_by_ncp_and_passed_to_host(make_emulator, make_app, make_node):
    emu = await make_emulator()
    first_app, _ = await make_app(emu)
    # EmberZNet forgets addEndpoint at every reset and bellows' auto-form path resets after
    # registering them: only a restart on an already formed stick leaves endpoints in the NCP.
    assert emu.ncp.ram.endpoints == {}
    await first_app.shutdown()
    app, _ = await make_app(emu)
    assert 1 in emu.ncp.ram.endpoints
    node = make_node(emu)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: _interviewed(app, node))
    seen_by_host = []
    original = app.packet_received

    def spy(packet):
        if packet.cluster_id == zdo_t.ZDOCmd.Match_Desc_req:
            seen_by_host.append(packet)
        return original(packet)

    app.packet_received = spy  # observe only; the real handler still runs
    schema = zdo_t.CLUSTERS[zdo_t.ZDOCmd.Match_Desc_req][1]
    body = zt.serialize([zt.NWK(0x0000), 0x0104, [zt.uint16_t(0x0019)], []], schema)
    before = len(node.received)
    node.medium.send_from_device(node, AirFrame(node.nwk, 0x0000, 0, 0, 0, zdo_t.ZDOCmd.Match_Desc_req,
                                                bytes([0x42]) + body, 9))
    await wait_until(lambda: seen_by_host and sum(
        f.cluster_id == zdo_t.ZDOCmd.Match_Desc_rsp for f in node.received[before:]) >= 2)
    # the stack answers at once; zigpy (the host) answers the copy it was passed, later
    rsp = next(f for f in node.received[before:] if f.cluster_id == zdo_t.ZDOCmd.Match_Desc_rsp)
    assert rsp.payload[0] == 0x42
    (status, nwk, matches), _ = zt.deserialize(rsp.payload[1:], zdo_t.CLUSTERS[zdo_t.ZDOCmd.Match_Desc_rsp][1])
    assert status == zdo_t.Status.SUCCESS and nwk == 0x0000
    assert 1 in matches  # bellows registers OTA (0x0019) as an input cluster of endpoint 1


async def test_malformed_device_frame_does_not_break_anything(make_emulator, make_app, make_node):
    emu, app, node = await _joined_app(make_emulator, make_app, make_node)
    node.medium.send_from_device(node, AirFrame(node.nwk, 0x0000, 0, 0, 0, 0x0006, b"\x01", 3))
    node.medium.send_from_device(node, AirFrame(node.nwk, 0x0000, 1, 1, 0x0104, 0x0000, b"", 4))
    await asyncio.sleep(0.1)
    await _unacked_send(app, node)
