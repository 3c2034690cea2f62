"""Distribution controls (R-DSP-03..07): in-progress check, long retry, guidance, SMETS1 capacity.

Choices documented here because the sources leave them open:
* In progress: one entry per device, created when a firmware SR (11.1/11.4) is accepted, expiring a
  configurable time after acceptance (default 14 days, the CH retention minimum). Retries never extend
  it (R-DSP-04); when it expires, pending retries of that attempt stop. 11.3/11.2 are not subject to it.
* Long retry on CSP "too busy"/"not available": attempt 1 at t0, attempt 2 immediately, then one per
  `interval` (1 h) at t0 + k·interval while ≤ t0 + window; then give up (failure alert). Default window
  4 days (DCC proposal); `LongRetry.legacy()` = 24 h.
* Guidance (warnings only): another firmware SR for a device < 5 days after its previous one; or
  before the previous attempt's transfer alert (11.1/11.4) / activation alert (11.4) arrived.
* SMETS1 capacity (optional, MP230 Annex D): large images (> 750 kB) to SMETS1 devices count against
  12,000 a day (rig day = floor(clock / 86400)); a job over the day's budget is deferred to the next day
  with room; a request of ≥ 500 large images needs `bulk_approved`; a device scheduled more than 5 days
  out gets an "SlaAtRisk" warning; while a security-priority job is still undispatched, other large
  SMETS1 jobs wait (re-checked every `pause_recheck`).
"""

from __future__ import annotations

import dataclasses

from rig.backend.jobs import JobState, JobStore
from rig.clock import DAY, HOUR


@dataclasses.dataclass(frozen=True)
class LongRetry:
    window: float = 4 * DAY
    interval: float = HOUR

    @classmethod
    def legacy(cls) -> LongRetry:
        return cls(window=DAY)

    def next_time(self, first_attempt: float, attempts_done: int) -> float | None:
        """When the next attempt is due after `attempts_done` failed ones; None = give up."""
        if attempts_done < 2:
            return first_attempt  # the immediate retry
        due = first_attempt + (attempts_done - 1) * self.interval
        return due if due <= first_attempt + self.window + 1e-6 else None


@dataclasses.dataclass(frozen=True)
class Capacity:
    enabled: bool = False
    large_image_bytes: int = 750 * 1000
    per_day: int = 12_000
    bulk_threshold: int = 500
    sla_days: int = 5
    pause_recheck: float = HOUR

    def applies(self, smets: int, image_size: int) -> bool:
        return self.enabled and smets == 1 and image_size > self.large_image_bytes

    def reserve(self, jobs: JobStore, now: float) -> float:
        """Book one large image on the first rig day with room (from today); returns when it may go."""
        day = int(now // DAY)
        while True:
            used = jobs.capacity_used(day)
            if used < self.per_day:
                jobs.set_capacity_used(day, used + 1)
                return max(now, day * DAY)
            day += 1


class InProgress:
    """The device-level In Progress table (G11)."""

    def __init__(self, jobs: JobStore, timeout: float) -> None:
        self._jobs = jobs
        self.timeout = timeout

    def holder(self, device: str, now: float) -> int | None:
        """The job holding the device, or None (an expired entry no longer holds it)."""
        entry = self._jobs.in_progress(device)
        if entry is None or entry.expires <= now:
            return None
        return entry.job_id

    def enter(self, device: str, job_id: int, now: float) -> float:
        expires = now + self.timeout
        self._jobs.enter_in_progress(device, job_id, now, expires)
        return expires

    def clear(self, device: str, job_id: int) -> bool:
        """Clear the entry only if it still belongs to `job_id` (a late event never clears a newer one)."""
        return self._jobs.clear_in_progress(device, job_id)


def guidance_warnings(jobs: JobStore, device: str, now: float, min_gap: float) -> list[tuple[str, str]]:
    """(code, text) warnings for a new firmware SR to `device` (R-DSP-06)."""
    prev = jobs.previous_distribution(device)
    if prev is None:
        return []
    out = []
    gap = now - prev["created"]
    if gap < min_gap:
        out.append(("GapUnder5Days", f"previous firmware request {prev['request_id']} was {gap / DAY:.2f} days ago;"
                                     f" guidance asks for at least {min_gap / DAY:g} days"))
    if prev["status"] not in (JobState.FAILED, JobState.CANCELLED):
        if prev["transfer_result"] is None:
            out.append(("ResendBeforeAlert", f"no transfer/discard alert yet for request {prev['request_id']}"))
        elif prev["sr"] == "11.4" and prev["transfer_result"] == 0 and prev["activation_result"] is None:
            out.append(("ResendBeforeAlert", f"no activation alert yet for request {prev['request_id']}"))
    return out
