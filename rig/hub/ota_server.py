"""The always-on GB OTA Upgrade server: one decoded frame in, replies and outcomes out (R-CH-01..09).

Stateless per block (any offset of an offered image is served, so devices resume after a reboot), keyed
by the requester's EUI64 and the image id in the frame. Timers read the injected clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Protocol

from rig.clock import Clock, zigbee_utc
from rig.hub import zcl
from rig.hub.config import HubConfig
from rig.hub.events import ActivationPlan, HubEvent, TransferOutcome, TransferResult, VersionSource
from rig.hub.inventory import Inventory
from rig.hub.policy import decide_query
from rig.hub.ratelimit import RateLimiter
from rig.hub.store import ImageRow, OfferRow, Store
from rig.hub.versions import VersionChecker, VersionRegister
from rig.hub.zcl import Cmd, Status
from rig.signals import Signal

LOGGER = logging.getLogger(__name__)
DEFAULT_RESPONSE_ID = 0x0B  # ZCL general command
FRAMES_KEPT = 50_000  # the OTA frame log keeps the newest 40,000-50,000 (a 750 kB transfer is about 38,000)


@dataclasses.dataclass(frozen=True)
class Peer:
    """Where a device's OTA client lives; replies go back to its endpoint and profile (R-PLAT-05)."""

    ieee: str
    nwk: int
    endpoint: int
    profile: int
    local_endpoint: int


class Transport(Protocol):
    def send(self, peer: Peer, tsn: int, data: bytes, *, ack: bool = True) -> None:
        """Queue a frame to the peer (fire and forget; delivery errors are logged)."""

    async def send_now(self, peer: Peer, tsn: int, data: bytes, *, ack: bool = True) -> bool: ...

    def broadcast(self, address: int, tsn: int, data: bytes) -> None:
        """Queue a frame to every OTA client behind a broadcast address (0xFFFF, 0xFFFD, 0xFFFC)."""

    def new_tsn(self) -> int: ...


@dataclasses.dataclass(frozen=True)
class FrameRecord:
    """One OTA frame in or out, for tests and reports."""

    time: float
    ieee: str
    direction: str  # "rx" | "tx"
    command: str
    status: int | None
    detail: str = ""
    offset: int | None = None  # image block responses: where this block starts
    size: int | None = None  # ... how many image bytes it carries
    total: int | None = None  # ... out of how many (the image's total size)


