"""`rig run PLANS --image v2=my.ota` (pytest `--rig-image NAME=PATH`): run shipped plans on your own file.

For each plan that has an image called NAME:
* the image becomes the file (containers and trailing bytes are handled as the hub handles them);
* the plan's devices the image was for (the devices whose profile carries the original image's
  manufacturer code and image type) take the file's identity: manufacturer code and image type from the
  file, a running version below the file's, a hardware version inside the file's range. This is done
  with a profile variant (`extends:` the device's profile, rig.emu.profiles) written to a temporary folder,
  so the plan's other images generated `like:` that device follow the same identity;
* the plan's `settings.hub.image_types` maps the file's image type to those devices' kind;
* limits that grow with the image's size (`measure` of blocks_served or transfer_seconds on those
  devices: cf04's "resumed, not restarted" is at most 333 blocks for its 10 kB image) are scaled by the
  file's size over the plan's image size, so that they mean for the file what they meant for the plan.
Plans without an image NAME run unchanged. On a hardware bench the profile variants only describe the
real device, which already carries its firmware's identity.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rig.image import ImageError, OtaImage, parse_image
from rig.plan.loader import DEFAULT_GENERATED_SIZE, DeviceRef, ImageRef, Plan
from rig.plan.schema import PlanError, PlanErrors

_VARIANTS: Path | None = None


def parse_option(text: str) -> tuple[str, Path]:
    """'v2=path/to/my.ota' -> ('v2', absolute path). ValueError with what was expected."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise ValueError(f"--image {text!r}: expected NAME=PATH, e.g. v2=path/to/my.ota")
    file = Path(path.strip()).expanduser().resolve()
    if not file.is_file():
        raise ValueError(f"--image {text!r}: {file} is not a file")
    return name.strip(), file


def with_own_images(plan: Plan, images: dict[str, Path]) -> Plan:
    """The plan with its images NAME replaced by the given files (see the module docstring)."""
    wanted = {name: path for name, path in images.items() if name in plan.images}
    if not wanted:
        return plan
    devices = dict(plan.devices)
    plan_images = dict(plan.images)
    hub = dict(plan.settings.get("hub") or {})
    image_types = dict(hub.get("image_types") or {})
    renumber: dict[int | str, int] = {}  # the plan's versions (2, or 'current+1') -> the file's
    size_ratio: dict[str, float] = {}  # device -> the file's size over the size of the plan's image for it
    for name, path in wanted.items():
        ref = plan.images[name]
        own = _read(path, ref)
        original = _identity_of(plan, ref)
        if original is None:
            continue
        renumber[original[2]] = own.file_version
        relative = (ref.generate or {}).get("version_from_current")  # the loader's form of 'current+N'
        if relative is not None:  # 'current+N' in the steps meant this image's version: now the file's
            renumber[f"current+{relative}" if relative else "current"] = own.file_version
        for device_name, device in plan.devices.items():
            found = _profile(device.profile)
            if found is None or (found[0].manufacturer_code, found[0].image_type) != original[:2]:
                continue
            profile, source = found
            variant, running = _variant(plan, device, profile, source, own)
            devices[device_name] = dataclasses.replace(device, profile=str(variant))
            renumber.setdefault(profile.current_file_version, running)
            image_types[own.image_type] = profile.kind
            size_ratio[device_name] = max(size_ratio.get(device_name, 0.0), len(own.raw) / original[3])
        plan_images[name] = ImageRef(name, ref.pos, file=path, own=True)
    hub["image_types"] = image_types
    settings = dict(plan.settings) | {"hub": hub}
    steps = [dataclasses.replace(step, args=_renumbered(step.args, renumber)) for step in plan.steps]
    steps = [dataclasses.replace(step, args=_scaled(step.args, size_ratio)) if step.kind == "measure" else step
             for step in steps]
    return dataclasses.replace(plan, devices=devices, images=plan_images, settings=settings, steps=steps)


def _renumbered(args: Any, renumber: dict[int, int]) -> Any:
    """Step arguments with the versions that meant the plan's image (or the device's old firmware) as the
    file's: `version: 2` in assert_device_version, assert_register, `value:` of a *_file_version attribute."""
    if not isinstance(args, dict):
        return args
    out = dict(args)
    keys = ["version"] + (["value"] if str(args.get("attribute", "")).endswith("file_version") else [])
    for key in keys:
        value = out.get(key)
        if isinstance(value, str):
            value = value.replace(" ", "")
        if not isinstance(value, bool) and isinstance(value, (int, str)) and value in renumber:
            out[key] = renumber[value]
    return out


