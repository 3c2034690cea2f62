"""The pytest fixtures for Python tests drive the same stack as the YAML plans."""

from rig.clock import MINUTE


async def test_fixtures_upgrade_a_ppmid_through_the_back_end(rig, hub, backend, clock, emulated_devices):
    await emulated_devices("ppmid1", "ppmid")
    image = open("firmware_images/ppmid-v2.zigbee.ota", "rb").read()
    rig.allow_image(image)
    response = backend.update_ppmid_firmware("IMPORT-SUPPLIER-01", image, "00000002", [rig.device_id("ppmid1")])
    assert response.accepted, response.reason
    transfer = await backend.alerts.next_matching(code=0x8F8A, timeout=10 * MINUTE)
    assert transfer.request_id == response.request_id
    await rig.advance(15 * MINUTE)
    await rig.wait_until(lambda: backend.alerts.count(code=0x8F8B) == 1, 10 * MINUTE)
    assert backend.register.version(rig.session.devices["ppmid1"].ieee) == 2
    assert await hub.read_version(rig.session.devices["ppmid1"].ieee) == 2
