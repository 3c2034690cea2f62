"""Bench and hub configuration: `HubConfig.load(path)` reads a bench YAML (fixtures/benches/*.yaml).

The file is read by rig.config (one positioned loader, pydantic models): every error names file:line:col,
the field, what was found and what was expected, so a bench file typo never surfaces as a traceback.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field

from rig.clock import DAY, MINUTE
from rig.config import ConfigFileError, FileModel, PosDict, validate
from rig.config.validate import read_mapping, recast, renamed_keys, validate_any
from rig.hub.errors import ConfigError
from rig.image import WARNING_KINDS

DEVICE_KINDS = ("ppmid", "hcalcs", "gsme", "esme", "ch")

# Which memory block an image of each device kind lives in (R-STORE-01).
SLOT_OF_KIND = {"ppmid": "gsme_block", "hcalcs": "gsme_block", "gsme": "gsme_block", "esme": "esme", "ch": "ch"}


@dataclasses.dataclass(frozen=True)
class BlockPeriod:
    """MinimumBlockPeriod pushed to one device model; the unit differs by spec generation (§1.3)."""

    value: int = 0
    units: str = "ms"  # "ms" | "s"

    @property
    def seconds(self) -> float:
        return self.value / 1000.0 if self.units == "ms" else float(self.value)


@dataclasses.dataclass(frozen=True)
class HubConfig:
    # radio
    radio: str = "emulated"  # "emulated" or a serial path / URL
    baudrate: int = 115200
    flow_control: str | None = None
    channel: int = 15
    pan_id: int = 0x1A62
    extended_pan_id: str = "dd:dd:dd:dd:dd:dd:dd:dd"
    ezsp_version: int = 13
    features: tuple[str, ...] = ()
    use_thread: bool = False
    zigpy_database: str | None = None  # zigpy's own device DB (None: in memory)
    # OTA server
    image_pages: bool = False  # R-CH-06
    max_concurrent_downloads: int = 4  # R-CH-05
    wait_for_data_delay_s: int = 1  # RequestTime (relative seconds) in WAIT_FOR_DATA
    download_idle_s: float = 60.0  # a download counts as concurrent until this long without a request
    notify_within_slots: bool = False  # hold Image Notify for offers beyond the free slots (notify_pacer)
    min_block_period: dict[str, BlockPeriod] = dataclasses.field(default_factory=dict)  # per device kind
    block_size_cap: int = 40  # R-PLAT-07
    upgrade_time_mode: str = "relative"  # "relative" (CurrentTime 0) | "utc"
    # version checks (R-CH-10)
    version_check_delay_s: float = 15 * MINUTE
    version_check_retries: int = 3
    version_check_retry_interval_s: float = 60.0
    read_timeout_s: float = 10.0  # real seconds: a protocol-level wait, not a rig timer
    # store
    retention_s: float = 14 * DAY  # R-STORE-03
    ppmid_max_image_bytes: int = 750_000  # R-STORE-05 (750 kB, SI)
    allow_oversize_ppmid: bool = False
    image_types: dict[int, str] = dataclasses.field(
        default_factory=lambda: {0x0101: "ppmid", 0x0102: "hcalcs", 0x0103: "gsme"}
    )
    # Image warnings (rig.image.WARNING_KINDS) that make the CH refuse an image; by default it stores and
    # serves what real devices take (an integrity code matching neither coverage, trailing bytes, ...).
    fatal_image_warnings: tuple[str, ...] = ()
    db_path: str | None = None  # hub SQLite store; None: in memory (lost on restart)
    # supervision: after a lost stick, reopen after each of these (real) delays, then give up
    radio_reconnect_delays_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)

    def block_period_for(self, kind: str | None) -> BlockPeriod:
        return self.min_block_period.get(kind or "", BlockPeriod())

    def kind_of_image_type(self, image_type: int) -> str | None:
        return self.image_types.get(image_type)

    def known_image_types(self) -> str:
        """'0x0101=ppmid, 0x0102=hcalcs, ...' for error messages."""
        return ", ".join(f"0x{t:04X}={k}" for t, k in sorted(self.image_types.items())) or "none"

    def with_options(self, **changes: Any) -> HubConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, path: str | Path) -> HubConfig:
        """The hub's settings from a bench file (rig.bench.config.load_bench reads the whole bench)."""
        return read_bench_file(path).hub_config()

    def with_hub_settings(self, hub: dict[str, Any], source: str = "settings") -> HubConfig:
        """Apply a `hub:` mapping (as in a bench file) on top of this config, with the same checks.

        `image_types` here adds to (or overrides entries of) the mapping already in force, so that a plan
        can map one more image type without repeating the bench's. `hub` from a positioned loader
        (rig.config.load_yaml) gets errors on its file's lines; a plain dict, errors naming `source`.
        """
        if not isinstance(hub, dict):
            raise ConfigError(getattr(hub, "pos", source), "hub", f"found {hub!r}; expected a mapping of hub options")
        try:
            options = validate_any(HubSection, hub_data(hub), origin=source, prefix="hub").options()
        except ConfigFileError as exc:
            raise recast(ConfigError, exc) from None
        if "image_types" in options:
            options["image_types"] = {**self.image_types, **options["image_types"]}
        return dataclasses.replace(self, **options)


