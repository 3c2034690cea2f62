"""The outcomes room: what comes back up (typed hub events, CSP statuses, the CH's CS06 answer) becomes
alerts, register entries and job results.

One handler per event type, chosen by `match` on the type; every write happens in the batch's
transaction, so an alert, the job it closes and the register entry it explains move together.
"""

from __future__ import annotations

from rig.backend.alert import Alert, device_code
from rig.backend.alerts import AlertLog
from rig.backend.codes import Codes
from rig.backend.controls import InProgress
from rig.backend.csp import CspStatus, Delivery, InboxItem
from rig.backend.fixtures import Fixtures, duis_eui
from rig.backend.gbcs import activation_alert, ccs08_transfer_alert
from rig.backend.jobs import Cs06State, Job, JobState, JobStore, Op
from rig.backend.register import VersionRegister
from rig.backend.requests import iso_utc
from rig.backend.store import Store
from rig.hub.events import (ActivationOutcome, ActivationPlan, ImageDiscarded, TransferOutcome, TransferResult,
                            VersionObserved)


class Outcomes:
    def __init__(self, store: Store, jobs: JobStore, alerts: AlertLog, register: VersionRegister,
                 in_progress: InProgress, fixtures: Fixtures, codes: Codes) -> None:
        self._store = store
        self._jobs = jobs
        self._alerts = alerts
        self._register = register
        self._in_progress = in_progress
        self._fixtures = fixtures
        self._codes = codes

    # -- the CSP inbox -------------------------------------------------------------------------------
    def handle(self, item: InboxItem, now: float) -> None:
        """One inbox item (caller's transaction)."""
        match item.event:
            case CspStatus() as status:
                self._on_status(status, now)
            case TransferOutcome() as event:
                self._on_transfer(event, now)
            case ActivationOutcome() as event:
                self._on_activation(event, now)
            case VersionObserved() as event:
                self._on_version(event, now)
            case ImageDiscarded() as event:
                self._on_discarded(event, now)
            case _:
                self._store.log(now, "inbox_unknown_kind", kind=item.kind, key=item.key)

    def _on_status(self, status: CspStatus, now: float) -> None:
        job = self._jobs.job(status.job)
        if job is None:
            return
        if status.outcome == Delivery.FAILED:
            self.fail_job(job, status.detail, now)
        else:
            self._distribution_alert(job, Delivery.DELIVERED, status.detail, now)

    def _recipients(self, job: Job | None, ieee: str) -> list[str]:
        if job is not None:
            return [self._jobs.request_user(job.request_id)]
        device = self._fixtures.devices.get(ieee)
        return device.responsible_suppliers() if device else []

    def _on_transfer(self, e: TransferOutcome, now: float) -> None:
        job = self._jobs.find_distribution(e.ieee, e.request_id, e.offer_id)
        late = job is not None and job.superseded
        code = self._codes.transfer_success if e.result == TransferResult.SUCCESS else self._codes.transfer_failure
        payload = ccs08_transfer_alert(code, e.time, e.ieee, e.file_version, int(e.result))
        alert = self._alerts.append(
            dedup_key=f"transfer:{job.id}" if job is not None else f"transfer:{e.ieee}:{e.offer_id}",
            family="device", code=device_code(code), device=e.ieee,
            request_id=job.request_id if job is not None else e.request_id,
            recipients=self._recipients(job, e.ieee), late=late, time=now,
            fields={"AlertCode": device_code(code), "ExecutionDateTime": iso_utc(e.time), "EntityId": duis_eui(e.ieee),
                    "FirmwareVersion": f"{e.file_version:08X}", "ResponseCode": int(e.result),
                    "MessageCode": f"0x{self._codes.ccs08_message_code:04X}", "GBCSPayload": payload.hex().upper(),
                    "OfferId": e.offer_id, "Detail": e.detail})
        if alert is None:
            self._store.log(now, "duplicate_hub_event", kind="transfer", ieee=e.ieee, offer_id=e.offer_id)
            return
        if job is None:
            self._store.log(now, "unmatched_hub_event", kind="transfer", ieee=e.ieee, offer_id=e.offer_id)
            return
        ok = e.result == TransferResult.SUCCESS
        self._jobs.record_transfer(job.id, int(e.result), e.offer_id,
                                   JobState.TRANSFERRED if ok else JobState.TRANSFER_FAILED)
        if late:
            self._store.log(now, "late_hub_event", kind="transfer", job=job.id)
            return
        if not ok or job.plan == ActivationPlan.WAIT.value:
            self._in_progress.clear(e.ieee, job.id)
        if not ok:
            self._register.clear_pending(e.ieee, job.request_id)

    def _on_activation(self, e: ActivationOutcome, now: float) -> None:
        job = self._jobs.find_distribution(e.ieee, e.request_id, e.offer_id)
        late = job is not None and job.superseded
        shown = e.observed_version if e.observed_version is not None else e.target_version
        code = self._codes.activation_result
        payload = activation_alert(code, e.time, shown, int(e.result))
        alert = self._alerts.append(
            dedup_key=f"activation:{job.id}" if job is not None else f"activation:{e.ieee}:{e.offer_id}",
            family="device", code=device_code(code), device=e.ieee,
            request_id=job.request_id if job is not None else e.request_id,
            recipients=self._recipients(job, e.ieee), late=late, time=now,
            fields={"AlertCode": device_code(code), "ExecutionDateTime": iso_utc(e.time),
                    "FirmwareVersion": f"{shown:08X}", "ActivateImage": int(e.result),
                    "TargetVersion": f"{e.target_version:08X}",
                    "ObservedVersion": None if e.observed_version is None else f"{e.observed_version:08X}",
                    "MessageCode": f"0x{self._codes.activation_message_code:04X}", "GBCSPayload": payload.hex().upper(),
                    "OfferId": e.offer_id, "Detail": e.detail})
        if alert is None:
            self._store.log(now, "duplicate_hub_event", kind="activation", ieee=e.ieee, offer_id=e.offer_id)
            return
        if e.observed_version is not None:
            self._register.observe(e.ieee, e.observed_version, "0x8F8B", e.time,
                                   f"activation {'success' if e.result == 0 else 'failure'}")
        if job is None:
            self._store.log(now, "unmatched_hub_event", kind="activation", ieee=e.ieee, offer_id=e.offer_id)
            return
        self._jobs.record_activation(job.id, e.ieee, e.offer_id, int(e.result),
                                     JobState.ACTIVATED if e.result == 0 else JobState.ACTIVATION_FAILED)
        self._register.clear_pending(e.ieee, job.request_id)
        if late:
            self._store.log(now, "late_hub_event", kind="activation", job=job.id)
        else:
            self._in_progress.clear(e.ieee, job.id)

    def _on_version(self, e: VersionObserved, now: float) -> None:
        source = e.source.value
        notes = [n for n, flag in (("unexplained change", e.unexplained_change), ("regression", e.regression)) if flag]
        self._register.observe(e.ieee, e.version, source, e.time, ", ".join(notes))
        device = self._fixtures.devices.get(e.ieee)
        recipients = device.responsible_suppliers() if device else []
        for flag, raised, code in (("unexplained_change", e.unexplained_change, self._codes.firmware_changed),
                                   ("regression", e.regression, self._codes.version_regression)):
            if raised:
                self._alerts.append(dedup_key=f"{flag}:{e.ieee}:{e.version}:{source}:{e.time!r}", family="dcc",
                                    code=code, device=e.ieee, request_id=None, recipients=recipients, time=now,
                                    fields={"DeviceID": duis_eui(e.ieee), "FirmwareVersion": f"{e.version:08X}",
                                            "Source": source, "ObservedAt": iso_utc(e.time)})

    def _on_discarded(self, e: ImageDiscarded, now: float) -> None:
        # Affected devices get their own 0x8F89/1 TransferOutcome from the hub; here the image is only
        # forgotten so that a job not yet offered stores it again.
        self._jobs.forget_hub_image(e.image_id)
        self._store.log(now, "image_discarded", image_id=e.image_id, reason=e.reason)

    # -- distributions -------------------------------------------------------------------------------
    def fail_job(self, job: Job, reason: str, now: float) -> None:
        """Give up on a job (caller's transaction): N61-style failure alert, In Progress cleared."""
        self._jobs.mark_failed(job.id, reason)
        if job.op == Op.DISTRIBUTE:
            self._distribution_alert(job, Delivery.FAILED, reason, now)
            self._in_progress.clear(job.device, job.id)
            self._register.clear_pending(job.device, job.request_id)
        self._store.log(now, "job_failed", job=job.id, reason=reason)

    def _distribution_alert(self, job: Job, outcome: Delivery, detail: str, now: float) -> None:
        code = self._codes.delivered_to_ch if outcome == Delivery.DELIVERED else self._codes.delivery_failed
        self._alerts.append(dedup_key=f"dist:{job.id}:{outcome.value}", family="dcc", code=code, device=job.device,
                            request_id=job.request_id, recipients=[self._jobs.request_user(job.request_id)], time=now,
                            late=job.superseded,
                            fields={"DeviceID": duis_eui(job.device), "FirmwareVersion": f"{job.file_version:08X}",
                                    "Outcome": outcome.value, "Detail": detail})

    # -- the CH's answer to CS06 -----------------------------------------------------------------------
    def ch_activation(self, request_id: str, ieee: str | None, version: int | None, stamp: float, success: bool,
                      now: float, *, given: dict) -> Alert | None:
        """Exactly one N63 per CS06 activation that reports a new active version (caller's transaction);
        None (and a log entry) on failure, unchanged version, duplicate, or missing fields."""
        if not self._jobs.cs06_known(request_id):
            self._store.log(now, "cs06_unknown_request", request_id=request_id)
            return None
        if ieee is None or version is None:
            self._store.log(now, "n63_schema_error", request_id=request_id, **given,
                            problem="CommsHubDeviceID and FirmwareVersion are mandatory in N63")
            return None
        if not success:
            self._jobs.set_cs06_status(request_id, Cs06State.FAILED)
            self._store.log(now, "cs06_failed", request_id=request_id, ch=ieee)
            return None
        if self._register.version(ieee) == version:
            self._store.log(now, "cs06_version_unchanged", request_id=request_id, ch=ieee, version=version)
            return None
        device = self._fixtures.devices.get(ieee)
        recipients = [s for s in (device.import_supplier, device.gas_supplier) if s] if device else []
        alert = self._alerts.append(
            dedup_key=f"n63:{request_id}", family="dcc", code=self._codes.ch_activation, device=ieee,
            request_id=request_id, recipients=recipients, time=now,
            fields={"CommsHubDeviceID": duis_eui(ieee), "TimeStamp": iso_utc(stamp),
                    "FirmwareVersion": f"{version:08X}", "ResponseCode": self._codes.ch_activation_response_code})
        if alert is None:
            self._store.log(now, "cs06_duplicate_response", request_id=request_id)
            return None
        self._register.observe(ieee, version, "cs06", stamp, request_id)
        self._jobs.set_cs06_status(request_id, Cs06State.ACTIVATED)
        return alert
