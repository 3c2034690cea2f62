"""Fixtures for the emulated stick: a started Emulator whose recorded errors fail the test, a bellows
ControllerApplication connected to it, and a tiny RadioNode good enough for a full zigpy interview."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
import zigpy.config as zconf
import zigpy.types as zt
import zigpy.zcl.foundation as foundation
import zigpy.zdo.types as zdo_t

from rig.emu import Emulator
from rig.emu.air import AirFrame, Medium

LOGGER = logging.getLogger(__name__)


def assert_no_emulator_errors(emulator: Emulator) -> None:
    """Fail loudly if the emulated NCP answered anything with invalidCommand or a handler broke."""
    if emulator.errors:
        pytest.fail("emulated NCP recorded errors:\n  " + "\n  ".join(emulator.errors))


@pytest.fixture
async def make_emulator():
    """Factory: `emu = await make_emulator(ezsp_version=14, transport="tcp")`; errors checked at teardown."""
    started: list[Emulator] = []

    async def factory(**kwargs: Any) -> Emulator:
        emu = Emulator(**kwargs)
        await emu.start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        await emu.stop()
    for emu in started:
        assert_no_emulator_errors(emu)


@pytest.fixture
async def emulator(make_emulator) -> Emulator:
    return await make_emulator()


def app_config(port: str, **extra: Any) -> dict:
    config = {
        zconf.CONF_DEVICE: {zconf.CONF_DEVICE_PATH: port},
        "use_thread": False,
        zconf.CONF_DATABASE: None,
        zconf.CONF_NWK: {zconf.CONF_NWK_CHANNEL: 15, zconf.CONF_NWK_PAN_ID: 0x1A62},
        zconf.CONF_TOPO_SCAN_ENABLED: False,
        zconf.CONF_OTA: {zconf.CONF_OTA_PROVIDERS: [], zconf.CONF_OTA_BROADCAST_ENABLED: False},
    }
    config.update(extra)
    return config


async def start_app(emu: Emulator, **extra: Any):
    """Unmodified bellows ControllerApplication, auto-formed against the emulator. Returns (app, seconds)."""
    from bellows.zigbee.application import ControllerApplication

    t0 = time.monotonic()
    app = await ControllerApplication.new(app_config(emu.port, **extra), auto_form=True, start_radio=True)
    return app, time.monotonic() - t0


@pytest.fixture
async def make_app():
    apps: list[Any] = []

    async def factory(emu: Emulator, **extra: Any):
        app, seconds = await start_app(emu, **extra)
        apps.append(app)
        return app, seconds

    yield factory
    for app in apps:
        try:
            await asyncio.wait_for(app.shutdown(), 10)
        except Exception:  # the line may already be gone in fault tests
            LOGGER.debug("app shutdown failed", exc_info=True)


class MiniNode:
    """The smallest RadioNode a zigpy interview completes against (ZDO descriptors + Basic reads)."""

    MODEL = "mini-node"
    MANUFACTURER = "rig-tests"

    def __init__(self, ieee: zt.EUI64, nwk: int, medium: Medium, *, rx_on_when_idle: bool = True,
                 poll_interval_s: float | None = None) -> None:
        self.ieee = ieee
        self.nwk = zt.NWK(nwk)
        self.medium = medium
        self.rx_on_when_idle = rx_on_when_idle
        self.poll_interval_s = poll_interval_s
        self.on = False
        self.received: list[AirFrame] = []
        self._tsn = 0
        self._aps = 0

    # RadioNode ---------------------------------------------------------------------------------------
    def power_on(self) -> None:
        self.on = True
        capability = 0x80 | (0x08 if self.rx_on_when_idle else 0)  # allocate address, rx-on
        annce = zt.serialize([self.nwk, self.ieee, capability], zdo_t.CLUSTERS[zdo_t.ZDOCmd.Device_annce][1])
        self._send(0xFFFD, 0, 0, 0, zdo_t.ZDOCmd.Device_annce, bytes([self._next_tsn()]) + annce)

    def power_off(self) -> None:
        self.on = False

    def receive(self, frame: AirFrame) -> None:
        if not self.on:
            return
        self.received.append(frame)
        if frame.profile_id == 0 and frame.dst_ep == 0:
            self._zdo(frame)
        elif frame.dst_ep == 1 and frame.cluster_id == 0x0000:
            self._basic(frame)

    # helpers ------------------------------------------------------------------------------------------
    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) % 256
        return self._tsn

    def _send(self, dst: int, src_ep: int, dst_ep: int, profile: int, cluster: int, payload: bytes) -> None:
        self._aps = (self._aps + 1) % 256
        self.medium.send_from_device(
            self, AirFrame(self.nwk, dst, src_ep, dst_ep, profile, int(cluster), payload, self._aps)
        )

    def _zdo(self, frame: AirFrame) -> None:
        C = zdo_t.ZDOCmd
        tsn = frame.payload[0]
        ok = zdo_t.Status.SUCCESS
        if frame.cluster_id == C.Node_Desc_req:
            desc = zdo_t.NodeDescriptor(
                logical_type=zdo_t.LogicalType.EndDevice, complex_descriptor_available=0,
                user_descriptor_available=0, reserved=0, aps_flags=0,
                frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
                mac_capability_flags=zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
                | (zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle if self.rx_on_when_idle else 0),
                manufacturer_code=0x1234, maximum_buffer_size=82, maximum_incoming_transfer_size=82,
                server_mask=0, maximum_outgoing_transfer_size=82,
                descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability(0),
            )
            rsp = (C.Node_Desc_rsp, [ok, self.nwk, desc])
        elif frame.cluster_id == C.Active_EP_req:
            rsp = (C.Active_EP_rsp, [ok, self.nwk, [zt.uint8_t(1)]])
        elif frame.cluster_id == C.Simple_Desc_req:
            desc = zdo_t.SizePrefixedSimpleDescriptor(
                endpoint=1, profile=0x0104, device_type=0x0051, device_version=1,
                input_clusters=[0x0000], output_clusters=[],
            )
            rsp = (C.Simple_Desc_rsp, [ok, self.nwk, desc])
        elif frame.cluster_id == C.IEEE_addr_req:
            rsp = (C.IEEE_addr_rsp, [ok, self.ieee, self.nwk, None, None, None])
        else:
            return
        cmd, values = rsp
        body = zt.serialize(values, zdo_t.CLUSTERS[cmd][1])
        self._send(frame.src_nwk, 0, 0, 0, cmd, bytes([tsn]) + body)

    def _basic(self, frame: AirFrame) -> None:
        hdr, rest = foundation.ZCLHeader.deserialize(frame.payload)
        if hdr.frame_control.frame_type != foundation.FrameType.GLOBAL_COMMAND:
            return
        if hdr.command_id != foundation.GeneralCommand.Read_Attributes:
            return
        req_schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes].schema
        req, _ = req_schema.deserialize(rest)
        values = {
            0x0004: foundation.TypeValue(type=foundation.DataTypeId.string, value=zt.CharacterString(self.MANUFACTURER)),
            0x0005: foundation.TypeValue(type=foundation.DataTypeId.string, value=zt.CharacterString(self.MODEL)),
        }
        records = []
        for attrid in req.attribute_ids:
            if attrid in values:
                records.append(foundation.ReadAttributeRecord(attrid, foundation.Status.SUCCESS, values[attrid]))
            else:
                records.append(foundation.ReadAttributeRecord(attrid, foundation.Status.UNSUPPORTED_ATTRIBUTE))
        rsp_schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema
        rsp_hdr = foundation.ZCLHeader.general(
            hdr.tsn, foundation.GeneralCommand.Read_Attributes_rsp,
            direction=foundation.Direction.Server_to_Client,
        )
        payload = rsp_hdr.serialize() + rsp_schema(status_records=records).serialize()
        self._send(frame.src_nwk, 1, frame.src_ep, frame.profile_id, 0x0000, payload)


@pytest.fixture
def make_node():
    def factory(emu: Emulator, index: int = 1, **kwargs: Any) -> MiniNode:
        node = MiniNode(zt.EUI64.convert(f"00:0d:6f:00:00:00:00:{index:02x}"), 0x1000 + index, emu.network, **kwargs)
        return emu.add_device(node)

    return factory


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
