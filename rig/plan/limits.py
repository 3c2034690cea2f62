"""How long (real time) a step may run: from the plan, never from a hidden global cap.

A step that waits says how long in its own fields (`within:`, `for:`, `by:`); its real-time limit is
that window plus a margin for the round trips around it. A step with no window of its own gets a
default for its kind. `timeout:` on a step overrides both. On an emulated bench rig time runs ahead of
real time, so these limits only ever catch a hang; on hardware they are the plan's own windows.
"""

from __future__ import annotations

from typing import Any

MARGIN_S = 60.0  # real seconds on top of a step's own window (reads, sends, the stick's retries)
DEFAULT_S = 120.0  # a step with no window of its own: a few over-the-air round trips at most
KIND_DEFAULT_S = {
    "pair": 60.0,  # on top of within:
    "power_cycle": 120.0,  # on top of within: (the power commands' own timeouts are in the bench file)
    "inject_fault": 120.0,
    "service_request": 180.0,  # 11.2 reads the device over the air; a CSP may answer slowly
    "assert_device_attribute": 120.0,
    "assert_device_version": 120.0,
}
WINDOW_FIELDS = ("within", "for", "by")


def step_limit(kind: str, args: dict[str, Any], timeout: float | None = None,
               extra_s: float = 0.0) -> float:
    """Real seconds step `kind` with `args` may take (`timeout:` from the plan wins)."""
    if timeout:
        return float(timeout)
    window = max((float(args[k]) for k in WINDOW_FIELDS if isinstance(args.get(k), (int, float))), default=0.0)
    base = KIND_DEFAULT_S.get(kind, DEFAULT_S)
    return (window + max(MARGIN_S, base) if window else base) + extra_s


POWER_CYCLE_GUARD_S = 1800.0  # a power_cycle with no within: waits the bench's restart window (600 s
# by default, set per bench); the plan's guard is fixed before the bench is known, so it allows this much


def plan_limit(steps: list, per_plan_s: float = 120.0) -> float:
    """The whole plan's guard (pytest-timeout): the sum of its steps' limits and bench bring-up."""
    return sum(step_limit(s.kind, s.args, s.timeout,
                          POWER_CYCLE_GUARD_S if s.kind == "power_cycle" and not s.args.get("within") else 0.0)
               for s in steps) + per_plan_s
