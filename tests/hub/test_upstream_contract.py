"""Contract tests for the fence (rig/hub/upstream.py): what the hub and the report's capture rely on in
zigpy/bellows beyond their stable public API. After a zigpy or bellows upgrade, run this file first:
each failure names the touch and the rig feature that depends on it.

Run alone: pytest tests/hub/test_upstream_contract.py
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import bellows.ezsp
import bellows.ezsp.protocol
import bellows.types as bt
import bellows.zigbee.application
import pytest
import zigpy.application
import zigpy.types as t

from rig.hub import upstream
from rig.hub.app import HubApplication, zigpy_config
from rig.hub.config import HubConfig
from rig.hub.zcl import SE_PROFILE

HA_PROFILE = 0x0104


@pytest.fixture
def app():
    """The hub's real bellows application, configured as the hub configures it, not connected."""
    return HubApplication(zigpy_config(HubConfig(), "/dev/null"))


def _packet(profile: int, tsn: int) -> t.ZigbeePacket:
    report = bytes([0x18, tsn, 0x0A, 0x00, 0x00, 0x20, 0x01])  # ZCL Report Attributes, Basic 0x0000 = 1
    return t.ZigbeePacket(src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234), src_ep=1,
                          dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=1, tsn=tsn,
                          profile_id=profile, cluster_id=0x0000, data=t.SerializableBytes(report))


# -- 1. the EZSP connection inside bellows' ControllerApplication (install-code joins) -------------------
def test_bellows_keeps_the_ezsp_connection_in_private_ezsp(app):
    assert "_ezsp" in vars(app), (
        "bellows' ControllerApplication no longer sets self._ezsp: rig.hub.upstream.ezsp_of (used by"
        " Hub.permit_with_install_code) needs a new way to reach the EZSP connection")
    assert upstream.ezsp_of(app) is None  # not connected yet
    with pytest.raises(upstream.UpstreamChanged, match="_ezsp"):
        upstream.ezsp_of(object())


def test_bellows_ezsp_offers_transient_link_keys_and_the_trust_centre_policy():
    params = list(inspect.signature(bellows.ezsp.protocol.ProtocolHandler.add_transient_link_key).parameters)
    assert params == ["self", "ieee", "key"], (
        f"bellows' ProtocolHandler.add_transient_link_key{params} changed: rig.hub.upstream.add_transient_link_key"
        " (install-code joins) calls it as (ieee, key)")
    assert "__getattr__" in vars(bellows.ezsp.EZSP), (
        "bellows' EZSP no longer forwards protocol methods: install-code joins call add_transient_link_key and"
        " setPolicy on it")
    versions = [m.name for m in pkgutil.iter_modules(bellows.ezsp.__path__) if re.fullmatch(r"v\d+", m.name)]
    assert versions, "bellows.ezsp has no vN protocol modules any more"
    for name in versions:
        module = importlib.import_module(f"bellows.ezsp.{name}")
        handler = getattr(module, f"EZSP{name}", None)
        assert handler is not None, f"bellows.ezsp.{name} has no EZSP{name} class"
        assert "setPolicy" in handler.COMMANDS, f"EZSP {name} has no setPolicy command (install-code-only joins)"
        assert not getattr(handler.add_transient_link_key, "__isabstractmethod__", False), (
            f"EZSP {name} does not implement add_transient_link_key (install-code joins)")
    for member in ("ALLOW_JOINS", "JOINS_USE_INSTALL_CODE_KEY"):
        assert hasattr(bt.EzspDecisionBitmask, member), f"bellows.types.EzspDecisionBitmask.{member} is gone"
    assert hasattr(bt.EzspPolicyId, "TRUST_CENTER_POLICY"), "bellows.types.EzspPolicyId.TRUST_CENTER_POLICY is gone"


# -- 2. the profiles zigpy parses (Smart Energy reports and read responses) ------------------------------
async def test_zigpy_drops_smart_energy_frames_and_parses_them_relabelled(app):
    device = app.add_device(t.EUI64.convert("00:11:22:33:44:55:66:77"), 0x1234)
    endpoint = device.add_endpoint(1)
    endpoint.profile_id = SE_PROFILE
    endpoint.add_input_cluster(0x0000)
    dropped: list[t.ZigbeePacket] = []
    device.custom_profile_packet_received = dropped.append  # zigpy's own hook for frames it will not parse
    device.packet_received(_packet(SE_PROFILE, 5))
    assert len(dropped) == 1, (
        "zigpy now parses Smart Energy (0x0109) ZCL frames itself: rig.hub.upstream.zigpy_parsable's"
        " re-labelling to HA can go (check the hub's attribute reads on SE devices)")
    device.packet_received(upstream.zigpy_parsable(_packet(SE_PROFILE, 6)))
    assert len(dropped) == 1, (
        "zigpy drops a Smart Energy frame re-labelled HA (0x0104): SE attribute reports and read responses"
        " would never reach the hub's waiting requests (rig.hub.upstream.zigpy_parsable)")
    assert upstream.zigpy_parsable(_packet(SE_PROFILE, 7)).profile_id == HA_PROFILE


# -- 3. the packet path (the hub's OTA interception, the report's capture) --------------------------------
def test_bellows_and_zigpy_route_every_frame_through_the_instance_methods():
    receive = inspect.getsource(bellows.zigbee.application.ControllerApplication)
    assert "self.packet_received(" in receive, (
        "bellows no longer hands received frames to self.packet_received: the hub's OTA interception"
        " (rig.hub.app.HubApplication.packet_received) and the capture (rig.hub.upstream.wrap_packet_path)"
        " would see nothing")
    send = inspect.getsource(zigpy.application.ControllerApplication)
    assert send.count("self.send_packet(") >= 3, (
        "zigpy's request/broadcast/multicast no longer send through self.send_packet: the capture"
        " (rig.hub.upstream.wrap_packet_path) would miss sent frames")
    assert list(inspect.signature(zigpy.application.ControllerApplication.packet_received).parameters) == [
        "self", "packet"], "zigpy's ControllerApplication.packet_received(packet) changed its signature"
    assert inspect.iscoroutinefunction(bellows.zigbee.application.ControllerApplication.send_packet), (
        "bellows' send_packet is no longer a coroutine: rig.hub.upstream.wrap_packet_path awaits it")


async def test_wrap_packet_path_sees_both_directions_and_undo_restores(app):
    seen: list[tuple[str, int]] = []
    handled: list[int] = []
    sent: list[int] = []
    app.ota_handler = lambda packet: handled.append(packet.tsn) or True  # the hub's OTA interception

    async def send_packet(packet):  # the radio: bellows' send needs a stick
        sent.append(packet.tsn)

    app.send_packet = send_packet
    undo = upstream.wrap_packet_path(app, lambda p: seen.append(("rx", p.tsn)), lambda p: seen.append(("tx", p.tsn)))
    ota = _packet(SE_PROFILE, 9).replace(cluster_id=0x0019)
    app.packet_received(ota)
    await app.send_packet(_packet(HA_PROFILE, 10))
    assert seen == [("rx", 9), ("tx", 10)] and handled == [9] and sent == [10]
    undo()
    assert "packet_received" not in vars(app) and app.send_packet is send_packet
    app.packet_received(ota)
    assert seen == [("rx", 9), ("tx", 10)] and handled == [9, 9]
