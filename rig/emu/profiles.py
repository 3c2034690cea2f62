"""Device profiles: what an emulated PPMID / HCALCS / GSME is and how its OTA client behaves.

A profile is a YAML file in <repo>/fixtures/devices/ (or $RIG_FIXTURES/devices/). A file may say
`extends: <name>` to start from another profile and override only some keys (variants such as
ppmid-sleepy.yaml). Files are read by rig.config (the rig's one positioned YAML loader) and checked by
the models below: every error names file:line:col (of the file the key came from), the key, what was
found and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from rig.config import ConfigFileError, FileModel, PosDict, validate
from rig.config.validate import read_mapping, recast
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


class ProfileError(ConfigFileError):
    """A device profile file is missing, unreadable or invalid: `pos` (file:line:col), the dotted `field`,
    found and expected."""


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
        raise ProfileError(self.source, "endpoints", f"profile {self.name!r} has no endpoint with OTA 0x0019 "
                                                    "in out_clusters")


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
# The file's models (rig.config: one positioned loader, pydantic checks placed on file:line:col)


def _one_of(choices: tuple) -> str:
    return "one of " + ", ".join(repr(c) for c in choices)


def _uint(bits: int, default: Any = ...) -> Any:
    hi = (1 << bits) - 1
    return Field(default, ge=0, le=hi, description=f"an integer 0..0x{hi:X}")


def _defect(name: str) -> str:
    if name not in DEFECTS:
        raise ValueError(f"expected a device defect, one of {', '.join(DEFECTS)}")
    return name


ClusterId = Annotated[int, Field(ge=0, le=0xFFFF)]
Number = Annotated[float, Field(ge=0)]
TRUE_OR_FALSE = "true or false"


class EndpointModel(FileModel):
    id: int = Field(ge=1, le=240, description="an endpoint id 1..240")
    profile_id: int = _uint(16, SE_PROFILE_ID)
    device_type: int = _uint(16)
    in_clusters: list[ClusterId] = Field([], description="a list of cluster ids 0..0xFFFF")
    out_clusters: list[ClusterId] = Field([], description="a list of cluster ids 0..0xFFFF")
    device_version: int = _uint(4, 0)

    def endpoint(self) -> EndpointProfile:
        return EndpointProfile(self.id, self.profile_id, self.device_type, tuple(self.in_clusters),
                               tuple(self.out_clusters), self.device_version)


class NodeModel(FileModel):
    logical_type: Literal[LOGICAL_TYPES] = Field("end_device", description=_one_of(LOGICAL_TYPES))  # type: ignore[valid-type]
    rx_on_when_idle: bool = Field(True, description=TRUE_OR_FALSE)
    mains_powered: bool = Field(True, description=TRUE_OR_FALSE)
    # Unset: 0 for a device whose receiver is on; a sleepy one polls every 5 s and short-polls (defaults)
    poll_interval_s: Number | None = Field(None, description="a number >= 0")
    short_poll_interval_s: Number | None = Field(None, description="seconds >= 0")
    short_poll_window_s: Number | None = Field(None, description="seconds >= 0")

    @field_validator("poll_interval_s")
    @classmethod
    def _sleepy_polls(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and value <= 0 and info.data.get("rx_on_when_idle") is False:
            raise ValueError("expected a positive poll interval for a sleepy device")
        return value

    def polls(self) -> tuple[float, float, float]:
        """(poll interval, short poll interval, short poll window) in seconds."""
        sleepy = not self.rx_on_when_idle
        poll = self.poll_interval_s if self.poll_interval_s is not None else (5.0 if sleepy else 0.0)
        short = self.short_poll_interval_s if self.short_poll_interval_s is not None \
            else (DEFAULT_SHORT_POLL_S if sleepy else 0.0)
        window = self.short_poll_window_s if self.short_poll_window_s is not None \
            else (DEFAULT_SHORT_POLL_WINDOW_S if sleepy else 0.0)
        return float(poll), float(short), float(window)


VERIFY_EXPECTED = f"a list drawn from {list(VERIFY_CHECKS)} or 'none'"


class OtaModel(FileModel):
    """The `ota:` mapping: how the device's OTA client behaves (defaults: OtaSettings)."""

    query_interval_s: float = Field(OtaSettings.query_interval_s, ge=1.0, description="a number >= 1")
    max_data_size: int = Field(OtaSettings.max_data_size, ge=1, le=255, description="an integer 1..255")
    use_page_requests: bool = Field(OtaSettings.use_page_requests, description=TRUE_OR_FALSE)
    page_size: int = Field(OtaSettings.page_size, ge=1, le=0xFFFF, description="an integer 1..65535")
    response_spacing_ms: int = _uint(16, OtaSettings.response_spacing_ms)
    min_block_period_units: Literal["ms", "s"] = Field(OtaSettings.min_block_period_units,
                                                       description=_one_of(("ms", "s")))
    block_request_delay_ms: int = Field(OtaSettings.block_request_delay_ms, ge=0, description="an integer >= 0")
    activation_policy: Literal[0, 1] = Field(OtaSettings.activation_policy, description=_one_of((0, 1)))
    timeout_policy: Literal[0, 1] = Field(OtaSettings.timeout_policy, description=_one_of((0, 1)))
    allow_downgrade: bool = Field(OtaSettings.allow_downgrade, description=TRUE_OR_FALSE)
    max_image_size: int = Field(OtaSettings.max_image_size, ge=1, description="an integer >= 1")
    upgrade_end_retries: int = Field(OtaSettings.upgrade_end_retries, ge=0, description="an integer >= 0")
    verify: Literal["none"] | list[Literal[VERIFY_CHECKS]] = Field(  # type: ignore[valid-type]
        list(OtaSettings.verify), description=VERIFY_EXPECTED)
    response_timeout_s: float = Field(OtaSettings.response_timeout_s, ge=0.01, description="a number >= 0.01")
    max_block_errors: int = Field(OtaSettings.max_block_errors, ge=1, description="an integer >= 1")
    discovery_retry_s: float = Field(OtaSettings.discovery_retry_s, ge=1.0, description="a number >= 1")
    wait_for_upgrade_reask_s: float = Field(OtaSettings.wait_for_upgrade_reask_s, ge=1.0, description="a number >= 1")
    max_single_wait_s: float = Field(OtaSettings.max_single_wait_s, ge=1.0, description="a number >= 1")
    supports_rate_limiting: bool = Field(OtaSettings.supports_rate_limiting, description=TRUE_OR_FALSE)

    def settings(self) -> OtaSettings:
        values = {k: getattr(self, k) for k in self.model_fields_set}
        if "verify" in values:
            values["verify"] = () if values["verify"] == "none" else tuple(values["verify"])
        return OtaSettings(**values)


