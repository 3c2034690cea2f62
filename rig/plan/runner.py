"""Run a validated Plan on a Bench: bring the bench up, run the steps in order, record everything.

A step passes, fails (an expectation was not met: the device's or the system's fault) or errors (the
rig could not do what the step asked: radio lost, bench problem). The first failing step ends the plan;
the JSON run record keeps every step, measurement, alert and timeline event.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from rig.bench.config import Bench
from rig.bench.session import BenchProblem, PlanNotForThisBench, Session, seed_for
from rig.plan.context import PlanContext, StepFailed
from rig.plan.limits import step_limit
from rig.plan.loader import Plan
from rig.plan import steps, steps_checks  # noqa: F401 - importing them registers their steps
from rig.plan.step_registry import STEP_FUNCTIONS
from rig.report.record import PlanAborted, RunRecord, StepRecord, Verdict

LOGGER = logging.getLogger(__name__)


async def run_plan(plan: Plan, bench: Bench, *, log: Callable[[str], None] | None = None,
                   workdir: Path | None = None, artifacts: Path | None = None, progress: Any = None) -> RunRecord:
    log = log or (lambda line: LOGGER.info(line))
    record = RunRecord(plan.id, plan.name, str(plan.path), bench.identity())
    started = time.monotonic()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"rig-{plan.id}-")
        workdir = Path(tmp.name)
    session = Session.for_bench(bench, workdir, hub_settings=plan.settings.get("hub"), seed=seed_for(plan.id),
                      backend_settings=plan.settings.get("backend"), log=log)
    ctx = PlanContext(plan, session, record, log, artifacts=artifacts, progress=progress)
    aborted = False
    try:
        started_as = await _start(ctx, record, bench)
        if started_as == "ended":
            return record
        aborted = started_as == "aborted"
        for step in [] if aborted else plan.steps:
            step_record = StepRecord(step.index, step.kind, step.title, args=_jsonable(step.args))
            record.steps.append(step_record)
            if await _run_step(ctx, step, step_record, record, log):
                aborted = True
                break
            if step_record.verdict is not Verdict.PASS:
                record.verdict = step_record.verdict
                record.message = f"step {step.index} ({step.title}): {step_record.message}"
                break
        _judge_the_run(record, ctx)
        await ctx.read_end_versions()
    finally:
        try:
            ctx.finish()
            await ctx.stop()
        finally:
            record.wall_seconds = time.monotonic() - started
            if tmp is not None:
                tmp.cleanup()
    if aborted:
        record.message += "; radio closed"
        raise PlanAborted(record)
    return record


async def _start(ctx: PlanContext, record: RunRecord, bench: Bench) -> str:
    """Bring the bench up for the plan: 'ok', 'aborted' (Ctrl-C meanwhile) or 'ended' (the record says why)."""
    try:
        await ctx.start()
    except asyncio.CancelledError:  # Ctrl-C / SIGTERM while the bench came up
        _abort(record, None, "while the bench came up")
        return "aborted"
    except PlanNotForThisBench as exc:  # e.g. an HCALCS plan on a PPMID bench: not run, and why
        record.verdict = Verdict.SKIP
        record.message = str(exc)
        return "ended"
    except Exception as exc:  # the bench did not come up: an error, not a failure of the device
        record.verdict = Verdict.ERROR
        record.message = f"bench did not start: {_start_problem(exc, bench)}"
        LOGGER.debug("bench start failed", exc_info=True)
        return "ended"
    return "ok"


async def _run_step(ctx: PlanContext, step: Any, step_record: StepRecord, record: RunRecord,
                    log: Callable[[str], None]) -> bool:
    """Run one step within its real-time limit and give it a verdict; True when the run was aborted."""
    step_record.started = ctx.rig_time()
    t0 = time.monotonic()
    log(f"step {step.index}: {step.title}")
    limit = step_limit(step.kind, step.args, step.timeout, extra_s=ctx.extra_limit_s(step.kind, step.args))
    try:
        await asyncio.wait_for(STEP_FUNCTIONS[step.kind](ctx, step.args), limit)
    except asyncio.CancelledError:  # Ctrl-C / SIGTERM: stop here, keep what was done
        step_record.wall_seconds = time.monotonic() - t0
        return _abort(record, step_record, f"during step {step.index} ({step.title})")
    except StepFailed as exc:
        step_record.verdict, step_record.message = Verdict.FAIL, str(exc)
    except (asyncio.TimeoutError, TimeoutError):
        step_record.verdict = Verdict.FAIL
        step_record.message = (f"timed out after {limit:g} s (real time; "
                               + ("the step's timeout:)" if step.timeout else "its window plus margin; "
                                  "give the step a timeout: to change it)"))
    except BenchProblem as exc:
        step_record.verdict, step_record.message = Verdict.ERROR, str(exc)
    except Exception as exc:  # a rig bug: keep the trace in the record, not on the user's screen
        step_record.verdict, step_record.message = Verdict.ERROR, _short(exc)
        record.events.append({"t": ctx.rig_time(), "kind": "error", "detail": traceback.format_exc()})
    step_record.wall_seconds = time.monotonic() - t0
    radio = ctx.radio_trouble_since(step_record.started)
    if radio and step_record.verdict is not Verdict.PASS:
        # A step that failed while the stick was gone says so: the rig, not the device, failed.
        step_record.verdict = Verdict.ERROR
        step_record.message = f"radio lost ({radio}); {step_record.message}"
    mark = "ok" if step_record.verdict is Verdict.PASS else step_record.verdict.value.upper()
    log(f"  -> {mark}" + (f": {step_record.message}" if step_record.message else ""))
    return False


def _judge_the_run(record: RunRecord, ctx: PlanContext) -> None:
    """Steps all passed: measurements outside their limits fail the run; an emulated stick that could not
    answer makes it an error of the rig."""
    failed = [m for m in record.measurements if not m.passed]
    if record.verdict is Verdict.PASS and failed:
        record.verdict = Verdict.FAIL
        record.message = "; ".join(f"{m.name} = {m.value_text()} outside limits {m.limits_text()}" for m in failed)
    rig_errors = ctx.rig_errors()
    if record.verdict is Verdict.PASS and rig_errors:
        record.verdict = Verdict.ERROR
        record.message = "the emulated stick could not answer: " + "; ".join(rig_errors[:3])


def _abort(record: RunRecord, step: StepRecord | None, where: str) -> bool:
    from rig.plan.stopping import reason

    if step is not None:
        step.verdict, step.message = Verdict.ABORTED, f"aborted by {reason()}"
    record.verdict, record.message = Verdict.ABORTED, f"aborted by {reason()} {where}"
    return True


def _start_problem(exc: BaseException, bench: Bench) -> str:
    """A stick that did not open is worded as `rig doctor` words it, with its port."""
    if bench.emulated or isinstance(exc, BenchProblem):
        return _short(exc)
    from rig.bench.cli import radio_line

    return radio_line(bench.hub.radio, exc)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, (BenchProblem, StepFailed)) else text


def _jsonable(args: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool, list, type(None))) else str(v)) for k, v in args.items()}
