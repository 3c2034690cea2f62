"""Differences between the emulator's EZSP frame definitions and a host's, frame by frame.

A difference is keyed (host, frame, what) with the protocol versions where it shows; `what` is
`absent` (the host has no frame with this id), `name` (the host calls the id something else), or
`request` / `response` (the wire layouts differ; see tests.interop.wire_layout).
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

from rig.emu.ezsp import SUPPORTED_VERSIONS, frames_for
from tests.interop.herdsman_frames import HerdsmanFrames
from tests.interop.wire_layout import Layout, fields_layout, same

HERDSMAN_VERSIONS = tuple(v for v in SUPPORTED_VERSIONS if v >= 13)  # herdsman's ember adapter: 13..19


@dataclasses.dataclass
class Difference:
    host: str
    frame: str
    what: str
    versions: list[int] = dataclasses.field(default_factory=list)
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.host, self.frame, self.what


def _note(found: dict, host: str, frame: str, what: str, version: int, detail: str) -> None:
    diff = found.setdefault((host, frame, what), Difference(host, frame, what))
    diff.versions.append(version)
    diff.detail = detail  # the newest version's wording


def _fmt(layout: Layout) -> str:
    return " ".join(layout) or "(none)"


def bellows_commands(version: int) -> dict[int, tuple[str, object, object]]:
    """bellows' own protocol class for `version` (its public per-version module), by frame id."""
    module = importlib.import_module(f"bellows.ezsp.v{version}")
    protocol = getattr(module, f"EZSPv{version}")
    return {frame_id: (name, tx, rx) for name, (frame_id, tx, rx) in protocol.COMMANDS.items()}


def against_bellows() -> list[Difference]:
    found: dict = {}
    for version in SUPPORTED_VERSIONS:
        theirs = bellows_commands(version)
        for frame in frames_for(version).by_id.values():
            other = theirs.get(frame.frame_id)
            if other is None:
                _note(found, "bellows", frame.name, "absent", version, f"0x{frame.frame_id:04X}")
                continue
            name, tx, rx = other
            if name != frame.name:
                _note(found, "bellows", frame.name, "name", version, f"bellows: {name}")
            pairs = [("response", frame.response, rx)]
            if not frame.callback:
                pairs.insert(0, ("request", frame.request, tx))
            for what, mine, bellows in pairs:
                a, b = fields_layout(mine), fields_layout(bellows)
                if not same(a, b):
                    _note(found, "bellows", frame.name, what, version, f"emulator {_fmt(a)} | bellows {_fmt(b)}")
    return list(found.values())


def against_herdsman(package: Path) -> list[Difference]:
    herdsman = HerdsmanFrames(package)
    found: dict = {}
    for version in HERDSMAN_VERSIONS:
        commands, callbacks = herdsman.commands(version), herdsman.callbacks(version)
        for frame in frames_for(version).by_id.values():
            if frame.callback:
                other = callbacks.get(frame.frame_id)
                pairs = [("response", frame.response, other[1])] if other else []
            else:
                cmd = commands.get(frame.frame_id)
                other = cmd
                pairs = [("request", frame.request, cmd[1]), ("response", frame.response, cmd[2])] if cmd else []
            if other is None:
                _note(found, "herdsman", frame.name, "absent", version, f"0x{frame.frame_id:04X}")
                continue
            for what, mine, theirs in pairs:
                a = fields_layout(mine)
                if not same(a, theirs):
                    _note(found, "herdsman", frame.name, what, version, f"emulator {_fmt(a)} | herdsman {_fmt(theirs)}")
    return list(found.values())
