"""The jobs room's clockwork: CSP attempts, the long retry, SMETS1 pauses and In Progress expiry, each on
a timer of the rig clock, and all of it re-armed from the store after a restart.

An attempt asks the CSP stub; "too busy"/"not available" schedules the next try by `LongRetry` (or gives
up, through `give_up`, which raises the failure alert); the CH refusing an image or offer is a failed
distribution reported by the CSP. When a device's In Progress entry expires, its live job is cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rig.backend.alerts import AlertLog
from rig.backend.controls import Capacity, InProgress, LongRetry, guidance_warnings
from rig.backend.csp import CspStatus, CspStub, CspUnavailable, Delivery
from rig.backend.fixtures import duis_eui
from rig.backend.intake import Distribution
from rig.backend.jobs import Job, JobStore, Op
from rig.backend.register import VersionRegister
from rig.backend.requests import DeviceWarning, ServiceResponse, iso_utc
from rig.backend.store import Store
from rig.clock import DAY, Clock, TimerHandle
from rig.hub.events import ActivationPlan

_log = logging.getLogger(__name__)

_GUIDANCE = ("GapUnder5Days", "ResendBeforeAlert", "SlaAtRisk")  # logged as guidance; the rest as device warnings
GiveUp = Callable[[Job, str, float], None]  # (job, reason, now), in the caller's transaction


class Dispatcher:
    def __init__(self, store: Store, jobs: JobStore, alerts: AlertLog, csp: CspStub, clock: Clock,
                 in_progress: InProgress, register: VersionRegister, *, long_retry: LongRetry, capacity: Capacity,
                 guidance_gap: float, acknowledged: str, give_up: GiveUp) -> None:
        self._store = store
        self._jobs = jobs
        self._alerts = alerts
        self._csp = csp
        self._clock = clock
        self._in_progress = in_progress
        self._register = register
        self._long_retry = long_retry
        self._capacity = capacity
        self._guidance_gap = guidance_gap
        self._codes_acknowledged = acknowledged
        self._give_up = give_up
        self._timers: dict[str, TimerHandle] = {}
        self.errors: list[str] = []  # exceptions caught in timer callbacks (tests assert it stays empty)

    # -- starting work -----------------------------------------------------------------------------
    def open_distribution(self, sr: str, request_id: str, user_id: str, accepted: Distribution, plan: ActivationPlan,
                          upgrade_time: float | None, *, security: bool, now: float) -> ServiceResponse:
        """Record an accepted 11.1/11.4 (request, image, one job per device, In Progress, pending register
        targets, guidance warnings) in one transaction, then start its jobs."""
        cap, facts = self._capacity, accepted.facts
        warnings = list(accepted.warnings)  # the response's list: guidance warnings join it below
        response = ServiceResponse(request_id, sr, self._codes_acknowledged, True, now,
                                   devices=[d.id for d in accepted.going], invalid_device_ids=accepted.invalid,
                                   in_progress_device_ids=accepted.busy, warnings=warnings)
        job_ids = []
        with self._alerts.transaction():
            for d in accepted.going:
                for code, text in guidance_warnings(self._jobs, d.id, now, self._guidance_gap):
                    warnings.append(DeviceWarning(d.id, code, text))
                large = cap.applies(d.smets, facts.size)
                due = cap.reserve(self._jobs, now) if large else None
                if due is not None and due >= (int(now // DAY) + cap.sla_days) * DAY:
                    warnings.append(DeviceWarning(d.id, "SlaAtRisk", f"capacity schedules {duis_eui(d.id)} on"
                                                  f" {iso_utc(due)}, beyond the {cap.sla_days}-day target"))
                job_id = self._jobs.insert_job(request_id, d.id, Op.DISTRIBUTE, now, plan=plan.value,
                                               upgrade_time=upgrade_time, file_version=facts.file_version,
                                               next_due=due, security=security, large=large)
                self._in_progress.enter(d.id, job_id, now)
                self._register.set_pending(d.id, facts.file_version, request_id, now)
                job_ids.append(job_id)
            self._jobs.insert_request(request_id, sr, user_id, now,
                                      {"devices": [d.id for d in accepted.going], "plan": plan.value,
                                       "upgrade_time": upgrade_time, "version": facts.file_version},
                                      response, image_sha256=facts.sha256, security=security)
            self._jobs.insert_image(request_id, accepted.data)
            for w in warnings:
                self._store.log(now, "guidance_warning" if w.code in _GUIDANCE else "device_warning",
                                request_id=request_id, device=w.device, code=w.code, text=w.text)
        self.start(job_ids)
        return response

    def start(self, job_ids: list[int]) -> None:
        """Newly accepted distributions: arm their In Progress expiry, then attempt now or when due."""
        now = self._clock.now()
        for job_id in job_ids:
            job = self._jobs.job(job_id)
            self.arm_expiry(job.device)
            if job.next_due is not None and job.next_due > now:
                self._arm(f"job:{job_id}", job.next_due, self.attempt, job_id)
            else:
                self.attempt(job_id)

    def resume(self) -> None:
        """After a restart: every In Progress expiry and every live job's next attempt, on the clock."""
        for device in self._jobs.in_progress_devices():
            self.arm_expiry(device)
        now = self._clock.now()
        for job in self._jobs.live_jobs():
            self._arm(f"job:{job.id}", job.next_due if job.next_due is not None else now, self.attempt, job.id)

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # -- one attempt ---------------------------------------------------------------------------------
    def attempt(self, job_id: int) -> None:
        job = self._jobs.job(job_id)
        if job is None or not job.live:
            return
        now = self._clock.now()
        cap = self._capacity
        if cap.enabled and job.large and not job.security and self._jobs.security_job_waiting():
            with self._alerts.transaction():
                self._jobs.mark_paused(job_id, now + cap.pause_recheck)
                self._store.log(now, "paused_for_security", job=job_id)
            self._arm(f"job:{job_id}", now + cap.pause_recheck, self.attempt, job_id)
            return
        first = job.first_attempt if job.first_attempt is not None else now
        try:
            self._csp.check_available()
        except CspUnavailable as exc:
            self._csp_unavailable(job, first, exc, now)
            return
        try:
            if job.op == Op.DISTRIBUTE:
                self._distribute(job, first)
            else:
                self._csp.activate(job.device, job.offer_id, job.upgrade_time)
                with self._alerts.transaction():
                    self._jobs.mark_sent(job_id, first)
        except Exception as exc:  # the CH refused (ImageRejected, UnknownOffer, …): a failed distribution
            detail = f"{type(exc).__name__}: {exc}"
            with self._alerts.transaction():
                self._jobs.mark_refused(job_id, detail)
                self._csp.report_status(CspStatus(job_id, Delivery.FAILED, detail))

    def _distribute(self, job: Job, first: float) -> None:
        image_id = self._jobs.hub_image_id(job.request_id)
        if image_id is None:
            image_id = self._csp.store_image(self._jobs.image_data(job.request_id), job.request_id)
            with self._alerts.transaction():
                self._jobs.set_hub_image_id(job.request_id, image_id)
        offer_id = self._csp.offer(job.device, image_id, ActivationPlan(job.plan), job.upgrade_time, job.request_id)
        with self._alerts.transaction():
            self._jobs.mark_offered(job.id, offer_id, first)
            self._csp.report_status(CspStatus(job.id, Delivery.DELIVERED, ""))

    def _csp_unavailable(self, job: Job, first: float, exc: CspUnavailable, now: float) -> None:
        attempts = job.attempts + 1
        due = self._long_retry.next_time(first, attempts)
        with self._alerts.transaction():
            self._jobs.mark_retry_wait(job.id, attempts, first, due, exc.kind)
            self._store.log(now, "csp_unavailable", job=job.id, kind=exc.kind, attempt=attempts, next_due=due)
            if due is None:
                self._give_up(job, f"CSP {exc.kind}: gave up after {attempts} attempts over"
                                   f" {(now - first) / 3600:g} h", now)
        if due is None:
            return
        if due <= now:
            self.attempt(job.id)  # the immediate retry
        else:
            self._arm(f"job:{job.id}", due, self.attempt, job.id)

    # -- In Progress expiry ------------------------------------------------------------------------------
    def arm_expiry(self, device: str) -> None:
        entry = self._jobs.in_progress(device)
        if entry is not None:
            self._arm(f"inprogress:{device}", entry.expires, self._expire, device)

    def _expire(self, device: str) -> None:
        now = self._clock.now()
        entry = self._jobs.in_progress(device)
        if entry is None:
            return
        if entry.expires > now + 1e-6:
            self.arm_expiry(device)
            return
        with self._alerts.transaction():
            job = self._jobs.job(entry.job_id)
            self._in_progress.clear(device, entry.job_id)
            self._jobs.supersede(entry.job_id)
            if job is not None:
                self._register.clear_pending(device, job.request_id)
            self._store.log(now, "in_progress_timeout", device=device, job=entry.job_id, since=entry.since)

    # -- timers --------------------------------------------------------------------------------------------
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

        self._timers[key] = self._clock.call_later(max(0.0, due - self._clock.now()), fire)
