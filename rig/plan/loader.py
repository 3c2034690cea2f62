"""Load and validate a test plan up front: every problem, with file:line:column, before any radio work."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rig.plan.schema import (
    DEVICE, DURATION, IMAGE, INT, SCHEMA_VERSION, STEPS, VERSION, PlanError, PlanErrors, StepSpec, choice,
    parse_duration, suggest,
)
from rig.config.source import Pos, PosDict, PosList, YamlError, load_yaml

TOP_KEYS = ("plan", "name", "description", "needs", "tags", "devices", "images", "settings", "steps")
STEP_COMMON_KEYS = ("name", "timeout")
FEATURES = ("emulated", "hardware")
IMAGE_FORMATS = choice("zigbee", "gb-bare")
# Where `generate: {like: dut}` takes manufacturer code, image type and hardware version from: the device
# itself (its Query Next Image; the default), the bench file's entry for it, or the emulated profile.
IDENTITY_SOURCES = choice("device", "bench", "profile")


@dataclasses.dataclass
class DeviceRef:
    name: str
    profile: str  # an emulated device profile (fixtures/devices/<profile>.yaml); on hardware, its kind
    pos: Pos
    in_device_log: bool = True  # False: the CH was never told of it (a stranger on the HAN)
    install_code: str | None = None  # pair with this install code's link key only (hex, with its CRC)


@dataclasses.dataclass
class ImageRef:
    name: str
    pos: Pos
    file: Path | None = None  # a file on disk
    generate: dict[str, Any] | None = None  # like/version/size/format: built at run time


@dataclasses.dataclass
class Step:
    index: int
    kind: str
    args: dict[str, Any]
    title: str
    timeout: float | None
    pos: Pos
    spec: StepSpec


@dataclasses.dataclass
class Plan:
    path: Path
    name: str
    description: str
    needs: list[str]
    tags: list[str]
    devices: dict[str, DeviceRef]
    images: dict[str, ImageRef]
    settings: dict[str, Any]
    steps: list[Step]

    @property
    def id(self) -> str:
        return self.path.stem


class _Collector:
    def __init__(self) -> None:
        self.errors: list[PlanError] = []

    def add(self, pos: Pos, key: str, found: Any, allowed: str, hint: str = "") -> None:
        self.errors.append(PlanError(pos, key, found, allowed, hint))


def _key_pos(mapping: PosDict, key: str) -> Pos:
    return mapping.key_pos.get(key, mapping.pos)


def _value_pos(mapping: PosDict, key: str) -> Pos:
    return mapping.value_pos.get(key, mapping.pos)


def _check_keys(c: _Collector, mapping: PosDict, allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            c.add(_key_pos(mapping, key), f"{where}{key}", key, "one of " + ", ".join(allowed),
                  suggest(key, allowed) or "unknown key")


def load_plan(path: str | Path, text: str | None = None) -> Plan:
    """Parse and validate a plan. Raises PlanErrors listing every problem found."""
    path = Path(path)
    try:
        doc = load_yaml(path, text)
    except YamlError as exc:
        raise PlanErrors([PlanError(exc.pos, "yaml", "invalid YAML", "a YAML mapping", exc.message)]) from None
    c = _Collector()
    if not isinstance(doc, PosDict):
        raise PlanErrors([PlanError(Pos(str(path), 1, 1), "plan", type(doc).__name__,
                                    "a mapping with keys plan, name, devices, images, steps")])
    _check_keys(c, doc, TOP_KEYS, "")

    version = doc.get("plan")
    if version != SCHEMA_VERSION:
        c.add(_value_pos(doc, "plan") if "plan" in doc else doc.pos, "plan", version,
              f"the schema version {SCHEMA_VERSION} (write `plan: {SCHEMA_VERSION}` first)")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        c.add(_value_pos(doc, "name"), "name", name, "a non-empty title")

    needs = _names(c, doc, "needs", FEATURES)
    tags = _names(c, doc, "tags", None)
    devices = _devices(c, doc)
    images = _images(c, doc, path)
    settings = doc.get("settings") or {}
    if not isinstance(settings, dict):
        c.add(_value_pos(doc, "settings"), "settings", settings, "a mapping (hub:, backend:)")
        settings = {}
    _check_hub_settings(c, settings)
    steps = _steps(c, doc, devices, images)

    if c.errors:
        raise PlanErrors(c.errors)
    return Plan(path, name.strip(), str(doc.get("description") or "").strip(), needs, tags, devices, images,
                dict(settings), steps)


def _check_hub_settings(c: _Collector, settings: dict) -> None:
    """settings.hub gets the bench file's checks (rig.hub.config) at load time, not at bench start."""
    if settings.get("hub") is None:
        return
    from rig.hub.config import HubConfig
    from rig.hub.errors import ConfigError

    try:
        HubConfig().with_hub_settings(settings["hub"], "settings")
    except ConfigError as exc:
        pos = _value_pos(settings, "hub") if isinstance(settings, PosDict) else Pos("", 1, 1)
        c.add(pos, "settings.hub", settings["hub"], "the bench file's hub options", str(exc).split(": ", 1)[-1])


