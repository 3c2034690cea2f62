"""An unmodified zigpy + bellows ControllerApplication (not the hub) against `rig emulate` over tcp://.

form, permit, the HA-profile PPMID variant (fixtures/devices/ppmid-ha.yaml: stock zigpy drops ZCL on
the Smart Energy profile) joins, interview, a Basic read, and one zigpy `update_firmware` of a small
image, checked from the host's side only: the device answers the new version afterwards. The
emulator must record no errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import time
from pathlib import Path

import pytest
import zigpy.config as zconf
import zigpy.device
import zigpy.ota
import zigpy.ota.image as ota_image
import zigpy.ota.providers as ota_providers
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota

from tests.interop.emulate_cli import EmulateProcess
from tests.interop.steps import Steps

REPO = Path(__file__).resolve().parents[2]
PPMID_HA = REPO / "fixtures" / "devices" / "ppmid-ha.yaml"
MANUFACTURER_ID, IMAGE_TYPE = 0x1234, 0x0101  # what the emulated PPMID's OTA client asks for


def small_image(version: int, payload: int = 2048) -> zigpy.ota.OtaImageWithMetadata:
    """An OTA file built with zigpy's own types, wrapped as a zigpy OTA provider hands it over."""
    header = ota_image.OTAImageHeader(
        upgrade_file_id=ota_image.OTAImageHeader.MAGIC_VALUE, header_version=0x0100, header_length=56,
        field_control=ota_image.FieldControl(0), manufacturer_id=MANUFACTURER_ID, image_type=IMAGE_TYPE,
        file_version=version, stack_version=2, header_string="rig interop image", image_size=0,
    )
    body = hashlib.shake_256(b"interop").digest(payload)
    image = ota_image.OTAImage(
        header=header, subelements=[ota_image.SubElement(tag_id=ota_image.ElementTagId.UPGRADE_IMAGE, data=body)],
    )
    image.header.image_size = len(image.header.serialize()) + sum(len(s.serialize()) for s in image.subelements)
    raw = image.serialize()
    return zigpy.ota.OtaImageWithMetadata(
        metadata=ota_providers.BaseOtaImageMetadata(
            file_version=version, manufacturer_id=MANUFACTURER_ID, image_type=IMAGE_TYPE, file_size=len(raw),
            checksum="sha256:" + hashlib.sha256(raw).hexdigest(),
        ),
        firmware=image,
    )


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.0f s" % timeout)
        await asyncio.sleep(0.05)


STEPS = ["form", "permit", "join", "interview", "read Basic", "update_firmware", "read version"]


@pytest.mark.parametrize("version", [13, 14, 19])
async def test_stock_zigpy_app_joins_interviews_and_upgrades(version, tmp_path, monkeypatch):
    from bellows.zigbee.application import ControllerApplication

    steps = Steps(f"zigpy {importlib.metadata.version('zigpy')} + bellows {importlib.metadata.version('bellows')} "
                  f"ControllerApplication, EZSP v{version}")
    monkeypatch.setattr(zigpy.device, "AFTER_OTA_ATTR_READ_DELAY", 0.5)  # zigpy's pause before its re-read
    emulator = EmulateProcess("--transport", "tcp", "--ezsp-version", str(version), "--devices", str(PPMID_HA),
                              workdir=tmp_path)
    app = None
    try:
        config = {
            zconf.CONF_DEVICE: {zconf.CONF_DEVICE_PATH: emulator.port},
            "use_thread": False,
            zconf.CONF_DATABASE: None,
            zconf.CONF_NWK: {zconf.CONF_NWK_CHANNEL: 25, zconf.CONF_NWK_PAN_ID: 0x4C21},
            zconf.CONF_TOPO_SCAN_ENABLED: False,
            zconf.CONF_OTA: {zconf.CONF_OTA_PROVIDERS: [], zconf.CONF_OTA_BROADCAST_ENABLED: False},
        }
        with steps.step("form") as detail:
            app = await ControllerApplication.new(config, auto_form=True, start_radio=True)
            assert app.state.network_info.channel == 25 and app.state.network_info.pan_id == 0x4C21
            detail.update(channel=25, pan_id="0x4C21", ezsp=app._ezsp.ezsp_version)
            assert app._ezsp.ezsp_version == version

        with steps.step("permit"):
            await app.permit(60)
        with steps.step("join") as detail:
            await wait_for(lambda: any(d.nwk != 0x0000 for d in app.devices.values()))  # the PPMID joined
            device = next(d for d in app.devices.values() if d.nwk != 0x0000)
            detail.update(ieee=str(device.ieee), nwk=f"0x{device.nwk:04X}")
        with steps.step("interview") as detail:
            await wait_for(lambda: device.is_initialized and device.model is not None)
            assert device.endpoints[1].profile_id == 0x0104
            detail.update(model=device.model, manufacturer=device.manufacturer, profile="0x0104")

        with steps.step("read Basic") as detail:
            basic = device.endpoints[1].in_clusters[Basic.cluster_id]
            ok, failed = await basic.read_attributes(["manufacturer", "model"], allow_cache=False)
            assert ok == {"manufacturer": "HAN OTA Rig", "model": "EMU-PPMID"} and not failed
            detail.update(ok)

        with steps.step("update_firmware") as detail:
            ota = device.endpoints[1].out_clusters[Ota.cluster_id]
            await wait_for(lambda: ota.get(Ota.AttributeDefs.current_file_version.name) is not None)  # interview's
            before = ota.get(Ota.AttributeDefs.current_file_version.name)
            image = small_image(before + 1)
            result = await asyncio.wait_for(device.update_firmware(image), 120)
            assert result == foundation.Status.SUCCESS
            detail.update(result=result.name, image_bytes=image.metadata.file_size)
        with steps.step("read version") as detail:
            # zigpy re-interviews after an upgrade and swaps in a new Device object: ask the new one
            device = app.get_device(ieee=device.ieee)
            ota = device.endpoints[1].out_clusters[Ota.cluster_id]
            ok, _ = await ota.read_attributes(["current_file_version"], allow_cache=False)
            assert ok["current_file_version"] == before + 1
            detail.update({"from": before, "to": ok["current_file_version"]})
    finally:
        if app is not None:
            await app.shutdown()
        errors = emulator.stop()
    print(f"  EZSP v{version}: emulator errors {len(errors)}")
    assert steps.passed() == STEPS
    assert errors == [], "the emulated NCP recorded errors:\n" + "\n".join(errors)
