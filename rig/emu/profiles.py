"""Device profiles: what an emulated PPMID / HCALCS / GSME is and how its OTA client behaves.

A profile is a YAML file in <repo>/fixtures/devices/ (or $RIG_FIXTURES/devices/). A file may say
`extends: <name>` to start from another profile and override only some keys (variants such as
ppmid-sleepy.yaml). Every validation error names the file, the line, the key, what was found and
what was expected.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

from rig.emu.device_faults import DEFECTS

KINDS = ("ppmid", "hcalcs", "gsme")
LOGICAL_TYPES = ("coordinator", "router", "end_device")
VERIFY_CHECKS = ("header", "ids", "size", "hardware_version", "integrity", "require_integrity")
SE_PROFILE_ID = 0x0109
OTA_CLUSTER_ID = 0x0019
# Sleepy devices: after each transmission, poll every 0.25 s for 3 s (the end device awaits a response;
# EmberZNet's end-device support short-polls then). A profile may set both, or 0 to never short-poll.
DEFAULT_SHORT_POLL_S = 0.25
DEFAULT_SHORT_POLL_WINDOW_S = 3.0


class ProfileError(ValueError):
    """A device profile file is missing, unreadable or invalid."""


@dataclasses.dataclass(frozen=True)
class EndpointProfile:
    id: int
    profile_id: int
    device_type: int
    in_clusters: tuple[int, ...]
    out_clusters: tuple[int, ...]
    device_version: int = 0


@dataclasses.dataclass(frozen=True)
class OtaSettings:
    query_interval_s: float = 86400.0  # QNI on power-up, then this often (geo: at most daily)
    max_data_size: int = 40  # APS+NWK secured safe block size (Exegin)
    use_page_requests: bool = False
    page_size: int = 256
    response_spacing_ms: int = 20
    min_block_period_units: str = "ms"  # how this client reads MinimumBlockPeriod: "ms" | "s"
    block_request_delay_ms: int = 0  # the client's own gap between block requests
    activation_policy: int = 0  # 0 OTA server may activate, 1 out-of-band only
    timeout_policy: int = 0  # 0 apply after upgrade-end timeout, 1 do not apply
    allow_downgrade: bool = False
    max_image_size: int = 1024 * 1024
    upgrade_end_retries: int = 3
    verify: tuple[str, ...] = ("header", "ids", "size", "hardware_version", "integrity")
    response_timeout_s: float = 5.0  # how long one request waits for its answer
    max_block_errors: int = 10  # consecutive unanswered/bad block requests before aborting
    discovery_retry_s: float = 120.0  # Silabs retries OTA server discovery every 2 min
    wait_for_upgrade_reask_s: float = 3600.0  # 0xFFFFFFFF: re-send Upgrade End Request hourly
    max_single_wait_s: float = 3600.0  # cap one activation wait and re-ask (Silabs 60 min)
    supports_rate_limiting: bool = True  # sets field-control bit1 + MinimumBlockPeriod in IBRs


@dataclasses.dataclass(frozen=True)
class DeviceProfile:
    name: str
    kind: str
    manufacturer_name: str
    model: str
    manufacturer_code: int
    image_type: int
    hardware_version: int
    current_file_version: int
    stack_version: int
    endpoints: tuple[EndpointProfile, ...]
    logical_type: str = "end_device"
    rx_on_when_idle: bool = True
    mains_powered: bool = True
    poll_interval_s: float = 0.0  # sleepy end devices: how often they poll their parent
    short_poll_interval_s: float = 0.0  # ... and how often while awaiting an answer after a transmission
    short_poll_window_s: float = 0.0  # ... for how long after each transmission (0: never short-polls)
    ota: OtaSettings = dataclasses.field(default_factory=OtaSettings)
    source: str = ""  # the file it came from
    defects: tuple[str, ...] = ()  # device defects (rig.emu.device_faults.DEFECTS) it is built with

    @property
    def sleepy(self) -> bool:
        return not self.rx_on_when_idle

    @property
    def ota_endpoint(self) -> EndpointProfile:
        """The endpoint carrying the OTA client (0x0019 as an output cluster)."""
        for ep in self.endpoints:
            if OTA_CLUSTER_ID in ep.out_clusters:
                return ep
        raise ProfileError(f"{self.source}: profile {self.name!r} has no endpoint with OTA 0x0019 in out_clusters")


# --------------------------------------------------------------------------------------------
# Locating files


def fixtures_dir() -> Path:
    """<repo>/fixtures, or $RIG_FIXTURES when set."""
    env = os.environ.get("RIG_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "fixtures"


def profile_path(name_or_path: str) -> Path:
    if name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path or "/" in name_or_path:
        return Path(name_or_path)
    return fixtures_dir() / "devices" / f"{name_or_path}.yaml"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in (fixtures_dir() / "devices").glob("*.yaml"))


# --------------------------------------------------------------------------------------------
# YAML with line numbers


class _MarkedDict(dict):
    file: str = ""
    line: int = 0
    key_lines: dict[str, int]


class _MarkedList(list):
    file: str = ""
    line: int = 0
    item_lines: list[int]


def _load_marked(path: Path) -> _MarkedDict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = ", ".join(available_profiles()) or "none"
        raise ProfileError(f"{path}: device profile not found (available profiles: {hint})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read device profile: {exc}") from None
    if len(text) > _MAX_PROFILE_BYTES:
        raise ProfileError(f"{path}: larger than {_MAX_PROFILE_BYTES // 1024} KiB; a device profile is a few kB")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if node is None:
        raise ProfileError(f"{path}:1: empty file, expected a mapping of profile keys")
    constructor = yaml.SafeLoader("")  # only used for scalar construction (ints, bools, hex)
    try:
        value = _build(node, str(path), constructor, [_MAX_PROFILE_VALUES])
    except yaml.YAMLError as exc:  # e.g. a tag the safe loader will not construct (!!python/object)
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ProfileError(f"{path}{where}: {getattr(exc, 'problem', None) or exc}; expected plain YAML values") from None
    if not isinstance(value, _MarkedDict):
        raise ProfileError(f"{path}:{node.start_mark.line + 1}: found a {type(value).__name__}, expected a mapping")
    return value


# Aliases nested in aliases (a "billion laughs") would expand without end: a profile is a few kB.
_MAX_PROFILE_BYTES = 1 << 20
_MAX_PROFILE_VALUES = 50_000


def _build(node: yaml.Node, file: str, constructor: yaml.SafeLoader, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ProfileError(f"{file}:{node.start_mark.line + 1}: expands to more than {_MAX_PROFILE_VALUES} values "
                           "(aliases repeated inside aliases?)")
    if isinstance(node, yaml.MappingNode):
        out = _MarkedDict()
        out.file, out.line, out.key_lines = file, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node)
            out[str(key)] = _build(value_node, file, constructor, budget)
            out.key_lines[str(key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out_list = _MarkedList()
        out_list.file, out_list.line, out_list.item_lines = file, node.start_mark.line + 1, []
        for item in node.value:
            out_list.append(_build(item, file, constructor, budget))
            out_list.item_lines.append(item.start_mark.line + 1)
        return out_list
    return constructor.construct_object(node)


def _merge(base: _MarkedDict, over: _MarkedDict) -> _MarkedDict:
    out = _MarkedDict(base)
    out.file, out.line, out.key_lines = over.file, over.line, dict(base.key_lines)
    out.key_files = {k: getattr(base, "key_files", {}).get(k, base.file) for k in base}  # type: ignore[attr-defined]
    for key, value in over.items():
        if isinstance(value, _MarkedDict) and isinstance(base.get(key), _MarkedDict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
        out.key_lines[key] = over.key_lines[key]
        out.key_files[key] = over.file  # type: ignore[attr-defined]
    return out


# --------------------------------------------------------------------------------------------
# Validation


class _Reader:
    """Pulls typed values out of one mapping, reporting file:line, key, found and expected."""

    def __init__(self, data: _MarkedDict, prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set()

    def where(self, key: str | None = None) -> str:
        files = getattr(self.data, "key_files", {})
        file = files.get(key, self.data.file) if key else self.data.file
        line = self.data.key_lines.get(key, self.data.line) if key else self.data.line
        return f"{file}:{line}"

    def fail(self, key: str, found: Any, expected: str) -> ProfileError:
        return ProfileError(f"{self.where(key)}: key '{self.prefix}{key}': found {found!r}, expected {expected}")

    def get(self, key: str, kind: type | tuple, expected: str, default: Any = ..., check=None) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise ProfileError(f"{self.where()}: key '{self.prefix}{key}' is missing, expected {expected}")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, value, expected)
        if not isinstance(value, kinds):
            raise self.fail(key, value, expected)
        if check is not None and not check(value):
            raise self.fail(key, value, expected)
        return value

    def uint(self, key: str, bits: int, default: Any = ...) -> int:
        hi = (1 << bits) - 1
        return self.get(key, int, f"an integer 0..0x{hi:X}", default, lambda v: 0 <= v <= hi)

    def number(self, key: str, default: Any = ..., minimum: float = 0.0) -> float:
        value = self.get(key, (int, float), f"a number >= {minimum:g}", default, lambda v: v >= minimum)
        return float(value)

    def choice(self, key: str, choices: tuple, default: Any = ...) -> Any:
        expected = "one of " + ", ".join(repr(c) for c in choices)
        return self.get(key, (str, int), expected, default, lambda v: v in choices)

    def sub(self, key: str) -> _Reader | None:
        self.used.add(key)
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, _MarkedDict):
            raise self.fail(key, value, "a mapping")
        return _Reader(value, f"{self.prefix}{key}.")

    def finish(self) -> None:
        unknown = [k for k in self.data if k not in self.used]
        if unknown:
            k = unknown[0]
            known = ", ".join(sorted(self.used))
            raise ProfileError(f"{self.where(k)}: key '{self.prefix}{k}': found unknown key, expected one of {known}")


def _clusters(reader: _Reader, key: str) -> tuple[int, ...]:
    value = reader.get(key, list, "a list of cluster ids 0..0xFFFF", ())
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 0xFFFF:
            raise reader.fail(key, item, "cluster ids 0..0xFFFF")
    return tuple(value)


def _endpoints(reader: _Reader) -> tuple[EndpointProfile, ...]:
    raw = reader.get("endpoints", list, "a non-empty list of endpoint mappings", check=lambda v: len(v) > 0)
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, _MarkedDict):
            raise reader.fail("endpoints", item, "a mapping per endpoint")
        ep = _Reader(item, f"endpoints[{index}].")
        out.append(
            EndpointProfile(
                id=ep.get("id", int, "an endpoint id 1..240", check=lambda v: 1 <= v <= 240),
                profile_id=ep.uint("profile_id", 16, SE_PROFILE_ID),
                device_type=ep.uint("device_type", 16),
                in_clusters=_clusters(ep, "in_clusters"),
                out_clusters=_clusters(ep, "out_clusters"),
                device_version=ep.uint("device_version", 4, 0),
            )
        )
        ep.finish()
    ids = [e.id for e in out]
    if len(set(ids)) != len(ids):
        raise reader.fail("endpoints", ids, "distinct endpoint ids")
    if not any(OTA_CLUSTER_ID in e.out_clusters for e in out):
        raise reader.fail("endpoints", [hex(c) for e in out for c in e.out_clusters], "OTA 0x0019 in some endpoint's out_clusters")
    return tuple(out)


def _ota(reader: _Reader | None) -> OtaSettings:
    d = OtaSettings()
    if reader is None:
        return d
    verify_raw = reader.get("verify", (list, str), f"a list drawn from {list(VERIFY_CHECKS)} or 'none'", None)
    if verify_raw is None:
        verify = d.verify
    elif verify_raw == "none":
        verify = ()
    elif isinstance(verify_raw, str):
        raise reader.fail("verify", verify_raw, f"a list drawn from {list(VERIFY_CHECKS)} or 'none'")
    else:
        for item in verify_raw:
            if item not in VERIFY_CHECKS:
                raise reader.fail("verify", item, f"one of {list(VERIFY_CHECKS)}")
        verify = tuple(verify_raw)
    settings = OtaSettings(
        query_interval_s=reader.number("query_interval_s", d.query_interval_s, 1.0),
        max_data_size=reader.get("max_data_size", int, "an integer 1..255", d.max_data_size, lambda v: 1 <= v <= 255),
        use_page_requests=reader.get("use_page_requests", bool, "true or false", d.use_page_requests),
        page_size=reader.get("page_size", int, "an integer 1..65535", d.page_size, lambda v: 1 <= v <= 0xFFFF),
        response_spacing_ms=reader.uint("response_spacing_ms", 16, d.response_spacing_ms),
        min_block_period_units=reader.choice("min_block_period_units", ("ms", "s"), d.min_block_period_units),
        block_request_delay_ms=reader.get("block_request_delay_ms", int, "an integer >= 0", d.block_request_delay_ms, lambda v: v >= 0),
        activation_policy=reader.choice("activation_policy", (0, 1), d.activation_policy),
        timeout_policy=reader.choice("timeout_policy", (0, 1), d.timeout_policy),
        allow_downgrade=reader.get("allow_downgrade", bool, "true or false", d.allow_downgrade),
        max_image_size=reader.get("max_image_size", int, "an integer >= 1", d.max_image_size, lambda v: v >= 1),
        upgrade_end_retries=reader.get("upgrade_end_retries", int, "an integer >= 0", d.upgrade_end_retries, lambda v: v >= 0),
        verify=verify,
        response_timeout_s=reader.number("response_timeout_s", d.response_timeout_s, 0.01),
        max_block_errors=reader.get("max_block_errors", int, "an integer >= 1", d.max_block_errors, lambda v: v >= 1),
        discovery_retry_s=reader.number("discovery_retry_s", d.discovery_retry_s, 1.0),
        wait_for_upgrade_reask_s=reader.number("wait_for_upgrade_reask_s", d.wait_for_upgrade_reask_s, 1.0),
        max_single_wait_s=reader.number("max_single_wait_s", d.max_single_wait_s, 1.0),
        supports_rate_limiting=reader.get("supports_rate_limiting", bool, "true or false", d.supports_rate_limiting),
    )
    reader.finish()
    return settings


def _read_file(path: Path, seen: tuple[Path, ...] = ()) -> _MarkedDict:
    data = _load_marked(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(f"{path}:{data.key_lines['extends']}: key 'extends': found {parent!r}, expected a profile name")
    parent_path = profile_path(parent)
    if not parent_path.is_absolute() and not parent_path.exists():
        parent_path = path.parent / parent_path
    if parent_path.resolve() in seen:
        raise ProfileError(f"{path}:{data.key_lines['extends']}: key 'extends': found {parent!r}, expected no cycle of extends")
    base = _read_file(parent_path, seen + (path.resolve(),))
    merged = _merge(base, data)
    merged.pop("extends", None)
    return merged


def load_profile(name_or_path: str) -> DeviceProfile:
    """Load a device profile by name ("ppmid" -> fixtures/devices/ppmid.yaml) or by .yaml path.

    "ppmid+ignores_wait_for_data+stale_version" is the ppmid profile built with those device defects
    (how bench/dut_defects.py turns a conformance plan's `dut` into a faulty device)."""
    base, *extra = name_or_path.split("+")
    if extra:
        profile = load_profile(base)
        return dataclasses.replace(profile, defects=profile.defects + _defect_names(extra, name_or_path))
    path = profile_path(name_or_path)
    data = _read_file(path)
    data.pop("extends", None)
    r = _Reader(data)
    name = r.get("name", str, "a profile name", path.stem)
    kind = r.choice("kind", KINDS)
    node = r.sub("node")
    logical_type, rx_on, mains, poll = "end_device", True, True, 0.0
    short_poll, short_window = 0.0, 0.0
    if node is not None:
        logical_type = node.choice("logical_type", LOGICAL_TYPES, logical_type)
        rx_on = node.get("rx_on_when_idle", bool, "true or false", rx_on)
        mains = node.get("mains_powered", bool, "true or false", mains)
        poll = node.number("poll_interval_s", 0.0 if rx_on else 5.0)
        if not rx_on and poll <= 0:
            raise node.fail("poll_interval_s", poll, "a positive poll interval for a sleepy device")
        short_poll = node.number("short_poll_interval_s", 0.0 if rx_on else DEFAULT_SHORT_POLL_S)
        short_window = node.number("short_poll_window_s", 0.0 if rx_on else DEFAULT_SHORT_POLL_WINDOW_S)
        if short_poll < 0 or short_window < 0:
            raise node.fail("short_poll_interval_s" if short_poll < 0 else "short_poll_window_s",
                            min(short_poll, short_window), "seconds >= 0")
        node.finish()
    profile = DeviceProfile(
        name=name,
        kind=kind,
        manufacturer_name=r.get("manufacturer_name", str, "a string"),
        model=r.get("model", str, "a string"),
        manufacturer_code=r.uint("manufacturer_code", 16),
        image_type=r.uint("image_type", 16),
        hardware_version=r.uint("hardware_version", 16),
        current_file_version=r.uint("current_file_version", 32),
        stack_version=r.uint("stack_version", 16, 2),
        endpoints=_endpoints(r),
        logical_type=logical_type,
        rx_on_when_idle=rx_on,
        mains_powered=mains,
        poll_interval_s=poll,
        short_poll_interval_s=short_poll,
        short_poll_window_s=short_window,
        ota=_ota(r.sub("ota")),
        source=str(path),
        defects=_defect_list(r),
    )
    r.finish()
    return profile


def _defect_names(names: list[str], where: str) -> tuple[str, ...]:
    for name in names:
        if name not in DEFECTS:
            raise ProfileError(f"{where}: device defect {name!r} unknown; known: {', '.join(DEFECTS)}")
    return tuple(names)


def _defect_list(r: _Reader) -> tuple[str, ...]:
    names = r.get("defects", list, "a list of device defect names", [])
    if not all(isinstance(n, str) for n in names):
        raise r.fail("defects", names, "a list of device defect names")
    return _defect_names(list(names), r.where("defects"))
