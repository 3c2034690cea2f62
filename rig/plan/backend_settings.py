"""A plan's `settings.backend:` mapping -> BackendConfig, checked like every other plan field (the plan's
model checks it at load time; the runner builds the config from it when the back end starts)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pydantic import Field

from rig.config.validate import ConfigFileError, FileModel, recast, validate_any
from rig.plan.kinds import DURATION

if TYPE_CHECKING:
    from rig.backend import BackendConfig

_DURATION = "a duration such as 4d"


class BackendSettings(FileModel):
    in_progress_timeout: DURATION.type = Field(None, description=_DURATION)
    guidance_gap: DURATION.type = Field(None, description=_DURATION)
    batch_period: DURATION.type = Field(None, description=_DURATION)
    long_retry_window: DURATION.type = Field(None, description=_DURATION)
    long_retry_interval: DURATION.type = Field(None, description=_DURATION)
    batch_size: int = Field(None, ge=1, description="an integer >= 1")
    legacy_retry: bool = Field(False, description="true or false: the legacy one-day long retry")


class SettingsError(ConfigFileError):
    pass


def backend_config(settings: dict[str, Any] | None, source: str) -> BackendConfig:
    from rig.backend import BackendConfig
    from rig.backend.controls import LongRetry

    if settings is not None and not isinstance(settings, dict):
        raise SettingsError(getattr(settings, "pos", source), "settings.backend",
                            f"found {settings!r}; expected a mapping")
    try:  # a mapping from the plan's loader carries its own positions; one built in code names `source`
        given = validate_any(BackendSettings, settings or {}, origin=source, prefix="settings.backend")
    except ConfigFileError as exc:
        raise recast(SettingsError, exc) from None
    changes: dict[str, Any] = {k: getattr(given, k) for k in ("in_progress_timeout", "guidance_gap", "batch_period",
                                                              "batch_size") if k in given.model_fields_set}
    retry = LongRetry.legacy() if given.legacy_retry else LongRetry()
    window = {"window": given.long_retry_window} if "long_retry_window" in given.model_fields_set else {}
    interval = {"interval": given.long_retry_interval} if "long_retry_interval" in given.model_fields_set else {}
    if given.legacy_retry or window or interval:
        changes["long_retry"] = dataclasses.replace(retry, **window, **interval)
    return dataclasses.replace(BackendConfig(), **changes)