class ProfileModel(FileModel):
    """A device profile file, after its `extends:` chain is merged."""

    name: str | None = Field(None, description="a profile name")
    kind: Literal[KINDS] = Field(description=_one_of(KINDS))  # type: ignore[valid-type]
    manufacturer_name: str = Field(description="a string")
    model: str = Field(description="a string")
    manufacturer_code: int = _uint(16)
    image_type: int = _uint(16)
    hardware_version: int = _uint(16)
    current_file_version: int = _uint(32)
    stack_version: int = _uint(16, 2)
    node: NodeModel = Field(NodeModel(), description="a mapping")
    endpoints: list[EndpointModel] = Field(min_length=1, description="a non-empty list of endpoint mappings")
    ota: OtaModel = Field(OtaModel(), description="a mapping")
    defects: list[Annotated[str, AfterValidator(_defect)]] = Field([], description="a list of device defect names")

    @field_validator("endpoints")
    @classmethod
    def _one_ota_client(cls, endpoints: list[EndpointModel]) -> list[EndpointModel]:
        ids = [e.id for e in endpoints]
        if len(set(ids)) != len(ids):
            raise ValueError(f"expected distinct endpoint ids (found {ids})")
        if not any(OTA_CLUSTER_ID in e.out_clusters for e in endpoints):
            raise ValueError("expected OTA 0x0019 in some endpoint's out_clusters")
        return endpoints

    def profile(self, path: Path) -> DeviceProfile:
        poll, short_poll, short_window = self.node.polls()
        return DeviceProfile(
            name=self.name if self.name is not None else path.stem, kind=self.kind,
            manufacturer_name=self.manufacturer_name, model=self.model, manufacturer_code=self.manufacturer_code,
            image_type=self.image_type, hardware_version=self.hardware_version,
            current_file_version=self.current_file_version, stack_version=self.stack_version,
            endpoints=tuple(e.endpoint() for e in self.endpoints), logical_type=self.node.logical_type,
            rx_on_when_idle=self.node.rx_on_when_idle, mains_powered=self.node.mains_powered,
            poll_interval_s=poll, short_poll_interval_s=short_poll, short_poll_window_s=short_window,
            ota=self.ota.settings(), source=str(path), defects=tuple(self.defects))


