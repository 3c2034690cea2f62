"""Plan schema v1: the step library's signatures and the plan file's typed models.

Each step is declared once here (its keys, their kinds, which are required); `StepSpec.model` is the
pydantic model built from that declaration, and `PlanFile` is the model of the file around the steps.
They are checked up front, before anything touches a radio, through `rig.config.validate`: every error
names file:line:column, the key, what was found and what was expected; a misspelt name suggests the
nearest valid one.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, create_model, model_validator

from rig.config.source import Pos
from rig.config.validate import ConfigFileError, FileModel
from rig.plan.backend_settings import BackendSettings
from rig.plan.kinds import (
    ALERT_CODE, BOOL, DEVICE, DEVICES, DURATION, IMAGE, IMAGE_FILE, INSTALL_CODE, INT, MAPPING, NAMES, NUMBER,
    PERCENT, POSITIVE_DURATION, SIZE, STR, TITLE, VERSION, Kind, choice, choices, parse_duration, suggest,
)
from rig.report.steps import describe_steps_with

__all__ = ["SCHEMA_VERSION", "STEPS", "FieldSpec", "Kind", "PlanError", "PlanErrors", "PlanFile", "StepSpec",
           "parse_duration", "suggest"]

SCHEMA_VERSION = 1


class PlanError(ConfigFileError):
    """One problem in a plan file; str() is the whole human message (file:line:col: key: what is wrong)."""

    @classmethod
    def found(cls, pos: Pos, key: str, found: Any, expected: str, hint: str = "") -> PlanError:
        return cls(pos, key, f"found {found!r}; expected {expected}" + (f" ({hint})" if hint else ""))


class PlanErrors(Exception):
    """All the problems found in one load, reported together."""

    def __init__(self, errors: list[PlanError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    required: bool = False
    default: Any = None
    help: str = ""


@dataclasses.dataclass(frozen=True)
class StepSpec:
    name: str
    help: str
    fields: dict[str, FieldSpec]
    shorthand: str | None = None  # `- advance_clock: 15m` fills this field
    needs: tuple[str, ...] = ()  # bench features the step needs (e.g. emulated for fault injection)
    exactly_one_of: tuple[str, ...] = ()  # fields of which a step must give exactly one

    @functools.cached_property
    def model(self) -> type[FileModel]:
        """One list item of `steps:` of this kind: `{<name>: <arguments>, name: ..., timeout: ...}`."""
        return create_model(f"{self.name}_step", __base__=FileModel, **{
            self.name: (_arguments_model(self), Field(description=self._mapping_text())),
            "name": (STR.type, Field(None, description="a title for the report")),
            "timeout": (DURATION.type, Field(None, description="a duration such as 30s")),
        })

    def args(self, step: FileModel) -> dict[str, Any]:
        """The arguments as the step functions take them: those written, and the defaults there are."""
        given = getattr(step, self.name)
        return {name: getattr(given, name) for name, field in self.fields.items()
                if name in given.model_fields_set or field.default is not None}

    def _mapping_text(self) -> str:
        text = "a mapping of " + ", ".join(self.fields)
        return text + f", or one value for {self.shorthand}" if self.shorthand else text


def _arguments_model(spec: StepSpec) -> type[FileModel]:
    validators: dict[str, Any] = {}
    if spec.shorthand:
        def short_form(cls, data: Any, field: str = spec.shorthand) -> Any:  # noqa: ANN001
            return data if isinstance(data, dict) else {field: data}

        validators["short_form"] = model_validator(mode="before")(classmethod(short_form))
    if spec.exactly_one_of:
        def exactly_one(self, fields: tuple[str, ...] = spec.exactly_one_of) -> Any:  # noqa: ANN001
            if len([f for f in fields if f in self.model_fields_set]) != 1:
                raise ValueError("exactly one of " + " or ".join(fields))
            return self

        validators["exactly_one"] = model_validator(mode="after")(exactly_one)
    fields = {name: (f.kind.type, Field(... if f.required else f.default,
                                        description=f.kind.describe + (f" ({f.help})" if f.help else "")))
              for name, f in spec.fields.items()}
    return create_model(f"{spec.name}_arguments", __base__=FileModel, __validators__=validators, **fields)


def F(kind: Kind, required: bool = False, default: Any = None, help: str = "") -> FieldSpec:
    return FieldSpec(kind, required, default, help)


SR_KINDS = choice("11.4", "11.1", "11.3", "11.2", "cs06")
TRANSFER_RESULTS = choice("success", "image_discarded", "hardware_version_mismatch", "file_transfer_failure")
ACTIVATION_RESULTS = choice("success", "failure")
FAULTS = choice(
    "device_reboot",  # power cut at a point of the download (at: percent)
    "device_drop_blocks",  # lose the next N block responses
    "device_corrupt",  # corrupt a byte before verification
    "device_ignore_wait",  # ignore WAIT_FOR_DATA
    "device_no_upgrade_end",  # never send Upgrade End
    "device_upgrade_end_status",  # send Upgrade End with status (invalid_image | abort)
    "device_local_upgrade",  # version changes without OTA (version:)
    "device_malformed",  # send a malformed OTA frame (frame: qni | block)
    "device_wrong_ids",  # wrong manufacturer/image type in requests
    "device_hw_out_of_range",  # claims a hardware version outside the image's range
    "ch_restart",  # the hub process restarts on the same database
    "csp_too_busy",  # the CSP answers too busy (count: N, or always)
    "csp_not_available",
    "device_power_off",  # the device goes silent (power cut) until device_power_on
    "device_power_on",
    "ncp_reset",  # unsolicited stick reset
)
ATTRIBUTES = choice("current_file_version", "file_offset", "downloaded_file_version", "image_upgrade_status",
                    "minimum_block_period", "upgrade_activation_policy", "upgrade_timeout_policy")
FRAME_STATUSES = choice("success", "malformed_command", "unsup_cluster_command", "not_authorized", "abort",
                        "no_image_available", "wait_for_data", "invalid_image", "any")

STEPS: dict[str, StepSpec] = {
    s.name: s
    for s in [
        StepSpec("service_request", "send a service request to the DSP stub", {
            "sr": F(SR_KINDS, required=True),
            "image": F(IMAGE, help="for 11.4 / 11.1"),
            "devices": F(DEVICES, help="device names (11.4 / 11.1 / 11.3 / 11.2)"),
            "supplier": F(STR, default="import", help="import | gas | a supplier id"),
            "execute_in": F(DURATION, help="11.4/11.3: activation this long after the request"),
            "expect": F(choice("accepted", "rejected"), default="accepted"),
            "expect_warning": F(STR, help="a warning the response must carry"),
            "ch_version": F(INT, help="cs06: the CH's new firmware version in its response (omit: failure)"),
            "duplicate_response": F(BOOL, help="cs06: the CH's response arrives twice"),
            "save_as": F(STR, help="name this request for later steps"),
        }),
        StepSpec("await_alert", "wait (on the rig clock) for the next alert matching", {
            "code": F(ALERT_CODE, required=True, help="e.g. 0x8F8A, 0x8F89, 0x8F8B, N63"),
            "device": F(DEVICE),
            "response_code": F(INT),
            "request": F(STR, help="a save_as name: the alert must carry that request's id"),
            "within": F(DURATION, default=600.0),
        }),
        StepSpec("expect_no_alert", "no alert with this code (for this device) has been raised", {
            "code": F(ALERT_CODE, required=True),
            "device": F(DEVICE),
        }),
        StepSpec("expect_alert_count", "exactly N alerts with this code so far", {
            "code": F(ALERT_CODE, required=True),
            "count": F(INT, required=True),
            "device": F(DEVICE),
        }),
        StepSpec("expect_transfer", "the CH reports this transfer outcome for the device", {
            "device": F(DEVICE, required=True),
            "result": F(TRANSFER_RESULTS, default="success"),
            "within": F(DURATION, default=600.0),
        }),
        StepSpec("expect_activation", "the CH reports this activation outcome for the device", {
            "device": F(DEVICE, required=True),
            "result": F(ACTIVATION_RESULTS, default="success"),
            "within": F(DURATION, default=3600.0),
        }),
        StepSpec("wait_download", "wait until the device has downloaded this share of its image", {
            "device": F(DEVICE, required=True),
            "progress": F(PERCENT, required=True),
            "within": F(DURATION, default=600.0),
        }),
        StepSpec("advance_clock", "jump the rig clock forward (emulated benches)", {
            "by": F(POSITIVE_DURATION, required=True),
        }, shorthand="by"),
        StepSpec("inject_fault", "inject a fault into a device, the CSP, the CH or the stick", {
            "fault": F(FAULTS, required=True),
            "device": F(DEVICE),
            "at": F(PERCENT, help="device_reboot: download progress"),
            "count": F(STR, help="a number, or 'always'"),
            "status": F(choice("invalid_image", "abort")),
            "version": F(INT),
            "frame": F(choice("qni", "block", "upgrade_end")),
        }, needs=("emulated",)),
        StepSpec("power_cycle", "power-cycle a device and wait for evidence it restarted (Device_annce, "
                                "rejoin, or a fresh query after silence): the emulator, the bench's power: "
                                "commands, or the operator at the terminal", {
            "device": F(DEVICE, required=True),
            "within": F(DURATION, help="how long the device may take to show it came back (default: the "
                                       "bench's power.restart_within_s, 600 s)"),
            "silence": F(DURATION, default=3.0, help="a query counts as fresh after this long without a frame"),
            "save_as": F(STR, help="name this moment for expect_hub_frame after:"),
        }, shorthand="device"),
        StepSpec("pair", "permit joining and wait until the device has joined and been interviewed", {
            "device": F(DEVICE, required=True),
            "within": F(DURATION, default=120.0),
        }, shorthand="device"),
        StepSpec("assert_register", "the DSP version register holds this version for the device", {
            "device": F(DEVICE, required=True),
            "version": F(VERSION, required=True, help="a number, or current+N (N above the plan-start version)"),
        }),
        StepSpec("assert_device_version", "the device reports this CurrentFileVersion over the air", {
            "device": F(DEVICE, required=True),
            "version": F(VERSION, required=True, help="a number, or current+N (N above the plan-start version)"),
        }),
        StepSpec("expect_conformance", "the hub's record of how the device honoured rate limiting", {
            "device": F(DEVICE, required=True),
            "honoured_wait_for_data": F(BOOL),
            "honoured_min_block_period": F(BOOL),
        }),
        StepSpec("hub_busy", "the CH answers every block request with WAIT_FOR_DATA for a while", {
            "for": F(DURATION, required=True),
        }, shorthand="for"),
        StepSpec("wait", "let rig time pass (real time flows on every bench)", {
            "for": F(DURATION, required=True),
        }, shorthand="for"),
        StepSpec("assert_device_attribute", "read an OTA client attribute of the device over the air", {
            "device": F(DEVICE, required=True),
            "attribute": F(ATTRIBUTES, required=True),
            "value": F(VERSION, required=True, help="a number; for version attributes also current+N"),
        }),
        StepSpec("assert_device_image", "the image the device installed is byte-identical to this one", {
            "device": F(DEVICE, required=True),
            "image": F(IMAGE, required=True),
        }, needs=("emulated",)),
        StepSpec("expect_hub_frame", "the hub's OTA frame log holds this frame to/from the device", {
            "device": F(DEVICE, required=True),
            "command": F(STR, required=True, help="e.g. QUERY_NEXT_IMAGE_RSP, IMAGE_BLOCK_RSP, DEFAULT_RESPONSE"),
            "status": F(FRAME_STATUSES, default="any"),
            "direction": F(choice("tx", "rx"), default="tx"),
            "min_count": F(INT, default=1),
            "max_count": F(INT),
            "after": F(STR, help="a save_as name: count only frames logged since that step"),
            "within": F(DURATION, default=0.0, help="wait this long on the rig clock for min_count (with "
                                                     "max_count: watch the whole window)"),
        }),
        StepSpec("send_image_notify", "the CH sends an Image Notify, unicast to a device or broadcast", {
            "device": F(DEVICE, help="unicast to this device's OTA client"),
            "broadcast": F(choice("all", "rx_on", "routers"), help="0xFFFF | 0xFFFD | 0xFFFC instead"),
            "image": F(IMAGE, help="take manufacturer code, image type and file version from this image"),
            "payload_type": F(INT, default=3, help="0 jitter only, 1 +manufacturer, 2 +image type, 3 +version; "
                                                   "above 3: a malformed notify"),
            "jitter": F(INT, default=100, help="QueryJitter (a client queries if its 1-100 draw is within it)"),
            "manufacturer_code": F(INT, help="overrides the image's"),
            "image_type": F(INT, help="overrides the image's"),
            "file_version": F(INT, help="overrides the image's"),
            "save_as": F(STR, help="name this notify for expect_hub_frame after:"),
        }, exactly_one_of=("device", "broadcast")),
        StepSpec("measure", "record a measurement and check it against its limits", {
            "name": F(STR, required=True),
            "metric": F(choice("transfer_bytes_per_s", "transfer_seconds", "time_to_activate_s",
                               "wait_for_data_pauses", "blocks_served"), required=True),
            "device": F(DEVICE, required=True),
            "min": F(NUMBER),
            "max": F(NUMBER),
            "unit": F(STR, default=""),
        }),
    ]
}


# ---- verdict checks (rig.plan.steps_checks) ----------------------------------------------------
def _defect_names() -> tuple[str, ...]:
    from rig.emu.device_faults import DEFECTS  # the one list of device defects

    return tuple(DEFECTS)


_ALERT_MATCH = {
    "code": F(ALERT_CODE, required=True),
    "device": F(DEVICE),
    "response_code": F(INT),
    "request": F(STR, help="a save_as name: the alert must carry that request's id"),
}
STEPS.update({
    s.name: s
    for s in [
        StepSpec("mark", "name this point of the plan (frames, alerts and time are counted from it)", {
            "save_as": F(STR, required=True),
        }, shorthand="save_as"),
        StepSpec("expect_alert", "every alert matching carries these fields (and late flag)", {
            **_ALERT_MATCH,
            "fields": F(MAPPING, help="field -> value; $ch, $device, $request, $alert_time stand for ids/times"),
            "late": F(BOOL, help="flagged late: from an attempt no longer In Progress"),
            "count": F(INT, help="and exactly this many match"),
        }),
        StepSpec("expect_alert_order", "alerts with this code came in this device order", {
            "code": F(ALERT_CODE, required=True),
            "response_code": F(INT),
            "devices": F(DEVICES, help="the order; default: the order the CH reported the outcomes"),
        }),
        StepSpec("expect_alert_time", "the alert came between min and max after a reference point", {
            **_ALERT_MATCH,
            "since_mark": F(STR, help="a mark's save_as name"),
            "since_alert": F(ALERT_CODE, help="the first alert with this code for the same device"),
            "since_outcome": F(choice("transfer", "activation"), help="the CH's outcome for the same device"),
            "min": F(DURATION, default=0.0),
            "max": F(DURATION),
        }, exactly_one_of=("since_mark", "since_alert", "since_outcome")),
        StepSpec("expect_resumed", "the first block served after a mark starts at or beyond this share", {
            "device": F(DEVICE, required=True),
            "after": F(STR, required=True, help="a mark's save_as name"),
            "at_least": F(PERCENT, required=True),
        }),
        StepSpec("expect_clean_requests", "the CH refused none of the device's requests (malformed, past "
                                          "the end, an image not offered)", {
            "device": F(DEVICE, required=True),
            "after": F(STR, help="a mark's save_as name: only frames since"),
            "within": F(DURATION, default=0.0, help="watch this long (fails at the first refusal)"),
        }, shorthand="device"),
        StepSpec("expect_query_ids", "the device's Query Next Image carried the image's manufacturer and type", {
            "device": F(DEVICE, required=True),
            "image": F(IMAGE, required=True),
        }),
        StepSpec("expect_block_sizes", "no block served to the device was larger than this", {
            "device": F(DEVICE, required=True),
            "at_most": F(INT, required=True),
        }),
        StepSpec("inject_frame", "an emulated device sends one malformed or unknown OTA frame now", {
            "device": F(DEVICE, required=True),
            "frame": F(choice("qni_truncated", "ibr_truncated", "bad_payload", "unknown_command",
                              "upgrade_end_truncated"), required=True),
        }, needs=("emulated",)),
        StepSpec("pass_time", "let rig time pass (jumps on an emulated bench when quiet; real time on hardware)", {
            "for": F(DURATION, required=True),
        }, shorthand="for"),
        StepSpec("corrupt_served_image", "flip a byte of the CH's stored copy of an image (the rig serves a "
                                         "corrupted copy)", {
            "image": F(IMAGE, required=True),
            "at": F(PERCENT, default=50.0, help="where in the image"),
        }, shorthand="image"),
        StepSpec("expect_dsp_log", "the back end's log holds this many entries of one kind", {
            "event": F(STR, required=True, help="e.g. duplicate_hub_event, late_hub_event, request_rejected"),
            "min_count": F(INT, default=0),
            "max_count": F(INT, default=0),
        }, shorthand="event"),
        StepSpec("sign_image", "sign a GB bare image with the manufacturer's CPL-listed key or another key", {
            "image": F(IMAGE, required=True),
            "by": F(choice("manufacturer", "other"), default="manufacturer"),
        }),
        StepSpec("inject_defect", "make an emulated device misbehave as a faulty DUT would", {
            "device": F(DEVICE, required=True),
            "defect": F(choice(*_defect_names()), required=True),
        }, needs=("emulated",)),
    ]
})


# ---- the file around the steps -----------------------------------------------------------------
FEATURES = ("emulated", "hardware")


def _empty_if_null(empty: Any) -> BeforeValidator:
    return BeforeValidator(lambda value: empty if value is None else value)  # `devices:` with nothing under it


class Device(FileModel):
    profile: str = Field(min_length=1, description="a device profile name such as ppmid, hcalcs, gsme")
    in_device_log: bool = Field(True, description="true or false: false, the CH was never told of it")
    install_code: INSTALL_CODE.type = Field(None, description="an install code in hex with its CRC")


def _profile_short_form(value: Any) -> Any:
    return {"profile": value} if isinstance(value, str) else value  # `ppmid1: ppmid`


class Generate(FileModel):
    like: DEVICE.type = Field(description="the device name whose identity the image takes")
    version: VERSION.type = Field(None, description="a version: a number, or current+N")
    size: SIZE.type = Field(None, description="a size such as 750kB, 350000, 1MB")
    format: choice("zigbee", "gb-bare").type = Field(None, description="zigbee | gb-bare")
    # Where `like:` takes manufacturer code, image type and hardware version from: the device itself (its
    # Query Next Image; the default), the bench file's entry for it, or the emulated profile.
    identity: choice("device", "bench", "profile").type = Field(None, description="device | bench | profile")
    hw_min: INT.type = Field(None, description="an integer")
    hw_max: INT.type = Field(None, description="an integer")
    corrupt_integrity: bool = Field(False, description="true or false")
    off_cpl: bool = Field(False, description="true or false")


class Image(FileModel):
    file: IMAGE_FILE.type = Field(None, description="a path to an image, relative to the plan or the project root")
    generate: Generate = Field(None, description="a mapping: like (device name), version (a number or "
                                                 "current+N), size, format, identity")

    @model_validator(mode="after")
    def _one_source(self) -> Image:
        if len(self.model_fields_set & {"file", "generate"}) != 1:
            raise ValueError("a mapping with exactly one of file: or generate:")
        return self


def _hub_options(hub: dict) -> dict:
    """settings.hub gets the bench file's checks (rig.hub.config) at load time, not at bench start."""
    from rig.hub.config import HubConfig
    from rig.hub.errors import ConfigError

    try:
        HubConfig().with_hub_settings(hub, "settings")
    except (ConfigError, ValueError) as exc:
        raise ValueError(f"expected the bench file's hub options ({str(exc).split(': ', 1)[-1]})") from None
    return hub


