"""DUIS-shaped XML in and out (schema: xsd/rig-duis.xsd, the rig's own subset in the DUIS namespace).

In: `parse_request(xml)` validates a `sr:Request` against the schema (clear error naming the element
path and the problem) and maps it to a request dataclass. The Service User is the originator part of
Header/RequestID (DUIS form originator:target:counter); for single-device SRs (11.1/11.2/11.3) the target
part is the device. `submit_xml(backend, xml)` runs it through `Backend.submit_async` and returns the response XML.

Out: `response_xml(ServiceResponse)` and `alert_xml(Alert)` build `sr:Response` documents; every one
validates against the same schema (the tests check that).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import functools
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rig.backend.alert import Alert
from rig.backend.fixtures import duis_eui, normalise_eui
from rig.backend.requests import (ActivateFirmware, ReadFirmwareVersion, ServiceRequest, ServiceResponse,
                                  UpdateFirmware, UpdatePPMIDFirmware, iso_utc)

NS = "http://www.dccinterface.co.uk/ServiceUserGateway"
SCHEMA_VERSION = "5.4"
XSD_PATH = Path(__file__).with_name("xsd") / "rig-duis.xsd"
ET.register_namespace("sr", NS)


class DuisError(ValueError):
    """A request document that cannot be used; the message names the element and the problem."""


@functools.cache
def schema() -> Any:
    import xmlschema  # noqa: PLC0415 - only needed when XML is used

    return xmlschema.XMLSchema(str(XSD_PATH))


def validate(xml: bytes | str) -> None:
    """Raise DuisError unless `xml` is valid against xsd/rig-duis.xsd."""
    import xmlschema  # noqa: PLC0415

    try:
        schema().validate(xml if isinstance(xml, str) else xml.decode("utf-8"))
    except xmlschema.XMLSchemaValidationError as exc:
        raise DuisError(f"DUIS XML invalid at {exc.path}: {exc.reason}") from None
    except (xmlschema.XMLSchemaException, ET.ParseError, UnicodeDecodeError) as exc:
        raise DuisError(f"DUIS XML not readable: {exc}") from None


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _text(parent: ET.Element, tag: str) -> str | None:
    el = parent.find(_q(tag))
    return None if el is None or el.text is None else el.text.strip()


def _flag(parent: ET.Element, tag: str) -> bool:
    """An optional xs:boolean element: absent is false."""
    return _text(parent, tag) in ("true", "1")


def _when(text: str | None) -> float | None:
    if text is None:
        return None
    stamp = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return stamp.timestamp()


# ======================================================================================= in ===
def parse_request(xml: bytes | str) -> ServiceRequest:
    validate(xml)
    root = ET.fromstring(xml)
    header = root.find(_q("Header"))
    body = root.find(_q("Body"))
    rid = _text(header, "RequestID") or ""
    parts = rid.split(":")
    if len(parts) != 3 or not parts[0]:
        raise DuisError(f"Header/RequestID: found {rid!r}, expected originator:target:counter")
    user, target = parts[0], parts[1]
    element = body[0]
    name = element.tag.split("}")[1]
    if name == "UpdatePPMIDFirmware":
        ids = [(d.text or "").strip() for d in element.find(_q("DeviceIDList"))]
        return UpdatePPMIDFirmware(user, base64.b64decode(_text(element, "FirmwareImage") or ""),
                                   _text(element, "FirmwareVersion") or "", ids,
                                   execution_time=_when(_text(element, "ExecutionDateTime")), request_id=rid)
    if normalise_eui(target) is None:
        raise DuisError(f"Header/RequestID: target {target!r} must be the device's EUI-64 for {name}")
    if name == "UpdateFirmware":
        return UpdateFirmware(user, base64.b64decode(_text(element, "FirmwareImage") or ""),
                              _text(element, "FirmwareVersion") or "", target, request_id=rid,
                              security=_flag(element, "Security"), bulk_approved=_flag(element, "BulkApproved"))
    if name == "ActivateFirmware":
        return ActivateFirmware(user, target, _text(element, "FirmwareVersion"),
                                _when(_text(element, "ExecutionDateTime")), request_id=rid)
    return ReadFirmwareVersion(user, target, request_id=rid, over_the_air=_flag(element, "OverTheAir"))


async def submit_xml(backend: Any, xml: bytes | str, *, over_the_air: bool | None = None) -> bytes:
    """Parse, run and answer one DUIS-shaped request (raises DuisError for an unusable document).
    `over_the_air`, when given, overrides an SR 11.2's OverTheAir element."""
    req = parse_request(xml)
    if isinstance(req, ReadFirmwareVersion) and over_the_air is not None:
        req = dataclasses.replace(req, over_the_air=over_the_air)
    return response_xml(await backend.submit_async(req))


