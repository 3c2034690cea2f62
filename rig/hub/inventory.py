"""What the CH holds: ingest (validate, pick the memory block, pre-empt) and retention (R-STORE-01..05).

Leaving the store always has the same effects whatever the cause (GSME pre-emption, retention expiry,
replacement): the image's not-yet-completed offers are withdrawn (ABORT on the next block, NO_IMAGE on
the next QNI), each gets one TransferOutcome IMAGE_DISCARDED, and one ImageDiscarded is emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import rig.image
from rig.clock import Clock, TimerHandle
from rig.hub.config import SLOT_OF_KIND, HubConfig
from rig.hub.errors import ImageRejected
from rig.hub.events import HubEvent, ImageDiscarded, TransferOutcome, TransferResult
from rig.hub.store import ImageRow, Store

LOGGER = logging.getLogger(__name__)

PREEMPTED = "preempted_by_gsme"
EXPIRED = "retention_expired"
WITHDRAWN = "withdrawn"


class Inventory:
    def __init__(self, store: Store, config: HubConfig, clock: Clock, emit: Callable[[HubEvent], None]) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.emit = emit
        self._retention_timer: TimerHandle | None = None
        self.on_offer_withdrawn: Callable[[str], None] = lambda ieee: None

    # -- ingest ------------------------------------------------------------------------------
    def store_image(self, data: bytes, *, request_id: str | None = None, expected_version: int | None = None,
                    expected_kind: str | None = None) -> int:
        image = self.read_image(data, self.config, expected_version)
        data = image.raw  # exactly the declared image: no container, no trailing bytes
        kind = self.config.kind_of_image_type(image.image_type)
        if kind is None:
            raise ImageRejected("unknown image type", [
                f"image type 0x{image.image_type:04X} is not mapped to a device kind "
                f"(known: {self.config.known_image_types()}; map it in the bench file's or the plan's "
                "hub.image_types)"])
        if expected_kind is not None and kind != expected_kind:
            raise ImageRejected("image type does not match the target device model",
                                [f"image type 0x{image.image_type:04x} is for {kind}, expected {expected_kind}"])
        if kind == "ppmid" and len(data) > self.config.ppmid_max_image_bytes and not self.config.allow_oversize_ppmid:
            raise ImageRejected("PPMID image too large", [
                f"{len(data)} bytes > {self.config.ppmid_max_image_bytes} bytes (R-STORE-05)"])
        slot = SLOT_OF_KIND[kind]
        now = self.clock.now()
        self.expire_due()
        for held in self.store.live_images(slot):
            if held.sha256 == image.sha256:
                # The same file distributed again (a second SR for more devices): the block already
                # holds it, and replacing it would abort the transfers already serving from it.
                LOGGER.info("image %d already held in %s; reused", held.id, slot)
                return held.id
        displaced: list[tuple[ImageRow, str]] = []
        for held in self.store.live_images(slot):
            if slot == "gsme_block" and held.kind == "gsme" and kind != "gsme":
                # R-STORE-02: a PPMID/HCALCS image never evicts a GSME image.
                raise ImageRejected("GSME block busy", [
                    f"the shared GSME block holds GSME image {held.id} (version 0x{held.file_version:08x}); "
                    f"a {kind.upper()} image cannot evict it"])
            reason = PREEMPTED if kind == "gsme" and held.kind != "gsme" else WITHDRAWN
            displaced.append((held, reason))
        with self.store.transaction() as db:
            events: list[HubEvent] = []
            for held, reason in displaced:
                events += self._discard(db, held, reason, now)
            image_id = self.store.insert_image(
                db, slot=slot, kind=kind, data=bytes(data), manufacturer_code=image.manufacturer_code,
                image_type=image.image_type, file_version=image.file_version, min_hw=image.min_hw_version,
                max_hw=image.max_hw_version, sha256=image.sha256, stored_at=now, request_id=request_id)
        self._publish(events)
        self.arm_retention()
        LOGGER.info("stored %s image %d (0x%08x, %d bytes) in %s", kind, image_id, image.file_version, len(data), slot)
        return image_id

    @staticmethod
    def read_image(data: bytes, config: HubConfig, expected_version: int | None = None, *,
                   quiet: bool = False) -> rig.image.OtaImage:
        """The image as the CH reads a file it is asked to store, or ImageRejected naming every problem
        (bench/image_corpus.py reads vendors' files through this too).

        One reading of the file: structure, content and the integrity code (AES-MMO) computed once.
        Warnings are logged (unless `quiet`: a check before the run), or refused when the bench makes their
        kind fatal (hub.fatal_image_warnings)."""
        image, findings = rig.image.analyse(bytes(data))
        if image is None or findings.fatal:
            raise ImageRejected("invalid OTA image", [str(p) for p in findings.all()] or ["unreadable"])
        problems = [str(p) for p in findings.all()]
        for warning in image.warnings:
            if warning.kind in config.fatal_image_warnings:
                problems.append(f"{warning} (hub.fatal_image_warnings: {warning.kind})")
            elif not quiet:
                LOGGER.warning("image 0x%04X v0x%08X: %s", image.image_type, image.file_version, warning)
        if image.container is not None and not quiet:
            LOGGER.info("image unwrapped from a %s container (at offset %d)", image.container, image.offset)
        if expected_version is not None and image.file_version != expected_version:
            problems.append(f"file version 0x{image.file_version:08x} != requested 0x{expected_version:08x}")
        if problems:
            raise ImageRejected("invalid OTA image", problems)
        return image

    # -- leaving the store -------------------------------------------------------------------
    def discard(self, image_id: int, reason: str = WITHDRAWN) -> None:
        held = self.store.image(image_id)
        if held is None or not held.live:
            return
        with self.store.transaction() as db:
            events = self._discard(db, held, reason, self.clock.now())
        self._publish(events)

    def expire_due(self) -> None:
        """Discard every image older than the retention period (R-STORE-03); safe to call often."""
        now = self.clock.now()
        for held in self.store.live_images():
            if held.stored_at + self.config.retention_s <= now:
                self.discard(held.id, EXPIRED)

    def arm_retention(self) -> None:
        if self._retention_timer is not None:
            self._retention_timer.cancel()
            self._retention_timer = None
        live = self.store.live_images()
        if not live:
            return
        due = min(i.stored_at for i in live) + self.config.retention_s
        try:
            self._retention_timer = self.clock.call_later(max(0.0, due - self.clock.now()), self._on_retention)
        except RuntimeError:  # no event loop yet: Hub.start() arms it; expire_due() also runs on every frame
            self._retention_timer = None

    def stop(self) -> None:
        if self._retention_timer is not None:
            self._retention_timer.cancel()
            self._retention_timer = None

    def _on_retention(self) -> None:
        self._retention_timer = None
        self.expire_due()
        self.arm_retention()

    def _discard(self, db, held: ImageRow, reason: str, now: float) -> list[HubEvent]:
        events: list[HubEvent] = []
        self.store.discard_image(db, held.id, reason, now)
        for offer in self.store.open_offers(image_id=held.id):
            if offer.state != "offered":
                continue  # already transferred: the device holds its copy, activation still goes ahead
            self.store.update_offer(db, offer.id, state="withdrawn", withdrawn_reason=reason)
            if self.store.record_outcome(db, offer.ieee, offer.id, "transfer", int(TransferResult.IMAGE_DISCARDED),
                                         now, reason):
                events.append(TransferOutcome(offer.ieee, offer.id, offer.request_id, TransferResult.IMAGE_DISCARDED,
                                              held.file_version, now, reason))
        events.append(ImageDiscarded(held.id, reason, now))
        return events

    def _publish(self, events: list[HubEvent]) -> None:
        for event in events:
            if isinstance(event, TransferOutcome):
                self.on_offer_withdrawn(event.ieee)
            self.emit(event)
