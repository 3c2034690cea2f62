"""The OTA Upgrade *client* of an emulated device (domain.md §1.3-1.6, R-EMU-01).

One coroutine per power cycle runs the client: discover the server, resume an interrupted job,
then query on power-up and every `query_interval_s` (or when notified), download, verify, send
Upgrade End and activate when told. Everything it hears from the server arrives through one
queue, so every wait is "the next relevant frame or a clock timeout"; all timers use the injected
clock. What must survive a power cycle lives in `OtaFlash`.

Every step leaves an `OtaEvent(time, name, data)` in `records`; tests await them with
`wait_for_event` / `wait_for_state`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import ImageUpgradeStatus

from rig.clock import wake
from rig.emu import ota_codec as oc
from rig.emu.event_log import EventLog
from rig.emu.ota_verify import verify_image

if TYPE_CHECKING:
    from rig.emu.air import AirFrame
    from rig.emu.device_port import DevicePort
    from rig.emu.zcl import ZclHeader

LOGGER = logging.getLogger(__name__)
Status = foundation.Status
NO_SERVER = t.EUI64.convert("ff:ff:ff:ff:ff:ff:ff:ff")
UNSET32 = 0xFFFFFFFF
WFD_BAD_TIME_WAIT_S = 300.0  # Silabs: RequestTime < CurrentTime -> wait 5 min
BAD_UPGRADE_TIME_WAIT_S = 3600.0  # Silabs: UpgradeTime < CurrentTime -> retry in 1 h
IGNORED_WAIT_RETRY_S = 0.1  # a client that ignores WAIT_FOR_DATA retries as if a block had been lost


_PHASE_OVER = object()  # _on_end_answer: the Upgrade End phase is finished


@dataclasses.dataclass
class OtaFlash:
    """What the device keeps across a power cycle."""

    current_file_version: int
    downloaded_file_version: int = UNSET32
    downloaded_stack_version: int = 0xFFFF
    file_offset: int = UNSET32
    image_upgrade_status: int = ImageUpgradeStatus.Normal
    manufacturer_id: int = 0xFFFF
    image_type_id: int = 0xFFFF
    minimum_block_period: int = 0
    image_stamp: int = 0
    offer: oc.ImageId | None = None
    offer_size: int = 0
    data: bytearray = dataclasses.field(default_factory=bytearray)
    upgrade_server_id: t.EUI64 = NO_SERVER
    server: ServerContact | None = None
    installed_image: bytes | None = None  # the last image activated (for byte-identity checks)


@dataclasses.dataclass(frozen=True)
class ServerContact:
    nwk: int
    endpoint: int
    profile_id: int


@dataclasses.dataclass(frozen=True)
class OtaEvent:
    time: float
    name: str
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Incoming:
    """A decoded server -> client OTA command, or a Default Response to one of ours."""

    command_id: int  # OTA command id; for a Default Response, the command it answers
    message: Any  # decoded dataclass, or the Status of a Default Response
    hdr: ZclHeader
    frame: AirFrame
    default_response: bool = False


class _Rebooting(Exception):
    """Raised inside the client task when a fault has scheduled a power cycle."""


class OtaClient:
    def __init__(self, device: DevicePort) -> None:
        self.device = device
        self.profile = device.profile
        self.settings = device.profile.ota
        self.clock = device.clock
        self.flash: OtaFlash = device.flash
        self.records: EventLog[OtaEvent] = EventLog()  # the newest 100,000; indices stay absolute
        self.page_fallback = False  # server refused Image Page Requests: block requests from now on
        self._inbox = _Inbox(self.clock)
        self._task: asyncio.Task | None = None
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future]] = []
        self._zdo_waiters: dict[int, asyncio.Future] = {}
        self._oob = asyncio.Event()
        self._rng = random.Random(int(device.ieee.serialize()[::-1].hex(), 16))
        self._last_request_at: float | None = None
        self._wait_ended_at: float | None = None
        self._page_blocks: dict[int, bytes] = {}  # blocks of the current page, by offset

    # ------------------------------------------------------------------------------------------
    # Observation

    def record(self, name: str, **data: Any) -> OtaEvent:
        event = OtaEvent(self.clock.now(), name, data)
        self.records.append(event)
        LOGGER.debug("%s ota %s %s", self.device.ieee, name, data)
        self._wake_waiters()
        return event

    def events(self, name: str | None = None) -> list[OtaEvent]:
        return [e for e in self.records if name is None or e.name == name]

    @property
    def status(self) -> ImageUpgradeStatus:
        return ImageUpgradeStatus(self.flash.image_upgrade_status)

    def _set_status(self, status: ImageUpgradeStatus) -> None:
        if self.flash.image_upgrade_status != status:
            old = ImageUpgradeStatus(self.flash.image_upgrade_status)
            self.flash.image_upgrade_status = status
            self.record("status", old=old.name, new=ImageUpgradeStatus(status).name)

    async def wait_for_state(self, status: ImageUpgradeStatus | int | str, timeout: float | None = 30.0) -> None:
        """Until ImageUpgradeStatus equals `status` (timeout in clock seconds)."""
        if isinstance(status, str):
            status = ImageUpgradeStatus[status]
        await self._wait_until(lambda: self.flash.image_upgrade_status == status, timeout)

    async def wait_for_event(
        self, name: str, timeout: float | None = 30.0, *, since: int = 0, where: Callable[[OtaEvent], bool] | None = None
    ) -> OtaEvent:
        """The first record named `name` at index >= `since` (matching `where`), waiting if needed."""

        # Incremental: each wake-up looks only at the records added since the last look, so waiting
        # through a long transfer costs O(records), not O(records^2).
        # Indices are absolute (EventLog); events dropped from the log's far end are not searched.
        state = {"next": range(len(self.records))[since:].start if since < 0 else since, "found": None}

        def find() -> OtaEvent | None:
            if state["found"] is None:
                records = self.records
                for e in records[state["next"]:]:
                    if e.name == name and (where is None or where(e)):
                        state["found"] = e
                        break
                else:
                    state["next"] = max(state["next"], len(records))
            return state["found"]

        await self._wait_until(lambda: find() is not None, timeout)
        found = find()
        assert found is not None
        return found

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        if predicate():
            return
        fut = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiters.append(entry)
        try:
            await self.clock.wait_for(fut, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _wake_waiters(self) -> None:
        for predicate, fut in list(self._waiters):
            if not fut.done() and predicate():
                fut.set_result(None)

    # ------------------------------------------------------------------------------------------
    # Power

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._inbox = _Inbox(self.clock)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ota-client-{self.device.ieee}")

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        for fut in self._zdo_waiters.values():
            if not fut.done():
                fut.cancel()
        self._zdo_waiters.clear()
        self._last_request_at = None

    def activate_out_of_band(self) -> None:
        """The external trigger an out-of-band-only client waits for."""
        self.record("out_of_band_trigger")
        self._oob.set()

    # ------------------------------------------------------------------------------------------
    # Input from the device

    def handle_cluster_command(self, hdr: ZclHeader, body: bytes, frame: AirFrame) -> Status | None:
        """A cluster-specific frame on 0x0019. Returns a status for a Default Response, or None."""
        cmd = hdr.command_id
        if hdr.frame_control.is_manufacturer_specific:
            return Status.UNSUP_MANUF_CLUSTER_COMMAND
        decoder = {
            oc.Cmd.IMAGE_NOTIFY: oc.decode_image_notify,
            oc.Cmd.QUERY_NEXT_IMAGE_RSP: oc.decode_query_next_image_response,
            oc.Cmd.IMAGE_BLOCK_RSP: oc.decode_image_block_response,
            oc.Cmd.UPGRADE_END_RSP: oc.decode_upgrade_end_response,
        }.get(cmd)
        if decoder is None:
            self.record("unsupported_command", command=cmd)
            return Status.UNSUP_CLUSTER_COMMAND
        try:
            message = decoder(body)
        except oc.Malformed as exc:
            self.record("malformed_received", command=cmd, reason=str(exc), payload=body.hex(), broadcast=frame.is_broadcast)
            return Status.MALFORMED_COMMAND
        if cmd == oc.Cmd.IMAGE_BLOCK_RSP and message.status == Status.SUCCESS and self.device.faults.drop_block_responses > 0:
            self.device.faults.drop_block_responses -= 1
            self.record("fault_block_dropped", offset=message.file_offset, size=len(message.data))
            return None
        if cmd == oc.Cmd.IMAGE_NOTIFY and self.device.faults.ignore_image_notify:
            self.record("fault_notify_ignored", broadcast=frame.is_broadcast)
            return None
        if cmd == oc.Cmd.IMAGE_NOTIFY and not self._accept_notify(message, frame):
            return None
        self._inbox.put_nowait(Incoming(cmd, message, hdr, frame))
        return None

    def handle_default_response(self, hdr: ZclHeader, body: bytes, frame: AirFrame) -> None:
        if len(body) < 2:
            self.record("malformed_received", command="default_response", payload=body.hex(), broadcast=frame.is_broadcast)
            return
        try:
            status = Status(body[1])
        except ValueError:
            status = body[1]
        self._inbox.put_nowait(Incoming(body[0], status, hdr, frame, default_response=True))

    def handle_zdo_response(self, command: int, tsn: int, fields: list, frame: AirFrame) -> None:
        fut = self._zdo_waiters.get(tsn)
        if fut is not None and not fut.done():
            fut.set_result((command, fields, frame))

    def _accept_notify(self, msg: oc.ImageNotify, frame: AirFrame) -> bool:
        """Image Notify rules [SL-C]: unicast always queries; broadcast by filter and jitter."""
        if not frame.is_broadcast:
            self.record("image_notify", unicast=True, payload_type=msg.payload_type, jitter=msg.query_jitter)
            if self.flash.server is None:
                self._set_server(ServerContact(frame.src_nwk, frame.src_ep, frame.profile_id), "image_notify")
            return True
        p, reason = self.profile, None
        if not 1 <= msg.query_jitter <= 100:
            reason = "jitter out of range"
        elif msg.manufacturer_code is not None and msg.manufacturer_code not in (p.manufacturer_code, oc.WILDCARD_MANUFACTURER):
            reason = "manufacturer"
        elif msg.image_type is not None and msg.image_type not in (p.image_type, oc.WILDCARD_IMAGE_TYPE):
            reason = "image type"
        elif msg.new_file_version is not None and msg.new_file_version == self.flash.current_file_version:
            reason = "same version"
        else:
            draw = self._rng.randint(1, 100)
            if draw > msg.query_jitter:
                reason = f"jitter draw {draw} > {msg.query_jitter}"
        self.record("image_notify", unicast=False, payload_type=msg.payload_type, jitter=msg.query_jitter, ignored=reason)
        return reason is None

    # ------------------------------------------------------------------------------------------
    # Output

    def send_raw(self, command_id: int, body: bytes, *, disable_default_response: bool = False) -> bytes:
        """Send a client -> server OTA command to the server (or the coordinator if none known)."""
        server = self.flash.server or ServerContact(0x0000, 1, self.profile.ota_endpoint.profile_id)
        return self.device.send_zcl(
            dst_nwk=server.nwk,
            dst_ep=server.endpoint,
            src_ep=self.profile.ota_endpoint.id,
            profile_id=server.profile_id,
            cluster_id=0x0019,
            command_id=command_id,
            body=body,
            general=False,
            direction=foundation.Direction.Client_to_Server,
            disable_default_response=disable_default_response,
        )

    def _ids(self, what: str = "query") -> tuple[int, int]:
        f = self.device.faults
        wrong = f.ids_apply_to(what)
        mfr = self.profile.manufacturer_code if f.manufacturer_code is None or not wrong else f.manufacturer_code
        itype = self.profile.image_type if f.image_type is None or not wrong else f.image_type
        return mfr, itype

    def _query_interval(self) -> float:
        every = self.device.faults.query_interval_s
        return self.settings.query_interval_s if every is None else every

    def _request_image(self) -> oc.ImageId:
        assert self.flash.offer is not None
        mfr, itype = self._ids("block")
        return oc.ImageId(mfr, itype, self.flash.offer.file_version)

    # ------------------------------------------------------------------------------------------
    # Main loop

    async def _run(self) -> None:
        try:
            await self._discover()
            # with no server known, the next timer is a discovery retry (an Image Notify may come first)
            next_query = self.clock.now() + (0.0 if self.flash.server else self.settings.discovery_retry_s)
            resume_pending = True  # an interrupted job is picked up once per power cycle
            while True:
                if resume_pending and self.flash.server is not None and self._has_unfinished_job():
                    resume_pending = False
                    await self._continue_job()
                    next_query = self.clock.now() + self._query_interval()
                    continue
                msg = await self._recv(max(0.0, next_query - self.clock.now()))
                if msg is None:
                    if self.flash.server is None:
                        await self._discover()
                        next_query = self.clock.now() + self.settings.discovery_retry_s
                        if self.flash.server is None:
                            continue
                    await self._query()
                    next_query = self.clock.now() + self._query_interval()
                elif msg.command_id == oc.Cmd.IMAGE_NOTIFY and not msg.default_response:
                    await self._query()
                    next_query = self.clock.now() + self._query_interval()
                else:
                    self._stray(msg)
        except asyncio.CancelledError:
            raise
        except _Rebooting:
            return
        except Exception as exc:  # an emulated device must never take the rig down
            LOGGER.exception("OTA client of %s failed", self.device.ieee)
            self.record("client_error", error=repr(exc))

    def _has_unfinished_job(self) -> bool:
        f = self.flash
        return f.offer is not None and f.image_upgrade_status in (
            ImageUpgradeStatus.Download_in_progress,
            ImageUpgradeStatus.Download_complete,
            ImageUpgradeStatus.Waiting_to_upgrade,
            ImageUpgradeStatus.Count_down,
            ImageUpgradeStatus.Waiting_to_Upgrade_via_External_Event,
        )

    async def _continue_job(self) -> None:
        status = self.flash.image_upgrade_status
        self.record("resume", status=ImageUpgradeStatus(status).name, offset=self.flash.file_offset, version=self.flash.offer.file_version)
        if status == ImageUpgradeStatus.Download_in_progress and self.device.faults.restart_from_zero:
            self.record("fault_restart_from_zero", offset=self.flash.file_offset)
            self.flash.data, self.flash.file_offset = bytearray(), 0
        if status == ImageUpgradeStatus.Download_in_progress:
            await self._download()
        elif status == ImageUpgradeStatus.Download_complete:
            await self._verify_and_end()
        elif status == ImageUpgradeStatus.Waiting_to_Upgrade_via_External_Event:
            await self._wait_out_of_band()
        else:
            await self._upgrade_end_phase()

    async def _recv(self, timeout: float | None) -> Incoming | None:
        return await self._inbox.get(timeout)

    async def _await(self, wanted: Callable[[Incoming], bool], timeout: float) -> Incoming | None:
        """The next wanted message within `timeout`; everything else is recorded and dropped."""
        deadline = self.clock.now() + timeout
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return None
            msg = await self._recv(remaining)
            if msg is None:
                return None
            if wanted(msg):
                return msg
            self._stray(msg)

    def _stray(self, msg: Incoming) -> None:
        name = type(msg.message).__name__ if not msg.default_response else "DefaultResponse"
        self.record("ignored", command=msg.command_id, kind=name, detail=repr(msg.message))

    # ------------------------------------------------------------------------------------------
    # Server discovery

    def _set_server(self, server: ServerContact, how: str) -> None:
        self.flash.server = server
        self.record("server_found", nwk=server.nwk, endpoint=server.endpoint, profile_id=server.profile_id, how=how)
        tsn = self.device.next_tsn()
        fut = asyncio.get_running_loop().create_future()
        self._zdo_waiters[tsn] = fut
        fut.add_done_callback(lambda f: self._on_server_ieee(f, server, tsn))
        self.device.send_zdo_ieee_addr_req(tsn, server.nwk)

    def _on_server_ieee(self, fut: asyncio.Future, server: ServerContact, tsn: int) -> None:
        self._zdo_waiters.pop(tsn, None)
        if fut.cancelled():
            return
        _cmd, fields, _frame = fut.result()
        if fields and fields[0] == 0 and len(fields) >= 3 and fields[2] == server.nwk:
            self.flash.upgrade_server_id = fields[1]
            self.record("server_ieee", ieee=str(fields[1]))

    async def _discover(self) -> None:
        """Match_Desc_req to the coordinator for an SE endpoint with the OTA server cluster."""
        profile_id = self.profile.ota_endpoint.profile_id
        tsn = self.device.next_tsn()
        fut = asyncio.get_running_loop().create_future()
        self._zdo_waiters[tsn] = fut
        self.record("discovery_sent", profile_id=profile_id)
        self.device.send_zdo_match_desc(tsn, 0x0000, profile_id, [0x0019])
        try:
            _cmd, fields, frame = await self.clock.wait_for(fut, self.settings.response_timeout_s)
        except asyncio.TimeoutError:
            fields, frame = None, None
        finally:
            self._zdo_waiters.pop(tsn, None)
        if fields and fields[0] == 0 and len(fields[2]) > 0:
            self._set_server(ServerContact(int(fields[1]), int(fields[2][0]), profile_id), "match_desc")
            return
        known = self.flash.server
        self.record("discovery_failed", answer=None if fields is None else repr(fields), fallback=repr(known))

    # ------------------------------------------------------------------------------------------
    # Query

    async def _query(self) -> None:
        if self.flash.server is None:
            self.record("query_skipped", reason="no OTA server known")
            return
        mfr, itype = self._ids()
        f = self.device.faults
        hw = self.profile.hardware_version if f.hardware_version is None else f.hardware_version
        body = oc.query_next_image(mfr, itype, self.flash.current_file_version, hw)
        if f.malformed_queries:
            body = body[:4]
            self.record("fault_malformed_sent", kind="qni_truncated", command=oc.Cmd.QUERY_NEXT_IMAGE, payload=body.hex())
        self.send_raw(oc.Cmd.QUERY_NEXT_IMAGE, body)
        self.record("query_sent", manufacturer_code=mfr, image_type=itype, current_file_version=self.flash.current_file_version, hardware_version=hw)
        notified = False

        def answer_or_notify(m: Incoming) -> bool:
            nonlocal notified
            if m.command_id == oc.Cmd.IMAGE_NOTIFY and not m.default_response:
                # The server has something new since it read our query: ask again once this one is
                # answered (as the SiLabs client does in its query state), rather than drop the notify.
                notified = True
                self.record("image_notify_during_query")
                return False
            return m.command_id == oc.Cmd.QUERY_NEXT_IMAGE_RSP or (m.default_response and m.command_id == oc.Cmd.QUERY_NEXT_IMAGE)

        msg = await self._await(answer_or_notify, self.settings.response_timeout_s)
        if notified and (msg is None or msg.default_response or msg.message.status != Status.SUCCESS):
            self.record("requery_after_notify")
            await self._query()
            return
        if msg is None:
            self.record("query_timeout")
            return
        if msg.default_response:
            self.record("query_refused", status=_name(msg.message))
            return
        rsp: oc.QueryNextImageResponse = msg.message
        self.record(
            "query_response",
            status=_name(rsp.status),
            image=rsp.image,
            image_size=rsp.image_size,
        )
        if rsp.status != Status.SUCCESS:
            return
        await self._consider_offer(rsp.image, rsp.image_size)

    async def _consider_offer(self, image: oc.ImageId, size: int) -> None:
        p, s = self.profile, self.settings
        reject = None
        if image.manufacturer_code != p.manufacturer_code or image.image_type != p.image_type:
            reject = "manufacturer or image type differs from ours"
        elif size == 0:
            reject = "image size 0"
        elif size > s.max_image_size:
            reject = f"image size {size} > storage {s.max_image_size}"
        elif image.file_version == self.flash.current_file_version:
            reject = "offer is the running version"
        if reject:
            self.record("offer_rejected", image=image, size=size, reason=reject)
            return
        if image.file_version < self.flash.current_file_version and not (s.allow_downgrade or self.device.faults.accept_downgrade):
            self.record("offer_rejected", image=image, size=size, reason="downgrade")
            self._send_upgrade_end(Status.INVALID_IMAGE, image)
            return
        f = self.flash
        if f.offer == image and f.offer_size == size and 0 < f.file_offset < size and len(f.data) == f.file_offset:
            self.record("download_resumed", image=image, offset=f.file_offset)
        else:
            f.offer, f.offer_size = image, size
            f.data = bytearray()
            f.file_offset = 0
            f.minimum_block_period = 0
            self.record("download_started", image=image, size=size)
        self._oob.clear()
        f.downloaded_file_version = image.file_version
        f.manufacturer_id, f.image_type_id = image.manufacturer_code, image.image_type
        self._set_status(ImageUpgradeStatus.Download_in_progress)
        await self._download()

    # ------------------------------------------------------------------------------------------
    # Download

    def _period_s(self, value: int) -> float:
        return value / 1000.0 if self.settings.min_block_period_units == "ms" else float(value)

    async def _pace(self) -> None:
        """Gap since the previous request: max(own delay, MinimumBlockPeriod)."""
        if self._last_request_at is None:
            return
        period = 0.0 if self.device.faults.ignore_min_block_period else self._period_s(self.flash.minimum_block_period)
        gap = max(self.settings.block_request_delay_ms / 1000.0, period)
        remaining = self._last_request_at + gap - self.clock.now()
        if remaining > 0:
            await self.clock.sleep(remaining)

    def _abort(self, reason: str, *, send_abort: bool) -> None:
        f = self.flash
        self.record("download_aborted", reason=reason, offset=f.file_offset)
        if send_abort and f.offer is not None:
            self._send_upgrade_end(Status.ABORT, f.offer)
        self._discard()

    def _discard(self) -> None:
        f = self.flash
        f.offer, f.offer_size, f.data = None, 0, bytearray()
        f.file_offset = UNSET32
        f.downloaded_file_version = UNSET32
        f.image_type_id = 0xFFFF  # Silabs marks an aborted download this way
        self._set_status(ImageUpgradeStatus.Normal)

    def _maybe_fault_reboot(self) -> None:
        f, faults = self.flash, self.device.faults
        threshold = faults.reboot_at_offset
        if threshold is None and faults.reboot_at_percent is not None:
            threshold = int(f.offer_size * faults.reboot_at_percent / 100.0)
        if threshold is not None and f.file_offset >= threshold:
            faults.reboot_at_offset = faults.reboot_at_percent = None
            self.record("fault_reboot", offset=f.file_offset)
            self.device.schedule_reboot()
            raise _Rebooting()

    def _accept_block(self, offset: int, data: bytes) -> None:
        f = self.flash
        f.data += data
        f.file_offset = offset + len(data)
        self.record("block_received", offset=offset, size=len(data))
        self._maybe_fault_reboot()

    async def _download(self) -> None:
        f = self.flash
        errors = 0
        while f.file_offset < f.offer_size:
            if self.settings.use_page_requests and not self.page_fallback:
                outcome = await self._page()
            else:
                outcome = await self._block()
            if outcome == "abort":
                return
            if outcome == "error":
                errors += 1
                if errors >= self.settings.max_block_errors:
                    self._abort(f"{errors} consecutive failed requests", send_abort=True)
                    return
            elif outcome == "ok":
                errors = 0
        if self.device.faults.request_past_end:
            await self._request_past_end()
        self.record("download_complete", size=len(f.data))
        self._set_status(ImageUpgradeStatus.Download_complete)
        await self._verify_and_end()

    async def _request_past_end(self) -> None:
        """Defect: one more Image Block Request at FileOffset = image size; whatever comes back is ignored."""
        f, s = self.flash, self.settings
        await self._pace()
        self.send_raw(oc.Cmd.IMAGE_BLOCK, oc.image_block(self._request_image(), f.offer_size, s.max_data_size))
        self._last_request_at = self.clock.now()
        self.record("fault_request_past_end", offset=f.offer_size)
        answer = await self._await(self._is_block_answer(oc.Cmd.IMAGE_BLOCK), s.response_timeout_s)
        self.record("fault_request_past_end_answer", detail=None if answer is None else repr(answer.message))

    def _is_block_answer(self, command: int) -> Callable[[Incoming], bool]:
        return lambda m: m.command_id == oc.Cmd.IMAGE_BLOCK_RSP or (m.default_response and m.command_id == command)

    async def _block(self) -> str:
        """One Image Block Request at FileOffset: 'ok' | 'wait' | 'error' | 'abort'."""
        f, s = self.flash, self.settings
        at = f.file_offset
        await self._pace()
        mbp = f.minimum_block_period if s.supports_rate_limiting else None
        image = self._request_image()
        asked = self.device.faults.oversize_blocks or s.max_data_size  # a defect may ask for more than it holds
        self.send_raw(oc.Cmd.IMAGE_BLOCK, oc.image_block(image, at, asked, min_block_period=mbp))
        now = self.clock.now()
        self._last_request_at = now
        after_wait = None if self._wait_ended_at is None else now - self._wait_ended_at
        self._wait_ended_at = None
        self.record("block_requested", offset=at, max_data_size=s.max_data_size, minimum_block_period=mbp, since_wait_s=after_wait)
        deadline = now + s.response_timeout_s
        while True:
            msg = await self._await(self._is_block_answer(oc.Cmd.IMAGE_BLOCK), max(0.0, deadline - self.clock.now()))
            if msg is None:
                self.record("block_timeout", offset=at)
                return "error"
            verdict = await self._on_block_answer(msg, at)
            if verdict is not None:
                return verdict

    async def _on_block_answer(self, msg: Incoming, at: int) -> str | None:
        """Handle an answer to a block request for offset `at`; None = not ours, keep waiting."""
        f = self.flash
        if msg.default_response:
            if msg.message == Status.SUCCESS:
                return None
            self._abort(f"server answered Default Response {_name(msg.message)}", send_abort=False)
            return "abort"
        rsp: oc.ImageBlockResponse = msg.message
        if rsp.status == Status.SUCCESS:
            if rsp.image != f.offer:
                self.record("block_wrong_image", image=rsp.image, offset=rsp.file_offset)
                return None
            if rsp.file_offset != at:
                self.record("block_unexpected_offset", offset=rsp.file_offset, expected=at)
                return None
            if not rsp.data or at + len(rsp.data) > f.offer_size or len(rsp.data) > self.settings.max_data_size:
                self.record("block_bad_size", offset=at, size=len(rsp.data))
                return "error"
            self._accept_block(at, rsp.data)
            return "ok"
        if rsp.status == Status.WAIT_FOR_DATA:
            await self._wait_for_data(rsp, at)
            return "wait"
        self._abort(f"Image Block Response {_name(rsp.status)}", send_abort=False)
        return "abort"

    async def _wait_for_data(self, rsp: oc.ImageBlockResponse, at: int) -> None:
        if rsp.current_time == 0:
            delay = float(rsp.request_time)
        else:
            delay = float(rsp.request_time - rsp.current_time)
            if delay < 0:
                self.record("wait_for_data_bad_time", current_time=rsp.current_time, request_time=rsp.request_time)
                delay = WFD_BAD_TIME_WAIT_S
        if rsp.minimum_block_period is not None:
            self.flash.minimum_block_period = rsp.minimum_block_period
            delay += self._period_s(rsp.minimum_block_period)
        self.record(
            "wait_for_data",
            offset=at,
            current_time=rsp.current_time,
            request_time=rsp.request_time,
            minimum_block_period=rsp.minimum_block_period,
            wait_s=delay,
        )
        if self.device.faults.ignore_wait_for_data:
            self.record("fault_wait_ignored", offset=at, wait_s=delay)
            await self.clock.sleep(IGNORED_WAIT_RETRY_S)
            self._wait_ended_at = self.clock.now()
            self._last_request_at = None
            return
        started = self.clock.now()
        await self.clock.sleep(delay)
        self._wait_ended_at = self.clock.now()
        self._last_request_at = None  # the wait replaces the block gap
        self.record("wait_done", offset=at, waited_s=self._wait_ended_at - started)

    async def _page(self) -> str:
        """One Image Page Request, then Image Block Requests for whatever the page missed."""
        f, s = self.flash, self.settings
        start = f.file_offset
        end = min(f.offer_size, start + s.page_size)
        await self._pace()
        image = self._request_image()
        self.send_raw(
            oc.Cmd.IMAGE_PAGE,
            oc.image_page(image, start, s.max_data_size, s.page_size, s.response_spacing_ms),
            disable_default_response=True,
        )
        self._last_request_at = self.clock.now()
        self.record("page_requested", offset=start, page_size=s.page_size, response_spacing_ms=s.response_spacing_ms)
        self._page_blocks = {}
        outcome = await self._receive_page(start, end)
        if outcome in ("fallback", "abort", "wait"):
            return outcome
        got_any = outcome == "received"
        if not got_any:
            self.record("page_timeout", offset=start)
        return await self._assemble_page(end) or ("ok" if got_any else "error")

    async def _receive_page(self, start: int, end: int) -> str:
        """Take the page's Image Block Responses until it is complete or the server goes quiet: 'received'
        (some blocks came), 'nothing', or the end of the page request ('fallback', 'abort', 'wait')."""
        f, s = self.flash, self.settings
        idle = s.response_timeout_s
        gap_timeout = max(1.0, 5 * s.response_spacing_ms / 1000.0)
        got_any = False
        while True:
            msg = await self._await(self._is_block_answer(oc.Cmd.IMAGE_PAGE), idle)
            if msg is None:
                break
            if msg.default_response:
                if msg.message == Status.UNSUP_CLUSTER_COMMAND:
                    self.page_fallback = True
                    self.record("page_fallback", status=_name(msg.message))
                    return "fallback"
                self._abort(f"server answered Default Response {_name(msg.message)}", send_abort=False)
                return "abort"
            rsp: oc.ImageBlockResponse = msg.message
            if rsp.status == Status.WAIT_FOR_DATA:
                await self._wait_for_data(rsp, start)
                return "wait"
            if rsp.status != Status.SUCCESS:
                self._abort(f"Image Block Response {_name(rsp.status)}", send_abort=False)
                return "abort"
            if rsp.image != f.offer or not start <= rsp.file_offset < end or not rsp.data:
                self.record("block_unexpected_offset", offset=rsp.file_offset, expected=f"{start}..{end}")
                continue
            self._page_blocks[rsp.file_offset] = rsp.data[: end - rsp.file_offset]
            got_any = True
            self.record("page_block_received", offset=rsp.file_offset, size=len(rsp.data))
            idle = gap_timeout
            if self._contiguous_end(start) >= end:
                break
        return "received" if got_any else "nothing"

    async def _assemble_page(self, end: int) -> str | None:
        """Take the page's blocks in order, fetching what was missed with ordinary block requests;
        'abort' if that fails, else None."""
        f, s = self.flash, self.settings
        errors = 0
        while f.file_offset < end:
            chunk = self._page_blocks.pop(f.file_offset, None)
            if chunk is not None:
                self._accept_block(f.file_offset, chunk)
                continue
            self.record("missed_block_refetch", offset=f.file_offset)
            outcome = await self._block()
            if outcome == "abort":
                return "abort"
            if outcome == "error":
                errors += 1
                if errors >= s.max_block_errors:
                    self._abort(f"{errors} consecutive failed requests", send_abort=True)
                    return "abort"
        return None

    def _contiguous_end(self, start: int) -> int:
        pos = start
        while pos in self._page_blocks:
            pos += len(self._page_blocks[pos])
        return pos

    # ------------------------------------------------------------------------------------------
    # Verify, Upgrade End, activation

    def _send_upgrade_end(self, status: Status, image: oc.ImageId) -> None:
        self.send_raw(oc.Cmd.UPGRADE_END, oc.upgrade_end(status, image))
        self.record("upgrade_end_sent", status=_name(status), image=image)

    async def _verify_and_end(self) -> None:
        f, faults = self.flash, self.device.faults
        assert f.offer is not None
        if faults.corrupt_before_verify and f.data:
            at = faults.corrupt_offset if faults.corrupt_offset is not None else len(f.data) // 2
            at = min(max(at, 0), len(f.data) - 1)
            f.data[at] ^= 0xFF
            faults.corrupt_before_verify = False
            self.record("fault_corrupted", offset=at)
        problem = verify_image(bytes(f.data), f.offer, f.offer_size, self.profile.hardware_version, self.settings.verify)
        self.record("verified", ok=problem is None, problem=problem)
        if problem is not None and faults.skip_verification:
            self.record("fault_verification_skipped", problem=problem)
            problem = None
        if faults.never_send_upgrade_end:
            self.record("fault_upgrade_end_suppressed")
            return
        status = Status.SUCCESS if problem is None else Status.INVALID_IMAGE
        if faults.upgrade_end_status is not None:
            status = Status(faults.upgrade_end_status)
            self.record("fault_upgrade_end_status", status=_name(status))
        if status != Status.SUCCESS:
            self._send_upgrade_end(status, f.offer)
            self._discard()
            return
        await self._upgrade_end_phase()

    def _is_end_answer(self, m: Incoming) -> bool:
        return m.command_id == oc.Cmd.UPGRADE_END_RSP or (m.default_response and m.command_id == oc.Cmd.UPGRADE_END)

    async def _upgrade_end_phase(self) -> None:
        """Send Upgrade End and follow the CH's answers until the image is activated or dropped."""
        f, s = self.flash, self.settings
        silent = 0
        pending: Incoming | None = None
        told_not_applied = False
        while True:
            if pending is None:
                self._send_upgrade_end(Status.SUCCESS, f.offer)
                pending = await self._await(self._is_end_answer, s.response_timeout_s)
                if pending is None:
                    silent += 1
                    pending, told_not_applied = await self._after_silent_end(silent, told_not_applied)
                    continue
            msg, pending = pending, None
            silent = 0
            outcome = await self._on_end_answer(msg)
            if outcome is _PHASE_OVER:
                return
            pending = outcome

    async def _after_silent_end(self, silent: int, told_not_applied: bool) -> tuple[Incoming | None, bool]:
        """The CH did not answer Upgrade End: retry, then (timeout policy) apply or wait to be asked.
        Returns (the next answer heard, or None to send Upgrade End again; whether 'not applied' was told)."""
        s = self.settings
        self.record("upgrade_end_timeout", attempt=silent)
        if silent <= s.upgrade_end_retries:
            return None, told_not_applied
        if s.timeout_policy == 0:
            self.record("upgrade_end_timeout_apply")
            self._activate()
        if not told_not_applied:
            self.record("upgrade_end_timeout_not_applied")
        self._set_status(ImageUpgradeStatus.Waiting_to_upgrade)
        return await self._await(self._is_end_answer, s.wait_for_upgrade_reask_s), True

    async def _on_end_answer(self, msg: Incoming) -> Incoming | None | object:
        """One answer to Upgrade End: the next answer to handle, None to send Upgrade End again, or
        _PHASE_OVER when the image was dropped or activation left to an external event."""
        f, s = self.flash, self.settings
        if msg.default_response:
            self.record("upgrade_end_refused", status=_name(msg.message))
            if msg.message == Status.SUCCESS:
                return await self._await(self._is_end_answer, s.response_timeout_s)
            self._discard()
            return _PHASE_OVER
        rsp: oc.UpgradeEndResponse = msg.message
        self.record(
            "upgrade_end_response",
            image=rsp.image,
            current_time=rsp.current_time,
            upgrade_time=rsp.upgrade_time,
            unsolicited=f.image_upgrade_status in (ImageUpgradeStatus.Waiting_to_upgrade, ImageUpgradeStatus.Count_down),
        )
        if not oc.matches(f.offer, rsp.image):
            self.record("upgrade_end_response_ignored", reason="image id")
            return await self._await(self._is_end_answer, s.wait_for_upgrade_reask_s)
        if self.device.faults.activate_immediately:
            self.record("fault_activated_early", upgrade_time=rsp.upgrade_time)
            self._activate()
        if rsp.upgrade_time == oc.UPGRADE_TIME_WAIT:
            self._set_status(ImageUpgradeStatus.Waiting_to_upgrade)
            return await self._await(self._is_end_answer, s.wait_for_upgrade_reask_s)
        if s.activation_policy == 1:
            self.device.send_default_response(msg.hdr, msg.frame, Status.NOT_AUTHORIZED)
            self.record("activation_refused", reason="out-of-band activation only")
            self._set_status(ImageUpgradeStatus.Waiting_to_Upgrade_via_External_Event)
            await self._wait_out_of_band()
            return _PHASE_OVER
        return await self._count_down(rsp)

    async def _count_down(self, rsp: oc.UpgradeEndResponse) -> Incoming | None:
        """Wait until the Upgrade Time, then activate (an answer heard meanwhile is handled first)."""
        s = self.settings
        delay = float(rsp.upgrade_time) if rsp.current_time == 0 else float(rsp.upgrade_time - rsp.current_time)
        if delay < 0:
            self.record("upgrade_time_in_past", current_time=rsp.current_time, upgrade_time=rsp.upgrade_time)
            return await self._await(self._is_end_answer, BAD_UPGRADE_TIME_WAIT_S)
        self._set_status(ImageUpgradeStatus.Count_down)
        if delay > s.max_single_wait_s:
            self.record("countdown", delay_s=delay, capped_s=s.max_single_wait_s)
            return await self._await(self._is_end_answer, s.max_single_wait_s)
        self.record("countdown", delay_s=delay)
        pending = await self._await(self._is_end_answer, delay) if delay > 0 else None
        if pending is None:
            self._activate()
        return pending

    async def _wait_out_of_band(self) -> None:
        await self._oob.wait()
        self._oob.clear()
        self._activate()

    def _activate(self) -> None:
        """Reboot into the downloaded image: it becomes the running version."""
        f = self.flash
        assert f.offer is not None
        old = f.current_file_version
        f.current_file_version = f.offer.file_version
        if self.device.faults.stale_version:
            self.record("fault_stale_version", running=f.offer.file_version, reported=old)
            f.current_file_version = old
        f.installed_image = bytes(f.data)
        self.record("activated", old_version=old, new_version=f.current_file_version, size=len(f.data))
        f.offer, f.offer_size, f.data = None, 0, bytearray()
        f.file_offset = UNSET32
        f.downloaded_file_version = UNSET32
        f.minimum_block_period = 0
        self._set_status(ImageUpgradeStatus.Normal)
        self.device.schedule_reboot()
        raise _Rebooting()


def _name(status: Any) -> str:
    try:
        return Status(status).name
    except ValueError:
        return f"0x{int(status):02X}"


class _Inbox:
    """The client's incoming messages: a deque and one waiter, with the timeout on the rig clock.

    clock.wait_for(queue.get(), t) costs a Task, a future and asyncio.wait per message (twice per
    block); this is one future and one clock timer.
    """

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._items: collections.deque[Incoming] = collections.deque()
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item: Incoming) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None) -> Incoming | None:
        """The next message, or None once `timeout` rig seconds pass without one."""
        if not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            timer = self._clock.call_later(timeout, wake, waiter) if timeout is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self._items:
                return None
        return self._items.popleft()
