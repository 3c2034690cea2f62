"""The plan's field types: pydantic types that read what people write in a plan (`15m`, `40%`, `0x8F8A`,
`current+1`) and say, when they cannot, what they expected.

Each `Kind` pairs a short name (the step reference and the report print it: "a duration") with its
pydantic type, an `Annotated` whose BeforeValidator turns the YAML value into the rig's value or raises
ValueError with the full "expected" text, which `rig.config.validate` puts after "found X; expected".
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BeforeValidator, ValidationInfo


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


# ---- converters: YAML value -> the rig's value, or ValueError(what was expected) ------------------
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


def _title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty title")
    return value.strip()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError("a duration such as 90s, 15m, 4d, 3d 12h, 250ms or a number of seconds")
    return seconds


def _positive_duration(value: Any) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise ValueError("a duration greater than 0")
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


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a name or a list of names")
    return list(value)


def _mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("a mapping")
    return dict(value)


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


def _size(value: Any) -> int:
    """750kB, 1MiB, 350000 -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        for suffix, mult in (("kib", 1024), ("mib", 1 << 20), ("kb", 1000), ("mb", 1000_000), ("b", 1)):
            if text.endswith(suffix):
                try:
                    return int(float(text[: -len(suffix)]) * mult)
                except ValueError:
                    break
        else:
            if text.isdigit():
                return int(text)
    raise ValueError("a size such as 750kB, 350000, 1MB")


def _install_code(value: Any) -> str:
    text = _str(value)
    try:
        if len(bytes.fromhex(text)) in (8, 10, 14, 18):
            return text
    except ValueError:
        pass
    raise ValueError("an install code in hex with its CRC (8, 10, 14 or 18 bytes)")


# ---- names that must be declared elsewhere in the plan (the loader passes them as context) ---------
def _declared(section: str, what: str) -> Callable[[str, ValidationInfo], str]:
    def check(name: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(section)
        if known is not None and name not in known:
            hint = suggest(name, tuple(known))
            raise ValueError(f"{what} declared under {section}: ({', '.join(known) or 'none declared'})"
                             + (f" ({hint})" if hint else ""))
        return name

    return check


def _existing_file(file: str, info: ValidationInfo) -> Path:
    """An image file, relative to the plan, the working directory or the project root."""
    plan_path = Path((info.context or {}).get("plan_path", "."))
    for base in (plan_path.parent, Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = (base / file).resolve()
        if candidate.is_file():
            return candidate
    raise ValueError("a path to an existing image, relative to the plan or the project root")


# ---- the kinds ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Kind:
    """A field type: `describe` for people (the step reference, the report), `type` for pydantic."""

    describe: str
    type: Any


def kind(describe: str, base: Any, convert: Callable[[Any], Any], *after: Callable) -> Kind:
    return Kind(describe, Annotated[base, BeforeValidator(convert), *map(AfterValidator, after)])


def choice(*options: str) -> Kind:
    def convert(value: Any) -> str:
        text = str(value).lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text not in options:
            # a word may be misspelt; '11.5' is not a misspelt '11.4'
            hint = suggest(value, options) if isinstance(value, str) and re.search("[a-z]", value, re.I) else ""
            raise ValueError(" | ".join(options) + (f" ({hint})" if hint else ""))
        return text

    return kind(" | ".join(options), str, convert)


def choices(*options: str) -> Kind:
    """A name or a list of names, each one of `options`."""
    one = choice(*options).type

    return Kind("a list of: " + " | ".join(options), Annotated[list[one], BeforeValidator(_names)])


INT = kind("an integer", int, _int)
NUMBER = kind("a number", float, _number)
STR = kind("a string", str, _str)
TITLE = kind("a non-empty title", str, _title)
BOOL = kind("true or false", bool, _bool)
DURATION = kind("a duration", float, _duration)
POSITIVE_DURATION = kind("a duration", float, _positive_duration)
PERCENT = kind("a percentage", float, _percent)
NAMES = kind("a name or list of names", list[str], _names)
MAPPING = kind("a mapping", dict[str, Any], _mapping)
ALERT_CODE = kind("an alert code", str, _alert_code)
VERSION = kind("a version (a number, or current+N)", Any, _version)
DEVICE = kind("a device name from `devices:`", str, _str, _declared("devices", "a device"))
DEVICES = Kind(NAMES.describe, Annotated[list[DEVICE.type], BeforeValidator(_names)])  # each checked where it is
IMAGE = kind("an image name from `images:`", str, _str, _declared("images", "an image"))
SIZE = kind("a size", int, _size)
INSTALL_CODE = kind("an install code", str, _install_code)
IMAGE_FILE = kind("an image file", Any, _str, _existing_file)  # Any: the Path comes from the check
