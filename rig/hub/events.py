"""What the Communications Hub reports upward (to the DSP/CSP stub, to plans, to reports).

Outcome events are the hub's contract with rig.backend: exactly one TransferOutcome per (device, offer)
and at most one ActivationOutcome per offer. Each carries the offer id, which carries the originating
service request id, so every alert can be correlated.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Callable, Protocol


class TransferResult(enum.IntEnum):
    """CCS08 Firmware Transfer Alert ResponseCode (0x8F8A on SUCCESS, 0x8F89 otherwise)."""

    SUCCESS = 0
    IMAGE_DISCARDED = 1
    HARDWARE_VERSION_MISMATCH = 2
    FILE_TRANSFER_FAILURE = 3


class ActivationResult(enum.IntEnum):
    """0x8F8B 'Activate image' result."""

    SUCCESS = 0
    FAILURE = 1


class ActivationPlan(enum.Enum):
    NOW = "now"  # Upgrade End Response with UpgradeTime 0 (PPMID, SR 11.4 with no execution time)
    AT = "at"  # a real time (SR 11.4 execution date-time)
    WAIT = "wait"  # 0xFFFFFFFF until activate() (HCALCS/GSME/ESME: SR 11.1 then 11.3)


@dataclasses.dataclass(frozen=True)
class TransferOutcome:
    ieee: str  # "00:0d:6f:..." form (str(zigpy.types.EUI64))
    offer_id: int
    request_id: str | None
    result: TransferResult
    file_version: int  # the offered image's version
    time: float  # rig clock, POSIX seconds
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class ActivationOutcome:
    ieee: str
    offer_id: int
    request_id: str | None
    result: ActivationResult
    target_version: int
    observed_version: int | None  # None: the device never answered
    time: float
    detail: str = ""


class VersionSource(enum.Enum):
    QUERY_NEXT_IMAGE = "qni"
    ATTRIBUTE_READ = "attribute"
    UPGRADE_END = "upgrade_end"


@dataclasses.dataclass(frozen=True)
class VersionObserved:
    ieee: str
    version: int
    source: VersionSource
    time: float
    manufacturer_code: int | None = None
    image_type: int | None = None
    hardware_version: int | None = None
    unexplained_change: bool = False  # changed with no upgrade pending (R-VER-02), flagged once
    regression: bool = False  # lower than the last known version (R-VER-03), flagged once


@dataclasses.dataclass(frozen=True)
class ImageDiscarded:
    """An image left the CH store (GSME pre-emption, retention expiry, withdrawal)."""

    image_id: int
    reason: str  # "preempted_by_gsme" | "retention_expired" | "withdrawn"
    time: float


HubEvent = TransferOutcome | ActivationOutcome | VersionObserved | ImageDiscarded


class HubEventSink(Protocol):
    def __call__(self, event: HubEvent) -> None: ...


class CommsHubPort(Protocol):
    """What the CSP stub drives on the CH. rig.hub.Hub implements it; rig.backend uses only this."""

    def store_image(self, image: bytes, *, request_id: str | None = None) -> int:
        """Validate and store an image in its memory block; returns the image id. Raises
        rig.hub.errors.ImageRejected (with the reason) if invalid or the block is refused."""

    def offer(self, ieee: str, image_id: int, *, plan: ActivationPlan, upgrade_time: float | None = None,
              request_id: str | None = None, allow_downgrade: bool = False) -> int:
        """Offer a stored image to one device; returns the offer id."""

    def activate(self, ieee: str, offer_id: int, *, at: float | None = None) -> None:
        """Release a WAIT offer: unsolicited Upgrade End Response with a real time (None = now)."""

    async def read_version(self, ieee: str) -> int | None:
        """Read the device's CurrentFileVersion over the air; None if it does not answer."""

    def subscribe(self, sink: Callable[[HubEvent], None]) -> None: ...