def request_xml(req: ServiceRequest, *, counter: int = 1, over_the_air: bool = False) -> bytes:
    """Build a request document (what a Service User would send); handy for plans and tests."""
    if isinstance(req, UpdatePPMIDFirmware):
        sr, name, target = "11.4", "UpdatePPMIDFirmware", req.device_ids[0] if req.device_ids else "00"
    elif isinstance(req, UpdateFirmware):
        sr, name, target = "11.1", "UpdateFirmware", req.device_id
    elif isinstance(req, ActivateFirmware):
        sr, name, target = "11.3", "ActivateFirmware", req.device_id
    else:
        sr, name, target = "11.2", "ReadFirmwareVersion", req.device_id
    target = duis_eui(normalise_eui(target)) if normalise_eui(target) else target
    root = ET.Element(_q("Request"), schemaVersion=SCHEMA_VERSION)
    header = ET.SubElement(root, _q("Header"))
    _sub(header, "RequestID", req.request_id or f"{req.user_id}:{target}:{counter}")
    _sub(header, "CommandVariant", "1")
    _sub(header, "ServiceReference", sr)
    _sub(header, "ServiceReferenceVariant", sr)
    el = ET.SubElement(ET.SubElement(root, _q("Body")), _q(name))
    if isinstance(req, UpdatePPMIDFirmware):
        if req.execution_time is not None:
            _sub(el, "ExecutionDateTime", iso_utc(req.execution_time))
        _sub(el, "FirmwareImage", base64.b64encode(req.image).decode("ascii"))
        _sub(el, "FirmwareVersion", req.firmware_version)
        ids = ET.SubElement(el, _q("DeviceIDList"))
        for d in req.device_ids:
            _sub(ids, "DeviceID", d)
    elif isinstance(req, UpdateFirmware):
        _sub(el, "FirmwareImage", base64.b64encode(req.image).decode("ascii"))
        _sub(el, "FirmwareVersion", req.firmware_version)
        if req.security:
            _sub(el, "Security", "true")
        if req.bulk_approved:
            _sub(el, "BulkApproved", "true")
    elif isinstance(req, ActivateFirmware):
        if req.execution_time is not None:
            _sub(el, "ExecutionDateTime", iso_utc(req.execution_time))
        if req.firmware_version is not None:
            _sub(el, "FirmwareVersion", req.firmware_version)
    elif over_the_air or req.over_the_air:
        _sub(el, "OverTheAir", "true")
    return _bytes(root)


# ====================================================================================== out ===
def _sub(parent: ET.Element, tag: str, text: object) -> ET.Element:
    el = ET.SubElement(parent, _q(tag))
    el.text = str(text)
    return el


def _bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _envelope(request_id: str | None, response_id: str, code: str, when: float) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(_q("Response"), schemaVersion=SCHEMA_VERSION)
    header = ET.SubElement(root, _q("Header"))
    if request_id:
        _sub(header, "RequestID", request_id)
    _sub(header, "ResponseID", response_id)
    _sub(header, "ResponseCode", code)
    _sub(header, "ResponseDateTime", iso_utc(when))
    return root, ET.SubElement(root, _q("Body"))


def _token(text: str) -> str:
    return "_".join(text.split()) or "_"


