"""An emulated HAN device (PPMID / HCALCS / GSME) on the simulated network.

It implements `rig.emu.air.RadioNode`: the network hands it AirFrames through `receive()` and it
talks back only through `Medium.send_from_device()`. It answers zigpy's interview (ZDO descriptors,
Basic attributes, OTA client attributes), announces itself on power-up and runs an OTA Upgrade
client (`.ota`) with fault injection (`.faults`). `.flash` is what survives `reboot()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation

from rig.clock import Clock
from rig.emu import zcl, zdo
from rig.emu.air import BROADCAST_RX_ON, AirFrame, Medium
from rig.emu.device_faults import DeviceFaults, apply_defect
from rig.emu.event_log import EventLog
from rig.emu.ota_client import OtaClient, OtaFlash
from rig.emu.profiles import OTA_CLUSTER_ID, DeviceProfile

LOGGER = logging.getLogger(__name__)
Status = foundation.Status
BASIC_CLUSTER_ID = 0x0000
IDENTIFY_CLUSTER_ID = 0x0003
BROADCAST_ENDPOINT = 0xFF


@dataclasses.dataclass(frozen=True)
class DeviceEvent:
    time: float
    name: str
    data: dict[str, Any]


class EmulatedDevice:
    """One emulated device. Construct, hand to the network, and let it call power_on()."""

    def __init__(self, profile: DeviceProfile, *, ieee: t.EUI64, nwk: int, medium: Medium, clock: Clock) -> None:
        self.profile = profile
        self.ieee = zcl.eui64(ieee)
        self.nwk = nwk
        self.medium = medium
        self.clock = clock
        self.rx_on_when_idle = profile.rx_on_when_idle
        self.poll_interval_s = profile.poll_interval_s  # for the network's sleepy-device model
        self.short_poll_interval_s = profile.short_poll_interval_s
        self.short_poll_window_s = profile.short_poll_window_s
        self.powered = False
        self.records: EventLog[DeviceEvent] = EventLog()  # device-level: power, ZDO/ZCL requests answered
        self.flash = OtaFlash(current_file_version=profile.current_file_version)
        self.faults = DeviceFaults(self)
        self.ota = OtaClient(self)
        for defect in profile.defects:  # a profile built with defects (e.g. "ppmid+stale_version")
            apply_defect(self.faults, defect)
        self.attributes: dict[int, zcl.AttributeTable] = {ep.id: self._build_attributes(ep) for ep in profile.endpoints}
        self._tsn = 0
        self._aps = 0
        self._reboot_handle: asyncio.Handle | None = None

    def __repr__(self) -> str:
        return f"<EmulatedDevice {self.profile.name} ieee={self.ieee} nwk=0x{self.nwk:04X}>"

    # ------------------------------------------------------------------------------------------
    # Attributes

    def _build_attributes(self, ep) -> zcl.AttributeTable:
        p, table = self.profile, zcl.AttributeTable()
        if BASIC_CLUSTER_ID in ep.in_clusters:
            table.define(0x0000, 0x0000, 3)  # ZCLVersion
            table.define(0x0000, 0x0001, getter=lambda: self.flash.current_file_version & 0xFF)  # ApplicationVersion
            table.define(0x0000, 0x0002, p.stack_version & 0xFF)  # StackVersion
            table.define(0x0000, 0x0003, p.hardware_version >> 8)  # HWVersion (major byte)
            table.define(0x0000, 0x0004, p.manufacturer_name)
            table.define(0x0000, 0x0005, p.model)
            table.define(0x0000, 0x0007, 0x01 if p.mains_powered else 0x03)  # PowerSource
            table.define(0x0000, 0x0010, "", writable=True)  # LocationDescription
            table.define(0x0000, 0x4000, getter=lambda: f"{self.flash.current_file_version:08X}")  # SWBuildID
        if IDENTIFY_CLUSTER_ID in ep.in_clusters:
            table.define(0x0003, 0x0000, 0, writable=True)  # IdentifyTime
        if OTA_CLUSTER_ID in ep.out_clusters:
            f = lambda: self.flash  # noqa: E731 - the flash object is replaced by nobody, but read live
            s = p.ota
            table.define(0x0019, 0x0000, getter=lambda: f().upgrade_server_id)
            table.define(0x0019, 0x0001, getter=lambda: f().file_offset)
            table.define(0x0019, 0x0002, getter=lambda: f().current_file_version)
            table.define(0x0019, 0x0003, p.stack_version)
            table.define(0x0019, 0x0004, getter=lambda: f().downloaded_file_version)
            table.define(0x0019, 0x0005, getter=lambda: p.stack_version if f().offer else 0xFFFF)
            table.define(0x0019, 0x0006, getter=lambda: f().image_upgrade_status)
            table.define(0x0019, 0x0007, getter=lambda: f().manufacturer_id)
            table.define(0x0019, 0x0008, getter=lambda: f().image_type_id)
            table.define(0x0019, 0x0009, getter=lambda: f().minimum_block_period)
            table.define(0x0019, 0x000A, getter=lambda: f().image_stamp)
            table.define(0x0019, 0x000B, s.activation_policy)
            table.define(0x0019, 0x000C, s.timeout_policy)
        return table

    def read_attribute(self, cluster_id: int, attr_id: int, endpoint: int | None = None) -> Any:
        """Local read (what the device would answer), for tests and reports."""
        ep = endpoint if endpoint is not None else self.profile.ota_endpoint.id
        return self.attributes[ep].get(cluster_id, attr_id)

    # ------------------------------------------------------------------------------------------
    # RadioNode

    def power_on(self) -> None:
        if self.powered:
            return
        self.powered = True
        self._record("power_on", version=self.flash.current_file_version)
        self._send(
            AirFrame(
                src_nwk=self.nwk,
                dst_nwk=BROADCAST_RX_ON,
                src_ep=zdo.ZDO_ENDPOINT,
                dst_ep=zdo.ZDO_ENDPOINT,
                profile_id=zdo.ZDO_PROFILE,
                cluster_id=zdo.Cmd.Device_annce,
                payload=zdo.device_annce(self._next_tsn(), self.nwk, self.ieee, self.profile),
            )
        )
        self.ota.start()

    def power_off(self) -> None:
        if not self.powered:
            return
        self.powered = False
        self.ota.stop()
        self._record("power_off")

    def reboot(self) -> None:
        """Power cycle: RAM is lost, `flash` (versions, FileOffset, partial image) is kept."""
        self._reboot_handle = None
        self._record("reboot")
        self.power_off()
        self.power_on()

    def schedule_reboot(self) -> None:
        """Reboot on the next loop turn (safe to call from inside the OTA client's own task)."""
        if self._reboot_handle is None:
            self._reboot_handle = asyncio.get_running_loop().call_soon(self.reboot)

    def receive(self, frame: AirFrame) -> None:
        if not self.powered:
            return
        try:
            if frame.profile_id == zdo.ZDO_PROFILE and frame.dst_ep == zdo.ZDO_ENDPOINT:
                self._receive_zdo(frame)
            else:
                self._receive_zcl(frame)
        except Exception as exc:  # a malformed frame must never take the network down
            LOGGER.exception("%r failed on %r", self, frame)
            self._record("receive_error", error=repr(exc), payload=frame.payload.hex())

    # ------------------------------------------------------------------------------------------
    # ZDO

    def _receive_zdo(self, frame: AirFrame) -> None:
        cmd = frame.cluster_id
        if cmd >= 0x8000:
            try:
                tsn, fields = zdo.decode(cmd, frame.payload)
            except (zdo.MalformedZdo, ValueError):
                self._record("zdo_malformed", cluster=cmd, payload=frame.payload.hex())
                return
            self.ota.handle_zdo_response(cmd, tsn, fields, frame)
            return
        reply = zdo.answer(self.profile, self.ieee, self.nwk, cmd, frame.payload, broadcast=frame.is_broadcast)
        self._record("zdo_request", cluster=cmd, answered=reply is not None)
        if reply is not None:
            cluster, payload = reply
            self._send(
                AirFrame(self.nwk, frame.src_nwk, zdo.ZDO_ENDPOINT, zdo.ZDO_ENDPOINT, zdo.ZDO_PROFILE, cluster, payload, self._next_aps())
            )

    def _send_zdo(self, dst_nwk: int, cluster: int, payload: bytes) -> None:
        self._send(AirFrame(self.nwk, dst_nwk, zdo.ZDO_ENDPOINT, zdo.ZDO_ENDPOINT, zdo.ZDO_PROFILE, cluster, payload, self._next_aps()))

    def next_tsn(self) -> int:
        return self._next_tsn()

    def send_zdo_match_desc(self, tsn: int, dst_nwk: int, profile_id: int, in_clusters: list[int]) -> None:
        self._send_zdo(dst_nwk, zdo.Cmd.Match_Desc_req, zdo.match_desc_req(tsn, dst_nwk, profile_id, in_clusters, []))

    def send_zdo_ieee_addr_req(self, tsn: int, dst_nwk: int) -> None:
        self._send_zdo(dst_nwk, zdo.Cmd.IEEE_addr_req, zdo.ieee_addr_req(tsn, dst_nwk))

    # ------------------------------------------------------------------------------------------
    # ZCL

    def _receive_zcl(self, frame: AirFrame) -> None:
        endpoints = [ep for ep in self.profile.endpoints if frame.dst_ep in (ep.id, BROADCAST_ENDPOINT)]
        if not endpoints:
            self._record("zcl_unknown_endpoint", endpoint=frame.dst_ep)
            return
        try:
            hdr, body = zcl.parse_header(frame.payload)
        except zcl.MalformedFrame as exc:
            self._record("zcl_malformed", reason=str(exc), payload=frame.payload.hex())
            return
        for ep in endpoints:
            if frame.dst_ep == BROADCAST_ENDPOINT and frame.cluster_id not in ep.in_clusters + ep.out_clusters:
                continue
            self._handle_zcl(ep, hdr, body, frame)

    def _handle_zcl(self, ep, hdr: zcl.ZclHeader, body: bytes, frame: AirFrame) -> None:
        cluster = frame.cluster_id
        self._record("zcl_request", endpoint=ep.id, cluster=cluster, command=hdr.command_id, general=hdr.frame_control.is_general)
        if cluster not in ep.in_clusters + ep.out_clusters:
            status = Status.UNSUPPORTED_CLUSTER
        elif hdr.frame_control.is_general:
            if hdr.command_id == foundation.GeneralCommand.Default_Response and cluster == OTA_CLUSTER_ID:
                self.ota.handle_default_response(hdr, body, frame)
                return
            response, status = zcl.handle_general(self.attributes[ep.id], cluster, hdr, body)
            if response is not None:
                self._reply(frame, ep.id, response)
                return
        elif cluster == OTA_CLUSTER_ID:
            status = self.ota.handle_cluster_command(hdr, body, frame) or Status.SUCCESS
        elif hdr.frame_control.is_manufacturer_specific:
            status = Status.UNSUP_MANUF_CLUSTER_COMMAND
        else:
            status = Status.UNSUP_CLUSTER_COMMAND
        if zcl.wants_default_response(hdr, status, frame.is_broadcast):
            self._reply(frame, ep.id, zcl.default_response(hdr, status))

    def send_default_response(self, hdr: zcl.ZclHeader, frame: AirFrame, status: Status) -> None:
        if not frame.is_broadcast:
            self._reply(frame, frame.dst_ep, zcl.default_response(hdr, status))

    def send_zcl(
        self,
        *,
        dst_nwk: int,
        dst_ep: int,
        src_ep: int,
        profile_id: int,
        cluster_id: int,
        command_id: int,
        body: bytes,
        general: bool,
        direction: foundation.Direction,
        disable_default_response: bool = False,
    ) -> bytes:
        """Send a ZCL command this device originates; returns the full ZCL payload."""
        hdr = zcl.header(
            self._next_tsn(), command_id, general=general, direction=direction, disable_default_response=disable_default_response
        )
        payload = hdr.serialize() + body
        self._send(AirFrame(self.nwk, dst_nwk, src_ep, dst_ep, profile_id, cluster_id, payload, self._next_aps()))
        return payload

    def _reply(self, req: AirFrame, src_ep: int, payload: bytes) -> None:
        """Answer on the profile and endpoints the request came in on."""
        self._send(AirFrame(self.nwk, req.src_nwk, src_ep, req.src_ep, req.profile_id, req.cluster_id, payload, self._next_aps()))

    # ------------------------------------------------------------------------------------------
    # Plumbing

    def _send(self, frame: AirFrame) -> None:
        if self.powered:
            self.medium.send_from_device(self, frame)

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    def _next_aps(self) -> int:
        self._aps = (self._aps + 1) & 0xFF
        return self._aps

    def _record(self, name: str, **data: Any) -> None:
        self.records.append(DeviceEvent(self.clock.now(), name, data))
