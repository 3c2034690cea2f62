"""Bench and hub configuration: `HubConfig.load(path)` reads a bench YAML (fixtures/benches/*.yaml).

Every error names file:line, the field, what was found and what was expected, so a bench file typo never
surfaces as a traceback.
"""

from __future__ import annotations

import dataclasses
import reprlib
from pathlib import Path
from typing import Any

import yaml

from rig.clock import DAY, MINUTE
from rig.hub.errors import ConfigError

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
        return _load_bench(Path(path))

    def with_hub_settings(self, hub: dict[str, Any], source: str = "settings") -> HubConfig:
        """Apply a `hub:` mapping (as in a bench file) on top of this config, with the same checks.

        `image_types` here adds to (or overrides entries of) the mapping already in force, so that a plan
        can map one more image type without repeating the bench's.
        """
        if not isinstance(hub, dict):
            raise ConfigError(f"{source}: field 'hub': found {hub!r}, expected a mapping of hub options")
        options = _hub_options(_Lines(Path(source), None), hub)
        if "image_types" in options:
            options["image_types"] = {**self.image_types, **options["image_types"]}
        return dataclasses.replace(self, **options)


# ------------------------------------------------------------------------------------------------
# loading


class _Lines:
    """Maps dotted keys to their line in the YAML file, for error messages."""

    def __init__(self, path: Path, root: yaml.Node | None) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        if root is not None:
            self._walk(root, "")

    def _walk(self, node: yaml.Node, prefix: str) -> None:
        self.lines[prefix] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
                self.lines[key] = key_node.start_mark.line + 1
                self._walk(value_node, key)
                self.lines[key] = key_node.start_mark.line + 1

    def error(self, key: str, found: Any, expected: str) -> ConfigError:
        probe = key
        while probe and probe not in self.lines:
            probe = probe.rpartition(".")[0]
        line = self.lines.get(probe, 1)
        # reprlib: a value built from nested aliases can be huge; the message shows its start only
        return ConfigError(f"{self.path}:{line}: field '{key}': found {reprlib.repr(found)}, expected {expected}")


_TOP_KEYS = {"radio", "baudrate", "flow_control", "channel", "pan_id", "extended_pan_id", "ezsp", "features",
             "hub", "description", "devices", "power", "reset"}
_HUB_KEYS = {"image_pages", "max_concurrent_downloads", "wait_for_data_delay_s", "download_idle_s",
             "min_block_period", "block_size_cap", "upgrade_time_mode", "version_check_delay_s",
             "version_check_retries", "version_check_retry_interval_s", "read_timeout_s", "retention_days",
             "ppmid_max_image_bytes", "allow_oversize_ppmid", "image_types", "db_path", "use_thread",
             "zigpy_database", "notify_within_slots", "fatal_image_warnings"}


def _load_bench(path: Path) -> HubConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read bench file: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines = _Lines(path, root)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise lines.error("", type(data).__name__, "a mapping of bench settings")
    for key in data:
        if key not in _TOP_KEYS:
            raise lines.error(str(key), key, f"one of {sorted(_TOP_KEYS)}")

    kw: dict[str, Any] = {}
    if "radio" not in data:
        raise lines.error("radio", None, "'emulated' or a serial port path such as /dev/ttyUSB0")
    kw["radio"] = _typed(lines, "radio", data["radio"], str, "'emulated' or a serial port path")
    for key in ("baudrate", "channel"):
        if key in data:
            kw[key] = _typed(lines, key, data[key], int, "an integer")
    if "channel" in kw and not 11 <= kw["channel"] <= 26:
        raise lines.error("channel", kw["channel"], "an IEEE 802.15.4 channel 11..26")
    if "pan_id" in data:
        kw["pan_id"] = _typed(lines, "pan_id", data["pan_id"], int, "a 16-bit PAN id")
        if not 0 <= kw["pan_id"] <= 0xFFFE:
            raise lines.error("pan_id", data["pan_id"], "0x0000..0xFFFE")
    if "extended_pan_id" in data:
        epid = str(data["extended_pan_id"])
        parts = epid.split(":")
        if len(parts) != 8 or not all(len(p) == 2 and _is_hex(p) for p in parts):
            raise lines.error("extended_pan_id", epid, "8 hex bytes like 'dd:dd:dd:dd:dd:dd:dd:dd'")
        kw["extended_pan_id"] = epid.lower()
    if "flow_control" in data:
        fc = data["flow_control"]
        if fc not in (None, "hardware", "software"):
            raise lines.error("flow_control", fc, "hardware, software or null")
        kw["flow_control"] = fc
    if "ezsp" in data:
        ezsp = data["ezsp"]
        if not isinstance(ezsp, dict) or set(ezsp) - {"version"}:
            raise lines.error("ezsp", ezsp, "a mapping {version: <int>}")
        if "version" in ezsp:
            kw["ezsp_version"] = _typed(lines, "ezsp.version", ezsp["version"], int, "an EZSP protocol version")
    if "features" in data:
        feats = data["features"]
        if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
            raise lines.error("features", feats, "a list of feature names")
        kw["features"] = tuple(feats)
    hub = data.get("hub") or {}
    if not isinstance(hub, dict):
        raise lines.error("hub", hub, "a mapping of hub options")
    kw.update(_hub_options(lines, hub))
    return HubConfig(**kw)


