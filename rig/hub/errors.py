"""Errors the Communications Hub raises to its callers (never for malformed radio frames)."""

from __future__ import annotations

from rig.config import ConfigFileError


class HubError(Exception):
    """Base class for every error rig.hub raises on purpose."""


class ConfigError(HubError, ConfigFileError):
    """A bench/hub configuration problem: `pos` (file:line:col), the dotted `field`, and a message saying
    what was found and what was expected (a rig.config.ConfigFileError, as every config file's errors are)."""


class ImageRejected(HubError):
    """store_image refused an image: invalid, too large, or its memory block is held by a higher priority."""

    def __init__(self, reason: str, problems: list[str] | None = None) -> None:
        self.reason = reason
        self.problems = list(problems or [])
        detail = "; ".join(self.problems)
        super().__init__(f"{reason}: {detail}" if detail else reason)


class UnknownImage(HubError):
    """No stored (and not discarded) image has that id."""


class UnknownOffer(HubError):
    """No offer with that id exists for that device."""


class HubNotRunning(HubError):
    """The radio side of the hub is not started (call `await hub.start(port)`)."""
