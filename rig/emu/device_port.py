"""What a device's OTA client and its fault switches use of the device they belong to.

`rig.emu.device.EmulatedDevice` is the one implementation; the OTA client (rig.emu.ota_client) and the
fault switches (rig.emu.device_faults) are typed against this protocol, so neither imports the device
module that builds them and imports run one way: device -> ota_client, device_faults -> device_port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from zigpy.zcl.foundation import Status

    from rig.emu.air import AirFrame
    from rig.emu.zcl import ZclHeader


class DevicePort(Protocol):
    ieee: Any  # zigpy EUI64
    profile: Any  # rig.emu.profiles.DeviceProfile
    flash: Any  # rig.emu.ota_client.OtaFlash: what survives a reboot
    ota: Any  # rig.emu.ota_client.OtaClient
    faults: Any  # rig.emu.device_faults.DeviceFaults

    def next_tsn(self) -> int: ...

    def schedule_reboot(self) -> None: ...

    def send_zdo_match_desc(self, tsn: int, dst_nwk: int, profile_id: int, in_clusters: list[int]) -> None: ...

    def send_zdo_ieee_addr_req(self, tsn: int, dst_nwk: int) -> None: ...

    def send_default_response(self, hdr: ZclHeader, frame: AirFrame, status: Status) -> None: ...

    def send_zcl(self, *, dst_nwk: int, dst_ep: int, src_ep: int, profile_id: int, cluster_id: int,
                 command_id: int, body: bytes, general: bool, direction: Any,
                 disable_default_response: bool = False) -> bytes: ...
