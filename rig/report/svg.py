"""Shared bits of the report's inline SVG pictures (no scripts, no fonts, no network): escaping, number and
time formatting, the device palette. The pictures: `rig.report.timeline` and `rig.report.sequence`."""

from __future__ import annotations

import math
from html import escape
from typing import Any

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def time_text(seconds: float) -> str:
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s >= 86400:
        return f"{sign}{s / 86400:.1f}d".replace(".0d", "d")
    if s >= 3600:
        return f"{sign}{int(s // 3600)}h{int(s % 3600 // 60):02d}"
    if s >= 60:
        return f"{sign}{int(s // 60)}m{int(s % 60):02d}"
    return f"{sign}{num(s)}s"


def event_time(event: dict[str, Any]) -> float | None:
    try:
        value = float(event.get("t"))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