SIZE_BOUND_METRICS = ("blocks_served", "transfer_seconds")  # both grow with the bytes to transfer


def _scaled(args: Any, size_ratio: dict[str, float]) -> Any:
    """A measure's limits on a device that takes the file, scaled by the file's size over the plan's image's."""
    if not isinstance(args, dict) or args.get("metric") not in SIZE_BOUND_METRICS or args.get("device") not in size_ratio:
        return args
    ratio = size_ratio[args["device"]]
    return {**args, **{k: round(args[k] * ratio, 3) for k in ("min", "max") if isinstance(args.get(k), (int, float))}}


def hub_refusal(data: bytes, hub_config: Any) -> str | None:
    """Why the CH, with these settings, would refuse to store an own file, or None. Checked when the plan
    starts (and by rig run before any plan), so that a file the bench refuses (an integrity code matching
    neither coverage, with the shipped benches' fatal_image_warnings) is named then, not seen later as a
    download that never starts."""
    from rig.hub.errors import ImageRejected
    from rig.hub.inventory import Inventory

    try:
        Inventory.read_image(data, hub_config, quiet=True)
    except ImageRejected as exc:
        why = "; ".join(p.removeprefix("<bytes>: ") for p in exc.problems) or exc.reason
        if "hub.fatal_image_warnings" in why:
            why += "; the bench file's hub.fatal_image_warnings makes this warning fatal (without it the hub stores the file)"
        return why
    return None


def _read(path: Path, ref: ImageRef) -> OtaImage:
    try:
        return parse_image(path.read_bytes(), source=str(path))
    except (OSError, ImageError) as exc:
        raise PlanErrors([PlanError.found(ref.pos, f"images.{ref.name} (--image)", str(path), "a readable OTA file",
                                          str(exc).splitlines()[0] if str(exc) else type(exc).__name__)]) from None


def _identity_of(plan: Plan, ref: ImageRef) -> tuple[int, int, int, int] | None:
    """(manufacturer code, image type, file version, size in bytes) the plan's own image NAME had: its
    file's, or, for a generated image, its `like:` device's identity and the version and size it asks for."""
    if ref.file is not None:
        try:
            image = parse_image(ref.file.read_bytes())
        except (OSError, ImageError):
            return None
        return image.manufacturer_code, image.image_type, image.file_version, len(image.raw)
    spec = ref.generate or {}
    like = plan.devices.get(str(spec.get("like")))
    found = _profile(like.profile) if like is not None else None
    if found is None:
        return None
    profile = found[0]
    size = int(spec.get("size") or DEFAULT_GENERATED_SIZE)
    if spec.get("version_from_current") is not None:  # 'current+N': the device's running version + N
        return (profile.manufacturer_code, profile.image_type,
                profile.current_file_version + spec["version_from_current"], size)
    return profile.manufacturer_code, profile.image_type, int(spec.get("version", profile.current_file_version + 1)), size


def _profile(name: str) -> tuple[Any, Path] | None:
    """The device profile and its file (for the variant's `extends:`), or None if it cannot be read."""
    from rig.emu.profiles import ProfileError, load_profile, profile_path

    try:
        return load_profile(name), profile_path(name).resolve()
    except (ProfileError, OSError):
        return None


def _variant(plan: Plan, device: DeviceRef, profile: Any, source: Path, image: OtaImage) -> tuple[Path, int]:
    """A profile file extending the device's with the image's identity, and the version it runs."""
    hw = profile.hardware_version
    if image.min_hw_version is not None and image.max_hw_version is not None \
            and not image.min_hw_version <= hw <= image.max_hw_version:
        hw = image.min_hw_version
    running = profile.current_file_version
    if running >= image.file_version:
        running = max(image.file_version - 1, 0)
    folder = _variants_folder()
    path = folder / f"{plan.id}-{device.name}.yaml"
    path.write_text(
        f"# {device.name} carrying the identity of {image.manufacturer_code:#06x}/{image.image_type:#06x} "
        f"(rig run --image)\n"
        f"extends: {source}\n"
        f"name: {profile.name}\n"
        f"manufacturer_code: {image.manufacturer_code:#06x}\n"
        f"image_type: {image.image_type:#06x}\n"
        f"hardware_version: {hw:#06x}\n"
        f"current_file_version: {running:#010x}\n", encoding="utf-8")
    return path, running


def _variants_folder() -> Path:
    global _VARIANTS
    if _VARIANTS is None:
        _VARIANTS = Path(tempfile.mkdtemp(prefix="rig-own-image-"))
        atexit.register(shutil.rmtree, _VARIANTS, True)
    return _VARIANTS
