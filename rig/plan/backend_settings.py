"""A plan's `settings.backend:` mapping -> BackendConfig, checked like every other plan field."""

from __future__ import annotations

import dataclasses
from typing import Any

from rig.backend import BackendConfig
from rig.backend.controls import LongRetry
from rig.plan.schema import parse_duration

DURATIONS = ("in_progress_timeout", "guidance_gap", "batch_period", "long_retry_window", "long_retry_interval")
ALLOWED = DURATIONS + ("batch_size", "legacy_retry")


class SettingsError(ValueError):
    pass


def backend_config(settings: dict[str, Any] | None, source: str) -> BackendConfig:
    settings = settings or {}
    if not isinstance(settings, dict):
        raise SettingsError(f"{source}: settings.backend: found {settings!r}; allowed: a mapping")
    changes: dict[str, Any] = {}
    window = interval = None
    for key, value in settings.items():
        if key not in ALLOWED:
            raise SettingsError(f"{source}: settings.backend.{key}: found '{key}'; allowed: {', '.join(ALLOWED)}")
        if key in DURATIONS:
            seconds = parse_duration(value)
            if seconds is None:
                raise SettingsError(f"{source}: settings.backend.{key}: found {value!r}; allowed: a duration such as 4d")
            if key == "long_retry_window":
                window = seconds
            elif key == "long_retry_interval":
                interval = seconds
            else:
                changes[key] = seconds
        elif key == "batch_size":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SettingsError(f"{source}: settings.backend.batch_size: found {value!r}; allowed: an integer >= 1")
            changes[key] = value
        elif key == "legacy_retry":
            if value is True:
                changes["long_retry"] = LongRetry.legacy()
    if window is not None or interval is not None:
        base = changes.get("long_retry", LongRetry())
        changes["long_retry"] = dataclasses.replace(base, **{k: v for k, v in (("window", window),
                                                                             ("interval", interval)) if v is not None})
    return dataclasses.replace(BackendConfig(), **changes)
