"""Run records: per plan, the steps with verdicts, measurements checked against limits (as OpenHTF
does: a measurement is a value plus its limits plus the outcome), the alerts, and the identity of the
bench and images — everything needed to regenerate a report later."""

from __future__ import annotations

import dataclasses
import enum
import time
from pathlib import Path
from typing import Any


class Verdict(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the rig itself could not run the step (e.g. radio lost)
    SKIP = "skip"
    ABORTED = "aborted"  # stopped by the operator (Ctrl-C) or the system (SIGTERM) before it finished


class PlanAborted(Exception):
    """The run was stopped mid-plan; carries the plan's record (verdict ABORTED) so it is still written."""

    def __init__(self, record: "RunRecord") -> None:
        super().__init__(record.message)
        self.record = record


@dataclasses.dataclass
class Measurement:
    name: str
    value: float | None
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    device: str | None = None

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        if self.minimum is not None and self.value < self.minimum:
            return False
        return self.maximum is None or self.value <= self.maximum

    def limits_text(self) -> str:
        lo = "" if self.minimum is None else f">= {self.minimum:g}"
        hi = "" if self.maximum is None else f"<= {self.maximum:g}"
        return " and ".join(x for x in (lo, hi) if x) or "recorded"

    def value_text(self) -> str:
        if self.value is None:
            return "n/a"
        return f"{self.value:,.1f} {self.unit}".strip() if abs(self.value) >= 10 else f"{self.value:.3g} {self.unit}".strip()

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "passed": self.passed}


@dataclasses.dataclass
class StepRecord:
    index: int
    kind: str
    title: str
    verdict: Verdict = Verdict.PASS
    message: str = ""
    started: float = 0.0  # rig clock
    wall_seconds: float = 0.0
    args: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["verdict"] = self.verdict.value
        return d


@dataclasses.dataclass
class RunRecord:
    plan_id: str
    plan_name: str
    plan_file: str
    bench: dict[str, Any]
    verdict: Verdict = Verdict.PASS
    message: str = ""
    started_wall: float = dataclasses.field(default_factory=time.time)
    wall_seconds: float = 0.0
    steps: list[StepRecord] = dataclasses.field(default_factory=list)
    measurements: list[Measurement] = dataclasses.field(default_factory=list)
    images: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    alerts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # timeline: transfers, faults
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)  # capture file, ...
    run_id: str = ""  # the run (`rig run` / one pytest session) this plan ran in: its folder under runs/

    @classmethod
    def for_load_error(cls, path: Path, message: str) -> "RunRecord":
        """A plan file that did not load: an ERROR with the loader's words, so it is not silently dropped."""
        shown = _shown_path(path)
        return cls(plan_id=path.stem, plan_name=path.stem, plan_file=shown, bench={}, verdict=Verdict.ERROR,
                   message="plan did not load: " + message.replace(str(path), shown))

    def to_json(self) -> dict[str, Any]:
        return {
            "record_version": 1,
            **({"run": {"id": self.run_id}} if self.run_id else {}),
            "plan": {"id": self.plan_id, "name": self.plan_name, "file": self.plan_file},
            "bench": self.bench,
            "verdict": self.verdict.value,
            "message": self.message,
            "started_wall": self.started_wall,
            "wall_seconds": round(self.wall_seconds, 3),
            "steps": [s.to_json() for s in self.steps],
            "measurements": [m.to_json() for m in self.measurements],
            "images": self.images,
            "devices": self.devices,
            "alerts": self.alerts,
            "events": self.events,
            "artifacts": self.artifacts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunRecord":
        """A record read back from its JSON (what the summary table needs; steps and events as stored)."""
        plan = data.get("plan") or {}
        fields = {f.name for f in dataclasses.fields(Measurement)}
        return cls(plan_id=str(plan.get("id")), plan_name=str(plan.get("name")), plan_file=str(plan.get("file")),
                   bench=dict(data.get("bench") or {}), verdict=Verdict(data.get("verdict", "error")),
                   message=str(data.get("message") or ""), started_wall=float(data.get("started_wall") or 0),
                   wall_seconds=float(data.get("wall_seconds") or 0),
                   measurements=[Measurement(**{k: v for k, v in m.items() if k in fields})
                                 for m in data.get("measurements") or []],
                   images=dict(data.get("images") or {}), devices=dict(data.get("devices") or {}),
                   alerts=list(data.get("alerts") or []), events=list(data.get("events") or []),
                   artifacts=dict(data.get("artifacts") or {}), run_id=str((data.get("run") or {}).get("id") or ""))

    def write(self, directory: Path) -> Path:
        """Into `directory` as `<plan>.json` (`<plan>.<run id>.json` if another run's record is there)."""
        from rig.report.runs import write_record

        return write_record(directory, self.to_json())


def _shown_path(path: Path) -> str:
    """Relative to the working folder when it is inside it: what the user typed, not /tmp/... noise."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
