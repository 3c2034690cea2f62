"""A bench file (fixtures/benches/*.yaml): the hub's settings plus what the plan layer needs — the
bench's features and, on hardware, which real device stands for each plan device."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from rig.hub.config import HubConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


class BenchError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class HardwareDevice:
    """A real device on the bench: `devices: {ppmid1: {ieee: ..., kind: ppmid, install_code: ...}}`."""

    name: str
    ieee: str
    kind: str
    install_code: str | None = None


@dataclasses.dataclass(frozen=True)
class Bench:
    name: str
    path: Path
    hub: HubConfig
    devices: dict[str, HardwareDevice]

    @property
    def emulated(self) -> bool:
        return self.hub.radio == "emulated"

    @property
    def features(self) -> tuple[str, ...]:
        return self.hub.features or (("emulated",) if self.emulated else ("hardware",))

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.path), "radio": self.hub.radio,
                "ezsp_version": self.hub.ezsp_version, "features": list(self.features)}


def resolve(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file():
        return path
    candidate = REPO_ROOT / path
    return candidate if candidate.is_file() else path


def load_bench(path: str | Path, *, radio: str | None = None) -> Bench:
    """Load a bench; `radio` (from --rig-radio) replaces the bench's radio and its emulated/hardware feature."""
    file = resolve(path)
    hub = HubConfig.load(file)  # raises rig.hub.errors.ConfigError with file:line
    if radio:
        features = tuple(f for f in hub.features if f not in ("emulated", "hardware"))
        features += ("emulated",) if radio == "emulated" else ("hardware",)
        hub = hub.with_options(radio=radio, features=features)
    raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    devices = {}
    for name, spec in (raw.get("devices") or {}).items():
        if not isinstance(spec, dict) or "ieee" not in spec or "kind" not in spec:
            raise BenchError(f"{file}: devices.{name}: found {spec!r}; expected a mapping with ieee and kind "
                             "(and optionally install_code)")
        devices[str(name)] = HardwareDevice(str(name), str(spec["ieee"]).lower(), str(spec["kind"]),
                                            spec.get("install_code"))
    return Bench(file.stem, file, hub, devices)
