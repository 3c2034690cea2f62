"""DUIS-shaped XML: requests in, responses and alerts out, all checked against rig/backend/xsd."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
import xmlschema

from rig.backend import duis
from rig.backend.requests import ReadFirmwareVersion, UpdatePPMIDFirmware
from rig.clock import DAY
from rig.hub.events import TransferResult
from tests.backend.helpers import CH, IS_A, PPMID1, PPMID_IMG, ieee

SCHEMA = xmlschema.XMLSchema(str(duis.XSD_PATH))


async def test_xml_request_in_response_and_alerts_out_validate(backend, hub, tmp_path):
    xml = duis.request_xml(UpdatePPMIDFirmware(IS_A, PPMID_IMG, "01020304", [PPMID1, "bogus id"]))
    SCHEMA.validate(xml.decode())
    req = duis.parse_request(xml)
    assert (req.user_id, req.device_ids, req.firmware_version) == (IS_A, [PPMID1, "bogus id"], "01020304")
    out = await duis.submit_xml(backend, xml)
    SCHEMA.validate(out.decode())
    root = ET.fromstring(out)
    ns = {"sr": duis.NS}
    assert root.findtext("sr:Header/sr:ResponseCode", namespaces=ns) == "I99"
    assert root.findtext("sr:Body/sr:ResponseMessage/sr:DSPUpdatePPMIDFirmwareWarning/sr:InvalidDeviceIDList",
                         namespaces=ns) == "bogus_id"
    offer = hub.offer_for(ieee(PPMID1))
    hub.transfer(offer)
    hub.activation(offer)
    await backend.alerts.next_matching(code=0x8F8B, timeout=10)
    cs06 = backend.activate_comms_hub_firmware(CH, "0000AB01", security=True)
    backend.comms_hub_activation_response(cs06.request_id, ch_id=CH, firmware_version="0000AB01")
    hub.transfer(offer, TransferResult.IMAGE_DISCARDED)  # a second outcome for the same offer: ignored
    await backend.drain()
    paths = backend.alerts.export_xml(tmp_path / "alerts")
    codes = [p.name.split("_", 1)[1] for p in paths]
    assert codes == ["N60.xml", "8F8A.xml", "8F8B.xml", "N63.xml"]
    for p in paths:
        SCHEMA.validate(str(p))
    n63 = ET.parse(paths[3]).getroot()
    assert n63.findtext("sr:Body/sr:DCCAlertMessage/sr:DCCAlert/sr:CommsHubFirmwareActivation/sr:CommsHubDeviceID",
                        namespaces=ns) == CH
    payload = ET.parse(paths[1]).getroot().findtext("sr:Body/sr:DeviceAlertMessage/sr:GBCSPayload", namespaces=ns)
    assert base64.b64decode(payload)[:5] == bytes.fromhex("3029020300")
    n = backend.alerts.export_jsonl(tmp_path / "alerts.jsonl")
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert n == 4 and [json.loads(x)["code"] for x in lines] == ["N60", "0x8F8A", "0x8F8B", "N63"]


async def test_rejections_and_11_2_responses_validate(backend, clock):
    for resp in (backend.update_ppmid_firmware(IS_A, PPMID_IMG, "FFFFFFFF", [PPMID1]),
                 backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", ["x", "y"]),
                 await backend.read_firmware_version(IS_A, PPMID1),
                 backend.activate_comms_hub_firmware(CH, "00000001", notice_given_at=clock.now() - DAY)):
        SCHEMA.validate(duis.response_xml(resp).decode())
    backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    dup = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    xml = duis.response_xml(dup).decode()
    SCHEMA.validate(xml)
    assert "InProgressDeviceIDList" in xml
    read = duis.request_xml(ReadFirmwareVersion(IS_A, PPMID1), over_the_air=True)
    out = await duis.submit_xml(backend, read)
    SCHEMA.validate(out.decode())
    assert b"<sr:ReadResult>1</sr:ReadResult>" in out  # the fake CH has no version for it: Read Failure


def test_bad_request_documents_get_clear_errors():
    good = duis.request_xml(UpdatePPMIDFirmware(IS_A, PPMID_IMG, "01020304", [PPMID1])).decode()
    with pytest.raises(duis.DuisError, match="FirmwareVersion"):
        duis.parse_request(good.replace(">01020304<", ">0102030Z<"))
    with pytest.raises(duis.DuisError, match="not readable"):
        duis.parse_request("<sr:Request")
    with pytest.raises(duis.DuisError, match="originator:target:counter"):
        duis.parse_request(good.replace(f"{IS_A}:{PPMID1}:1", "justone"))


async def test_xml_update_firmware_keeps_security_and_bulk_approval(tmp_path, clock, hub):
    """SR 11.1's rig extensions (Security, BulkApproved) survive the XML path into the back end."""
    from rig.backend import Backend, BackendConfig, Fixtures
    from rig.backend.controls import Capacity
    from rig.backend.requests import UpdateFirmware
    from tests.backend.helpers import cpl, estate, ota_image, sha

    esme = "00-DB-00-00-00-00-01-01"
    image = ota_image(0x1234, 0x0000, 0x00000010, body_len=300)
    est, c = estate(), cpl()
    est["devices"].append({"id": esme, "kind": "ESME", "model": "S1-ESME", "import_supplier": IS_A, "smets": 1})
    c["entries"].append({"model": "S1-ESME", "manufacturer_code": 0x1234, "image_type": 0,
                         "firmware_version": 0x10, "sha256": sha(image)})
    cfg = BackendConfig(capacity=Capacity(enabled=True, large_image_bytes=100, bulk_threshold=1))
    b = Backend(tmp_path / "xml.db", clock, hub, Fixtures.from_dicts(est, c), cfg)
    plain = duis.request_xml(UpdateFirmware(IS_A, image, "00000010", esme))
    flagged = duis.request_xml(UpdateFirmware(IS_A, image, "00000010", esme, security=True, bulk_approved=True),
                               counter=2)
    SCHEMA.validate(flagged.decode())
    req = duis.parse_request(flagged)
    assert (req.security, req.bulk_approved) == (True, True)
    ns = {"sr": duis.NS}
    refused = ET.fromstring(await duis.submit_xml(b, plain))
    assert refused.findtext("sr:Header/sr:ResponseCode", namespaces=ns) == b.codes.bulk_approval_required
    accepted = ET.fromstring(await duis.submit_xml(b, flagged))
    assert accepted.findtext("sr:Header/sr:ResponseCode", namespaces=ns) == b.codes.acknowledged
    [job] = b.jobs(req.request_id)
    assert job["security"] == 1
    assert b.errors == []
    b.close()
