"""Fault injection for emulated devices (R-EMU-02).

Switches are plain attributes the OTA client consults at the moment they matter; one-shot faults
clear themselves when they fire, and every fired fault leaves a `fault_*` record in
`device.ota.records`, so a test can tell "the fault happened" from "nothing happened".
"""

from __future__ import annotations

import dataclasses
import struct
from typing import TYPE_CHECKING

from rig.emu import ota_codec

if TYPE_CHECKING:
    from rig.emu.device_port import DevicePort

MALFORMED_KINDS = ("qni_truncated", "ibr_truncated", "bad_payload", "unknown_command", "upgrade_end_truncated")


@dataclasses.dataclass
class DeviceFaults:
    device: DevicePort = dataclasses.field(repr=False)
    drop_block_responses: int = 0  # the next N Image Block Responses (SUCCESS) are lost
    reboot_at_offset: int | None = None  # one-shot: power cycle once FileOffset >= this
    reboot_at_percent: float | None = None  # one-shot: same, as a share of the image size
    corrupt_before_verify: bool = False  # one-shot: flip one byte of the download before verifying
    corrupt_offset: int | None = None  # which byte (default: the middle of the image)
    manufacturer_code: int | None = None  # claimed in QNI / block / page requests instead of ours
    image_type: int | None = None  # likewise
    hardware_version: int | None = None  # claimed in QNI instead of ours
    ignore_wait_for_data: bool = False  # re-request at once instead of waiting
    upgrade_end_status: int | None = None  # send this (INVALID_IMAGE / ABORT) instead of SUCCESS
    never_send_upgrade_end: bool = False  # download, verify, then stay silent
    # -- device defects (what a non-conformant DUT does; DEFECTS below names them for plans/benches)
    ignore_min_block_period: bool = False  # paces block requests by its own delay only
    restart_from_zero: bool = False  # after a reboot, downloads again from offset 0 instead of FileOffset
    request_past_end: bool = False  # asks for one block at FileOffset = image size before ending
    oversize_blocks: int | None = None  # MaximumDataSize it asks for (its buffer stays max_data_size)
    skip_verification: bool = False  # installs whatever it downloaded, integrity check or not
    activate_immediately: bool = False  # ignores UpgradeTime (0xFFFFFFFF or a later time): activates at once
    stale_version: bool = False  # after activation CurrentFileVersion (and its QNIs) still say the old version
    fault_ids_in: str = "both"  # where manufacturer_code / image_type faults apply: query | block | both
    ignore_image_notify: bool = False  # never queries because of an Image Notify
    query_interval_s: float | None = None  # queries this often instead of its profile's interval
    malformed_queries: bool = False  # its Query Next Image requests are truncated
    accept_downgrade: bool = False  # takes an older image when offered one (profile allow_downgrade)

    def ids_apply_to(self, what: str) -> bool:
        """Whether the wrong-id faults apply to this kind of request ("query" or "block")."""
        return self.fault_ids_in in ("both", what)

    def clear(self) -> None:
        for f in dataclasses.fields(self):
            if f.name != "device":
                setattr(self, f.name, f.default)

    # -- on-demand faults -------------------------------------------------------------------
    def local_upgrade(self, new_version: int) -> None:
        """Change the running version without OTA (a "local" upgrade, R-VER-02)."""
        old = self.device.flash.current_file_version
        self.device.flash.current_file_version = new_version
        self.device.ota.record("fault_local_upgrade", old=old, new=new_version)

    def send_malformed(self, kind: str) -> bytes:
        """Send one malformed OTA frame to the OTA server now; returns the ZCL payload sent."""
        dev = self.device
        p = dev.profile
        qni = ota_codec.query_next_image(p.manufacturer_code, p.image_type, dev.flash.current_file_version, p.hardware_version)
        if kind == "qni_truncated":
            command, body = ota_codec.Cmd.QUERY_NEXT_IMAGE, qni[:4]
        elif kind == "ibr_truncated":
            image = ota_codec.ImageId(p.manufacturer_code, p.image_type, dev.flash.current_file_version + 1)
            command, body = ota_codec.Cmd.IMAGE_BLOCK, ota_codec.image_block(image, 0, p.ota.max_data_size)[:9]
        elif kind == "bad_payload":
            # QNI claiming a hardware version field it does not carry, plus junk in the versions
            command, body = ota_codec.Cmd.QUERY_NEXT_IMAGE, bytes([0x01]) + struct.pack("<HH", p.manufacturer_code, p.image_type) + b"\xff"
        elif kind == "upgrade_end_truncated":
            command, body = ota_codec.Cmd.UPGRADE_END, bytes([0x00]) + struct.pack("<H", p.manufacturer_code)
        elif kind == "unknown_command":
            command, body = 0x1F, b"\x01\x02\x03"
        else:
            raise ValueError(f"malformed frame kind {kind!r}, expected one of {', '.join(MALFORMED_KINDS)}")
        payload = dev.ota.send_raw(command, body)
        dev.ota.record("fault_malformed_sent", kind=kind, command=command, payload=payload.hex())
        return payload


# A device defect = a named, lasting fault: a plan's `inject_defect`, a profile's `defects:` list and
# `profile: ppmid+ignores_wait_for_data` all use these names (bench/dut_defects.py runs each against the
# conformance suite). Each sets attributes of DeviceFaults; `accepts_downgrade` is a setting, not a defect,
# but is applied the same way (a device that takes an older image when the server offers one).
DEFECTS: dict[str, dict[str, object]] = {
    "ignores_wait_for_data": {"ignore_wait_for_data": True},
    "ignores_min_block_period": {"ignore_min_block_period": True},
    "restarts_from_zero": {"restart_from_zero": True},
    "requests_past_end": {"request_past_end": True},
    "oversize_blocks": {"oversize_blocks": 160},
    "installs_corrupt_image": {"skip_verification": True},
    "activates_immediately": {"activate_immediately": True},
    "stale_version": {"stale_version": True},
    "no_upgrade_end": {"never_send_upgrade_end": True},
    "wrong_manufacturer": {"manufacturer_code": "+1"},
    "wrong_image_type": {"image_type": "+1"},
    "wrong_manufacturer_in_blocks": {"manufacturer_code": "+1", "fault_ids_in": "block"},
    "wrong_image_type_in_blocks": {"image_type": "+1", "fault_ids_in": "block"},
    "ignores_image_notify": {"ignore_image_notify": True},
    "queries_too_often": {"query_interval_s": 10.0},
    "malformed_frames": {"malformed_queries": True},
    "accepts_downgrade": {"accept_downgrade": True},
}


def apply_defect(faults: DeviceFaults, name: str) -> None:
    """Switch a named defect on (ValueError naming the known ones if `name` is not one)."""
    if name not in DEFECTS:
        raise ValueError(f"device defect {name!r} unknown; known: {', '.join(DEFECTS)}")
    profile = faults.device.profile
    for attr, value in DEFECTS[name].items():
        if value == "+1":  # an id one off the device's own
            value = (getattr(profile, attr) + 1) & 0xFFFF
        setattr(faults, attr, value)
    faults.device.ota.record("fault_defect", defect=name)
