"""Images, fixtures and a back end wired to the fake CH, for the back-end tests."""

from __future__ import annotations

import hashlib
import struct

from rig.backend import Backend, BackendConfig, Fixtures

IS_A = "90-B3-D5-1F-30-01-00-00"  # import supplier
GS_A = "90-B3-D5-1F-30-02-00-00"  # gas supplier
OTHER = "90-B3-D5-1F-30-09-00-00"  # a supplier responsible for nothing here
PPMID_MFR, PPMID_TYPE = 0x121D, 0x0084
HCALCS_MFR, HCALCS_TYPE = 0x121D, 0x0085
CH = "00-DB-12-34-56-78-90-A2"
PPMID1 = "00-DB-12-34-56-78-90-A4"
PPMID2 = "00-DB-12-34-56-78-90-A5"
HCALCS1 = "00-DB-12-34-56-78-90-B1"
GSME1 = "00-DB-12-34-56-78-90-A1"


def ieee(duis: str) -> str:
    return duis.replace("-", ":").lower()


def ota_image(mfr: int, image_type: int, version: int, body_len: int = 200, seed: int = 0) -> bytes:
    """A minimal Zigbee OTA file: 56-byte header + opaque body (the GB 'bare' layout)."""
    body = bytes((i * 7 + seed) & 0xFF for i in range(body_len))
    total = 56 + len(body)
    header = struct.pack("<IHHHHHIH32sI", 0x0BEEF11E, 0x0100, 56, 0, mfr, image_type, version, 2,
                         b"rig backend test image".ljust(32, b"\0"), total)
    return header + body


PPMID_IMG = ota_image(PPMID_MFR, PPMID_TYPE, 0x01020304)
PPMID_IMG2 = ota_image(PPMID_MFR, PPMID_TYPE, 0x01020305, seed=1)
HCALCS_IMG = ota_image(HCALCS_MFR, HCALCS_TYPE, 0x00000200, seed=2)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def estate(extra_ppmids: int = 0) -> dict:
    devices = [
        {"id": CH, "kind": "CH", "model": "CH-1", "import_supplier": IS_A, "gas_supplier": GS_A},
        {"id": PPMID1, "kind": "PPMID", "model": "PPMID-1", "import_supplier": IS_A, "gas_supplier": GS_A},
        {"id": PPMID2, "kind": "PPMID", "model": "PPMID-1", "import_supplier": IS_A, "gas_supplier": GS_A},
        {"id": HCALCS1, "kind": "HCALCS", "model": "HCALCS-1", "import_supplier": IS_A},
        {"id": GSME1, "kind": "GSME", "model": "GSME-1", "gas_supplier": GS_A},
    ]
    for i in range(extra_ppmids):
        devices.append({"id": f"00-DB-12-34-56-00-{i >> 8:02X}-{i & 0xFF:02X}", "kind": "PPMID", "model": "PPMID-1",
                        "import_supplier": IS_A, "gas_supplier": GS_A})
    return {"suppliers": [{"id": IS_A}, {"id": GS_A}, {"id": OTHER}], "devices": devices}


def cpl() -> dict:
    return {"entries": [
        {"model": "PPMID-1", "manufacturer_code": PPMID_MFR, "image_type": PPMID_TYPE, "firmware_version": 0x01020304,
         "sha256": sha(PPMID_IMG)},
        {"model": "PPMID-1", "manufacturer_code": PPMID_MFR, "image_type": PPMID_TYPE, "firmware_version": 0x01020305,
         "sha256": sha(PPMID_IMG2)},
        {"model": "HCALCS-1", "manufacturer_code": HCALCS_MFR, "image_type": HCALCS_TYPE,
         "firmware_version": 0x00000200, "sha256": sha(HCALCS_IMG)},
    ]}


def fixtures(extra_ppmids: int = 0) -> Fixtures:
    return Fixtures.from_dicts(estate(extra_ppmids), cpl())


def make_backend(tmp_path, clock, hub, config: BackendConfig | None = None, extra_ppmids: int = 0,
                 name: str = "backend.db") -> Backend:
    return Backend(tmp_path / name, clock, hub, fixtures(extra_ppmids), config)
