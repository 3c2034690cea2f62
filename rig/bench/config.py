"""A bench file (fixtures/benches/*.yaml): the hub's settings plus what the plan layer needs — the
bench's features and, on hardware, which real device stands for each plan device."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from rig.bench.power import PowerSettings, ResetSettings, power_settings, reset_settings
from rig.hub.config import HubConfig
from rig.hub.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


class BenchError(ConfigError):
    """A bench file problem, named with the file and field (a ConfigError, so every caller reports it)."""


IDENTITY_KEYS = ("manufacturer_code", "image_type", "hardware_version")


@dataclasses.dataclass(frozen=True)
class HardwareDevice:
    """A real device on the bench: `devices: {ppmid1: {ieee: ..., kind: ppmid, install_code: ...}}`.

    `stands_for`: the plan device name it plays when that differs from its own (a bench with a PPMID and
    an HCALCS both playing `dut`: each plan takes the one of the kind it needs). `identity`: manufacturer
    code, image type, hardware version as the bench file states them (for `generate: {identity: bench}`).
    `fields`: every scalar of its entry, for the power commands' placeholders."""

    name: str
    ieee: str
    kind: str
    install_code: str | None = None
    stands_for: str | None = None
    identity: dict[str, int] = dataclasses.field(default_factory=dict)
    fields: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def plays(self) -> str:
        return self.stands_for or self.name


@dataclasses.dataclass(frozen=True)
class Bench:
    name: str
    path: Path
    hub: HubConfig
    devices: dict[str, HardwareDevice]
    power: PowerSettings = PowerSettings()
    reset: ResetSettings = ResetSettings()

    @property
    def emulated(self) -> bool:
        return self.hub.radio == "emulated"

    @property
    def features(self) -> tuple[str, ...]:
        return self.hub.features or (("emulated",) if self.emulated else ("hardware",))

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.path), "radio": self.hub.radio,
                "ezsp_version": self.hub.ezsp_version, "features": list(self.features),
                "power": "commands" if self.power.commands else ("emulator" if self.emulated else "operator")}

    def device_for(self, plan_name: str, kind: str) -> tuple[HardwareDevice | None, list[HardwareDevice]]:
        """The bench device playing `plan_name` with this kind, and every device playing that name."""
        playing = [d for d in self.devices.values() if d.plays == plan_name]
        match = [d for d in playing if d.kind == kind]
        return (match[0] if match else None), playing


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
                             "(and optionally install_code, stands_for, manufacturer_code, image_type, "
                             "hardware_version)")
        identity = {}
        for key in IDENTITY_KEYS:
            if key in spec:
                value = spec[key]
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                    raise BenchError(f"{file}: devices.{name}.{key}: found {value!r}; expected a 16-bit number "
                                     "such as 0x1234")
                identity[key] = value
        fields = {k: str(v) for k, v in spec.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
        fields.update(device=str(name), ieee=str(spec["ieee"]).lower())
        devices[str(name)] = HardwareDevice(str(name), str(spec["ieee"]).lower(), str(spec["kind"]),
                                            spec.get("install_code"), spec.get("stands_for"), identity, fields)
    try:
        power = power_settings(raw.get("power"), str(file))
        reset = reset_settings(raw.get("reset"), str(file))
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    return Bench(file.stem, file, hub, devices, power, reset)


class BenchUnreadable(Exception):
    """A bench file that cannot be used, in one line: the file, the field and what was expected."""


def read_bench(path: str | None, radio: str | None = None, *,
               default: str = "fixtures/benches/emulated.yaml") -> Bench:
    """load_bench for commands: every way a bench file can be wrong becomes one BenchUnreadable line."""
    from rig.hub.errors import ConfigError

    try:
        return load_bench(path or default, radio=radio)
    except (ConfigError, BenchError) as exc:
        raise BenchUnreadable(f"bench: {exc}") from None
    except OSError as exc:
        raise BenchUnreadable(f"bench: {path or default}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - the YAML library's own errors in the devices: block
        raise BenchUnreadable(f"bench: {path or default}: {type(exc).__name__}: {exc}") from None
