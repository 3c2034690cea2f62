"""A plan step as one line for people: `expect_transfer device=ppmid1 result=success within=10m`.

Durations read as durations (the plan schema says which fields are), codes and ids in hex, lists as
`a, b`; defaults the plan did not write are left out where the schema says what they are.
"""

from __future__ import annotations

from typing import Any

_HEX_FIELDS = {"manufacturer_code": 4, "image_type": 4, "response_code": 2, "status": 2, "code": 4}


_SPECS: dict[str, Any] = {}  # step kind -> its schema entry, handed down by the plan layer


def describe_steps_with(specs: dict[str, Any]) -> None:
    """The plan schema (rig.plan.schema.STEPS) says which fields are durations and what their defaults are;
    it hands itself down here when it loads, so the report needs no import of the layer above it. Without
    it (a record rendered on its own) arguments print as they were written."""
    global _SPECS
    _SPECS = specs


def _spec(kind: str):
    return _SPECS.get(kind)


def duration_text(seconds: float) -> str:
    """90 -> 1m30s, 900 -> 15m, 0.25 -> 250ms, 86400 -> 1d."""
    if seconds < 1 and seconds > 0:
        return f"{seconds * 1000:g}ms"
    out, rest = [], int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    if rest or not out:
        out.append(f"{rest}s")
    return "".join(out)


def value_text(name: str, value: Any, kind_name: str = "") -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind_name == "a duration" and isinstance(value, (int, float)):
        return duration_text(float(value))
    if kind_name == "a percentage" and isinstance(value, (int, float)):
        return f"{value:g}%"
    if name in _HEX_FIELDS and isinstance(value, int):
        return f"0x{value:0{_HEX_FIELDS[name]}X}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(str(k), v)}" for k, v in value.items()) + "}"
    return str(value)


def args_text(kind: str, args: dict[str, Any] | None) -> str:
    spec = _spec(kind)
    parts = []
    for name, value in (args or {}).items():
        field = spec.fields.get(name) if spec is not None else None
        if value is None or (field is not None and not field.required and field.default is not None
                             and value == field.default):
            continue
        text = value_text(name, value, field.kind.describe if field is not None else "")
        parts.append(f"{name}={text}" if " " not in text or text.startswith("{") else f"{name}=[{text}]")
    return " ".join(parts)


def step_text(kind: str, args: dict[str, Any] | None) -> str:
    rest = args_text(kind, args)
    return f"{kind} {rest}" if rest else kind