# ------------------------------------------------------------------------------------------------
# The bench file's hub part, as typed models (rig.config): read by `read_bench_file`, every error placed
# on file:line:col with the field, what was found and what was expected.


def _device_kind(kind: str) -> str:
    if kind not in DEVICE_KINDS:
        raise ValueError(f"expected a device kind, one of {', '.join(DEVICE_KINDS)}")
    return kind


def _image_type_number(value: Any) -> int:
    """A 16-bit image type: a YAML int (0x0101 is one) or a string of one ("0x0101", "257")."""
    number = value
    if isinstance(value, str):
        try:
            number = int(value.strip(), 0)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 0xFFFF:
        raise ValueError("expected a 16-bit image type such as 0x0101 (a number, or a string of one)")
    return number


def _extended_pan_id(epid: str) -> str:
    parts = epid.split(":")
    if len(parts) != 8 or not all(len(p) == 2 and _is_hex(p) for p in parts):
        raise ValueError("expected 8 hex bytes like 'dd:dd:dd:dd:dd:dd:dd:dd' (quoted)")
    return epid.lower()


DeviceKind = Annotated[str, AfterValidator(_device_kind)]
ImageType = Annotated[int, BeforeValidator(_image_type_number)]
WarningKind = Literal[tuple(WARNING_KINDS)]  # type: ignore[valid-type]
Seconds = Annotated[float, Field(ge=0, description="a number of seconds >= 0")]
Count = Annotated[int, Field(ge=0, description="a non-negative integer")]
Flag = Annotated[bool, Field(description="true or false")]


class BlockPeriodSpec(FileModel):
    value: int = Field(ge=0, le=0xFFFF, description="an integer 0..65535")
    units: Literal["ms", "s"] = Field("ms", description="'ms' or 's'")


class HubSection(FileModel):
    """The `hub:` mapping of a bench file, or a plan's `settings.hub`. Only the keys a file sets are
    applied (`options`); the defaults shown are HubConfig's."""

    image_pages: Flag = HubConfig.image_pages
    allow_oversize_ppmid: Flag = HubConfig.allow_oversize_ppmid
    use_thread: Flag = HubConfig.use_thread
    notify_within_slots: Flag = HubConfig.notify_within_slots
    max_concurrent_downloads: Count = HubConfig.max_concurrent_downloads
    wait_for_data_delay_s: Count = HubConfig.wait_for_data_delay_s
    version_check_retries: Count = HubConfig.version_check_retries
    ppmid_max_image_bytes: Count = HubConfig.ppmid_max_image_bytes
    block_size_cap: int = Field(HubConfig.block_size_cap, ge=1, le=255, description="1..255 bytes")
    download_idle_s: Seconds = HubConfig.download_idle_s
    version_check_delay_s: Seconds = HubConfig.version_check_delay_s
    version_check_retry_interval_s: Seconds = HubConfig.version_check_retry_interval_s
    read_timeout_s: Seconds = HubConfig.read_timeout_s
    retention_days: float = Field(HubConfig.retention_s / DAY, ge=14, description="a number of days, at least 14 (R-STORE-03)")
    upgrade_time_mode: Literal["relative", "utc"] = Field(HubConfig.upgrade_time_mode, description="'relative' or 'utc'")
    db_path: str | None = Field(None, description="a file path or null")
    zigpy_database: str | None = Field(None, description="a file path or null")
    min_block_period: dict[DeviceKind, BlockPeriodSpec] = Field(
        {}, description="a mapping device kind -> {value: <int>, units: ms|s}")
    image_types: dict[ImageType, DeviceKind] = Field(
        {}, description="a mapping image type -> device kind, e.g. {0x0101: ppmid}")
    fatal_image_warnings: Literal["all"] | list[WarningKind] = Field(
        [], description=f"'all' or a list drawn from {', '.join(WARNING_KINDS)}")

    def options(self) -> dict[str, Any]:
        """HubConfig fields for the keys the file set (the others keep HubConfig's values)."""
        kw: dict[str, Any] = {}
        for key in self.model_fields_set:
            value = getattr(self, key)
            if key == "retention_days":
                kw["retention_s"] = float(value) * DAY
            elif key == "min_block_period":
                kw[key] = {kind: BlockPeriod(spec.value, spec.units) for kind, spec in value.items()}
            elif key == "fatal_image_warnings":
                kw[key] = tuple(WARNING_KINDS) if value == "all" else tuple(value)
            else:
                kw[key] = value
        return kw


