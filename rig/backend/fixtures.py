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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from rig.backend.signing import Signer, check_signer_key
from rig.config import ConfigFileError, FileModel
from rig.config.validate import read_mapping, recast, validate_any

DEVICE_KINDS = ("PPMID", "HCALCS", "GSME", "ESME", "CH")
_EUI_RE = re.compile(r"^[0-9A-Fa-f]{2}([-:]?[0-9A-Fa-f]{2}){7}$")


class FixtureError(ConfigFileError):
    """A fixture file or dict is wrong: `pos` (file:line:col, or the source of a dict), the dotted `field`,
    found and expected."""


def normalise_eui(text: object) -> str | None:
    """'00-DB-12-…' / '00:db:12:…' / '00DB12…' / '0x00db12…' (zigbee2mqtt's and herdsman's notation) ->
    '00:db:12:…'; None if it is not an EUI-64."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if text[:2] in ("0x", "0X") and len(text) == 18:
        text = text[2:]
    if not _EUI_RE.match(text):
        return None
    digits = re.sub(r"[-:]", "", text).lower()
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
        """Both files read by rig.config (file:line:col in every error) and checked by their models."""
        try:
            estate, cpl = read_mapping(suppliers_path, "suppliers and devices"), read_mapping(cpl_path, "CPL entries")
        except ConfigFileError as exc:
            raise recast(FixtureError, exc) from None
        return cls.from_dicts(estate, cpl, where=(str(suppliers_path), str(cpl_path)))

    @classmethod
    def from_dicts(cls, estate: dict, cpl: dict, where: tuple[str, str] = ("suppliers", "cpl")) -> Fixtures:
        """From the files' data (positioned, from `load`) or from dicts built in code (errors then name
        `where` and the field)."""
        src_e, src_c = where
        if not isinstance(estate, dict):
            raise FixtureError(src_e, "", f"found {type(estate).__name__}; expected a mapping with 'suppliers' "
                                          "and 'devices'")
        if not isinstance(cpl, dict):
            raise FixtureError(src_c, "", f"found {type(cpl).__name__}; expected a mapping with 'entries'")
        listed = estate.get("suppliers")
        supplier_ids = {_text(s.get("id")) for s in (listed if isinstance(listed, list) else [])
                        if isinstance(s, dict) and isinstance(_text(s.get("id")), str)}
        try:
            estate_file = validate_any(EstateFile, estate, origin=src_e, context={"suppliers": supplier_ids})
            cpl_file = validate_any(CplFile, cpl, origin=src_c)
        except ConfigFileError as exc:
            raise recast(FixtureError, exc) from None
        suppliers = {s.id: Supplier(s.id, s.name) for s in estate_file.suppliers}
        devices = {d.id: Device(d.id, d.kind, d.model, d.import_supplier, d.gas_supplier, d.smets)
                   for d in estate_file.devices}
        entries = [CplEntry(e.model, e.manufacturer_code, e.image_type, e.firmware_version, e.sha256)
                   for e in cpl_file.entries]
        signers = {s.manufacturer_code: Signer(s.manufacturer_code, s.public_key, s.require_signature)
                   for s in cpl_file.signers}
        return cls(suppliers, devices, entries, signers)

    # -- questions -------------------------------------------------------------------------------
    def cpl_match(self, model: str, manufacturer_code: int, image_type: int, version: int, sha256: str) -> CplEntry | None:
        for e in self.cpl:
            if (e.model, e.manufacturer_code, e.image_type, e.firmware_version, e.sha256) == (
                    model, manufacturer_code, image_type, version, sha256.lower()):
                return e
        return None


# ------------------------------------------------------------------------------------------------
# The two files' models (rig.config): each error names file:line:col, the field, found and expected.


def _text(value: Any) -> Any:
    """Ids and model names written as bare numbers (`model: 1234`) are the text they spell."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _eui(text: str) -> str:
    ieee = normalise_eui(text)
    if ieee is None:
        raise ValueError("expected an EUI-64 like 00-DB-12-34-56-78-90-A4")
    return ieee


def _kind(text: str) -> str:
    if text.upper() not in DEVICE_KINDS:
        raise ValueError(f"expected one of {', '.join(DEVICE_KINDS)}")
    return text.upper()


def _hex_digits(value: Any) -> Any:
    """Numbers may be written as hex digits in a string ("121D")."""
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            raise ValueError("expected an integer or hex digits") from None
    return value


def _sha256(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise ValueError("expected 64 hex digits")
    return text.lower()


def _listed_supplier(value: str | None, info: ValidationInfo) -> str | None:
    known = (info.context or {}).get("suppliers")
    if value is not None and known is not None and value not in known:
        raise ValueError("expected a supplier id listed under 'suppliers'")
    return value


def _signer_key(pem: str) -> str:
    try:
        return check_signer_key(pem, "key")
    except ValueError as exc:
        raise ValueError(f"expected a PEM public key: {str(exc).removeprefix('key: ')}") from None


Text = Annotated[str, BeforeValidator(_text)]
SupplierRef = Annotated[Text | None, AfterValidator(_listed_supplier)]


def _number(bits: int) -> Any:
    hi = (1 << bits) - 1
    return Annotated[int, BeforeValidator(_hex_digits), Field(ge=0, le=hi, description=f"an integer 0..{hi:#x}")]


class SupplierModel(FileModel):
    id: Text = Field(description="a Service User id")
    name: Text = Field("", description="a name")


class DeviceModel(FileModel):
    id: Annotated[Text, AfterValidator(_eui)] = Field(description="an EUI-64 like 00-DB-12-34-56-78-90-A4")
    kind: Annotated[Text, AfterValidator(_kind)] = Field(description=f"one of {', '.join(DEVICE_KINDS)}")
    model: Text = Field(description="the device model's name")
    import_supplier: SupplierRef = Field(None, description="a supplier id listed under 'suppliers'")
    gas_supplier: SupplierRef = Field(None, description="a supplier id listed under 'suppliers'")
    smets: Literal[1, 2] = Field(2, description="1 or 2")


class EstateFile(FileModel):
    """suppliers.yaml: the Service Users and the devices with their responsible suppliers."""

    suppliers: list[SupplierModel] = Field([], description="a list of mappings {id: ..., name: ...}")
    devices: list[DeviceModel] = Field([], description="a list of mappings {id, kind, model, ...}")


class CplEntryModel(FileModel):
    model: Text = Field(description="the device model's name")
    manufacturer_code: _number(16)
    image_type: _number(16)
    firmware_version: _number(32)
    sha256: Annotated[str, AfterValidator(_sha256)] = Field(description="64 hex digits")


class SignerModel(FileModel):
    manufacturer_code: _number(16)
    public_key: Annotated[str, AfterValidator(_signer_key)] = Field(
        description="a PEM public key (-----BEGIN PUBLIC KEY-----)")
    require_signature: bool = Field(True, description="true or false")


class CplFile(FileModel):
    """cpl.yaml: the firmware images the DCC knows, and manufacturers' signing keys."""

    entries: list[CplEntryModel] = Field([], description="a list of mappings {model, manufacturer_code, ...}")
    signers: list[SignerModel] = Field([], description="a list of mappings {manufacturer_code, public_key, ...}")
