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
    from rig.emu.device import EmulatedDevice

MALFORMED_KINDS = ("qni_truncated", "ibr_truncated", "bad_payload", "unknown_command", "upgrade_end_truncated")


@dataclasses.dataclass
class DeviceFaults:
    device: EmulatedDevice = dataclasses.field(repr=False)
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
            command, body = ota_codec.QUERY_NEXT_IMAGE, qni[:4]
        elif kind == "ibr_truncated":
            image = ota_codec.ImageId(p.manufacturer_code, p.image_type, dev.flash.current_file_version + 1)
            command, body = ota_codec.IMAGE_BLOCK, ota_codec.image_block(image, 0, p.ota.max_data_size)[:9]
        elif kind == "bad_payload":
            # QNI claiming a hardware version field it does not carry, plus junk in the versions
            command, body = ota_codec.QUERY_NEXT_IMAGE, bytes([0x01]) + struct.pack("<HH", p.manufacturer_code, p.image_type) + b"\xff"
        elif kind == "upgrade_end_truncated":
            command, body = ota_codec.UPGRADE_END, bytes([0x00]) + struct.pack("<H", p.manufacturer_code)
        elif kind == "unknown_command":
            command, body = 0x1F, b"\x01\x02\x03"
        else:
            raise ValueError(f"malformed frame kind {kind!r}, expected one of {', '.join(MALFORMED_KINDS)}")
        payload = dev.ota.send_raw(command, body)
        dev.ota.record("fault_malformed_sent", kind=kind, command=command, payload=payload.hex())
        return payload
