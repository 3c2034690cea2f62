"""The step registry: each step module registers its functions here by kind (rig.plan.schema.STEPS names
them); the runner looks them up. A leaf, so step modules depend on it and never on each other."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rig.plan.context import PlanContext

Step = Callable[[PlanContext, dict[str, Any]], Awaitable[None]]
STEP_FUNCTIONS: dict[str, Step] = {}


def step(name: str) -> Callable[[Step], Step]:
    def register(fn: Step) -> Step:
        STEP_FUNCTIONS[name] = fn
        return fn

    return register
