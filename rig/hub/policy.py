"""Pure decisions of the OTA server: may this QNI be offered the image? (R-CH-02)."""

from __future__ import annotations

import dataclasses

from rig.hub.store import ImageRow, OfferRow
from rig.hub.zcl import QueryNextImage, Status


@dataclasses.dataclass(frozen=True)
class QueryDecision:
    status: Status
    reason: str
    hardware_mismatch: bool = False


def decide_query(qni: QueryNextImage, offer: OfferRow | None, image: ImageRow | None) -> QueryDecision:
    """Offer the image only if every R-CH-02 condition holds; otherwise say why not."""
    if offer is None:
        return QueryDecision(Status.NO_IMAGE_AVAILABLE, "no offer for this device")
    if offer.state not in ("offered", "transferred"):
        return QueryDecision(Status.NO_IMAGE_AVAILABLE, f"offer {offer.id} is {offer.state}")
    if image is None or not image.live:
        return QueryDecision(Status.NO_IMAGE_AVAILABLE, f"image of offer {offer.id} is no longer held")
    if qni.manufacturer_code != image.manufacturer_code:
        return QueryDecision(Status.NO_IMAGE_AVAILABLE,
                             f"manufacturer 0x{qni.manufacturer_code:04x} != image 0x{image.manufacturer_code:04x}")
    if qni.image_type != image.image_type:
        return QueryDecision(Status.NO_IMAGE_AVAILABLE,
                             f"image type 0x{qni.image_type:04x} != image 0x{image.image_type:04x}")
    if image.min_hw is not None or image.max_hw is not None:
        if qni.hardware_version is None:
            return QueryDecision(Status.NO_IMAGE_AVAILABLE, "hardware version not sent but the image has a range",
                                 hardware_mismatch=True)
        low = image.min_hw if image.min_hw is not None else 0
        high = image.max_hw if image.max_hw is not None else 0xFFFF
        if not low <= qni.hardware_version <= high:
            return QueryDecision(Status.NO_IMAGE_AVAILABLE,
                                 f"hardware version 0x{qni.hardware_version:04x} outside 0x{low:04x}..0x{high:04x}",
                                 hardware_mismatch=True)
    if qni.current_file_version == image.file_version:
        return QueryDecision(Status.NO_IMAGE_AVAILABLE, "device already runs the offered version")
    if image.file_version < qni.current_file_version and not offer.allow_downgrade:
        return QueryDecision(Status.NO_IMAGE_AVAILABLE,
                             f"downgrade 0x{qni.current_file_version:08x} -> 0x{image.file_version:08x} not allowed")
    return QueryDecision(Status.SUCCESS, "offer")
