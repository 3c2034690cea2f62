"""The jobs room's data: service requests, their images, distribution/activation jobs, the In Progress
table, the SMETS1 capacity book and CS06 requests. `JobStore` holds every SQL statement on those tables;
the rest of the back end asks it in words (`mark_offered`, `waiting_activation`, …).

A job's state is a `JobState`; its value is what the `jobs.status` column holds (and what
`Backend.jobs()` returns), so plans and tests that read the rows see the same strings as before.
Writes happen inside the caller's store transaction unless a method says otherwise.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from rig.backend.requests import DeviceWarning, ServiceResponse
from rig.backend.store import Store


class JobState(enum.StrEnum):
    PENDING = "pending"  # accepted, not yet attempted (or due later: capacity, timers)
    RETRY_WAIT = "retry_wait"  # the CSP was too busy / not available; the long retry will try again
    PAUSED = "paused"  # a large SMETS1 job waiting behind a security-priority one
    OFFERED = "offered"  # distribution handed to the CH
    SENT = "sent"  # activation handed to the CH
    REFUSED = "refused"  # the CH refused the image or offer
    FAILED = "failed"  # given up (long retry exhausted, or the CSP reported a failed delivery)
    TRANSFERRED = "transferred"
    TRANSFER_FAILED = "transfer_failed"
    ACTIVATED = "activated"
    ACTIVATION_FAILED = "activation_failed"
    DONE = "done"  # an activation job whose offer's activation outcome arrived
    CANCELLED = "cancelled"  # its In Progress entry expired before it was dispatched


LIVE = (JobState.PENDING, JobState.RETRY_WAIT, JobState.PAUSED)  # states that still want a CSP attempt
_LIVE_SQL = tuple(s.value for s in LIVE)


class Cs06State(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    ACTIVATED = "activated"  # the CH's N63 reported the new version


class Op(enum.StrEnum):
    DISTRIBUTE = "distribute"
    ACTIVATE = "activate"


@dataclasses.dataclass(frozen=True)
class Job:
    id: int
    request_id: str
    device: str
    op: Op
    plan: str | None  # an ActivationPlan value, for distributions
    upgrade_time: float | None
    file_version: int | None
    status: JobState
    offer_id: int | None
    created: float
    first_attempt: float | None
    attempts: int
    next_due: float | None
    transfer_result: int | None
    activation_result: int | None
    superseded: bool
    security: bool
    large: bool
    detail: str

    @classmethod
    def from_row(cls, row: Any) -> Job:
        d = dict(row)
        d.update(op=Op(d["op"]), status=JobState(d["status"]), superseded=bool(d["superseded"]),
                 security=bool(d["security"]), large=bool(d["large"]))
        return cls(**d)

    @property
    def live(self) -> bool:
        return self.status in LIVE and not self.superseded


@dataclasses.dataclass(frozen=True)
class InProgressEntry:
    device: str
    job_id: int
    since: float
    expires: float


class JobStore:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.db

    def _job(self, sql: str, *args: Any) -> Job | None:
        row = self._store.one(sql, *args)
        return None if row is None else Job.from_row(row)

    # -- service requests ------------------------------------------------------------------------
    def next_request_number(self) -> int:
        return self._store.next_counter("request")

    def stored_response(self, request_id: str) -> ServiceResponse | None:
        row = self._store.one("SELECT response FROM requests WHERE id = ?", request_id)
        if row is None or row["response"] is None:
            return None
        data = json.loads(row["response"])
        data["warnings"] = [DeviceWarning(**w) for w in data["warnings"]]
        return ServiceResponse(**data)

    def insert_request(self, request_id: str, sr: str, user_id: str, now: float, body: dict,
                       response: ServiceResponse, image_sha256: str | None = None, security: bool = False) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO requests (id, sr, user_id, time, status, body, response, image_sha256, security)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (request_id, sr, user_id, now, "accepted" if response.accepted else "rejected",
             json.dumps(body, sort_keys=True, default=str), json.dumps(dataclasses.asdict(response)), image_sha256,
             int(security)))

    def request_user(self, request_id: str) -> str:
        return self._store.one("SELECT user_id FROM requests WHERE id = ?", request_id)["user_id"]

    def insert_image(self, request_id: str, data: bytes) -> None:
        self._db.execute("INSERT INTO images (request_id, data) VALUES (?, ?)", (request_id, data))

    def image_data(self, request_id: str) -> bytes:
        return bytes(self._store.one("SELECT data FROM images WHERE request_id = ?", request_id)["data"])

    def hub_image_id(self, request_id: str) -> int | None:
        """The CH's id for the request's image, once stored there (None: store it first)."""
        return self._store.one("SELECT image_id FROM requests WHERE id = ?", request_id)["image_id"]

    def set_hub_image_id(self, request_id: str, image_id: int) -> None:
        self._db.execute("UPDATE requests SET image_id = ? WHERE id = ?", (image_id, request_id))

    def forget_hub_image(self, image_id: int) -> None:
        """The CH discarded the image: a job not yet offered stores it again."""
        self._db.execute("UPDATE requests SET image_id = NULL WHERE image_id = ?", (image_id,))

    # -- jobs --------------------------------------------------------------------------------------
    def insert_job(self, request_id: str, device: str, op: Op, now: float, *, plan: str | None,
                   upgrade_time: float | None, file_version: int | None, offer_id: int | None = None,
                   next_due: float | None = None, security: bool = False, large: bool = False) -> int:
        cur = self._db.execute(
            "INSERT INTO jobs (request_id, device, op, plan, upgrade_time, file_version, status, offer_id, created,"
            " next_due, security, large) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (request_id, device, op.value, plan, upgrade_time, file_version, JobState.PENDING.value, offer_id, now,
             next_due, int(security), int(large)))
        return int(cur.lastrowid)

    def job(self, job_id: int) -> Job | None:
        return self._job("SELECT * FROM jobs WHERE id = ?", job_id)

    def rows(self, request_id: str | None = None) -> list[dict[str, Any]]:
        """Jobs as plain rows (what `Backend.jobs()` shows)."""
        sql, args = ("SELECT * FROM jobs WHERE request_id = ? ORDER BY id", (request_id,)) if request_id else (
            "SELECT * FROM jobs ORDER BY id", ())
        return [dict(r) for r in self._store.all(sql, *args)]

    def live_jobs(self) -> list[Job]:
        """Jobs that still want a CSP attempt, oldest first (re-armed after a restart)."""
        return [Job.from_row(r) for r in self._store.all(
            "SELECT * FROM jobs WHERE status IN (?,?,?) AND superseded = 0 ORDER BY id", *_LIVE_SQL)]

    def waiting_activation(self, device: str, wait_plan: str) -> Job | None:
        """The newest distribution to `device` transferred under the WAIT plan and not yet activated."""
        return self._job("SELECT * FROM jobs WHERE device = ? AND op = 'distribute' AND plan = ?"
                         " AND transfer_result = 0 AND activation_result IS NULL AND superseded = 0"
                         " ORDER BY created DESC, id DESC LIMIT 1", device, wait_plan)

    def find_distribution(self, device: str, request_id: str | None, offer_id: int) -> Job | None:
        """The distribution a hub event is about: by request id, else by offer id."""
        if request_id:
            job = self._job("SELECT * FROM jobs WHERE device = ? AND request_id = ? AND op = 'distribute'",
                            device, request_id)
            if job is not None:
                return job
        return self._job("SELECT * FROM jobs WHERE device = ? AND offer_id = ? AND op = 'distribute'"
                         " ORDER BY id DESC LIMIT 1", device, offer_id)

    def previous_distribution(self, device: str) -> dict[str, Any] | None:
        """The newest distribution to `device`, with its request's SR (for the guidance warnings)."""
        row = self._store.one("SELECT j.*, r.sr FROM jobs j JOIN requests r ON r.id = j.request_id"
                              " WHERE j.device = ? AND j.op = 'distribute' ORDER BY j.created DESC, j.id DESC LIMIT 1",
                              device)
        return None if row is None else dict(row)

    def large_job_count(self, user_id: str) -> int:
        return self._store.one("SELECT COUNT(*) AS n FROM jobs j JOIN requests r ON r.id = j.request_id"
                               " WHERE r.user_id = ? AND j.large = 1", user_id)["n"]

    def security_job_waiting(self) -> bool:
        """Is a security-priority distribution still undispatched?"""
        return self._store.one("SELECT 1 FROM jobs WHERE security = 1 AND op = 'distribute' AND status IN (?,?,?)"
                               " AND superseded = 0", *_LIVE_SQL) is not None

    def mark_paused(self, job_id: int, due: float) -> None:
        self._db.execute("UPDATE jobs SET status = ?, next_due = ? WHERE id = ?", (JobState.PAUSED.value, due, job_id))

    def mark_retry_wait(self, job_id: int, attempts: int, first: float, due: float | None, why: str) -> None:
        self._db.execute("UPDATE jobs SET attempts = ?, first_attempt = ?, status = ?, next_due = ?, detail = ?"
                         " WHERE id = ?", (attempts, first, JobState.RETRY_WAIT.value, due, why, job_id))

    def mark_offered(self, job_id: int, offer_id: int, first: float) -> None:
        self._db.execute("UPDATE jobs SET status = ?, offer_id = ?, attempts = attempts + 1, first_attempt = ?,"
                         " next_due = NULL WHERE id = ?", (JobState.OFFERED.value, offer_id, first, job_id))

    def mark_sent(self, job_id: int, first: float) -> None:
        self._db.execute("UPDATE jobs SET status = ?, attempts = attempts + 1, first_attempt = ?, next_due = NULL"
                         " WHERE id = ?", (JobState.SENT.value, first, job_id))

    def mark_refused(self, job_id: int, detail: str) -> None:
        self._db.execute("UPDATE jobs SET status = ?, next_due = NULL, detail = ? WHERE id = ?",
                         (JobState.REFUSED.value, detail, job_id))

    def mark_failed(self, job_id: int, reason: str) -> None:
        self._db.execute("UPDATE jobs SET status = ?, next_due = NULL, detail = ? WHERE id = ?",
                         (JobState.FAILED.value, reason, job_id))

    def record_transfer(self, job_id: int, result: int, offer_id: int, state: JobState) -> None:
        self._db.execute("UPDATE jobs SET transfer_result = ?, offer_id = COALESCE(offer_id, ?), status = ?"
                         " WHERE id = ?", (result, offer_id, state.value, job_id))

    def record_activation(self, job_id: int, device: str, offer_id: int, result: int, state: JobState) -> None:
        """The distribution's activation result; the activation jobs sent for its offer are done."""
        self._db.execute("UPDATE jobs SET activation_result = ?, status = ? WHERE id = ?",
                         (result, state.value, job_id))
        self._db.execute("UPDATE jobs SET status = ? WHERE device = ? AND op = 'activate' AND offer_id = ?"
                         " AND status = ?", (JobState.DONE.value, device, offer_id, JobState.SENT.value))

    def supersede(self, job_id: int) -> None:
        """The job's In Progress entry expired: it no longer counts, and a live one is cancelled."""
        self._db.execute("UPDATE jobs SET superseded = 1, status = CASE WHEN status IN (?,?,?) THEN ? ELSE status END,"
                         " next_due = NULL WHERE id = ?", (*_LIVE_SQL, JobState.CANCELLED.value, job_id))

    # -- In Progress -----------------------------------------------------------------------------
    def in_progress(self, device: str) -> InProgressEntry | None:
        row = self._store.one("SELECT * FROM in_progress WHERE device = ?", device)
        return None if row is None else InProgressEntry(row["device"], row["job_id"], row["since"], row["expires"])

    def in_progress_devices(self) -> list[str]:
        return [r["device"] for r in self._store.all("SELECT device FROM in_progress")]

    def enter_in_progress(self, device: str, job_id: int, since: float, expires: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO in_progress (device, job_id, since, expires) VALUES (?,?,?,?)",
                         (device, job_id, since, expires))

    def clear_in_progress(self, device: str, job_id: int) -> bool:
        """Clear the entry only if it still belongs to `job_id` (a late event never clears a newer one)."""
        return self._db.execute("DELETE FROM in_progress WHERE device = ? AND job_id = ?", (device, job_id)).rowcount > 0

    # -- SMETS1 capacity ---------------------------------------------------------------------------
    def capacity_used(self, day: int) -> int:
        row = self._store.one("SELECT used FROM capacity WHERE day = ?", day)
        return row["used"] if row else 0

    def set_capacity_used(self, day: int, used: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO capacity (day, used) VALUES (?, ?)", (day, used))

    # -- CS06 (CH firmware activation through the CSP management gateway) -----------------------
    def insert_cs06(self, request_id: str, ch: str, target: int) -> None:
        self._db.execute("INSERT INTO cs06 (request_id, ch, target_version, status) VALUES (?,?,?,?)",
                         (request_id, ch, target, Cs06State.SENT.value))

    def cs06_known(self, request_id: str) -> bool:
        return self._store.one("SELECT 1 FROM cs06 WHERE request_id = ?", request_id) is not None

    def set_cs06_status(self, request_id: str, status: Cs06State) -> None:
        self._db.execute("UPDATE cs06 SET status = ? WHERE request_id = ?", (status.value, request_id))