class Settings(FileModel):
    hub: Annotated[dict[str, Any], AfterValidator(_hub_options)] | None = Field(
        None, description="a mapping of the bench file's hub options")
    backend: BackendSettings | None = Field(None, description="a mapping of back-end options")


class PlanFile(FileModel):
    """A plan file. `steps` are mappings here; each is checked by its own step's model (`StepSpec.model`),
    so an error inside a step speaks of that step's fields only."""

    plan: Literal[1] = Field(description=f"the schema version {SCHEMA_VERSION} "
                                         f"(write `plan: {SCHEMA_VERSION}` first)")
    name: TITLE.type = Field(description="a non-empty title")
    description: STR.type = Field("", description="a string")
    needs: Annotated[choices(*FEATURES).type, _empty_if_null([])] = Field(
        [], description="a list of: emulated, hardware")
    tags: NAMES.type = Field([], description="a name or a list of names")
    devices: Annotated[dict[str, Annotated[Device, BeforeValidator(_profile_short_form)]], _empty_if_null({})] = Field(
        {}, description="a mapping of device name -> profile, or -> {profile: ...}")
    images: Annotated[dict[str, Image], _empty_if_null({})] = Field(
        {}, description="a mapping of image name -> {file: ...} or {generate: ...}")
    settings: Annotated[Settings, _empty_if_null({})] = Field(Settings(), description="a mapping (hub:, backend:)")
    steps: list[dict[str, Any]] = Field(min_length=1, description="a non-empty list of steps, each a mapping "
                                                                  "such as `- advance_clock: 15m`")


describe_steps_with(STEPS)  # the report writes each step for people, with durations as this schema says