def _hub_options(lines: _Lines, hub: dict) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    for key in hub:
        if key not in _HUB_KEYS:
            raise lines.error(f"hub.{key}", key, f"one of {sorted(_HUB_KEYS)}")
    for key in ("image_pages", "allow_oversize_ppmid", "use_thread", "notify_within_slots"):
        if key in hub:
            kw[key] = _typed(lines, f"hub.{key}", hub[key], bool, "true or false")
    for key in ("max_concurrent_downloads", "wait_for_data_delay_s", "block_size_cap", "version_check_retries",
                "ppmid_max_image_bytes"):
        if key in hub:
            value = _typed(lines, f"hub.{key}", hub[key], int, "a non-negative integer")
            if value < 0:
                raise lines.error(f"hub.{key}", value, "a non-negative integer")
            kw[key] = value
    if "block_size_cap" in kw and not 1 <= kw["block_size_cap"] <= 255:
        raise lines.error("hub.block_size_cap", kw["block_size_cap"], "1..255 bytes")
    for key in ("download_idle_s", "version_check_delay_s", "version_check_retry_interval_s", "read_timeout_s"):
        if key in hub:
            kw[key] = float(_typed(lines, f"hub.{key}", hub[key], (int, float), "a number of seconds"))
    if "retention_days" in hub:
        days = _typed(lines, "hub.retention_days", hub["retention_days"], (int, float), "a number of days >= 14")
        if days < 14:
            raise lines.error("hub.retention_days", days, "at least 14 days (R-STORE-03)")
        kw["retention_s"] = float(days) * DAY
    if "upgrade_time_mode" in hub:
        mode = hub["upgrade_time_mode"]
        if mode not in ("relative", "utc"):
            raise lines.error("hub.upgrade_time_mode", mode, "'relative' or 'utc'")
        kw["upgrade_time_mode"] = mode
    for key in ("db_path", "zigpy_database"):
        if key in hub:
            if hub[key] is not None and not isinstance(hub[key], str):
                raise lines.error(f"hub.{key}", hub[key], "a file path or null")
            kw[key] = hub[key]
    if "min_block_period" in hub:
        mbp = hub["min_block_period"]
        if not isinstance(mbp, dict):
            raise lines.error("hub.min_block_period", mbp, "a mapping device kind -> {value, units}")
        periods: dict[str, BlockPeriod] = {}
        for kind, spec in mbp.items():
            key = f"hub.min_block_period.{kind}"
            if kind not in DEVICE_KINDS:
                raise lines.error(key, kind, f"a device kind, one of {list(DEVICE_KINDS)}")
            if not isinstance(spec, dict) or set(spec) - {"value", "units"} or "value" not in spec:
                raise lines.error(key, spec, "{value: <int>, units: ms|s}")
            value = _typed(lines, f"{key}.value", spec["value"], int, "an integer 0..65535")
            if not 0 <= value <= 0xFFFF:
                raise lines.error(f"{key}.value", value, "an integer 0..65535")
            units = spec.get("units", "ms")
            if units not in ("ms", "s"):
                raise lines.error(f"{key}.units", units, "'ms' or 's'")
            periods[kind] = BlockPeriod(value, units)
        kw["min_block_period"] = periods
    if "image_types" in hub:
        kw["image_types"] = _image_types(lines, hub["image_types"])
    if "fatal_image_warnings" in hub:
        from rig.image import WARNING_KINDS

        kinds = hub["fatal_image_warnings"]
        if kinds == "all":
            kinds = list(WARNING_KINDS)
        if not isinstance(kinds, list) or not all(k in WARNING_KINDS for k in kinds):
            raise lines.error("hub.fatal_image_warnings", kinds, f"'all' or a list of {list(WARNING_KINDS)}")
        kw["fatal_image_warnings"] = tuple(kinds)
    return kw


def _image_types(lines: _Lines, types_: Any) -> dict[int, str]:
    """image type -> device kind. Keys are YAML ints (0x0101 is one) or strings of one ("0x0101", "257"):
    plan files are read by a loader that keeps keys as strings."""
    if not isinstance(types_, dict):
        raise lines.error("hub.image_types", types_, "a mapping image type -> device kind, e.g. {0x0101: ppmid}")
    mapping: dict[int, str] = {}
    for image_type, kind in types_.items():
        key = _spelled_key(lines, "hub.image_types", image_type)
        number = image_type
        if isinstance(image_type, str):
            try:
                number = int(image_type.strip(), 0)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 0xFFFF:
            raise lines.error(key, image_type, "a 16-bit image type such as 0x0101 (a number, or a string of one)")
        if kind not in DEVICE_KINDS:
            raise lines.error(key, kind, f"a device kind, one of {list(DEVICE_KINDS)}")
        mapping[number] = kind
    return mapping


def _spelled_key(lines: _Lines, parent: str, key: Any) -> str:
    """The dotted key as written in the file (YAML reads `0x0101:` as 257; the error shows 0x0101's line)."""
    plain = f"{parent}.{key}"
    if plain in lines.lines or not isinstance(key, int):
        return plain
    for written in lines.lines:
        head, _, tail = written.rpartition(".")
        if head == parent:
            try:
                if int(tail, 0) == key:
                    return written
            except ValueError:
                continue
    return plain


def _typed(lines: _Lines, key: str, value: Any, kind: type | tuple[type, ...], expected: str) -> Any:
    # bool is an int in Python; never accept it where a number is meant.
    if isinstance(value, bool) and kind is not bool:
        raise lines.error(key, value, expected)
    if not isinstance(value, kind):
        raise lines.error(key, value, expected)
    return value


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
