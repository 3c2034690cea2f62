"""The back end's facade: `Backend(db_path, clock, hub_port, fixtures)`.

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
import base64
import binascii
import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rig.backend.alerts import Alert, AlertLog, device_code
from rig.backend.codes import DEFAULT_CODES, Codes
from rig.backend.controls import Capacity, InProgress, LongRetry, guidance_warnings
from rig.backend.csp import CspStub, CspUnavailable
from rig.backend.fixtures import Device, Fixtures, duis_eui, normalise_eui
from rig.backend.gbcs import activation_alert, ccs08_transfer_alert
from rig.backend.imagecheck import ImageInvalid, image_facts
from rig.backend.register import VersionRegister
from rig.backend.signing import check_image_signature
from rig.backend.requests import DeviceWarning, ServiceResponse, iso_utc, parse_version
from rig.backend.store import Store
from rig.clock import DAY, Clock, TimerHandle
from rig.hub.events import ActivationPlan, CommsHubPort, TransferResult

_log = logging.getLogger(__name__)

_LIVE = ("pending", "retry_wait", "paused")  # job states that still want a CSP attempt


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
        self.config = config or BackendConfig()
        self.codes = self.config.codes
        self.clock = clock
        self.fixtures = fixtures
        self.store = Store(db_path)
        self.alerts = AlertLog(self.store, clock)
        self.register = VersionRegister(self.store)
        self.in_progress = InProgress(self.store, self.config.in_progress_timeout)
        self.errors: list[str] = []  # exceptions caught in timer callbacks (tests assert it stays empty)
        self._timers: dict[str, TimerHandle] = {}
        asyncio.get_running_loop()  # fail early and clearly: timers need the loop
        self.csp = CspStub(hub_port, clock, self.store, self._process_batch,
                           batch_size=self.config.batch_size, batch_period=self.config.batch_period)
        self._resume()

    # ================================================================================= requests ===
    def update_ppmid_firmware(self, user_id: str, image: bytes | str, firmware_version: str | int,
                              device_ids: list[str], *, execution_time: float | None = None,
                              request_id: str | None = None) -> ServiceResponse:
        """SR 11.4: distribution + activation to PPMIDs (ActivationPlan NOW, or AT execution_time)."""
        plan = ActivationPlan.NOW if execution_time is None else ActivationPlan.AT
        return self._firmware_request("11.4", user_id, image, firmware_version, device_ids, plan=plan,
                                      upgrade_time=execution_time, request_id=request_id, kinds=("PPMID",))

    def update_firmware(self, user_id: str, image: bytes | str, firmware_version: str | int, device_id: str, *,
                        request_id: str | None = None, security: bool = False,
                        bulk_approved: bool = False) -> ServiceResponse:
        """SR 11.1: distribution only (HCALCS/GSME/ESME); the device waits (0xFFFFFFFF) for SR 11.3."""
        return self._firmware_request("11.1", user_id, image, firmware_version, [device_id], plan=ActivationPlan.WAIT,
                                      upgrade_time=None, request_id=request_id, kinds=("HCALCS", "GSME", "ESME"),
                                      security=security, bulk_approved=bulk_approved)

    def activate_firmware(self, user_id: str, device_id: str, *, firmware_version: str | int | None = None,
                          execution_time: float | None = None, request_id: str | None = None) -> ServiceResponse:
        """SR 11.3: release the device's transferred (WAIT) image -> CommsHubPort.activate."""
        now = self.clock.now()
        ieee = normalise_eui(device_id)
        rid = request_id or self._new_request_id(user_id, ieee or device_id)
        if (old := self._stored_response(rid)) is not None:
            return old
        device, refusal = self._one_device("11.3", rid, user_id, device_id, now)
        if refusal:
            return refusal
        want = None if firmware_version is None else parse_version(firmware_version)
        if firmware_version is not None and want is None:
            return self._reject("11.3", rid, user_id, now, self.codes.invalid_request,
                                f"FirmwareVersion: found {firmware_version!r}, expected 8 hex digits")
        dist = self.store.one("SELECT * FROM jobs WHERE device = ? AND op = 'distribute' AND plan = ?"
                              " AND transfer_result = 0 AND activation_result IS NULL AND superseded = 0"
                              " ORDER BY created DESC, id DESC LIMIT 1", device.id, ActivationPlan.WAIT.value)
        if dist is None or (want is not None and dist["file_version"] != want):
            return self._reject("11.3", rid, user_id, now, self.codes.nothing_to_activate,
                                f"no transferred image{'' if want is None else f' version {want:08X}'}"
                                f" waiting for activation on {duis_eui(device.id)}")
        response = ServiceResponse(rid, "11.3", self.codes.acknowledged, True, now, devices=[device.id])
        with self._tx():
            self._insert_request(rid, "11.3", user_id, now, {"device": device.id, "execution_time": execution_time},
                                 response)
            job_id = self._insert_job(rid, device.id, "activate", now, plan=None, upgrade_time=execution_time,
                                      file_version=dist["file_version"], offer_id=dist["offer_id"])
        self._attempt(job_id)
        return response

    async def read_firmware_version(self, user_id: str, device_id: str, *, over_the_air: bool = False,
                                    request_id: str | None = None) -> ServiceResponse:
        """SR 11.2: from the register, or (over_the_air) a CS08 read through the CH, recorded in the register."""
        now = self.clock.now()
        ieee = normalise_eui(device_id)
        rid = request_id or self._new_request_id(user_id, ieee or device_id)
        device, refusal = self._one_device("11.2", rid, user_id, device_id, now)
        if refusal:
            return refusal
        response = ServiceResponse(rid, "11.2", self.codes.success, True, now, devices=[device.id])
        if over_the_air:
            try:
                self.csp.check_available()
                version = await self.csp.read_version(device.id)
            except CspUnavailable as exc:
                version, response.reason = None, f"Read Failure: {exc}"
            if version is None:
                response.reason = response.reason or "Read Failure: the device did not answer"
            response.firmware_version, response.version_source = version, "cs08"
        else:
            response.firmware_version = self.register.version(device.id)
            response.version_source = "register"
        with self._tx():
            if over_the_air and response.firmware_version is not None:
                self.register.observe(device.id, response.firmware_version, "cs08", self.clock.now(), rid)
            self._insert_request(rid, "11.2", user_id, now, {"device": device.id, "over_the_air": over_the_air}, response)
        return response

    def activate_comms_hub_firmware(self, ch_id: str, firmware_version: str | int, *,
                                    planned_time: float | None = None, notice_given_at: float | None = None,
                                    security: bool = False, request_id: str | None = None) -> ServiceResponse:
        """CS06 via the CSP management gateway (a DCC-internal request, no Service User). The CH's answer
        is modelled by `comms_hub_activation_response`. Non-security updates need >= 7 days' notice."""
        now = self.clock.now()
        ieee = normalise_eui(ch_id)
        rid = request_id or self._new_request_id("DCC", ieee or ch_id)
        if (old := self._stored_response(rid)) is not None:
            return old
        device = self.fixtures.devices.get(ieee or "")
        target = parse_version(firmware_version)
        if device is None or device.kind != "CH":
            return self._reject("CS06", rid, "DCC", now, self.codes.no_valid_device,
                                f"CommsHubDeviceID {ch_id!r}: not a Comms Hub listed in the fixtures")
        if target is None:
            return self._reject("CS06", rid, "DCC", now, self.codes.invalid_request,
                                f"FirmwareVersion: found {firmware_version!r}, expected 8 hex digits")
        when = now if planned_time is None else planned_time
        if not security and (notice_given_at is None or when - notice_given_at < self.config.ch_notice):
            given = "none" if notice_given_at is None else f"{(when - notice_given_at) / DAY:.2f} days"
            return self._reject("CS06", rid, "DCC", now, self.codes.notice_period,
                                f"notice to Users before a CH firmware update: {given}, expected"
                                f" >= {self.config.ch_notice / DAY:g} days (or the security flag)")
        response = ServiceResponse(rid, "CS06", self.codes.acknowledged, True, now, devices=[device.id])
        with self._tx():
            self._insert_request(rid, "CS06", "DCC", now, {"ch": device.id, "target": target, "security": security,
                                                           "notice_given_at": notice_given_at}, response)
            self.store.db.execute("INSERT INTO cs06 (request_id, ch, target_version, status) VALUES (?,?,?,?)",
                                  (rid, device.id, target, "sent"))
        return response

    def comms_hub_activation_response(self, request_id: str, *, ch_id: str | None, firmware_version: str | int | None,
                                      timestamp: float | None = None, success: bool = True) -> Alert | None:
        """The CH's response to CS06. Emits exactly one N63 per activation that reports a new active
        version; None (and a log entry) on failure, unchanged version, duplicate, or missing fields."""
        now = self.clock.now()
        with self._tx():
            row = self.store.one("SELECT * FROM cs06 WHERE request_id = ?", request_id)
            ieee = normalise_eui(ch_id) if ch_id else None
            version = None if firmware_version is None else parse_version(firmware_version)
            if row is None:
                self.store.log(now, "cs06_unknown_request", request_id=request_id)
                return None
            if ieee is None or version is None:
                self.store.log(now, "n63_schema_error", request_id=request_id, ch_id=ch_id,
                               firmware_version=firmware_version,
                               problem="CommsHubDeviceID and FirmwareVersion are mandatory in N63")
                return None
            if not success:
                self.store.db.execute("UPDATE cs06 SET status = 'failed' WHERE request_id = ?", (request_id,))
                self.store.log(now, "cs06_failed", request_id=request_id, ch=ieee)
                return None
            stamp = now if timestamp is None else timestamp
            if self.register.version(ieee) == version:
                self.store.log(now, "cs06_version_unchanged", request_id=request_id, ch=ieee, version=version)
                return None
            device = self.fixtures.devices.get(ieee)
            recipients = [s for s in (device.import_supplier, device.gas_supplier) if s] if device else []
            alert = self.alerts.append(
                dedup_key=f"n63:{request_id}", family="dcc", code=self.codes.ch_activation, device=ieee,
                request_id=request_id, recipients=recipients, time=now,
                fields={"CommsHubDeviceID": duis_eui(ieee), "TimeStamp": iso_utc(stamp),
                        "FirmwareVersion": f"{version:08X}", "ResponseCode": self.codes.ch_activation_response_code})
            if alert is None:
                self.store.log(now, "cs06_duplicate_response", request_id=request_id)
                return None
            self.register.observe(ieee, version, "cs06", stamp, request_id)
            self.store.db.execute("UPDATE cs06 SET status = 'activated' WHERE request_id = ?", (request_id,))
            return alert

    # ================================================================================ plumbing ===
    async def drain(self) -> None:
        """Let the CSP hand over everything waiting in its inbox now (ignores the batch period)."""
        await asyncio.sleep(0)
        self.csp.flush()

    def jobs(self, request_id: str | None = None) -> list[dict[str, Any]]:
        sql, args = ("SELECT * FROM jobs WHERE request_id = ? ORDER BY id", (request_id,)) if request_id else (
            "SELECT * FROM jobs ORDER BY id", ())
        return [dict(r) for r in self.store.all(sql, *args)]

    def log_entries(self, what: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.all("SELECT * FROM log ORDER BY seq") if what is None else self.store.all(
            "SELECT * FROM log WHERE what = ? ORDER BY seq", what)
        return [{"seq": r["seq"], "time": r["time"], "what": r["what"], **json.loads(r["detail"])} for r in rows]

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.csp.close()
        self.store.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        outer = self.store._depth == 0
        try:
            with self.store.transaction():
                yield
        except BaseException:
            if outer:
                self.alerts.rolled_back()
            raise
        if outer:
            self.alerts.committed()

    def _new_request_id(self, user_id: str, target: str) -> str:
        """DUIS form originator:target:counter."""
        return f"{user_id}:{duis_eui(target) if normalise_eui(target) else target}:{self.store.next_counter('request')}"

    def _stored_response(self, rid: str) -> ServiceResponse | None:
        """A resubmitted request id gets the original answer (and nothing is sent twice)."""
        row = self.store.one("SELECT response FROM requests WHERE id = ?", rid)
        if row is None or row["response"] is None:
            return None
        data = json.loads(row["response"])
        data["warnings"] = [DeviceWarning(**w) for w in data["warnings"]]
        return ServiceResponse(**data)

    def _insert_request(self, rid: str, sr: str, user_id: str, now: float, body: dict, response: ServiceResponse,
                        image_sha256: str | None = None, security: bool = False) -> None:
        self.store.db.execute(
            "INSERT OR REPLACE INTO requests (id, sr, user_id, time, status, body, response, image_sha256, security)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (rid, sr, user_id, now, "accepted" if response.accepted else "rejected",
             json.dumps(body, sort_keys=True, default=str), json.dumps(dataclasses.asdict(response)), image_sha256,
             int(security)))

    def _insert_job(self, rid: str, device: str, op: str, now: float, *, plan: str | None, upgrade_time: float | None,
                    file_version: int | None, offer_id: int | None = None, next_due: float | None = None,
                    security: bool = False, large: bool = False) -> int:
        cur = self.store.db.execute(
            "INSERT INTO jobs (request_id, device, op, plan, upgrade_time, file_version, status, offer_id, created,"
            " next_due, security, large) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (rid, device, op, plan, upgrade_time, file_version, "pending", offer_id, now, next_due, int(security),
             int(large)))
        return int(cur.lastrowid)

    def _reject(self, sr: str, rid: str, user_id: str, now: float, code: str, reason: str,
                **extra: Any) -> ServiceResponse:
        response = ServiceResponse(rid, sr, code, False, now, reason=reason, **extra)
        with self._tx():
            self._insert_request(rid, sr, user_id, now, {}, response)
            self.store.log(now, "request_rejected", request_id=rid, sr=sr, user=user_id, code=code, reason=reason)
        return response

    def _one_device(self, sr: str, rid: str, user_id: str, device_id: str,
                    now: float) -> tuple[Device | None, ServiceResponse | None]:
        if user_id not in self.fixtures.suppliers:
            return None, self._reject(sr, rid, user_id, now, self.codes.unknown_user, f"user {user_id!r} is not known")
        ieee = normalise_eui(device_id)
        device = self.fixtures.devices.get(ieee or "")
        if device is None:
            return None, self._reject(sr, rid, user_id, now, self.codes.no_valid_device,
                                      f"DeviceID {device_id!r}: {'not an EUI-64' if ieee is None else 'unknown device'}",
                                      invalid_device_ids=[device_id])
        if user_id not in device.responsible_suppliers():
            return None, self._reject(sr, rid, user_id, now, self.codes.not_authorised,
                                      f"user {user_id} is not a responsible supplier of {duis_eui(device.id)}")
        return device, None

    # ------------------------------------------------------------------------ firmware requests ---
    def _firmware_request(self, sr: str, user_id: str, image: bytes | str, version_text: str | int,
                          device_ids: list[str], *, plan: ActivationPlan, upgrade_time: float | None,
                          request_id: str | None, kinds: tuple[str, ...], security: bool = False,
                          bulk_approved: bool = False) -> ServiceResponse:
        now = self.clock.now()
        first = normalise_eui(device_ids[0]) if device_ids else None
        rid = request_id or self._new_request_id(user_id, first or "MULTI")
        if (old := self._stored_response(rid)) is not None:
            return old
        reject = lambda code, reason, **kw: self._reject(sr, rid, user_id, now, code, reason, **kw)  # noqa: E731
        if user_id not in self.fixtures.suppliers:
            return reject(self.codes.unknown_user, f"user {user_id!r} is not known")
        if isinstance(image, str):
            try:
                data = base64.b64decode(image.encode("ascii"), validate=True)
            except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
                return reject(self.codes.invalid_request, f"FirmwareImage: not valid base64 ({exc})")
        else:
            data = bytes(image)
        version = parse_version(version_text)
        if version is None:
            return reject(self.codes.invalid_request, f"FirmwareVersion: found {version_text!r}, expected 8 hex digits")
        try:
            facts = image_facts(data)
        except ImageInvalid as exc:
            return reject(self.codes.invalid_request, str(exc))
        if facts.file_version != version:
            return reject(self.codes.invalid_request, f"FirmwareVersion {version:08X} does not match the image"
                                                      f" header's file version {facts.file_version:08X}")
        if sr == "11.4" and facts.size > self.config.max_ppmid_image_bytes:
            return reject(self.codes.invalid_request, f"FirmwareImage: {facts.size} bytes, expected at most"
                                                      f" {self.config.max_ppmid_image_bytes} for a PPMID image")
        # --- devices: invalid ones become warnings, valid ones proceed (R-DSP-01)
        warnings: list[DeviceWarning] = []
        invalid: list[str] = []
        valid: list[Device] = []
        for given in dict.fromkeys(device_ids):
            ieee = normalise_eui(given)
            device = self.fixtures.devices.get(ieee or "")
            if ieee is None:
                problem = ("InvalidDeviceID", "not an EUI-64")
            elif device is None:
                problem = ("UnknownDevice", "not a known device")
            elif device.kind not in kinds:
                problem = ("NotPPMID" if sr == "11.4" else "UnsupportedDeviceType",
                           f"a {device.kind}, expected {'/'.join(kinds)}")
            else:
                valid.append(device)
                continue
            invalid.append(given)
            warnings.append(DeviceWarning(given, problem[0], f"{given}: {problem[1]}"))
        if not valid:
            return reject(self.codes.no_valid_device, "no valid device in DeviceIDList",
                          invalid_device_ids=invalid, warnings=warnings)
        refused = [d for d in valid if user_id not in d.responsible_suppliers()]
        if refused:
            return reject(self.codes.not_authorised, f"user {user_id} is not a responsible supplier of "
                          + ", ".join(duis_eui(d.id) for d in refused))
        for d in valid:
            if self.fixtures.cpl_match(d.model, facts.manufacturer_code, facts.image_type, facts.file_version,
                                       facts.sha256) is None:
                return reject(self.codes.not_on_cpl,
                              f"image (manufacturer {facts.manufacturer_code:#06x}, type {facts.image_type:#06x},"
                              f" version {facts.file_version:08X}, sha256 {facts.sha256[:16]}…) is not on the CPL"
                              f" for model {d.model!r} ({duis_eui(d.id)})")
        signature = check_image_signature(data, self.fixtures.signers)  # GB bare images (rig.backend.signing)
        if not signature.ok:
            return reject(self.codes.bad_signature, signature.reason)
        if signature.status == "unverifiable":
            self.store.log(now, "signature_unverifiable", request_id=rid, reason=signature.reason)
        cap = self.config.capacity
        large = [d for d in valid if cap.applies(d.smets, facts.size)]
        if large and not bulk_approved:
            row = self.store.one("SELECT COUNT(*) AS n FROM jobs j JOIN requests r ON r.id = j.request_id"
                                 " WHERE r.user_id = ? AND j.large = 1", user_id)
            if row["n"] + len(large) >= cap.bulk_threshold:
                return reject(self.codes.bulk_approval_required,
                              f"{row['n'] + len(large)} large SMETS1 images from {user_id}: >= {cap.bulk_threshold}"
                              " need the SMETS1 bulk firmware approval")
        # --- in-progress check (R-DSP-03)
        busy = [d.id for d in valid if self.in_progress.holder(d.id, now) is not None]
        going = [d for d in valid if d.id not in busy]
        if not going:
            return reject(self.codes.in_progress, "every device already has a firmware update In Progress: "
                          + ", ".join(duis_eui(i) for i in busy), in_progress_device_ids=busy,
                          invalid_device_ids=invalid, warnings=warnings)
        response = ServiceResponse(rid, sr, self.codes.acknowledged, True, now, devices=[d.id for d in going],
                                   invalid_device_ids=invalid, in_progress_device_ids=busy, warnings=warnings)
        job_ids = []
        with self._tx():
            for d in going:
                for code, text in guidance_warnings(self.store, d.id, now, self.config.guidance_gap):
                    warnings.append(DeviceWarning(d.id, code, text))
                due = None
                if cap.applies(d.smets, facts.size):
                    due = cap.reserve(self.store, now)
                    if due >= (int(now // DAY) + cap.sla_days) * DAY:
                        warnings.append(DeviceWarning(d.id, "SlaAtRisk", f"capacity schedules {duis_eui(d.id)} on"
                                                      f" {iso_utc(due)}, beyond the {cap.sla_days}-day target"))
                job_id = self._insert_job(rid, d.id, "distribute", now, plan=plan.value, upgrade_time=upgrade_time,
                                          file_version=version, next_due=due, security=security,
                                          large=cap.applies(d.smets, facts.size))
                self.in_progress.enter(d.id, job_id, now)
                self.register.set_pending(d.id, version, rid, now)
                job_ids.append(job_id)
            self._insert_request(rid, sr, user_id, now, {"devices": [d.id for d in going], "plan": plan.value,
                                                         "upgrade_time": upgrade_time, "version": version},
                                 response, image_sha256=facts.sha256, security=security)
            self.store.db.execute("INSERT INTO images (request_id, data) VALUES (?, ?)", (rid, data))
            for w in warnings:
                self.store.log(now, "guidance_warning" if w.code in ("GapUnder5Days", "ResendBeforeAlert",
                                                                       "SlaAtRisk") else "device_warning",
                               request_id=rid, device=w.device, code=w.code, text=w.text)
        for job_id in job_ids:
            self._arm_expiry(self.store.one("SELECT device FROM jobs WHERE id = ?", job_id)["device"])
            row = self.store.one("SELECT next_due FROM jobs WHERE id = ?", job_id)
            if row["next_due"] is not None and row["next_due"] > now:
                self._arm(f"job:{job_id}", row["next_due"], self._attempt, job_id)
            else:
                self._attempt(job_id)
        return response

    # ----------------------------------------------------------------------- CSP attempts --------
    def _attempt(self, job_id: int) -> None:
        job = self.store.one("SELECT * FROM jobs WHERE id = ?", job_id)
        if job is None or job["status"] not in _LIVE or job["superseded"]:
            return
        now = self.clock.now()
        cap = self.config.capacity
        if cap.enabled and job["large"] and not job["security"] and self.store.one(
                "SELECT 1 FROM jobs WHERE security = 1 AND op = 'distribute' AND status IN (?,?,?) AND superseded = 0",
                *_LIVE):
            with self._tx():
                self.store.db.execute("UPDATE jobs SET status = 'paused', next_due = ? WHERE id = ?",
                                      (now + cap.pause_recheck, job_id))
                self.store.log(now, "paused_for_security", job=job_id)
            self._arm(f"job:{job_id}", now + cap.pause_recheck, self._attempt, job_id)
            return
        first = job["first_attempt"] if job["first_attempt"] is not None else now
        try:
            self.csp.check_available()
        except CspUnavailable as exc:
            attempts = job["attempts"] + 1
            due = self.config.long_retry.next_time(first, attempts)
            with self._tx():
                self.store.db.execute("UPDATE jobs SET attempts = ?, first_attempt = ?, status = ?, next_due = ?,"
                                      " detail = ? WHERE id = ?",
                                      (attempts, first, "retry_wait", due, exc.kind, job_id))
                self.store.log(now, "csp_unavailable", job=job_id, kind=exc.kind, attempt=attempts, next_due=due)
                if due is None:
                    self._fail_job(job, f"CSP {exc.kind}: gave up after {attempts} attempts over"
                                        f" {(now - first) / 3600:g} h", now)
            if due is not None:
                if due <= now:
                    self._attempt(job_id)  # the immediate retry
                else:
                    self._arm(f"job:{job_id}", due, self._attempt, job_id)
            return
        request = self.store.one("SELECT * FROM requests WHERE id = ?", job["request_id"])
        try:
            if job["op"] == "distribute":
                image_id = request["image_id"]
                if image_id is None:
                    data = self.store.one("SELECT data FROM images WHERE request_id = ?", job["request_id"])["data"]
                    image_id = self.csp.store_image(bytes(data), job["request_id"])
                    with self._tx():
                        self.store.db.execute("UPDATE requests SET image_id = ? WHERE id = ?", (image_id, job["request_id"]))
                offer_id = self.csp.offer(job["device"], image_id, ActivationPlan(job["plan"]), job["upgrade_time"],
                                          job["request_id"])
                with self._tx():
                    self.store.db.execute("UPDATE jobs SET status = 'offered', offer_id = ?, attempts = attempts + 1,"
                                          " first_attempt = ?, next_due = NULL WHERE id = ?", (offer_id, first, job_id))
                    self.csp.report_status(f"dist:{job_id}", {"job": job_id, "outcome": "delivered", "detail": ""})
            else:
                self.csp.activate(job["device"], job["offer_id"], job["upgrade_time"])
                with self._tx():
                    self.store.db.execute("UPDATE jobs SET status = 'sent', attempts = attempts + 1, first_attempt = ?,"
                                          " next_due = NULL WHERE id = ?", (first, job_id))
        except Exception as exc:  # the CH refused (ImageRejected, UnknownOffer, …): a failed distribution
            with self._tx():
                self.store.db.execute("UPDATE jobs SET status = 'refused', next_due = NULL, detail = ? WHERE id = ?",
                                      (f"{type(exc).__name__}: {exc}", job_id))
                self.csp.report_status(f"dist:{job_id}", {"job": job_id, "outcome": "failed",
                                                          "detail": f"{type(exc).__name__}: {exc}"})

    def _fail_job(self, job: Any, reason: str, now: float) -> None:
        """Give up on a job (caller's transaction): N61-style failure alert, In Progress cleared."""
        self.store.db.execute("UPDATE jobs SET status = 'failed', next_due = NULL, detail = ? WHERE id = ?",
                              (reason, job["id"]))
        if job["op"] == "distribute":
            self._dist_alert(job, "failed", reason, now)
            self.in_progress.clear(job["device"], job["id"])
            self.register.clear_pending(job["device"], job["request_id"])
        self.store.log(now, "job_failed", job=job["id"], reason=reason)

    def _dist_alert(self, job: Any, outcome: str, detail: str, now: float) -> None:
        request = self.store.one("SELECT user_id FROM requests WHERE id = ?", job["request_id"])
        code = self.codes.delivered_to_ch if outcome == "delivered" else self.codes.delivery_failed
        self.alerts.append(dedup_key=f"dist:{job['id']}:{outcome}", family="dcc", code=code, device=job["device"],
                           request_id=job["request_id"], recipients=[request["user_id"]], time=now,
                           late=bool(job["superseded"]),
                           fields={"DeviceID": duis_eui(job["device"]), "FirmwareVersion": f"{job['file_version']:08X}",
                                   "Outcome": outcome, "Detail": detail})

    # --------------------------------------------------------------------- events coming up -------
    def _process_batch(self, rows: list[Any]) -> None:
        now = self.clock.now()
        with self._tx():
            for row in rows:
                self.store.db.execute("UPDATE csp_inbox SET processed = 1 WHERE seq = ?", (row["seq"],))
                payload = json.loads(row["payload"])
                handler = getattr(self, f"_on_{row['kind']}", None)
                if handler is None:
                    self.store.log(now, "inbox_unknown_kind", kind=row["kind"], key=row["key"])
                    continue
                handler(payload, now)

    def _on_status(self, p: dict, now: float) -> None:
        job = self.store.one("SELECT * FROM jobs WHERE id = ?", p["job"])
        if job is None:
            return
        if p["outcome"] == "failed":
            self._fail_job(job, p["detail"], now)
        else:
            self._dist_alert(job, "delivered", p["detail"], now)

    def _find_job(self, ieee: str, request_id: str | None, offer_id: int) -> Any:
        if request_id:
            row = self.store.one("SELECT * FROM jobs WHERE device = ? AND request_id = ? AND op = 'distribute'",
                                 ieee, request_id)
            if row is not None:
                return row
        return self.store.one("SELECT * FROM jobs WHERE device = ? AND offer_id = ? AND op = 'distribute'"
                              " ORDER BY id DESC LIMIT 1", ieee, offer_id)

    def _recipients(self, job: Any, ieee: str) -> list[str]:
        if job is not None:
            return [self.store.one("SELECT user_id FROM requests WHERE id = ?", job["request_id"])["user_id"]]
        device = self.fixtures.devices.get(ieee)
        return device.responsible_suppliers() if device else []

    def _on_TransferOutcome(self, p: dict, now: float) -> None:
        ieee, result = p["ieee"], TransferResult(p["result"])
        job = self._find_job(ieee, p["request_id"], p["offer_id"])
        late = bool(job is not None and job["superseded"])
        code = self.codes.transfer_success if result == TransferResult.SUCCESS else self.codes.transfer_failure
        payload = ccs08_transfer_alert(code, p["time"], ieee, p["file_version"], int(result))
        alert = self.alerts.append(
            dedup_key=f"transfer:{job['id']}" if job is not None else f"transfer:{ieee}:{p['offer_id']}",
            family="device", code=device_code(code), device=ieee,
            request_id=job["request_id"] if job is not None else p["request_id"],
            recipients=self._recipients(job, ieee), late=late, time=now,
            fields={"AlertCode": device_code(code), "ExecutionDateTime": iso_utc(p["time"]), "EntityId": duis_eui(ieee),
                    "FirmwareVersion": f"{p['file_version']:08X}", "ResponseCode": int(result),
                    "MessageCode": f"0x{self.codes.ccs08_message_code:04X}", "GBCSPayload": payload.hex().upper(),
                    "OfferId": p["offer_id"], "Detail": p.get("detail", "")})
        if alert is None:
            self.store.log(now, "duplicate_hub_event", kind="transfer", ieee=ieee, offer_id=p["offer_id"])
            return
        if job is None:
            self.store.log(now, "unmatched_hub_event", kind="transfer", ieee=ieee, offer_id=p["offer_id"])
            return
        wait_plan = job["plan"] == ActivationPlan.WAIT.value
        status = "transferred" if result == TransferResult.SUCCESS else "transfer_failed"
        self.store.db.execute("UPDATE jobs SET transfer_result = ?, offer_id = COALESCE(offer_id, ?), status = ?"
                              " WHERE id = ?", (int(result), p["offer_id"], status, job["id"]))
        if late:
            self.store.log(now, "late_hub_event", kind="transfer", job=job["id"])
            return
        if result != TransferResult.SUCCESS or wait_plan:
            self.in_progress.clear(ieee, job["id"])
        if result != TransferResult.SUCCESS:
            self.register.clear_pending(ieee, job["request_id"])

    def _on_ActivationOutcome(self, p: dict, now: float) -> None:
        ieee = p["ieee"]
        job = self._find_job(ieee, p["request_id"], p["offer_id"])
        late = bool(job is not None and job["superseded"])
        shown = p["observed_version"] if p["observed_version"] is not None else p["target_version"]
        code = self.codes.activation_result
        payload = activation_alert(code, p["time"], shown, int(p["result"]))
        alert = self.alerts.append(
            dedup_key=f"activation:{job['id']}" if job is not None else f"activation:{ieee}:{p['offer_id']}",
            family="device", code=device_code(code), device=ieee,
            request_id=job["request_id"] if job is not None else p["request_id"],
            recipients=self._recipients(job, ieee), late=late, time=now,
            fields={"AlertCode": device_code(code), "ExecutionDateTime": iso_utc(p["time"]),
                    "FirmwareVersion": f"{shown:08X}", "ActivateImage": int(p["result"]),
                    "TargetVersion": f"{p['target_version']:08X}",
                    "ObservedVersion": None if p["observed_version"] is None else f"{p['observed_version']:08X}",
                    "MessageCode": f"0x{self.codes.activation_message_code:04X}", "GBCSPayload": payload.hex().upper(),
                    "OfferId": p["offer_id"], "Detail": p.get("detail", "")})
        if alert is None:
            self.store.log(now, "duplicate_hub_event", kind="activation", ieee=ieee, offer_id=p["offer_id"])
            return
        if p["observed_version"] is not None:
            self.register.observe(ieee, p["observed_version"], "0x8F8B", p["time"],
                                  f"activation {'success' if p['result'] == 0 else 'failure'}")
        if job is None:
            self.store.log(now, "unmatched_hub_event", kind="activation", ieee=ieee, offer_id=p["offer_id"])
            return
        self.store.db.execute("UPDATE jobs SET activation_result = ?, status = ? WHERE id = ?",
                              (int(p["result"]), "activated" if p["result"] == 0 else "activation_failed", job["id"]))
        self.store.db.execute("UPDATE jobs SET status = 'done' WHERE device = ? AND op = 'activate' AND offer_id = ?"
                              " AND status = 'sent'", (ieee, p["offer_id"]))
        self.register.clear_pending(ieee, job["request_id"])
        if late:
            self.store.log(now, "late_hub_event", kind="activation", job=job["id"])
        else:
            self.in_progress.clear(ieee, job["id"])

    def _on_VersionObserved(self, p: dict, now: float) -> None:
        ieee = p["ieee"]
        notes = [n for n, flag in (("unexplained change", p["unexplained_change"]), ("regression", p["regression"])) if flag]
        self.register.observe(ieee, p["version"], p["source"], p["time"], ", ".join(notes))
        device = self.fixtures.devices.get(ieee)
        recipients = device.responsible_suppliers() if device else []
        for flag, code in (("unexplained_change", self.codes.firmware_changed),
                           ("regression", self.codes.version_regression)):
            if p[flag]:
                self.alerts.append(dedup_key=f"{flag}:{ieee}:{p['version']}:{p['source']}:{p['time']!r}", family="dcc",
                                   code=code, device=ieee, request_id=None, recipients=recipients, time=now,
                                   fields={"DeviceID": duis_eui(ieee), "FirmwareVersion": f"{p['version']:08X}",
                                           "Source": p["source"], "ObservedAt": iso_utc(p["time"])})

    def _on_ImageDiscarded(self, p: dict, now: float) -> None:
        # Affected devices get their own 0x8F89/1 TransferOutcome from the hub; here the image is only
        # forgotten so that a job not yet offered stores it again.
        self.store.db.execute("UPDATE requests SET image_id = NULL WHERE image_id = ?", (p["image_id"],))
        self.store.log(now, "image_discarded", image_id=p["image_id"], reason=p["reason"])

    # ---------------------------------------------------------------- timers and resumption -------
    def _arm(self, key: str, due: float, fn: Any, *args: Any) -> None:
        if (old := self._timers.pop(key, None)) is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            try:
                fn(*args)
            except Exception as exc:  # a timer must not die silently, nor kill the clock's loop
                _log.exception("back end timer %s failed", key)
                self.errors.append(f"{key}: {type(exc).__name__}: {exc}")

        self._timers[key] = self.clock.call_later(max(0.0, due - self.clock.now()), fire)

    def _arm_expiry(self, device: str) -> None:
        row = self.store.one("SELECT expires FROM in_progress WHERE device = ?", device)
        if row is not None:
            self._arm(f"inprogress:{device}", row["expires"], self._expire, device)

    def _expire(self, device: str) -> None:
        now = self.clock.now()
        row = self.store.one("SELECT * FROM in_progress WHERE device = ?", device)
        if row is None:
            return
        if row["expires"] > now + 1e-6:
            self._arm_expiry(device)
            return
        with self._tx():
            job = self.store.one("SELECT * FROM jobs WHERE id = ?", row["job_id"])
            self.store.db.execute("DELETE FROM in_progress WHERE device = ? AND job_id = ?", (device, row["job_id"]))
            self.store.db.execute("UPDATE jobs SET superseded = 1, status = CASE WHEN status IN (?,?,?) THEN"
                                  " 'cancelled' ELSE status END, next_due = NULL WHERE id = ?", (*_LIVE, row["job_id"]))
            if job is not None:
                self.register.clear_pending(device, job["request_id"])
            self.store.log(now, "in_progress_timeout", device=device, job=row["job_id"], since=row["since"])

    def _resume(self) -> None:
        for row in self.store.all("SELECT device FROM in_progress"):
            self._arm_expiry(row["device"])
        now = self.clock.now()
        for job in self.store.all("SELECT id, next_due FROM jobs WHERE status IN (?,?,?) AND superseded = 0 ORDER BY id",
                                  *_LIVE):
            self._arm(f"job:{job['id']}", job["next_due"] if job["next_due"] is not None else now, self._attempt, job["id"])
        self.csp.schedule_flush()
