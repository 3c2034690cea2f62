"""Plan schema v1: the field types and the step library's signatures.

Each step is declared once here (its keys, their types, which are required) and validated up front,
before anything touches a radio. Every error names file:line:column, the key, what was found and what
is allowed; a misspelt name suggests the nearest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any, Callable

from rig.config.source import Pos
from rig.report.steps import describe_steps_with

SCHEMA_VERSION = 1


class PlanError(Exception):
    """One problem in a plan file; str() is the whole human message."""

    def __init__(self, pos: Pos, key: str, found: Any, allowed: str, hint: str = "") -> None:
        found_txt = repr(found) if not isinstance(found, str) else f"'{found}'"
        message = f"{pos}: {key}: found {found_txt}; allowed: {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.pos, self.key, self.found, self.allowed, self.hint = pos, key, found, allowed, hint


class PlanErrors(Exception):
    """All the problems found in one load, reported together."""

    def __init__(self, errors: list[PlanError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else ""


# ---- durations ---------------------------------------------------------------------------------
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d|w)?\s*")


def parse_duration(value: Any) -> float | None:
    """'15m', '4d', '90s', '250ms', 3600 -> seconds; None if it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, str) and value.strip():
        total, pos = 0.0, 0
        while pos < len(value):  # '13d 23h' = 13 days plus 23 hours
            match = _DURATION_PART.match(value, pos)
            if not match or match.end() == pos:
                return None
            total += float(match.group(1)) * _UNITS[match.group(2) or "s"]
            pos = match.end()
        return total
    return None


# ---- field types -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Kind:
    """A field type: a converter returning the value or raising ValueError(allowed-text)."""

    describe: str
    convert: Callable[[Any], Any]


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("an integer (decimal or 0x hex)")
    try:
        return int(value, 0) if isinstance(value, str) else value
    except ValueError:
        raise ValueError("an integer (decimal or 0x hex)") from None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a number")
    return float(value)


def _str(value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError("a string")
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError("a duration such as 90s, 15m, 4d, 3d 12h, 250ms or a number of seconds")
    return seconds


def _percent(value: Any) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1]
        try:
            value = float(value)
        except ValueError:
            raise ValueError("a percentage such as 40%") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValueError("a percentage from 0% to 100%")
    return float(value)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a name or a list of names")
    return list(value)


def _mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("a mapping")
    return dict(value)


def choice(*options: str) -> Kind:
    def convert(value: Any) -> str:
        text = str(value).lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text not in options:
            raise ValueError(" | ".join(options))
        return text

    return Kind(" | ".join(options), convert)


INT = Kind("an integer", _int)
NUMBER = Kind("a number", _number)
STR = Kind("a string", _str)
BOOL = Kind("true or false", _bool)
DURATION = Kind("a duration", _duration)
PERCENT = Kind("a percentage", _percent)
NAMES = Kind("a name or list of names", _str_list)
MAPPING = Kind("a mapping", _mapping)
def _alert_code(value: Any) -> str:
    """0x8F8A (unquoted YAML hex arrives as an int), '0x8f8a', 'N63' -> canonical text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:04X}"
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"0[xX][0-9a-fA-F]{1,4}", text):
            return f"0x{int(text, 16):04X}"
        if re.fullmatch(r"[A-Za-z]\d{1,3}|[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9-]+", text):
            return text.upper()
    raise ValueError("an alert code such as 0x8F8A, 0x8F89, 0x8F8B, a DCC alert such as N63, or RIG-FWCHG")


ALERT_CODE = Kind("an alert code", _alert_code)


def _version(value: Any) -> int | str:
    """A firmware version: a number (0x00000002), or 'current' / 'current+N' / 'current-N': relative to the
    version the device ran when the plan started (a device kept across plans need not be a fresh v1)."""
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = re.fullmatch(r"current([+-]\d+)?", text)
        if match:
            return "current" + (f"{int(match.group(1)):+d}" if match.group(1) else "")
    try:
        return _int(value)
    except ValueError:
        raise ValueError("a version: a number (decimal or 0x hex), or current / current+N "
                         "(the version the device ran when the plan started, plus N)") from None


VERSION = Kind("a version (a number, or current+N)", _version)
DEVICE = Kind("a device name from `devices:`", _str)
IMAGE = Kind("an image name from `images:`", _str)


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
            "devices": F(NAMES, help="device names (11.4 / 11.1 / 11.3 / 11.2)"),
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
            "by": F(DURATION, required=True),
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
            "devices": F(NAMES, help="the order; default: the order the CH reported the outcomes"),
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


describe_steps_with(STEPS)  # the report writes each step for people, with durations as this schema says