class OtaServer:
    def __init__(self, store: Store, config: HubConfig, clock: Clock, inventory: Inventory,
                 register: VersionRegister, checker: VersionChecker, emit: Callable[[HubEvent], None]) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.inventory = inventory
        self.register = register
        self.checker = checker
        self.emit = emit
        self.limiter = RateLimiter(config)
        self.transport: Transport | None = None
        self.frames: list[FrameRecord] = []
        self.frames_kept = FRAMES_KEPT  # a standing bench (the soak) may keep fewer; trimmed by a fifth at a time
        self.frames_logged = 0  # every frame ever logged: a mark for frames_since()
        self.frame_logged = Signal("OTA frame logged")  # progress bars, timelines (FrameRecord)
        self._tasks: set[asyncio.Task] = set()
        self._expiry_checked_at = float("-inf")
        inventory.on_offer_withdrawn = self.limiter.finish

    # -- entry point -------------------------------------------------------------------------
    def handle_frame(self, peer: Peer, data: bytes) -> bool:
        """Handle a frame for cluster 0x0019. False: not ours (profile-wide or to a client), let zigpy have it."""
        try:
            hdr, payload = zcl.parse_header(data)
        except zcl.Malformed as exc:
            self._log(peer, "rx", "unparseable", None, str(exc))
            return True  # nothing to answer: no TSN/command to reply to
        if not hdr.cluster_specific or hdr.from_server:
            if not hdr.cluster_specific and hdr.command_id == DEFAULT_RESPONSE_ID and len(payload) >= 2:
                # A device's verdict on one of our commands (e.g. NOT_AUTHORIZED to a timed Upgrade End
                # Response under an out-of-band activation policy): worth a line in the frame log.
                self._log(peer, "rx", "DEFAULT_RESPONSE", payload[1], f"to 0x{payload[0]:02x}")
            return False
        if hdr.manufacturer is not None:
            self._log(peer, "rx", f"manufacturer-specific 0x{hdr.command_id:02x}", None)
            self._default_response(peer, hdr, Status.UNSUP_MANUF_CLUSTER_COMMAND)
            return True
        handler = {
            Cmd.QUERY_NEXT_IMAGE: self._query_next_image,
            Cmd.IMAGE_BLOCK: self._image_block,
            Cmd.IMAGE_PAGE: self._image_page,
            Cmd.UPGRADE_END: self._upgrade_end,
        }.get(hdr.command_id)
        if handler is None:
            self._log(peer, "rx", f"command 0x{hdr.command_id:02x}", None, "unsupported")
            self._default_response(peer, hdr, Status.UNSUP_CLUSTER_COMMAND)
            return True
        self._expire_due()
        try:
            handler(peer, hdr, payload)
        except zcl.Malformed as exc:
            self._log(peer, "rx", Cmd(hdr.command_id).name, None, f"malformed: {exc}")
            self._default_response(peer, hdr, Status.MALFORMED_COMMAND)
        return True

    # -- Query Next Image (R-CH-02/03) -------------------------------------------------------
    def _query_next_image(self, peer: Peer, hdr: zcl.ZclHeader, payload: bytes) -> None:
        qni = zcl.decode_query_next_image(payload)
        self._log(peer, "rx", "QUERY_NEXT_IMAGE", None, f"v=0x{qni.current_file_version:08x}")
        self.register.observe(peer.ieee, qni.current_file_version, VersionSource.QUERY_NEXT_IMAGE,
                              manufacturer_code=qni.manufacturer_code, image_type=qni.image_type,
                              hardware_version=qni.hardware_version)
        allowed, _ = self.store.device_kind(peer.ieee)
        if not allowed:
            self._reply(peer, hdr, Cmd.QUERY_NEXT_IMAGE_RSP, zcl.qni_response(Status.NOT_AUTHORIZED),
                        Status.NOT_AUTHORIZED, "device not in the CH device log")
            return
        self.store.remember_ota_endpoint(peer.ieee, peer.endpoint, peer.profile)
        offer = self.store.latest_offer(peer.ieee)
        image = self.store.image(offer.image_id) if offer else None
        decision = decide_query(qni, offer, image)
        if decision.hardware_mismatch and offer is not None and image is not None:
            self._transfer_outcome(offer, image, TransferResult.HARDWARE_VERSION_MISMATCH, decision.reason,
                                   new_state="failed")
        if decision.status is Status.SUCCESS and self.waiting_for_slot(peer.ieee):
            self._reply(peer, hdr, Cmd.QUERY_NEXT_IMAGE_RSP, zcl.qni_response(Status.NO_IMAGE_AVAILABLE),
                        Status.NO_IMAGE_AVAILABLE, "offer waits for a download slot (notify_within_slots)")
        elif decision.status is Status.SUCCESS and offer is not None and image is not None:
            self._reply(peer, hdr, Cmd.QUERY_NEXT_IMAGE_RSP,
                        zcl.qni_response(Status.SUCCESS, _image_id(image), image.total_size), Status.SUCCESS,
                        f"offer {offer.id} v=0x{image.file_version:08x} size={image.total_size}")
        else:
            self._reply(peer, hdr, Cmd.QUERY_NEXT_IMAGE_RSP, zcl.qni_response(decision.status), decision.status,
                        decision.reason)

    # -- Image Block Request (R-CH-04/05) ----------------------------------------------------
    def _image_block(self, peer: Peer, hdr: zcl.ZclHeader, payload: bytes) -> None:
        req = zcl.decode_image_block(payload)
        located = self._locate(peer, hdr, req.image, "IMAGE_BLOCK", req.file_offset)
        if located is None:
            return
        offer, image, data = located
        if req.file_offset >= image.total_size or req.max_data_size == 0:
            self._log(peer, "rx", "IMAGE_BLOCK", None, f"offset {req.file_offset} size {req.max_data_size}")
            self._default_response(peer, hdr, Status.MALFORMED_COMMAND)
            return
        _, kind = self.store.device_kind(peer.ieee)
        wait = self.limiter.on_request(peer.ieee, kind, req.file_offset, req.min_block_period, self.clock.now())
        self._log(peer, "rx", "IMAGE_BLOCK", None, f"offset={req.file_offset}")
        if wait is not None:
            self._reply(peer, hdr, Cmd.IMAGE_BLOCK_RSP,
                        zcl.block_response_wait(wait.request_time_s, wait.min_block_period), Status.WAIT_FOR_DATA,
                        wait.reason)
            return
        size = min(req.max_data_size, self.config.block_size_cap, image.total_size - req.file_offset)
        chunk = data[req.file_offset : req.file_offset + size]
        self._reply(peer, hdr, Cmd.IMAGE_BLOCK_RSP, zcl.block_response_success(_image_id(image), req.file_offset, chunk),
                    Status.SUCCESS, f"offset={req.file_offset} size={size}",
                    block=(req.file_offset, size, image.total_size))

    def _locate(self, peer: Peer, hdr: zcl.ZclHeader, wanted: zcl.ImageId, what: str, offset: int
                ) -> tuple[OfferRow, ImageRow, bytes] | None:
        """The offer and bytes a block/page request refers to; None after answering the refusal."""
        allowed, _ = self.store.device_kind(peer.ieee)
        if not allowed:
            self._log(peer, "rx", what, None, "device not in the CH device log")
            self._default_response(peer, hdr, Status.NOT_AUTHORIZED)
            return None
        offer, image = self._offer_for(peer.ieee, wanted)
        if offer is None or image is None:
            self._log(peer, "rx", what, None, f"offset={offset} image not offered")
            self._default_response(peer, hdr, Status.NO_IMAGE_AVAILABLE)
            return None
        data = self.store.image_data(image.id) if offer.state in ("offered", "transferred") else None
        if data is None:
            # Withdrawn, pre-empted, expired or failed: tell the client to stop (R-CH-04).
            self._log(peer, "rx", what, None, f"offset={offset} offer {offer.id} {offer.state}")
            self._reply(peer, hdr, Cmd.IMAGE_BLOCK_RSP, zcl.block_response_abort(), Status.ABORT,
                        f"offer {offer.id} {offer.state} ({offer.withdrawn_reason or 'image gone'})")
            self.limiter.finish(peer.ieee)
            return None
        return offer, image, data

    def _offer_for(self, ieee: str, wanted: zcl.ImageId) -> tuple[OfferRow | None, ImageRow | None]:
        for offer in self.store.offers_for(ieee):  # newest first
            image = self.store.image(offer.image_id)
            if image is not None and _image_id(image) == wanted:
                return offer, image
        return None, None

    # -- Image Page Request (R-CH-06) --------------------------------------------------------
    def _image_page(self, peer: Peer, hdr: zcl.ZclHeader, payload: bytes) -> None:
        if not self.config.image_pages:
            self._log(peer, "rx", "IMAGE_PAGE", None, "pages disabled")
            self._default_response(peer, hdr, Status.UNSUP_CLUSTER_COMMAND)
            return
        req = zcl.decode_image_page(payload)
        located = self._locate(peer, hdr, req.image, "IMAGE_PAGE", req.file_offset)
        if located is None:
            return
        offer, image, data = located
        if req.file_offset >= image.total_size or req.max_data_size == 0 or req.page_size == 0:
            self._log(peer, "rx", "IMAGE_PAGE", None, f"offset {req.file_offset} size {req.max_data_size}")
            self._default_response(peer, hdr, Status.MALFORMED_COMMAND)
            return
        _, kind = self.store.device_kind(peer.ieee)
        wait = self.limiter.on_request(peer.ieee, kind, req.file_offset, None, self.clock.now())
        self._log(peer, "rx", "IMAGE_PAGE", None, f"offset={req.file_offset} page={req.page_size}")
        if wait is not None:  # ends this page session; the client asks again later
            self._reply(peer, hdr, Cmd.IMAGE_BLOCK_RSP, zcl.block_response_wait(wait.request_time_s, None),
                        Status.WAIT_FOR_DATA, wait.reason)
            return
        self._spawn(self._send_page(peer, hdr.tsn, image, data, req))

    async def _send_page(self, peer: Peer, tsn: int, image: ImageRow, data: bytes,
                         req: zcl.ImagePageRequest) -> None:
        end = min(image.total_size, req.file_offset + req.page_size)
        step = min(req.max_data_size, self.config.block_size_cap)
        offset = req.file_offset
        while offset < end:
            chunk = data[offset : min(end, offset + step)]
            frame = zcl.cluster_frame(tsn, Cmd.IMAGE_BLOCK_RSP,
                                      zcl.block_response_success(_image_id(image), offset, chunk))
            self._log(peer, "tx", "IMAGE_BLOCK_RSP", Status.SUCCESS, f"page offset={offset} size={len(chunk)}",
                      (offset, len(chunk), image.total_size))
            if self.transport is not None:
                await self.transport.send_now(peer, tsn, frame, ack=False)  # page blocks: no APS ack
            offset += len(chunk)
            if offset < end and req.response_spacing_ms:
                await self.clock.sleep(req.response_spacing_ms / 1000.0)

    # -- Upgrade End (R-CH-07) ---------------------------------------------------------------
    def _upgrade_end(self, peer: Peer, hdr: zcl.ZclHeader, payload: bytes) -> None:
        req = zcl.decode_upgrade_end(payload)
        self._log(peer, "rx", "UPGRADE_END", req.status)
        allowed, _ = self.store.device_kind(peer.ieee)
        if not allowed:
            self._default_response(peer, hdr, Status.NOT_AUTHORIZED)
            return
        if req.status != Status.SUCCESS:
            offer, image = self._offer_for(peer.ieee, req.image) if req.image else (None, None)
            if offer is None:
                open_ = self.store.open_offers(ieee=peer.ieee)
                offer = open_[-1] if open_ else None
                image = self.store.image(offer.image_id) if offer else None
            if offer is not None and image is not None and offer.state == "offered":
                self._transfer_outcome(offer, image, TransferResult.FILE_TRANSFER_FAILURE,
                                       f"Upgrade End Request status 0x{req.status:02x}", new_state="failed")
            self.limiter.finish(peer.ieee)
            if not hdr.disable_default_response:
                self._default_response(peer, hdr, Status.SUCCESS)
            return
        assert req.image is not None
        offer, image = self._offer_for(peer.ieee, req.image)
        if offer is None or image is None or offer.state not in ("offered", "transferred"):
            self._default_response(peer, hdr, Status.ABORT)
            return
        now = self.clock.now()
        self.limiter.finish(peer.ieee, now)  # a completed download: it teaches the limiter how long one takes
        if offer.state == "offered":
            self._transfer_outcome(offer, image, TransferResult.SUCCESS, "", new_state="transferred", ended_at=now)
            activation_at = self._activation_time(offer, now)
            if activation_at is not None:
                self.store.update_offer(None, offer.id, activation_at=activation_at)
                self.checker.schedule(offer.id, activation_at + self.config.version_check_delay_s)
            offer = self.store.offer(offer.id) or offer
        self._reply(peer, hdr, Cmd.UPGRADE_END_RSP,
                    zcl.upgrade_end_response(_image_id(image), *self._end_times(offer.activation_at, now)), None,
                    _plan_detail(offer))

    def _activation_time(self, offer: OfferRow, now: float) -> float | None:
        if offer.activation_at is not None:  # activate() came before the Upgrade End Request
            return offer.activation_at
        if offer.plan == ActivationPlan.NOW.value:
            return now
        if offer.plan == ActivationPlan.AT.value:
            return max(now, offer.upgrade_time if offer.upgrade_time is not None else now)
        return None  # WAIT: 0xFFFFFFFF until activate()

    def _end_times(self, activation_at: float | None, now: float) -> tuple[int, int]:
        utc = self.config.upgrade_time_mode == "utc"
        if activation_at is None:
            return (zigbee_utc(now) if utc else 0), zcl.UPGRADE_TIME_WAIT
        if utc:
            return zigbee_utc(now), zigbee_utc(max(now, activation_at))
        return 0, max(0, int(round(activation_at - now)))

    def activate(self, ieee: str, offer: OfferRow, at: float | None) -> None:
        now = self.clock.now()
        when = now if at is None else max(now, at)
        self.store.update_offer(None, offer.id, activation_at=when)
        if offer.state != "transferred":
            return  # the device's (future) Upgrade End Request will get the real time
        self.checker.schedule(offer.id, when + self.config.version_check_delay_s)
        image = self.store.image(offer.image_id)
        peer = self.locate(ieee)
        if image is None or peer is None or self.transport is None:
            LOGGER.warning("cannot send the activation Upgrade End Response to %s now: device not located", ieee)
            return
        tsn = self.transport.new_tsn()
        frame = zcl.cluster_frame(tsn, Cmd.UPGRADE_END_RSP,
                                  zcl.upgrade_end_response(_image_id(image), *self._end_times(when, now)))
        self._log(peer, "tx", "UPGRADE_END_RSP", None, f"unsolicited, activate at {when:.0f}")
        self.transport.send(peer, tsn, frame)

    def notify(self, ieee: str, image: ImageRow) -> bool:
        """Unicast Image Notify (payload type 3, jitter 100) to an awake device (R-CH-08)."""
        return self.send_notify(ieee, zcl.image_notify_payload(3, 100, manufacturer_code=image.manufacturer_code,
                                                               image_type=image.image_type,
                                                               file_version=image.file_version))

    def send_notify(self, ieee: str, payload: bytes) -> bool:
        """Unicast Image Notify with this payload; False if the device's OTA client is not known."""
        peer = self.locate(ieee)
        if peer is None or self.transport is None:
            return False
        tsn = self.transport.new_tsn()
        self._log(peer, "tx", "IMAGE_NOTIFY", None, _notify_detail(payload))
        self.transport.send(peer, tsn, zcl.cluster_frame(tsn, Cmd.IMAGE_NOTIFY, payload))
        return True

    def broadcast_notify(self, address: int, payload: bytes) -> bool:
        """Broadcast Image Notify, disable-default-response set (R-CH-08: only in tests that target it).
        It is logged under the broadcast address ("broadcast 0xFFFF") in place of a device's IEEE."""
        if self.transport is None:
            return False
        tsn = self.transport.new_tsn()
        self._log(Peer(f"broadcast 0x{address:04X}", address, 0xFF, zcl.SE_PROFILE, 0), "tx", "IMAGE_NOTIFY", None,
                  _notify_detail(payload))
        self.transport.broadcast(address, tsn, zcl.cluster_frame(tsn, Cmd.IMAGE_NOTIFY, payload))
        return True

    def frames_since(self, mark: int) -> list[FrameRecord]:
        """Frames logged after `frames_logged` read `mark` (the log keeps the newest 80-100 % of frames_kept)."""
        return self.frames[len(self.frames) - min(len(self.frames), self.frames_logged - mark):]

    # set by the hub: an offer the notify pacer holds until a download slot frees
    waiting_for_slot: Callable[[str], bool] = staticmethod(lambda ieee: False)  # type: ignore[assignment]

    # set by the app: where an idle device's OTA client is (for unsolicited frames)
    locate: Callable[[str], Peer | None] = staticmethod(lambda ieee: None)  # type: ignore[assignment]

    # -- helpers -----------------------------------------------------------------------------
    def _transfer_outcome(self, offer: OfferRow, image: ImageRow, result: TransferResult, detail: str, *,
                          new_state: str, ended_at: float | None = None) -> None:
        now = self.clock.now()
        with self.store.transaction() as db:
            fields: dict[str, object] = {"state": new_state}
            if ended_at is not None:
                fields["ended_at"] = ended_at
            self.store.update_offer(db, offer.id, **fields)
            first = self.store.record_outcome(db, offer.ieee, offer.id, "transfer", int(result), now, detail)
        if first:
            self.emit(TransferOutcome(offer.ieee, offer.id, offer.request_id, result, image.file_version, now, detail))

    def _reply(self, peer: Peer, hdr: zcl.ZclHeader, cmd: Cmd, payload: bytes, status: int | None,
               detail: str = "", block: tuple[int, int, int] | None = None) -> None:
        self._log(peer, "tx", cmd.name, status, detail, block)
        if self.transport is not None:
            self.transport.send(peer, hdr.tsn, zcl.cluster_frame(hdr.tsn, cmd, payload))

    def _default_response(self, peer: Peer, hdr: zcl.ZclHeader, status: Status) -> None:
        self._log(peer, "tx", "DEFAULT_RESPONSE", status, f"to 0x{hdr.command_id:02x}")
        if self.transport is not None:
            self.transport.send(peer, hdr.tsn, zcl.default_response(hdr.tsn, hdr.command_id, status, hdr.manufacturer))

    def _log(self, peer: Peer, direction: str, command: str, status: int | None, detail: str = "",
             block: tuple[int, int, int] | None = None) -> None:
        record = FrameRecord(self.clock.now(), peer.ieee, direction, command, status, detail, *(block or ()))
        self.frames.append(record)
        self.frames_logged += 1
        if len(self.frames) > self.frames_kept:
            del self.frames[:max(self.frames_kept // 5, 1)]
        self.frame_logged.emit(record)
        LOGGER.debug("%s %s %s status=%s %s", peer.ieee, direction, command, status, detail)

    def _expire_due(self) -> None:
        """Retention sweep before serving (the inventory's timer does it too). Retention is counted in
        days, so once per rig-clock second is plenty and keeps a query off every block request."""
        now = self.clock.now()
        if now - self._expiry_checked_at >= 1.0 or now < self._expiry_checked_at:
            self._expiry_checked_at = now
            self.inventory.expire_due()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


def _image_id(image: ImageRow) -> zcl.ImageId:
    return zcl.ImageId(image.manufacturer_code, image.image_type, image.file_version)


def _plan_detail(offer: OfferRow) -> str:
    return f"offer {offer.id} plan={offer.plan} activation_at={offer.activation_at}"


def _notify_detail(payload: bytes) -> str:
    """The frame log's text for an Image Notify payload: type, jitter and what the type carries."""
    if len(payload) < 2:
        return f"payload {payload.hex()}"
    text = f"type={payload[0]} jitter={payload[1]}"
    if payload[0] == 3 and len(payload) >= 10:
        text = f"v=0x{int.from_bytes(payload[6:10], 'little'):08x} " + text
    return text
