"""The back end's facade: `Backend(db_path, clock, hub_port, fixtures)`, three rooms behind one door.

* intake (`rig.backend.intake`): who may ask and for what; a request becomes a decision;
* jobs (`rig.backend.jobs` holds the SQL, `rig.backend.dispatcher` the attempts, retries and timers);
* outcomes (`rig.backend.outcomes`): typed hub events and CSP statuses become alerts.

Every service request goes through `submit(ServiceRequest)` (`submit_async` for an over-the-air read);
the SR helpers (`update_ppmid_firmware`, …) and the DUIS XML path (`rig.backend.duis.submit_xml`) build
the request and call it.

Service requests are synchronous calls that return a `ServiceResponse` at once (acknowledgement or
rejection) and drive the CH through the CSP stub; outcomes arrive later as alerts in `backend.alerts`.
Construct it inside a running event loop: it reopens its SQLite state and re-arms every persisted
schedule (retries, in-progress expiries, unprocessed CSP inbox) on the rig clock.

Who may ask: the sender must be a known supplier and a responsible supplier of every listed valid device
(else the whole request is rejected and logged, nothing reaches the CH). The image's manufacturer code,
image type, version and SHA-256 must match a CPL entry for every target device's model (else rejected), and
a GB bare image must carry a valid signature by its manufacturer's CPL-listed key (rig.backend.signing).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from rig.backend.alert import Alert
from rig.backend.alerts import AlertLog
from rig.backend.codes import DEFAULT_CODES, Codes
from rig.backend.controls import Capacity, InProgress, LongRetry
from rig.backend.csp import CspStub, CspUnavailable, InboxItem
from rig.backend.dispatcher import Dispatcher
from rig.backend.fixtures import CplEntry, Device, Fixtures, duis_eui, normalise_eui
from rig.backend.intake import FirmwareAsk, Intake, Refusal
from rig.backend.jobs import JobStore, Op
from rig.backend.outcomes import Outcomes
from rig.backend.register import VersionRegister
from rig.backend.requests import (ActivateFirmware, ReadFirmwareVersion, ServiceRequest, ServiceResponse,
                                  UpdateFirmware, UpdatePPMIDFirmware, parse_version)
from rig.backend.signing import Signer
from rig.backend.store import Store
from rig.clock import DAY, Clock
from rig.hub.events import ActivationPlan, CommsHubPort

_PPMID = ("PPMID",)
_WAITING_KINDS = ("HCALCS", "GSME", "ESME")  # SR 11.1: distribution only, activation by SR 11.3


@dataclasses.dataclass(frozen=True)
class BackendConfig:
    codes: Codes = DEFAULT_CODES
    in_progress_timeout: float = 14 * DAY
    long_retry: LongRetry = LongRetry()
    guidance_gap: float = 5 * DAY
    batch_size: int = 1
    batch_period: float = 0.0
    capacity: Capacity = Capacity()
    max_ppmid_image_bytes: int = 750 * 1000  # R-STORE-05
    ch_notice: float = 7 * DAY  # SECMP0024: notice before a non-urgent CH firmware update


class Backend:
    def __init__(self, db_path: str | Path, clock: Clock, hub_port: CommsHubPort, fixtures: Fixtures,
                 config: BackendConfig | None = None) -> None:
        self.config = cfg = config or BackendConfig()
        self.codes = cfg.codes
        self.clock = clock
        self.fixtures = fixtures
        self.store = Store(db_path)
        self.job_store = JobStore(self.store)
        self.alerts = AlertLog(self.store, clock)
        self.register = VersionRegister(self.store)
        self.in_progress = InProgress(self.job_store, cfg.in_progress_timeout)
        asyncio.get_running_loop()  # fail early and clearly: timers need the loop
        self.csp = CspStub(hub_port, clock, self.store, self._process_batch,
                           batch_size=cfg.batch_size, batch_period=cfg.batch_period)
        self.intake = Intake(self.store, self.job_store, self.in_progress, fixtures, self.codes,
                             max_ppmid_image_bytes=cfg.max_ppmid_image_bytes, capacity=cfg.capacity,
                             ch_notice=cfg.ch_notice)
        self.outcomes = Outcomes(self.store, self.job_store, self.alerts, self.register, self.in_progress, fixtures,
                                 self.codes)
        self.dispatcher = Dispatcher(self.store, self.job_store, self.alerts, self.csp, clock, self.in_progress,
                                     self.register, long_retry=cfg.long_retry, capacity=cfg.capacity,
                                     guidance_gap=cfg.guidance_gap, acknowledged=self.codes.acknowledged,
                                     give_up=self.outcomes.fail_job)
        self.dispatcher.resume()  # persisted retries and In Progress expiries, back on the rig clock
        self.csp.schedule_flush()  # and whatever the CSP inbox still holds

    # ===================================================================== reference data ===
    def list_on_cpl(self, model: str, manufacturer_code: int, image_type: int, firmware_version: int,
                    sha256: str) -> None:
        """Add one entry to the Central Products List the DSP checks requests against (a plan's own image)."""
        self.fixtures.cpl.append(CplEntry(model, int(manufacturer_code), int(image_type), int(firmware_version),
                                          sha256.lower()))

    def trust_signer(self, manufacturer_code: int, public_key_pem: str) -> None:
        """From now on this manufacturer's GB bare images must carry a signature this public key verifies
        (it replaces any key listed before for that manufacturer)."""
        self.fixtures.signers[int(manufacturer_code)] = Signer(int(manufacturer_code), public_key_pem)

    @property
    def errors(self) -> list[str]:
        """Exceptions caught in timer callbacks (tests assert it stays empty)."""
        return self.dispatcher.errors

    # ================================================================================= requests ===
    def submit(self, req: ServiceRequest) -> ServiceResponse:
        """Answer one service request at once (acknowledgement or rejection); outcomes follow as alerts.
        An over-the-air SR 11.2 waits for the device: `await submit_async(req)`."""
        match req:
            case UpdatePPMIDFirmware():
                plan = ActivationPlan.NOW if req.execution_time is None else ActivationPlan.AT
                ask = FirmwareAsk("11.4", req.user_id, req.image, req.firmware_version, list(req.device_ids), _PPMID)
                return self._distribute(ask, req.request_id, plan, req.execution_time, security=False)
            case UpdateFirmware():
                ask = FirmwareAsk("11.1", req.user_id, req.image, req.firmware_version, [req.device_id],
                                  _WAITING_KINDS, bulk_approved=req.bulk_approved)
                return self._distribute(ask, req.request_id, ActivationPlan.WAIT, None, security=req.security)
            case ActivateFirmware():
                return self._activate(req)
            case ReadFirmwareVersion(over_the_air=False):
                return self._read(req)
            case ReadFirmwareVersion():
                raise ValueError("an over-the-air SR 11.2 waits for the device: use await backend.submit_async(req)")
        raise TypeError(f"not a service request: {req!r}")

    async def submit_async(self, req: ServiceRequest) -> ServiceResponse:
        """`submit`, and also an over-the-air SR 11.2 (a CS08 read through the CH)."""
        if isinstance(req, ReadFirmwareVersion) and req.over_the_air:
            return await self._read_over_the_air(req)
        return self.submit(req)

    def update_ppmid_firmware(self, user_id: str, image: bytes | str, firmware_version: str | int,
                              device_ids: list[str], *, execution_time: float | None = None,
                              request_id: str | None = None) -> ServiceResponse:
        """SR 11.4: distribution + activation to PPMIDs (ActivationPlan NOW, or AT execution_time)."""
        return self.submit(UpdatePPMIDFirmware(user_id, image, firmware_version, list(device_ids),
                                               execution_time=execution_time, request_id=request_id))

    def update_firmware(self, user_id: str, image: bytes | str, firmware_version: str | int, device_id: str, *,
                        request_id: str | None = None, security: bool = False,
                        bulk_approved: bool = False) -> ServiceResponse:
        """SR 11.1: distribution only (HCALCS/GSME/ESME); the device waits (0xFFFFFFFF) for SR 11.3."""
        return self.submit(UpdateFirmware(user_id, image, firmware_version, device_id, request_id=request_id,
                                          security=security, bulk_approved=bulk_approved))

    def activate_firmware(self, user_id: str, device_id: str, *, firmware_version: str | int | None = None,
                          execution_time: float | None = None, request_id: str | None = None) -> ServiceResponse:
        """SR 11.3: release the device's transferred (WAIT) image -> CommsHubPort.activate."""
        return self.submit(ActivateFirmware(user_id, device_id, firmware_version, execution_time,
                                            request_id=request_id))

    async def read_firmware_version(self, user_id: str, device_id: str, *, over_the_air: bool = False,
                                    request_id: str | None = None) -> ServiceResponse:
        """SR 11.2: from the register, or (over_the_air) a CS08 read through the CH, recorded in the register."""
        return await self.submit_async(ReadFirmwareVersion(user_id, device_id, request_id=request_id,
                                                           over_the_air=over_the_air))

    def activate_comms_hub_firmware(self, ch_id: str, firmware_version: str | int, *,
                                    planned_time: float | None = None, notice_given_at: float | None = None,
                                    security: bool = False, request_id: str | None = None) -> ServiceResponse:
        """CS06 via the CSP management gateway (a DCC-internal request, no Service User). The CH's answer
        is modelled by `comms_hub_activation_response`. Non-security updates need >= 7 days' notice."""
        now = self.clock.now()
        rid = request_id or self._new_request_id("DCC", normalise_eui(ch_id) or ch_id)
        if (old := self.job_store.stored_response(rid)) is not None:
            return old
        decision = self.intake.cs06(ch_id, firmware_version, planned_time, notice_given_at, security, now)
        if isinstance(decision, Refusal):
            return self._reject("CS06", rid, "DCC", now, decision)
        device, target = decision
        response = ServiceResponse(rid, "CS06", self.codes.acknowledged, True, now, devices=[device.id])
        with self.alerts.transaction():
            self.job_store.insert_request(rid, "CS06", "DCC", now, {"ch": device.id, "target": target,
                                                                    "security": security,
                                                                    "notice_given_at": notice_given_at}, response)
            self.job_store.insert_cs06(rid, device.id, target)
        return response

    def comms_hub_activation_response(self, request_id: str, *, ch_id: str | None, firmware_version: str | int | None,
                                      timestamp: float | None = None, success: bool = True) -> Alert | None:
        """The CH's response to CS06. Emits exactly one N63 per activation that reports a new active
        version; None (and a log entry) on failure, unchanged version, duplicate, or missing fields."""
        now = self.clock.now()
        ieee = normalise_eui(ch_id) if ch_id else None
        version = None if firmware_version is None else parse_version(firmware_version)
        with self.alerts.transaction():
            return self.outcomes.ch_activation(request_id, ieee, version, now if timestamp is None else timestamp,
                                               success, now, given={"ch_id": ch_id, "firmware_version": firmware_version})

    # ================================================================================ plumbing ===
    async def drain(self) -> None:
        """Let the CSP hand over everything waiting in its inbox now (ignores the batch period)."""
        await asyncio.sleep(0)
        self.csp.flush()

    def jobs(self, request_id: str | None = None) -> list[dict[str, Any]]:
        return self.job_store.rows(request_id)

    def log_entries(self, what: str | None = None) -> list[dict[str, Any]]:
        return self.store.entries(what)

    def close(self) -> None:
        self.dispatcher.close()
        self.csp.close()
        self.store.close()

    # ------------------------------------------------------------------- one request, step by step ---
    def _new_request_id(self, user_id: str, target: str) -> str:
        """DUIS form originator:target:counter."""
        return f"{user_id}:{duis_eui(target) if normalise_eui(target) else target}:{self.job_store.next_request_number()}"

    def _reject(self, sr: str, rid: str, user_id: str, now: float, refusal: Refusal) -> ServiceResponse:
        response = ServiceResponse(rid, sr, refusal.code, False, now, reason=refusal.reason,
                                   invalid_device_ids=refusal.invalid_device_ids,
                                   in_progress_device_ids=refusal.in_progress_device_ids, warnings=refusal.warnings)
        with self.alerts.transaction():
            self.job_store.insert_request(rid, sr, user_id, now, {}, response)
            self.store.log(now, "request_rejected", request_id=rid, sr=sr, user=user_id, code=refusal.code,
                           reason=refusal.reason)
        return response

    def _distribute(self, ask: FirmwareAsk, request_id: str | None, plan: ActivationPlan, upgrade_time: float | None,
                    *, security: bool) -> ServiceResponse:
        now = self.clock.now()
        first = normalise_eui(ask.device_ids[0]) if ask.device_ids else None
        rid = request_id or self._new_request_id(ask.user_id, first or "MULTI")
        if (old := self.job_store.stored_response(rid)) is not None:
            return old
        decision = self.intake.firmware(ask, rid, now)
        if isinstance(decision, Refusal):
            return self._reject(ask.sr, rid, ask.user_id, now, decision)
        return self.dispatcher.open_distribution(ask.sr, rid, ask.user_id, decision, plan, upgrade_time,
                                                 security=security, now=now)

    def _activate(self, req: ActivateFirmware) -> ServiceResponse:
        now = self.clock.now()
        rid = req.request_id or self._new_request_id(req.user_id, normalise_eui(req.device_id) or req.device_id)
        if (old := self.job_store.stored_response(rid)) is not None:
            return old
        device = self.intake.one_device(req.user_id, req.device_id)
        dist = device if isinstance(device, Refusal) else self.intake.activation(device, req.firmware_version)
        if isinstance(dist, Refusal):
            return self._reject("11.3", rid, req.user_id, now, dist)
        response = ServiceResponse(rid, "11.3", self.codes.acknowledged, True, now, devices=[device.id])
        with self.alerts.transaction():
            self.job_store.insert_request(rid, "11.3", req.user_id, now, {"device": device.id,
                                                                          "execution_time": req.execution_time},
                                          response)
            job_id = self.job_store.insert_job(rid, device.id, Op.ACTIVATE, now, plan=None,
                                               upgrade_time=req.execution_time, file_version=dist.file_version,
                                               offer_id=dist.offer_id)
        self.dispatcher.attempt(job_id)
        return response

    def _read_start(self, req: ReadFirmwareVersion) -> tuple[str, float, Device | Refusal]:
        """SR 11.2's common start: its request id, the time, and the device (or why not)."""
        now = self.clock.now()
        rid = req.request_id or self._new_request_id(req.user_id, normalise_eui(req.device_id) or req.device_id)
        return rid, now, self.intake.one_device(req.user_id, req.device_id)

    def _read(self, req: ReadFirmwareVersion) -> ServiceResponse:
        rid, now, device = self._read_start(req)
        if isinstance(device, Refusal):
            return self._reject("11.2", rid, req.user_id, now, device)
        response = ServiceResponse(rid, "11.2", self.codes.success, True, now, devices=[device.id],
                                   firmware_version=self.register.version(device.id), version_source="register")
        self._record_read(req, rid, now, device, response)
        return response

    async def _read_over_the_air(self, req: ReadFirmwareVersion) -> ServiceResponse:
        rid, now, device = self._read_start(req)
        if isinstance(device, Refusal):
            return self._reject("11.2", rid, req.user_id, now, device)
        response = ServiceResponse(rid, "11.2", self.codes.success, True, now, devices=[device.id])
        try:
            self.csp.check_available()
            version = await self.csp.read_version(device.id)
        except CspUnavailable as exc:
            version, response.reason = None, f"Read Failure: {exc}"
        if version is None:
            response.reason = response.reason or "Read Failure: the device did not answer"
        response.firmware_version, response.version_source = version, "cs08"
        self._record_read(req, rid, now, device, response)
        return response

    def _record_read(self, req: ReadFirmwareVersion, rid: str, now: float, device: Device,
                     response: ServiceResponse) -> None:
        with self.alerts.transaction():
            if req.over_the_air and response.firmware_version is not None:
                self.register.observe(device.id, response.firmware_version, "cs08", self.clock.now(), rid)
            self.job_store.insert_request(rid, "11.2", req.user_id, now, {"device": device.id,
                                                                          "over_the_air": req.over_the_air}, response)

    # ------------------------------------------------------------------------- events coming up ---
    def _process_batch(self, items: list[InboxItem]) -> None:
        now = self.clock.now()
        with self.alerts.transaction():
            for item in items:
                self.csp.mark_processed(item)
                self.outcomes.handle(item, now)
