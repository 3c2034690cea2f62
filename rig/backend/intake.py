"""The intake room: who may ask, and for what. A request becomes a decision — a `Refusal` (code and
reason, with the per-device lists DUIS answers with) or the accepted work — before anything is written
or reaches the CSP.

Checks, in order, for a firmware SR (11.1/11.4): a known Service User; the image (base64, its header's
file version, the PPMID size limit); the devices (invalid ones become warnings, R-DSP-01); the user is a
responsible supplier of every valid device; the image is on the CPL for every device's model; a GB bare
image carries a valid manufacturer signature (rig.backend.signing); the SMETS1 bulk approval; and the
In Progress check (R-DSP-03), which only drops busy devices unless every device is busy.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

from rig.backend.codes import Codes
from rig.backend.controls import Capacity, InProgress
from rig.backend.fixtures import Device, Fixtures, duis_eui, normalise_eui
from rig.backend.imagecheck import ImageFacts, ImageInvalid, image_facts
from rig.backend.jobs import Job, JobStore
from rig.backend.requests import DeviceWarning, parse_version
from rig.backend.signing import check_image_signature
from rig.backend.store import Store
from rig.clock import DAY
from rig.hub.events import ActivationPlan


@dataclasses.dataclass(frozen=True)
class Refusal:
    code: str
    reason: str
    invalid_device_ids: list[str] = dataclasses.field(default_factory=list)
    in_progress_device_ids: list[str] = dataclasses.field(default_factory=list)
    warnings: list[DeviceWarning] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Distribution:
    """An accepted 11.1/11.4: the image and the devices it goes to now."""

    data: bytes
    facts: ImageFacts
    going: list[Device]
    busy: list[str]  # valid devices left out: already In Progress
    invalid: list[str]  # as the Service User wrote them
    warnings: list[DeviceWarning]


@dataclasses.dataclass(frozen=True)
class FirmwareAsk:
    sr: str  # "11.1" | "11.4"
    user_id: str
    image: bytes | str  # bytes, or base64 text
    version_text: str | int
    device_ids: list[str]
    kinds: tuple[str, ...]  # device kinds this SR may target
    bulk_approved: bool = False


class Intake:
    def __init__(self, store: Store, jobs: JobStore, in_progress: InProgress, fixtures: Fixtures, codes: Codes, *,
                 max_ppmid_image_bytes: int, capacity: Capacity, ch_notice: float) -> None:
        self._store = store
        self._jobs = jobs
        self._in_progress = in_progress
        self._fixtures = fixtures
        self._codes = codes
        self._max_ppmid = max_ppmid_image_bytes
        self._capacity = capacity
        self._ch_notice = ch_notice

    # -- firmware distribution (11.1 / 11.4) ---------------------------------------------------------
    def firmware(self, ask: FirmwareAsk, request_id: str, now: float) -> Refusal | Distribution:
        codes = self._codes
        if ask.user_id not in self._fixtures.suppliers:
            return Refusal(codes.unknown_user, f"user {ask.user_id!r} is not known")
        image = self._image(ask)
        if isinstance(image, Refusal):
            return image
        data, facts = image
        warnings, invalid, valid = self._devices(ask)
        if not valid:
            return Refusal(codes.no_valid_device, "no valid device in DeviceIDList",
                           invalid_device_ids=invalid, warnings=warnings)
        refusal = self._authorise(ask, valid, data, facts, request_id, now)
        if refusal is not None:
            return refusal
        # --- in-progress check (R-DSP-03)
        busy = [d.id for d in valid if self._in_progress.holder(d.id, now) is not None]
        going = [d for d in valid if d.id not in busy]
        if not going:
            return Refusal(codes.in_progress, "every device already has a firmware update In Progress: "
                           + ", ".join(duis_eui(i) for i in busy), in_progress_device_ids=busy,
                           invalid_device_ids=invalid, warnings=warnings)
        return Distribution(data, facts, going, busy, invalid, warnings)

    def _image(self, ask: FirmwareAsk) -> Refusal | tuple[bytes, ImageFacts]:
        invalid = self._codes.invalid_request
        if isinstance(ask.image, str):
            try:
                data = base64.b64decode(ask.image.encode("ascii"), validate=True)
            except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
                return Refusal(invalid, f"FirmwareImage: not valid base64 ({exc})")
        else:
            data = bytes(ask.image)
        version = parse_version(ask.version_text)
        if version is None:
            return Refusal(invalid, f"FirmwareVersion: found {ask.version_text!r}, expected 8 hex digits")
        try:
            facts = image_facts(data)
        except ImageInvalid as exc:
            return Refusal(invalid, str(exc))
        if facts.file_version != version:
            return Refusal(invalid, f"FirmwareVersion {version:08X} does not match the image"
                                    f" header's file version {facts.file_version:08X}")
        if ask.sr == "11.4" and facts.size > self._max_ppmid:
            return Refusal(invalid, f"FirmwareImage: {facts.size} bytes, expected at most"
                                    f" {self._max_ppmid} for a PPMID image")
        return data, facts

    def _devices(self, ask: FirmwareAsk) -> tuple[list[DeviceWarning], list[str], list[Device]]:
        """Invalid devices become warnings, valid ones proceed (R-DSP-01)."""
        warnings: list[DeviceWarning] = []
        invalid: list[str] = []
        valid: list[Device] = []
        for given in dict.fromkeys(ask.device_ids):
            ieee = normalise_eui(given)
            device = self._fixtures.devices.get(ieee or "")
            if ieee is None:
                problem = ("InvalidDeviceID", "not an EUI-64")
            elif device is None:
                problem = ("UnknownDevice", "not a known device")
            elif device.kind not in ask.kinds:
                problem = ("NotPPMID" if ask.sr == "11.4" else "UnsupportedDeviceType",
                           f"a {device.kind}, expected {'/'.join(ask.kinds)}")
            else:
                valid.append(device)
                continue
            invalid.append(given)
            warnings.append(DeviceWarning(given, problem[0], f"{given}: {problem[1]}"))
        return warnings, invalid, valid

    def _authorise(self, ask: FirmwareAsk, valid: list[Device], data: bytes, facts: ImageFacts, request_id: str,
                   now: float) -> Refusal | None:
        codes = self._codes
        refused = [d for d in valid if ask.user_id not in d.responsible_suppliers()]
        if refused:
            return Refusal(codes.not_authorised, f"user {ask.user_id} is not a responsible supplier of "
                           + ", ".join(duis_eui(d.id) for d in refused))
        for d in valid:
            if self._fixtures.cpl_match(d.model, facts.manufacturer_code, facts.image_type, facts.file_version,
                                        facts.sha256) is None:
                return Refusal(codes.not_on_cpl,
                               f"image (manufacturer {facts.manufacturer_code:#06x}, type {facts.image_type:#06x},"
                               f" version {facts.file_version:08X}, sha256 {facts.sha256[:16]}…) is not on the CPL"
                               f" for model {d.model!r} ({duis_eui(d.id)})")
        signature = check_image_signature(data, self._fixtures.signers)  # GB bare images (rig.backend.signing)
        if not signature.ok:
            return Refusal(codes.bad_signature, signature.reason)
        if signature.status == "unverifiable":
            self._store.log(now, "signature_unverifiable", request_id=request_id, reason=signature.reason)
        cap = self._capacity
        large = [d for d in valid if cap.applies(d.smets, facts.size)]
        if large and not ask.bulk_approved:
            count = self._jobs.large_job_count(ask.user_id) + len(large)
            if count >= cap.bulk_threshold:
                return Refusal(codes.bulk_approval_required,
                               f"{count} large SMETS1 images from {ask.user_id}: >= {cap.bulk_threshold}"
                               " need the SMETS1 bulk firmware approval")
        return None

    # -- single-device requests (11.2 / 11.3) ----------------------------------------------------------
    def one_device(self, user_id: str, device_id: str) -> Device | Refusal:
        codes = self._codes
        if user_id not in self._fixtures.suppliers:
            return Refusal(codes.unknown_user, f"user {user_id!r} is not known")
        ieee = normalise_eui(device_id)
        device = self._fixtures.devices.get(ieee or "")
        if device is None:
            return Refusal(codes.no_valid_device,
                           f"DeviceID {device_id!r}: {'not an EUI-64' if ieee is None else 'unknown device'}",
                           invalid_device_ids=[device_id])
        if user_id not in device.responsible_suppliers():
            return Refusal(codes.not_authorised, f"user {user_id} is not a responsible supplier of {duis_eui(device.id)}")
        return device

    def activation(self, device: Device, firmware_version: str | int | None) -> Job | Refusal:
        """SR 11.3: the transferred WAIT distribution to release (of that version, when given)."""
        want = None if firmware_version is None else parse_version(firmware_version)
        if firmware_version is not None and want is None:
            return Refusal(self._codes.invalid_request,
                           f"FirmwareVersion: found {firmware_version!r}, expected 8 hex digits")
        dist = self._jobs.waiting_activation(device.id, ActivationPlan.WAIT.value)
        if dist is None or (want is not None and dist.file_version != want):
            return Refusal(self._codes.nothing_to_activate,
                           f"no transferred image{'' if want is None else f' version {want:08X}'}"
                           f" waiting for activation on {duis_eui(device.id)}")
        return dist

    # -- CS06 (CH firmware activation; a DCC-internal request) ----------------------------------------
    def cs06(self, ch_id: str, firmware_version: str | int, planned_time: float | None,
             notice_given_at: float | None, security: bool, now: float) -> tuple[Device, int] | Refusal:
        device = self._fixtures.devices.get(normalise_eui(ch_id) or "")
        target = parse_version(firmware_version)
        if device is None or device.kind != "CH":
            return Refusal(self._codes.no_valid_device,
                           f"CommsHubDeviceID {ch_id!r}: not a Comms Hub listed in the fixtures")
        if target is None:
            return Refusal(self._codes.invalid_request,
                           f"FirmwareVersion: found {firmware_version!r}, expected 8 hex digits")
        when = now if planned_time is None else planned_time
        if not security and (notice_given_at is None or when - notice_given_at < self._ch_notice):
            given = "none" if notice_given_at is None else f"{(when - notice_given_at) / DAY:.2f} days"
            return Refusal(self._codes.notice_period,
                           f"notice to Users before a CH firmware update: {given}, expected"
                           f" >= {self._ch_notice / DAY:g} days (or the security flag)")
        return device, target
