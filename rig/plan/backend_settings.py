"""A plan's `settings.backend:` mapping -> BackendConfig, checked by a model like every other file part
(rig.config): an error names the plan's file:line:col, the field, what was found and what was expected."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from rig.backend import BackendConfig
from rig.backend.controls import LongRetry
from rig.config import ConfigFileError, FileModel
from rig.config.validate import recast, validate_any
from rig.plan.schema import parse_duration

A_DURATION = "a duration such as 4d"


class SettingsError(ConfigFileError):
    pass


def _seconds(value: Any) -> Any:
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError(f"expected {A_DURATION}")
    return seconds


Duration = Annotated[float, BeforeValidator(_seconds)]


class BackendSettings(FileModel):
    in_progress_timeout: Duration | None = Field(None, description=A_DURATION)
    guidance_gap: Duration | None = Field(None, description=A_DURATION)
    batch_period: Duration | None = Field(None, description=A_DURATION)
    long_retry_window: Duration | None = Field(None, description=A_DURATION)
    long_retry_interval: Duration | None = Field(None, description=A_DURATION)
    batch_size: int | None = Field(None, ge=1, description="an integer >= 1")
    legacy_retry: bool = Field(False, description="true or false (true: the legacy 1-day retry window)")

    def config(self) -> BackendConfig:
        changes: dict[str, Any] = {k: getattr(self, k) for k in ("in_progress_timeout", "guidance_gap",
                                                                 "batch_period", "batch_size")
                                   if getattr(self, k) is not None}
        retry = LongRetry.legacy() if self.legacy_retry else None
        if self.long_retry_window is not None or self.long_retry_interval is not None:
            retry = dataclasses.replace(retry or LongRetry(), **{k: v for k, v in (
                ("window", self.long_retry_window), ("interval", self.long_retry_interval)) if v is not None})
        if retry is not None:
            changes["long_retry"] = retry
        return dataclasses.replace(BackendConfig(), **changes)


def backend_config(settings: dict[str, Any] | None, source: str) -> BackendConfig:
    """`source` names the plan; a mapping from the plan's loader carries its own positions."""
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise SettingsError(getattr(settings, "pos", source), "settings.backend",
                            f"found {settings!r}; expected a mapping")
    try:
        return validate_any(BackendSettings, settings, origin=source, prefix="settings.backend").config()
    except ConfigFileError as exc:
        raise recast(SettingsError, exc) from None
