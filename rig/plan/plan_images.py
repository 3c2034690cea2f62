"""The images a plan names: read from its file:, or generated for a device (`generate: like: <device>`)
with that device's identity, learnt from the device itself, the bench file or its emulated profile."""

from __future__ import annotations

from typing import Any, Callable

from rig.bench.session import BenchProblem, DeviceHandle, Session
from rig.image import parse_image
from rig.image.samples import make_large_image
from rig.plan.loader import DEFAULT_GENERATED_SIZE, ImageRef, Plan
from rig.plan.versions import IDENTITY_QUERY_S, DeviceVersions
from rig.report.record import RunRecord

PROFILE_HW_SPAN = 0xFF  # a generated image accepts hardware_version .. hardware_version + 0xFF
OTA_MANUFACTURER_ID, OTA_IMAGE_TYPE_ID = 0x0007, 0x0008  # optional OTA client attributes

Identity = tuple[dict[str, int | None], str]  # manufacturer code, image type, hardware version; and whence


class PlanImages:
    """The plan's images as bytes, each checked against the hub's image types and put on `record`."""

    def __init__(self, plan: Plan, session: Session, record: RunRecord, versions: DeviceVersions,
                 log: Callable[[str], None]) -> None:
        self.plan = plan
        self.session = session
        self.record = record
        self.versions = versions
        self.log = log

    async def load(self) -> dict[str, bytes]:
        """Every image of the plan, by name (generated ones need the devices up: their identity)."""
        images = {}
        for name, ref in self.plan.images.items():
            data = ref.file.read_bytes() if ref.file is not None else await self.generate(name, ref.generate)
            images[name] = data
            self._check_and_record(name, ref, data)
        return images

    def _check_and_record(self, name: str, ref: ImageRef, data: bytes) -> None:
        image = parse_image(data, source=str(ref.file or name))
        hub_config = self.session.hub_config
        if hub_config.kind_of_image_type(image.image_type) is None:
            raise BenchProblem(
                f"{self.plan.path}: image '{name}' ({ref.file or 'generated'}) has image type "
                f"0x{image.image_type:04X}, which the hub maps to no device kind (known: "
                f"{hub_config.known_image_types()}); map it under hub.image_types in the "
                "bench file or the plan's settings.hub")
        if ref.own:
            from rig.plan.own_image import hub_refusal

            why = hub_refusal(data, hub_config)
            if why:
                raise BenchProblem(f"{self.plan.path}: image '{name}' ({ref.file}, given with --image): the hub "
                                   f"would refuse it: {why}")
        self.record.images[name] = {"file": str(ref.file) if ref.file else "generated", "size": len(data),
                                    "manufacturer_code": image.manufacturer_code, "image_type": image.image_type,
                                    "file_version": image.file_version, "sha256": image.sha256,
                                    "format": image.format}

    # -- generated images ----------------------------------------------------------------------------
    async def generate(self, image_name: str, spec: dict[str, Any]) -> bytes:
        like = spec["like"]
        ident, source = await self.identity(like, spec.get("identity") or "device")
        if "version_from_current" in spec:
            version = self.versions.version_value(f"current+{spec['version_from_current']}", like)
        else:
            version = spec.get("version", (self.versions.start_versions.get(like) or 1) + 1)
        hw = ident.get("hardware_version")
        hw_min = spec.get("hw_min", hw)
        hw_max = spec.get("hw_max", None if hw is None else min(0xFFFF, hw + PROFILE_HW_SPAN))
        if (hw_min is None) != (hw_max is None):
            hw_min, hw_max = hw_min if hw_min is not None else 0, hw_max if hw_max is not None else 0xFFFF
        fmt = spec.get("format", "zigbee")
        self.record.devices[like]["identity"] = {**{k: v for k, v in ident.items() if v is not None},
                                                 "source": source}
        self.log(f"  image {image_name}: 0x{ident['manufacturer_code']:04X}/0x{ident['image_type']:04X} "
                 f"v0x{version:08X} from {source}")
        kind = self.session.devices[like].kind
        ids = dict(manufacturer_code=ident["manufacturer_code"], image_type=ident["image_type"],
                   file_version=version, header_string=f"rig {kind} v{version}"[:32],
                   min_hw_version=hw_min, max_hw_version=hw_max, format=fmt)
        if fmt == "zigbee":
            ids["integrity_code"] = True
        size = spec.get("size") or DEFAULT_GENERATED_SIZE
        data = make_large_image(size, seed=f"{self.plan.id}:{spec}", **ids)
        if spec.get("corrupt_integrity"):
            data = data[:-1] + bytes([data[-1] ^ 0xFF])  # the integrity code no longer matches
        return data

    async def identity(self, name: str, source: str) -> Identity:
        """Manufacturer code, image type and hardware version of device `name`, and where they came from:
        the device itself (its Query Next Image, else its OTA attributes), the bench file, or the
        emulated profile."""
        handle = self.session.devices[name]
        if handle.emulated is not None or source == "profile":
            return _from_profile(handle)
        if source == "bench":
            return _from_bench(handle, name)
        return await self._from_device(handle, name)

    async def _from_device(self, handle: DeviceHandle, name: str) -> Identity:
        qni = await self.versions.query(handle)
        if qni is not None and qni.manufacturer_code is not None:
            return ({"manufacturer_code": qni.manufacturer_code, "image_type": qni.image_type,
                     "hardware_version": qni.hardware_version}, "the device's Query Next Image")
        hub = self.session.hub
        mfr = await hub.read_ota_attribute(handle.ieee, OTA_MANUFACTURER_ID)
        itype = await hub.read_ota_attribute(handle.ieee, OTA_IMAGE_TYPE_ID)
        if mfr not in (None, 0xFFFF) and itype not in (None, 0xFFFF):  # 0xFFFF: not set (or an aborted download)
            return ({"manufacturer_code": mfr, "image_type": itype, "hardware_version": None},
                    "the device's OTA attributes ManufacturerID / ImageTypeID")
        if handle.real is not None and {"manufacturer_code", "image_type"} <= set(handle.real.identity):
            ids = {"hardware_version": None, **handle.real.identity}
            return ids, "the bench file (the device sent no query and has no ManufacturerID/ImageTypeID)"
        raise BenchProblem(f"cannot learn {name}'s manufacturer code and image type: it sent no Query Next Image "
                           f"within {IDENTITY_QUERY_S:g} s of an Image Notify and has no ManufacturerID/ImageTypeID "
                           "attributes; give them in the bench file (devices: manufacturer_code, image_type, "
                           "hardware_version) and `identity: bench` in the plan's generate:")


def _from_profile(handle: DeviceHandle) -> Identity:
    """The emulated device's profile (on hardware: the profile the plan names for the device)."""
    from rig.emu.profiles import load_profile

    prof = handle.emulated.profile if handle.emulated is not None else load_profile(handle.profile)
    ids = {"manufacturer_code": prof.manufacturer_code, "image_type": prof.image_type,
           "hardware_version": prof.hardware_version}
    return ids, ("the emulated device" if handle.emulated is not None else f"the profile {prof.name}")


def _from_bench(handle: DeviceHandle, name: str) -> Identity:
    """What the bench file says of the real device."""
    ids = dict(handle.real.identity) if handle.real is not None else {}
    missing = [k for k in ("manufacturer_code", "image_type") if k not in ids]
    if missing:
        where = handle.real.name if handle.real else name
        raise BenchProblem(f"generate: identity: bench, but the bench file's devices.{where} "
                           f"has no {' / '.join(missing)}")
    ids.setdefault("hardware_version", None)
    return ids, "the bench file"
