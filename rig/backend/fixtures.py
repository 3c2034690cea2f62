"""Who is who: suppliers (Service Users), devices and the Central Products List (CPL).

`suppliers.yaml` lists the Service Users and the devices with their responsible suppliers; `cpl.yaml`
lists, per device model, the firmware images the DCC knows (manufacturer code, image type, version,
SHA-256 of the whole OTA file) and, optionally under `signers:`, manufacturers' image-signing public keys
(rig.backend.signing). Both load with errors that name the file, the entry, the field, what
was found and what was expected.

Device ids are kept in the hub's form ("00:db:12:34:56:78:90:a4", what `str(zigpy EUI64)` gives);
DUIS XML uses "00-DB-12-34-56-78-90-A4". `normalise_eui` accepts either (or 16 bare hex digits).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

from rig.backend.signing import Signer, check_signer_key

DEVICE_KINDS = ("PPMID", "HCALCS", "GSME", "ESME", "CH")
_EUI_RE = re.compile(r"^[0-9A-Fa-f]{2}([-:]?[0-9A-Fa-f]{2}){7}$")


class FixtureError(ValueError):
    """A fixture file or dict is wrong; the message says where and what was expected."""


def normalise_eui(text: object) -> str | None:
    """'00-DB-12-…' / '00:db:12:…' / '00DB12…' -> '00:db:12:…'; None if it is not an EUI-64."""
    if not isinstance(text, str) or not _EUI_RE.match(text.strip()):
        return None
    digits = re.sub(r"[-:]", "", text.strip()).lower()
    return ":".join(digits[i : i + 2] for i in range(0, 16, 2))


def duis_eui(ieee: str) -> str:
    """'00:db:12:…' -> '00-DB-12-…' (DUIS sr:EUI form)."""
    return ieee.replace(":", "-").upper()


@dataclasses.dataclass(frozen=True)
class Supplier:
    id: str  # Service User id, kept as written (DUIS user ids are EUI-64s)
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Device:
    id: str  # hub form
    kind: str  # PPMID | HCALCS | GSME | ESME | CH
    model: str
    import_supplier: str | None = None
    gas_supplier: str | None = None
    smets: int = 2

    def responsible_suppliers(self) -> list[str]:
        """Who may ask for firmware on this device: ESME its import supplier, GSME its gas supplier,
        PPMID/HCALCS/CH either (they serve both fuels)."""
        if self.kind == "ESME":
            found = [self.import_supplier]
        elif self.kind == "GSME":
            found = [self.gas_supplier]
        else:
            found = [self.import_supplier, self.gas_supplier]
        return [s for s in found if s]


@dataclasses.dataclass(frozen=True)
class CplEntry:
    model: str
    manufacturer_code: int
    image_type: int
    firmware_version: int
    sha256: str  # lower-case hex


@dataclasses.dataclass
class Fixtures:
    suppliers: dict[str, Supplier]
    devices: dict[str, Device]
    cpl: list[CplEntry]
    signers: dict[int, Signer] = dataclasses.field(default_factory=dict)  # manufacturer code -> key

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, suppliers_path: str | Path, cpl_path: str | Path) -> Fixtures:
        estate = _read_yaml(Path(suppliers_path))
        cpl = _read_yaml(Path(cpl_path))
        return cls.from_dicts(estate, cpl, where=(str(suppliers_path), str(cpl_path)))

    @classmethod
    def from_dicts(cls, estate: dict, cpl: dict, where: tuple[str, str] = ("suppliers", "cpl")) -> Fixtures:
        src_e, src_c = where
        if not isinstance(estate, dict):
            raise FixtureError(f"{src_e}: expected a mapping with 'suppliers' and 'devices', found {type(estate).__name__}")
        if not isinstance(cpl, dict):
            raise FixtureError(f"{src_c}: expected a mapping with 'entries', found {type(cpl).__name__}")
        suppliers: dict[str, Supplier] = {}
        for i, raw in enumerate(_list(estate, "suppliers", src_e)):
            sid = _field(raw, "id", str, f"{src_e}: suppliers[{i}]")
            suppliers[sid] = Supplier(sid, str(raw.get("name", "")))
        devices: dict[str, Device] = {}
        for i, raw in enumerate(_list(estate, "devices", src_e)):
            at = f"{src_e}: devices[{i}]"
            ieee = normalise_eui(_field(raw, "id", str, at))
            if ieee is None:
                raise FixtureError(f"{at}.id: found {raw['id']!r}, expected an EUI-64 like 00-DB-12-34-56-78-90-A4")
            kind = _field(raw, "kind", str, at).upper()
            if kind not in DEVICE_KINDS:
                raise FixtureError(f"{at}.kind: found {raw['kind']!r}, expected one of {', '.join(DEVICE_KINDS)}")
            sup = {}
            for role in ("import_supplier", "gas_supplier"):
                value = raw.get(role)
                if value is not None and str(value) not in suppliers:
                    raise FixtureError(f"{at}.{role}: found {value!r}, expected a supplier id listed under 'suppliers'")
                sup[role] = None if value is None else str(value)
            smets = raw.get("smets", 2)
            if smets not in (1, 2):
                raise FixtureError(f"{at}.smets: found {smets!r}, expected 1 or 2")
            devices[ieee] = Device(ieee, kind, _field(raw, "model", str, at), smets=smets, **sup)
        entries = []
        for i, raw in enumerate(_list(cpl, "entries", src_c)):
            at = f"{src_c}: entries[{i}]"
            sha = _field(raw, "sha256", str, at).lower()
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise FixtureError(f"{at}.sha256: found {raw['sha256']!r}, expected 64 hex digits")
            entries.append(CplEntry(
                model=_field(raw, "model", str, at),
                manufacturer_code=_int(raw, "manufacturer_code", at, 0xFFFF),
                image_type=_int(raw, "image_type", at, 0xFFFF),
                firmware_version=_int(raw, "firmware_version", at, 0xFFFFFFFF),
                sha256=sha,
            ))
        signers: dict[int, Signer] = {}
        for i, raw in enumerate(_list(cpl, "signers", src_c)):
            at = f"{src_c}: signers[{i}]"
            mfr = _int(raw, "manufacturer_code", at, 0xFFFF)
            if "public_key" not in raw:
                raise FixtureError(f"{at}: missing field 'public_key'")
            try:
                pem = check_signer_key(raw["public_key"], f"{at}.public_key")
            except ValueError as exc:
                raise FixtureError(str(exc)) from None
            required = raw.get("require_signature", True)
            if not isinstance(required, bool):
                raise FixtureError(f"{at}.require_signature: found {required!r}, expected true or false")
            signers[mfr] = Signer(mfr, pem, required)
        return cls(suppliers, devices, entries, signers)

    # -- questions -------------------------------------------------------------------------------
    def cpl_match(self, model: str, manufacturer_code: int, image_type: int, version: int, sha256: str) -> CplEntry | None:
        for e in self.cpl:
            if (e.model, e.manufacturer_code, e.image_type, e.firmware_version, e.sha256) == (
                    model, manufacturer_code, image_type, version, sha256.lower()):
                return e
        return None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise FixtureError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _list(doc: dict, key: str, src: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FixtureError(f"{src}: '{key}' must be a list of mappings, found {value!r:.80}")
    return value


def _field(raw: dict, key: str, typ: type, at: str) -> Any:
    if key not in raw:
        raise FixtureError(f"{at}: missing field '{key}'")
    value = raw[key]
    if typ is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, typ):
        raise FixtureError(f"{at}.{key}: found {value!r}, expected {typ.__name__}")
    return value


def _int(raw: dict, key: str, at: str, maximum: int) -> int:
    if key not in raw:
        raise FixtureError(f"{at}: missing field '{key}'")
    value = raw[key]
    if isinstance(value, str):
        try:
            value = int(value, 16)
        except ValueError:
            raise FixtureError(f"{at}.{key}: found {value!r}, expected an integer or hex digits") from None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise FixtureError(f"{at}.{key}: found {value!r}, expected an integer 0..{maximum:#x}")
    return value
