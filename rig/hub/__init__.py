"""The Communications Hub: an always-on GB OTA Upgrade server on zigpy + bellows (issue #4)."""

from __future__ import annotations

from rig.hub.config import BlockPeriod, HubConfig
from rig.hub.errors import ConfigError, HubError, ImageRejected, UnknownImage, UnknownOffer
from rig.hub.hub import Hub

__all__ = ["BlockPeriod", "ConfigError", "Hub", "HubConfig", "HubError", "ImageRejected", "UnknownImage",
           "UnknownOffer"]
