"""Service requests and responses as plain data (what the Python API and the DUIS XML both map to)."""

from __future__ import annotations

import dataclasses
import datetime as _dt


@dataclasses.dataclass(frozen=True)
class DeviceWarning:
    device: str  # as the Service User wrote it
    code: str  # "InvalidDeviceID" | "UnknownDevice" | "NotPPMID" | "GapUnder5Days" | "ResendBeforeAlert" | "SlaAtRisk"
    text: str


@dataclasses.dataclass
class ServiceResponse:
    request_id: str
    service_reference: str  # "11.1" | "11.2" | "11.3" | "11.4" | "CS06"
    response_code: str
    accepted: bool
    time: float
    reason: str = ""
    devices: list[str] = dataclasses.field(default_factory=list)  # hub-form ids that proceed
    invalid_device_ids: list[str] = dataclasses.field(default_factory=list)  # as given
    in_progress_device_ids: list[str] = dataclasses.field(default_factory=list)  # hub form
    warnings: list[DeviceWarning] = dataclasses.field(default_factory=list)
    firmware_version: int | None = None  # SR 11.2 answer
    version_source: str | None = None  # SR 11.2: "register" | "cs08"

    def warning_codes(self, device: str | None = None) -> list[str]:
        return [w.code for w in self.warnings if device is None or w.device == device]


@dataclasses.dataclass(frozen=True)
class UpdatePPMIDFirmware:  # SR 11.4
    user_id: str
    image: bytes | str  # the OTA file, or its base64 text
    firmware_version: str | int  # 8 hex digits as sent (an int is taken as is)
    device_ids: list[str]
    execution_time: float | None = None
    request_id: str | None = None


@dataclasses.dataclass(frozen=True)
class UpdateFirmware:  # SR 11.1
    user_id: str
    image: bytes | str
    firmware_version: str | int
    device_id: str
    request_id: str | None = None
    security: bool = False
    bulk_approved: bool = False


@dataclasses.dataclass(frozen=True)
class ActivateFirmware:  # SR 11.3
    user_id: str
    device_id: str
    firmware_version: str | int | None = None
    execution_time: float | None = None
    request_id: str | None = None


@dataclasses.dataclass(frozen=True)
class ReadFirmwareVersion:  # SR 11.2
    user_id: str
    device_id: str
    request_id: str | None = None
    over_the_air: bool = False  # a CS08 read through the CH (rig extension), else the register


ServiceRequest = UpdatePPMIDFirmware | UpdateFirmware | ActivateFirmware | ReadFirmwareVersion


def parse_version(text: str | int) -> int | None:
    """DUIS FirmwareVersion: exactly 8 hex digits; an int is taken as is. None if malformed."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 <= text <= 0xFFFFFFFF else None
    if isinstance(text, str) and len(text) == 8:
        try:
            return int(text, 16)
        except ValueError:
            return None
    return None


def iso_utc(posix: float) -> str:
    return _dt.datetime.fromtimestamp(posix, _dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