class EzspSection(FileModel):
    version: int = Field(HubConfig.ezsp_version, ge=4, le=255, description="an EZSP protocol version such as 13")


class HubFile(FileModel):
    """The keys of a bench file the hub reads. The bench's own sections (devices, power, reset) are
    checked by rig.bench.config.BenchFile, which extends this model; here they are only allowed."""

    description: str | None = Field(None, description="a line of text")
    radio: str = Field(description="'emulated' or a serial port path such as /dev/ttyUSB0")
    baudrate: int = Field(HubConfig.baudrate, ge=1, description="an integer (bits per second)")
    flow_control: Literal["hardware", "software"] | None = Field(None, description="hardware, software or null")
    channel: int = Field(HubConfig.channel, ge=11, le=26, description="an IEEE 802.15.4 channel 11..26")
    pan_id: int = Field(HubConfig.pan_id, ge=0, le=0xFFFE, description="a 16-bit PAN id 0x0000..0xFFFE")
    extended_pan_id: Annotated[str, AfterValidator(_extended_pan_id)] = Field(
        HubConfig.extended_pan_id, description="8 hex bytes like 'dd:dd:dd:dd:dd:dd:dd:dd' (quoted)")
    ezsp: EzspSection = Field(EzspSection(), description="a mapping {version: <int>}")
    features: list[str] = Field([], description="a list of feature names")
    hub: HubSection | None = Field(None, description="a mapping of hub options")
    devices: Any = None
    power: Any = None
    reset: Any = None

    @classmethod
    def prepared(cls, data: PosDict) -> PosDict:
        """The file's data ready for this model (the hub's image types spelled as the file wrote them)."""
        if "hub" not in data:
            return data
        data = renamed_keys(data, {})
        data["hub"] = hub_data(data["hub"])
        return data

    def hub_config(self) -> HubConfig:
        kw: dict[str, Any] = {"radio": self.radio}
        for key in ("baudrate", "flow_control", "channel", "pan_id", "extended_pan_id"):
            if key in self.model_fields_set:
                kw[key] = getattr(self, key)
        if "ezsp" in self.model_fields_set:
            kw["ezsp_version"] = self.ezsp.version
        if "features" in self.model_fields_set:
            kw["features"] = tuple(self.features)
        if self.hub is not None:
            kw.update(self.hub.options())
        return HubConfig(**kw)


def hub_data(hub: Any) -> Any:
    """The `hub:` mapping ready for HubSection: image types written as numbers (`0x0999:`, read as the
    key '2457') are spelled back in hex, so an error names the key as the file wrote it."""
    if not isinstance(hub, dict) or not isinstance(hub.get("image_types"), dict):
        return hub
    types_ = hub["image_types"]
    spelled = {k: f"0x{int(k):04X}" for k in types_ if isinstance(k, str) and k.isdigit()}
    out = renamed_keys(hub, {})
    out["image_types"] = renamed_keys(types_, spelled)
    return out


F = TypeVar("F", bound=HubFile)


def read_bench_file(path: str | Path, model: type[F] = HubFile, error: type[ConfigError] = ConfigError) -> F:
    """A bench file read once and checked against `model` (HubFile, or rig.bench's BenchFile); `error`
    (a ConfigError class) names file:line:col, the field, what was found and what was expected."""
    try:
        return validate(model, model.prepared(read_mapping(path, "bench settings")), origin=str(path))
    except ConfigFileError as exc:
        raise recast(error, exc) from None


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