def response_xml(resp: ServiceResponse) -> bytes:
    root, body = _envelope(resp.request_id, f"DSP:{resp.request_id}", resp.response_code, resp.time)
    msg = ET.SubElement(body, _q("ResponseMessage"))
    _sub(msg, "ServiceReference", resp.service_reference)
    _sub(msg, "ServiceReferenceVariant", resp.service_reference)
    if resp.invalid_device_ids:
        warn = "DSPUpdatePPMIDFirmwareWarning" if resp.service_reference == "11.4" else "DSPUpdateFirmwareWarning"
        _sub(ET.SubElement(msg, _q(warn)), "InvalidDeviceIDList", " ".join(_token(i) for i in resp.invalid_device_ids))
    if resp.in_progress_device_ids:
        _sub(msg, "InProgressDeviceIDList", " ".join(duis_eui(i) for i in resp.in_progress_device_ids))
    for w in resp.warnings:
        if w.device in resp.invalid_device_ids:
            continue  # already in InvalidDeviceIDList
        g = ET.SubElement(msg, _q("GuidanceWarning"))
        _sub(g, "DeviceID", duis_eui(w.device) if normalise_eui(w.device) else w.device)
        _sub(g, "WarningCode", w.code)
        _sub(g, "Text", w.text)
    if resp.reason:
        _sub(msg, "Reason", resp.reason)
    if resp.service_reference == "11.2" and resp.accepted:
        read = ET.SubElement(msg, _q("FirmwareVersionRead"))
        if resp.firmware_version is not None:
            _sub(read, "FirmwareVersion", f"{resp.firmware_version:08X}")
        _sub(read, "ReadResult", 0 if resp.firmware_version is not None else 1)
        _sub(read, "Source", resp.version_source or "register")
    return _bytes(root)


def alert_xml(alert: Alert) -> bytes:
    f = alert.fields
    device = duis_eui(alert.device) if alert.device else "DCC"
    if alert.family == "device":
        root, body = _envelope(alert.request_id, f"{device}:ALERT:{alert.seq}", "I0", alert.time)
        msg = ET.SubElement(body, _q("DeviceAlertMessage"))
        _sub(msg, "AlertCode", alert.code.replace("0x", "").upper())
        _sub(msg, "GBCSPayload", base64.b64encode(bytes.fromhex(f["GBCSPayload"])).decode("ascii"))
        dec = ET.SubElement(msg, _q("Decoded"))
        _sub(dec, "MessageCode", f["MessageCode"])
        _sub(dec, "ExecutionDateTime", f["ExecutionDateTime"])
        if "EntityId" in f:
            _sub(dec, "EntityId", f["EntityId"])
        _sub(dec, "FirmwareVersion", f["FirmwareVersion"])
        for key in ("ResponseCode", "ActivateImage"):
            if key in f:
                _sub(dec, key, f[key])
        return _bytes(root)
    code = f.get("ResponseCode", "I0")
    root, body = _envelope(alert.request_id, f"DCC:{device}:{alert.seq}", code, alert.time)
    msg = ET.SubElement(body, _q("DCCAlertMessage"))
    _sub(msg, "DCCAlertCode", alert.code)
    holder = ET.SubElement(msg, _q("DCCAlert"))
    if "CommsHubDeviceID" in f:
        item = ET.SubElement(holder, _q("CommsHubFirmwareActivation"))
        for key in ("CommsHubDeviceID", "TimeStamp", "FirmwareVersion"):
            _sub(item, key, f[key])
    elif "Outcome" in f:
        item = ET.SubElement(holder, _q("FirmwareDistributionStatus"))
        for key in ("DeviceID", "FirmwareVersion", "Outcome", "Detail"):
            _sub(item, key, f[key])
    else:
        item = ET.SubElement(holder, _q("FirmwareVersionChange"))
        for key in ("DeviceID", "FirmwareVersion", "Source", "ObservedAt"):
            _sub(item, key, f[key])
    return _bytes(root)
