"""Load and validate a test plan up front: every problem, with file:line:column, before any radio work.

The file is read by the rig's one positioned YAML loader and checked by the plan's models
(rig.plan.schema): `PlanFile` for the file, then each step by its own step's model, so all the problems
of a file are reported together. What the runner gets is a `Plan` of plain values with their positions.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rig.config.source import Pos, PosDict, PosList, YamlError, load_yaml
from rig.config.validate import ConfigFileError, errors_of
from rig.plan.schema import STEPS, PlanError, PlanErrors, PlanFile, StepSpec, suggest

STEP_COMMON_KEYS = ("name", "timeout")


@dataclasses.dataclass
class DeviceRef:
    name: str
    profile: str  # an emulated device profile (fixtures/devices/<profile>.yaml); on hardware, its kind
    pos: Pos
    in_device_log: bool = True  # False: the CH was never told of it (a stranger on the HAN)
    install_code: str | None = None  # pair with this install code's link key only (hex, with its CRC)


# A generated image without `size:` has this many bytes (plan_images builds it, predict and own_image count with it).
DEFAULT_GENERATED_SIZE = 4096


@dataclasses.dataclass
class ImageRef:
    name: str
    pos: Pos
    file: Path | None = None  # a file on disk
    generate: dict[str, Any] | None = None  # like/version/size/format: built at run time
    own: bool = False  # the user's own file, given with --image (rig.plan.own_image)


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


def load_plan(path: str | Path, text: str | None = None) -> Plan:
    """Parse and validate a plan. Raises PlanErrors listing every problem found."""
    path = Path(path)
    try:
        doc = load_yaml(path, text)
    except YamlError as exc:
        raise PlanErrors([PlanError(exc.pos, "yaml", exc.message)]) from None
    if not isinstance(doc, PosDict):
        found = "an empty file" if doc is None else "a list" if isinstance(doc, list) else repr(doc)
        raise PlanErrors([PlanError(Pos(str(path), 1, 1), "plan", f"found {found}; expected a mapping with keys "
                                                                  "plan, name, devices, images, steps")])
    # Names the steps may refer to: those the file declares, whether or not their entries are right.
    context = {"devices": _keys(doc.get("devices")), "images": _keys(doc.get("images")), "plan_path": path}
    file, errors = None, []
    try:
        file = PlanFile.model_validate(doc, context=context)
    except ValidationError as exc:
        errors = [_plan_error(e, _TOP_LIST_ITEM) for e in errors_of(PlanFile, exc, doc, origin=doc.pos)]
    steps = []
    for index, raw in enumerate(doc.get("steps") if isinstance(doc.get("steps"), PosList) else [], start=1):
        if isinstance(raw, PosDict):  # not a mapping: PlanFile said so
            step, step_errors = _step(index, raw, context)
            steps += [step] if step is not None else []
            errors += step_errors
    if errors or file is None:
        raise PlanErrors(sorted(errors, key=lambda e: (e.pos.line, e.pos.column) if e.pos else (0, 0)))
    return Plan(path, file.name, file.description.strip(), file.needs, file.tags, _devices(file, doc),
                _images(file, doc), dict(doc.get("settings") or {}), steps)


def _keys(block: Any) -> list[str]:
    return list(block) if isinstance(block, dict) else []


# pydantic counts list items from 0 (`steps.2`); a plan's errors count them from 1, as people do (`steps[3]`).
# At the top only these fields are lists (a device or image name may be digits); inside a step's arguments
# every field is a word, so any number is a list item.
_TOP_LIST_ITEM = re.compile(r"^(?P<list>needs|tags|steps)\.(?P<n>\d+)(?=\.|$)")
_ARG_LIST_ITEM = re.compile(r"(?P<list>)\.(?P<n>\d+)(?=\.|$)")


def _plan_error(error: ConfigFileError, items: re.Pattern, start: int = 0) -> PlanError:
    """A ConfigFileError as a PlanError, list items counted from 1 in the field after `start`."""
    tail = items.sub(lambda m: f"{m['list']}[{int(m['n']) + 1}]", error.field[start:])
    return PlanError(error.pos, error.field[:start] + tail, error.message)


def _step(index: int, raw: PosDict, context: dict) -> tuple[Step | None, list[PlanError]]:
    where = f"steps[{index}]"
    kinds = [k for k in raw if k in STEPS]
    unknown = [k for k in raw if k not in STEPS and k not in STEP_COMMON_KEYS]
    errors = []
    for key in unknown:
        hint = suggest(key, tuple(STEPS) + STEP_COMMON_KEYS)
        errors.append(PlanError(raw.key_pos[key], f"{where}.{key}",
                                f"unknown step '{key}'" + (f" ({hint})" if hint else "")
                                + f"; expected a step name ({', '.join(STEPS)}) or name, timeout"))
    if len(kinds) != 1:
        if not unknown:
            errors.append(PlanError.found(raw.pos, where, sorted(raw), "exactly one step name per step"))
        return None, errors
    kind = kinds[0]
    spec = STEPS[kind]
    data = _short_form(_without(raw, unknown), kind, spec)
    try:
        checked = spec.model.model_validate(data, context=context)
    except ValidationError as exc:
        return None, errors + [_plan_error(e, _ARG_LIST_ITEM, len(where))
                               for e in errors_of(spec.model, exc, data, origin=raw.pos, prefix=where)]
    title = checked.name or kind.replace("_", " ")
    return Step(index, kind, spec.args(checked), title, checked.timeout, raw.key_pos[kind], spec), errors


def _without(raw: PosDict, keys: list[str]) -> PosDict:
    out = PosDict({k: v for k, v in raw.items() if k not in keys})
    out.pos = raw.pos
    out.key_pos = {k: p for k, p in raw.key_pos.items() if k not in keys}
    out.value_pos = {k: p for k, p in raw.value_pos.items() if k not in keys}
    return out


def _short_form(raw: PosDict, kind: str, spec: StepSpec) -> PosDict:
    """`- advance_clock: 15m` as `- advance_clock: {by: 15m}`, the value keeping its place, so that an error
    in it names the field (the step's model reads the short form too, but pydantic's errors are placed on
    the data as written)."""
    value = raw[kind]
    if spec.shorthand is None or isinstance(value, dict):
        return raw
    holder = PosDict({spec.shorthand: value})
    holder.pos = raw.value_pos[kind]
    holder.key_pos = holder.value_pos = {spec.shorthand: raw.value_pos[kind]}
    out = PosDict(raw | {kind: holder})
    out.pos, out.key_pos, out.value_pos = raw.pos, raw.key_pos, raw.value_pos
    return out


def _devices(file: PlanFile, doc: PosDict) -> dict[str, DeviceRef]:
    block = doc.get("devices")
    return {name: DeviceRef(name, d.profile, block.key_pos[name], d.in_device_log, d.install_code)
            for name, d in file.devices.items()}


def _images(file: PlanFile, doc: PosDict) -> dict[str, ImageRef]:
    block = doc.get("images")
    out = {}
    for name, image in file.images.items():
        pos = block.key_pos[name]
        if image.file is not None:
            out[name] = ImageRef(name, pos, file=image.file)
            continue
        gen = image.generate
        values: dict[str, Any] = {}
        if isinstance(gen.version, int):
            values["version"] = gen.version
        elif gen.version is not None:  # relative to what the device runs when the plan starts
            values["version_from_current"] = int(gen.version[len("current"):] or 0)
        values |= {k: getattr(gen, k) for k in ("hw_min", "hw_max", "format", "identity", "size")
                   if k in gen.model_fields_set}
        values |= {"like": gen.like, "corrupt_integrity": gen.corrupt_integrity, "off_cpl": gen.off_cpl}
        out[name] = ImageRef(name, pos, generate=values)
    return out