# --------------------------------------------------------------------------------------------
# Reading a file and its `extends:` chain


def _read_file(path: Path, seen: tuple[Path, ...] = ()) -> PosDict:
    if not path.exists():
        hint = ", ".join(available_profiles()) or "none"
        raise ProfileError(str(path), "", f"device profile not found (available profiles: {hint})")
    try:
        data = read_mapping(path, "profile keys")
    except ConfigFileError as exc:
        raise recast(ProfileError, exc) from None
    if "extends" not in data:
        return data
    parent, where = data["extends"], data.value_pos["extends"]
    if not isinstance(parent, str):
        raise ProfileError(where, "extends", f"found {parent!r}; expected a profile name")
    parent_path = profile_path(parent)
    if not parent_path.is_absolute() and not parent_path.exists():
        parent_path = path.parent / parent_path
    if not parent_path.exists():
        hint = ", ".join(available_profiles()) or "none"
        raise ProfileError(where, "extends", f"found {parent!r}; expected a profile name or file ({parent_path} "
                                             f"does not exist; available profiles: {hint})")
    if parent_path.resolve() in seen or parent_path.resolve() == path.resolve():
        raise ProfileError(where, "extends", f"found {parent!r}; expected no cycle of extends")
    merged = _merge(_read_file(parent_path, seen + (path.resolve(),)), data)
    del merged["extends"]
    return merged


def _merge(base: PosDict, over: PosDict) -> PosDict:
    """`over` on top of `base`, mapping by mapping; each key keeps the position (file too) it came from."""
    out = PosDict(base)
    out.pos, out.key_pos, out.value_pos = over.pos, dict(base.key_pos), dict(base.value_pos)
    out.pop("extends", None)
    for key, value in over.items():
        if isinstance(value, PosDict) and isinstance(base.get(key), PosDict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
        out.key_pos[key], out.value_pos[key] = over.key_pos[key], over.value_pos[key]
    return out


def load_profile(name_or_path: str) -> DeviceProfile:
    """Load a device profile by name ("ppmid" -> fixtures/devices/ppmid.yaml) or by .yaml path.

    "ppmid+ignores_wait_for_data+stale_version" is the ppmid profile built with those device defects
    (how bench/dut_defects.py turns a conformance plan's `dut` into a faulty device)."""
    base, *extra = name_or_path.split("+")
    if extra:
        profile = load_profile(base)
        return dataclasses.replace(profile, defects=profile.defects + _defect_names(extra, name_or_path))
    path = profile_path(name_or_path)
    try:
        return validate(ProfileModel, _read_file(path), origin=str(path)).profile(path)
    except ConfigFileError as exc:
        raise recast(ProfileError, exc) from None


def _defect_names(names: list[str], where: str) -> tuple[str, ...]:
    for name in names:
        if name not in DEFECTS:
            raise ProfileError(where, "", f"device defect {name!r} unknown; known: {', '.join(DEFECTS)}")
    return tuple(names)
