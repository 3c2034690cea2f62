"""What the back end starts with for a plan: its reference data (the estate and the Central Products List)
made from the plan's devices and images, and its settings from the plan's settings.backend."""

from __future__ import annotations

import hashlib

from rig.backend import BackendConfig, Fixtures
from rig.backend.fixtures import duis_eui
from rig.bench.session import GAS_SUPPLIER, IMPORT_SUPPLIER, DeviceHandle, Session
from rig.image import parse_image
from rig.plan.backend_settings import backend_config
from rig.plan.loader import Plan

OTHER_SUPPLIER = "OTHER-SUPPLIER-09"  # a supplier of neither fuel: a request in its name is not authorised


def model_of(handle: DeviceHandle) -> str:
    """The device model the back end knows the device by (and lists images on the CPL for)."""
    return f"{handle.kind.upper()}-{handle.profile}"


def plan_fixtures(plan: Plan, session: Session, images: dict[str, bytes]) -> Fixtures:
    """Every device of the session and its CH in the estate, both suppliers theirs; every image of the
    plan on the CPL for every device model, except those the plan generates `off_cpl`."""
    devices = [_estate_entry(handle.ieee, handle.kind.upper(), model_of(handle))
               for handle in session.devices.values()]
    devices.append(_estate_entry(session.hub.coordinator_ieee, "CH", "CH"))
    models = sorted({model_of(h) for h in session.devices.values()})
    entries = []
    for name, data in images.items():
        if plan.images[name].generate and plan.images[name].generate.get("off_cpl"):
            continue
        image = parse_image(data)
        for model in models:
            entries.append({"model": model, "manufacturer_code": image.manufacturer_code,
                            "image_type": image.image_type, "firmware_version": image.file_version,
                            "sha256": hashlib.sha256(data).hexdigest()})
    estate = {"suppliers": [{"id": IMPORT_SUPPLIER}, {"id": GAS_SUPPLIER}, {"id": OTHER_SUPPLIER}],
              "devices": devices}
    return Fixtures.from_dicts(estate, {"entries": entries}, where=(f"{plan.path} devices", "CPL"))


def _estate_entry(ieee: str, kind: str, model: str) -> dict[str, str]:
    return {"id": duis_eui(ieee), "kind": kind, "model": model, "import_supplier": IMPORT_SUPPLIER,
            "gas_supplier": GAS_SUPPLIER}


def plan_backend_config(plan: Plan, session: Session) -> BackendConfig:
    """The back end's settings: the defaults with the plan's settings.backend over them."""
    return backend_config(session.backend_settings, str(plan.path))
