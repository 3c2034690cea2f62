"""A bench file (fixtures/benches/*.yaml): the hub's settings plus what the plan layer needs — the
bench's features and, on hardware, which real device stands for each plan device, its power and reset
commands. Read once, into one typed model (`BenchFile`, extending the hub's `HubFile`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

from rig.backend.fixtures import normalise_eui
from rig.bench.power import PowerSection, PowerSettings, ResetSection, ResetSettings
from rig.config import ConfigFileError, FileModel, PosDict
from rig.config.validate import close_key, renamed_keys
from rig.hub.config import DeviceKind, HubConfig, HubFile, read_bench_file
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


def _eui64(text: str) -> str:
    ieee = normalise_eui(text)  # the back end's reading of an EUI-64: one notation rule in the rig
    if ieee is None:
        raise ValueError("expected an EUI-64 such as '00:0d:6f:00:0a:bc:de:f0' (quoted), 000D6F000ABCDEF0 "
                         "or 0x000d6f000abcdef0")
    return ieee


U16 = Annotated[int, Field(ge=0, le=0xFFFF)]
SIXTEEN_BITS = "a 16-bit number such as 0x1234"


class DeviceEntry(FileModel):
    """One real device under `devices:`. Keys beyond these are the device's own fields (`port: 2`), filled
    into the power and reset commands' placeholders."""

    model_config = ConfigDict(extra="allow")

    ieee: Annotated[str, AfterValidator(_eui64)] = Field(
        description="an EUI-64 such as '00:0d:6f:00:0a:bc:de:f0' (quoted)")
    kind: DeviceKind
    install_code: str | None = Field(None, description="the install code as hex text")
    stands_for: str | None = Field(None, description="the plan device name it plays")
    manufacturer_code: U16 | None = Field(None, description=SIXTEEN_BITS)
    image_type: U16 | None = Field(None, description=SIXTEEN_BITS)
    hardware_version: U16 | None = Field(None, description=SIXTEEN_BITS)

    def device(self, name: str) -> HardwareDevice:
        identity = {k: getattr(self, k) for k in IDENTITY_KEYS if getattr(self, k) is not None}
        fields = {k: str(v) for k, v in {**self.model_dump(exclude_none=True), **(self.model_extra or {})}.items()
                  if isinstance(v, (str, int)) and not isinstance(v, bool)}
        fields.update(device=name, ieee=self.ieee)
        return HardwareDevice(name, self.ieee, self.kind, self.install_code, self.stands_for, identity, fields)


class BenchFile(HubFile):
    """A whole bench file: the hub's keys (rig.hub.config.HubFile) and the bench's own sections."""

    devices: dict[str, DeviceEntry] | None = Field(
        None, description="a mapping of device names, each to {ieee: ..., kind: ...}")
    power: PowerSection | None = Field(None, description="a mapping with off:, on: (commands) and optionally "
                                                         "off_for_s, command_timeout_s, restart_within_s")
    reset: ResetSection | None = Field(None, description="a mapping with command: and optionally timeout_s")

    @classmethod
    def prepared(cls, data: PosDict) -> PosDict:
        data = super().prepared(data)
        if isinstance(data.get("power"), dict):
            data = renamed_keys(data, {})
            data["power"] = PowerSection.prepared(data["power"])
        if isinstance(data.get("devices"), dict):
            _refuse_near_misses(data["devices"])
        return data

    def bench(self, file: Path) -> Bench:
        devices = {name: entry.device(name) for name, entry in (self.devices or {}).items()}
        power = self.power.settings() if self.power else PowerSettings()
        reset = self.reset.settings() if self.reset else ResetSettings()
        return Bench(file.stem, file, self.hub_config(), devices, power, reset)


def _refuse_near_misses(devices: dict) -> None:
    """A device's keys beyond DeviceEntry's are its own fields for the commands; one a letter or two away
    from a known key (`stand_for:`) is a misspelling, said with its line."""
    known = list(DeviceEntry.model_fields)
    for name, entry in devices.items():
        for key in entry if isinstance(entry, PosDict) else ():
            close = None if key in known else close_key(key, known)
            if close:
                raise ConfigFileError(entry.key_pos[key], f"devices.{name}.{key}",
                                      f"unknown key '{key}' (did you mean '{close}'?); a device's other keys "
                                      "are its own fields for the power and reset commands")


def load_bench(path: str | Path, *, radio: str | None = None) -> Bench:
    """Load a bench (the file is read once); `radio` (from --rig-radio) replaces the bench's radio and its
    emulated/hardware feature. BenchError (a ConfigError) names file:line:col, the field, found and expected."""
    file = resolve(path)
    bench = read_bench_file(file, BenchFile, BenchError).bench(file)
    if radio:
        features = tuple(f for f in bench.hub.features if f not in ("emulated", "hardware"))
        features += ("emulated",) if radio == "emulated" else ("hardware",)
        bench = dataclasses.replace(bench, hub=bench.hub.with_options(radio=radio, features=features))
    return bench


class BenchUnreadable(Exception):
    """A bench file that cannot be used, in one line: the file, the field and what was expected."""


def read_bench(path: str | None, radio: str | None = None, *,
               default: str = "fixtures/benches/emulated.yaml") -> Bench:
    """load_bench for commands: every way a bench file can be wrong becomes one BenchUnreadable line."""
    try:
        return load_bench(path or default, radio=radio)
    except ConfigError as exc:  # BenchError too; an unreadable file is one, with its name
        raise BenchUnreadable(f"bench: {exc}") from None
