"""Manufacturer signatures on GB bare images, checked by the DSP before anything reaches the CSP/CH.

The CPL fixture may list signers: a manufacturer code, its ECDSA P-256 public key (PEM) and whether it
signs every image (`require_signature`, default true). Rules, in order:

* a GB bare image carrying a signature block from a manufacturer with a listed key must verify;
* a listed manufacturer with `require_signature` must sign: an unsigned image is refused;
* a signature from a manufacturer with no listed key cannot be checked: accepted, and logged as such
  (the CPL hash check still applies to every image).

Zigbee TLV images carry SE signatures as sub-elements with certificates (domain.md §2.3); those are
not checked here.
"""

from __future__ import annotations

import dataclasses

from rig.image import FORMAT_GB_BARE, ImageError, parse_image
from rig.image.signature import SignatureInvalid, load_public_key, verify_bare_image


@dataclasses.dataclass(frozen=True)
class Signer:
    manufacturer_code: int
    public_key_pem: str
    require_signature: bool = True


@dataclasses.dataclass(frozen=True)
class SignatureVerdict:
    ok: bool
    status: str  # "verified" | "unsigned" | "unverifiable" | "missing" | "invalid"
    reason: str = ""


def check_signer_key(pem: object, where: str) -> str:
    """The PEM text if it is a P-256 public key; ValueError naming `where` otherwise."""
    if not isinstance(pem, str):
        raise ValueError(f"{where}: found {type(pem).__name__}, expected a PEM public key (-----BEGIN PUBLIC KEY-----)")
    load_public_key(pem, where)
    return pem


def check_image_signature(data: bytes, signers: dict[int, Signer]) -> SignatureVerdict:
    """The verdict on `data` (already accepted by the image parser) against the CPL's signers."""
    try:
        image = parse_image(data)
    except ImageError as exc:  # the caller parses first; be safe anyway
        return SignatureVerdict(False, "invalid", str(exc))
    signer = signers.get(int(image.manufacturer_code))
    signed = image.format == FORMAT_GB_BARE and image.signature is not None
    mfr = f"manufacturer {image.manufacturer_code:#06x}"
    if not signed:
        if signer is not None and signer.require_signature:
            return SignatureVerdict(False, "missing", f"FirmwareImage: unsigned, but {mfr} signs every image"
                                                      " (CPL signer with require_signature)")
        return SignatureVerdict(True, "unsigned")
    if signer is None:
        return SignatureVerdict(True, "unverifiable", f"signature present but no public key for {mfr} on the CPL")
    try:
        verify_bare_image(data, signer.public_key_pem, source="FirmwareImage")
    except SignatureInvalid as exc:
        return SignatureVerdict(False, "invalid", f"{exc} ({mfr})")
    return SignatureVerdict(True, "verified")