def _names(c: _Collector, doc: PosDict, key: str, allowed: tuple[str, ...] | None) -> list[str]:
    value = doc.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        c.add(_value_pos(doc, key), key, value, "a list of names")
        return []
    for i, item in enumerate(value):
        if allowed is not None and item not in allowed:
            c.add(value.item_pos[i] if isinstance(value, PosList) else _value_pos(doc, key), key, item,
                  " | ".join(allowed), suggest(str(item), allowed))
    return [str(v) for v in value]


def _devices(c: _Collector, doc: PosDict) -> dict[str, DeviceRef]:
    block = doc.get("devices")
    if block is None:
        return {}
    if not isinstance(block, PosDict):
        c.add(_value_pos(doc, "devices"), "devices", block, "a mapping of device name -> {profile: ...}")
        return {}
    out = {}
    for name, spec in block.items():
        pos = _key_pos(block, name)
        if isinstance(spec, str):
            spec_profile = spec
        elif isinstance(spec, PosDict):
            _check_keys(c, spec, ("profile", "in_device_log", "install_code"), f"devices.{name}.")
            code = spec.get("install_code")
            if code is not None and not _is_install_code(str(code)):
                c.add(_value_pos(spec, "install_code"), f"devices.{name}.install_code", code,
                      "an install code in hex with its CRC (8, 10, 14 or 18 bytes)")
            spec_profile = spec.get("profile")
            if not isinstance(spec.get("in_device_log", True), bool):
                c.add(_value_pos(spec, "in_device_log"), f"devices.{name}.in_device_log", spec["in_device_log"],
                      "true or false")
        else:
            spec_profile = None
        if not isinstance(spec_profile, str) or not spec_profile:
            c.add(_value_pos(block, name), f"devices.{name}.profile", spec_profile,
                  "a device profile name such as ppmid, hcalcs, gsme")
            continue
        in_log = spec.get("in_device_log", True) if isinstance(spec, PosDict) else True
        code = spec.get("install_code") if isinstance(spec, PosDict) else None
        out[name] = DeviceRef(name, spec_profile, pos, bool(in_log), None if code is None else str(code))
    return out


def _is_install_code(text: str) -> bool:
    try:
        return len(bytes.fromhex(text)) in (8, 10, 14, 18)
    except ValueError:
        return False


def _images(c: _Collector, doc: PosDict, plan_path: Path) -> dict[str, ImageRef]:
    block = doc.get("images")
    if block is None:
        return {}
    if not isinstance(block, PosDict):
        c.add(_value_pos(doc, "images"), "images", block, "a mapping of image name -> {file: ...} or {generate: ...}")
        return {}
    out = {}
    for name, spec in block.items():
        pos = _key_pos(block, name)
        if not isinstance(spec, PosDict) or len([k for k in ("file", "generate") if k in spec]) != 1:
            c.add(_value_pos(block, name), f"images.{name}", spec, "a mapping with exactly one of file: or generate:")
            continue
        _check_keys(c, spec, ("file", "generate"), f"images.{name}.")
        if "file" in spec:
            file = _resolve(plan_path, str(spec["file"]))
            if file is None:
                c.add(_value_pos(spec, "file"), f"images.{name}.file", spec["file"],
                      "a path to an existing image, relative to the plan or the project root")
                continue
            out[name] = ImageRef(name, pos, file=file)
        else:
            gen = spec["generate"]
            if not isinstance(gen, PosDict):
                c.add(_value_pos(spec, "generate"), f"images.{name}.generate", gen,
                      "a mapping: like (device name), version (a number or current+N), size, format, identity")
                continue
            _check_keys(c, gen, ("like", "version", "size", "format", "hw_min", "hw_max", "corrupt_integrity", "off_cpl",
                                 "identity"), f"images.{name}.generate.")
            values: dict[str, Any] = {}
            if "version" in gen:
                try:
                    version = VERSION.convert(gen["version"])
                except ValueError as exc:
                    c.add(_value_pos(gen, "version"), f"images.{name}.generate.version", gen["version"], str(exc))
                else:
                    if isinstance(version, int):
                        values["version"] = version
                    else:  # relative to what the device runs when the plan starts
                        values["version_from_current"] = int(version[len("current"):] or 0)
            for key, kind in (("hw_min", INT), ("hw_max", INT), ("format", IMAGE_FORMATS),
                              ("identity", IDENTITY_SOURCES)):
                if key in gen:
                    try:
                        values[key] = kind.convert(gen[key])
                    except ValueError as exc:
                        c.add(_value_pos(gen, key), f"images.{name}.generate.{key}", gen[key], str(exc))
            if "size" in gen:
                size = _size(gen["size"])
                if size is None:
                    c.add(_value_pos(gen, "size"), f"images.{name}.generate.size", gen["size"],
                          "a size such as 750kB, 350000, 1MB")
                values["size"] = size
            if "like" not in gen:
                c.add(gen.pos, f"images.{name}.generate.like", None, "the device name whose identity the image takes")
            values["like"] = gen.get("like")
            values["corrupt_integrity"] = bool(gen.get("corrupt_integrity", False))
            values["off_cpl"] = bool(gen.get("off_cpl", False))
            out[name] = ImageRef(name, pos, generate=values)
    return out


