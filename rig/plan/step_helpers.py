"""Helpers more than one step module uses: alert filters, their description, an emulated device."""

from __future__ import annotations

from typing import Any

from rig.bench.session import BenchProblem
from rig.plan.context import PlanContext, StepFailed


def _alert_filter(ctx: PlanContext, a: dict[str, Any]) -> dict[str, Any]:
    match: dict[str, Any] = {"code": a["code"]}
    if a.get("device"):
        match["device"] = ctx.session.devices[a["device"]].ieee
    if "response_code" in a:
        match["ResponseCode"] = a["response_code"]
    if a.get("request"):
        if a["request"] not in ctx.requests:
            raise StepFailed(f"no earlier service_request saved as '{a['request']}'")
        match["request_id"] = ctx.requests[a["request"]]
    return match


def _describe(a: dict[str, Any]) -> str:
    parts = [a["code"]] + [f"{k}={a[k]}" for k in ("device", "response_code", "request") if k in a]
    return " ".join(parts)


def _emulated(ctx: PlanContext, name: str, what: str):
    dev = ctx.session.devices[name].emulated
    if dev is None:
        raise BenchProblem(f"{what} on {name} needs an emulated device (this bench has real ones)")
    return dev