def _size(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        for suffix, mult in (("kib", 1024), ("mib", 1 << 20), ("kb", 1000), ("mb", 1000_000), ("b", 1)):
            if text.endswith(suffix):
                try:
                    return int(float(text[: -len(suffix)]) * mult)
                except ValueError:
                    return None
        return int(text) if text.isdigit() else None
    return None


def _resolve(plan_path: Path, file: str) -> Path | None:
    for base in (plan_path.parent, Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = (base / file).resolve()
        if candidate.is_file():
            return candidate
    return None


def _steps(c: _Collector, doc: PosDict, devices: dict, images: dict) -> list[Step]:
    block = doc.get("steps")
    if not isinstance(block, PosList) or not block:
        c.add(_value_pos(doc, "steps") if "steps" in doc else doc.pos, "steps", block,
              "a non-empty list of steps")
        return []
    steps = []
    for index, raw in enumerate(block, start=1):
        where = f"steps[{index}]"
        if not isinstance(raw, PosDict):
            c.add(block.item_pos[index - 1], where, raw, "a mapping such as `- advance_clock: 15m`")
            continue
        kinds = [k for k in raw if k in STEPS]
        others = [k for k in raw if k not in STEPS and k not in STEP_COMMON_KEYS]
        for key in others:
            c.add(_key_pos(raw, key), f"{where}.{key}", key, "a step name (" + ", ".join(STEPS) + ") or name/timeout",
                  suggest(key, tuple(STEPS) + STEP_COMMON_KEYS) or "unknown step")
        if len(kinds) != 1:
            if not others:
                c.add(raw.pos, where, sorted(raw), "exactly one step name per step")
            continue
        kind = kinds[0]
        spec = STEPS[kind]
        args = _step_args(c, raw, kind, spec, f"{where}.{kind}", devices, images)
        timeout = None
        if "timeout" in raw:
            timeout = parse_duration(raw["timeout"])
            if timeout is None:
                c.add(_value_pos(raw, "timeout"), f"{where}.timeout", raw["timeout"], "a duration such as 30s")
        title = str(raw.get("name") or kind.replace("_", " "))
        steps.append(Step(index, kind, args, title, timeout, _key_pos(raw, kind), spec))
    return steps


def _step_args(c: _Collector, raw: PosDict, kind: str, spec: StepSpec, where: str, devices: dict,
               images: dict) -> dict[str, Any]:
    value = raw[kind]
    vpos = _value_pos(raw, kind)
    if not isinstance(value, PosDict):
        if spec.shorthand is None:
            c.add(vpos, where, value, "a mapping of " + ", ".join(spec.fields))
            return {}
        holder = PosDict({spec.shorthand: value})
        holder.pos, holder.key_pos, holder.value_pos = vpos, {spec.shorthand: vpos}, {spec.shorthand: vpos}
        value = holder
    _check_keys(c, value, tuple(spec.fields), f"{where}.")
    args: dict[str, Any] = {}
    for field, fspec in spec.fields.items():
        if field not in value:
            if fspec.required:
                c.add(value.pos, f"{where}.{field}", None, f"{fspec.kind.describe} (required)")
            elif fspec.default is not None:
                args[field] = fspec.default
            continue
        try:
            converted = fspec.kind.convert(value[field])
        except ValueError as exc:
            c.add(_value_pos(value, field), f"{where}.{field}", value[field], str(exc))
            continue
        refs = converted if isinstance(converted, list) else [converted]
        if fspec.kind is DEVICE or field == "devices":
            for ref in refs:
                if ref not in devices:
                    c.add(_value_pos(value, field), f"{where}.{field}", ref,
                          "a device declared under devices: (" + (", ".join(devices) or "none declared") + ")",
                          suggest(ref, tuple(devices)))
        if fspec.kind is IMAGE:
            if converted not in images:
                c.add(_value_pos(value, field), f"{where}.{field}", converted,
                      "an image declared under images: (" + (", ".join(images) or "none declared") + ")",
                      suggest(converted, tuple(images)))
        if fspec.kind is DURATION and field == "by" and converted <= 0:
            c.add(_value_pos(value, field), f"{where}.{field}", value[field], "a duration greater than 0")
        args[field] = converted
    if spec.exactly_one_of:
        given = [f for f in spec.exactly_one_of if f in value]
        if len(given) != 1:
            c.add(value.pos, where, sorted(given) or None, "exactly one of " + " or ".join(spec.exactly_one_of))
    return args
