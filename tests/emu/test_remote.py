"""RemoteEmulator: the emulator in its own process, driven over the control channel, with unmodified
bellows/zigpy talking to it over the pty from this process."""

from __future__ import annotations

import pytest
import zigpy.types as zt
from zigpy.zcl.clusters.general import Basic

from rig.clock import VirtualClock
from rig.emu.network import PermitJoinClosed
from rig.emu.remote import RemoteDevice, RemoteEmulator

try:
    from conftest import start_app, wait_until
except ImportError:  # tests/emu became a package
    from .conftest import start_app, wait_until


def test_refuses_a_virtual_clock() -> None:
    with pytest.raises(ValueError, match="real time"):
        RemoteEmulator(clock=VirtualClock())


@pytest.mark.timeout(120)
async def test_bellows_interviews_a_device_living_in_the_emulator_process() -> None:
    emu = RemoteEmulator(ezsp_version=13, seed=7, trace=False)
    await emu.start()
    app = None
    try:
        assert emu.port.startswith("/dev/") and emu.ezsp_version == 13
        dev = emu.add_device("ppmid-ha")  # HA profile: stock zigpy matches its ZCL replies
        assert isinstance(dev, RemoteDevice) and isinstance(dev.ieee, zt.EUI64)
        assert emu.devices == [dev] and isinstance(dev.nwk, int)
        assert dev.flash.current_file_version == 1 and dev.flash.installed_image is None

        with pytest.raises(PermitJoinClosed, match="not permitting joins"):  # the remote exception, as itself
            await emu.join(dev)

        app, _ = await start_app(emu)
        await app.permit(30)
        await emu.join(dev)
        await wait_until(lambda: (z := app.devices.get(dev.ieee)) is not None and z.is_initialized, timeout=30)
        zdev = app.devices[dev.ieee]
        ep = next(e for i, e in zdev.endpoints.items() if i and Basic.cluster_id in e.in_clusters)
        result, _ = await ep.in_clusters[Basic.cluster_id].read_attributes(["model"], allow_cache=False)
        assert result["model"] == dev.profile.model
        assert any(r.name == "zcl_request" and r.data["cluster"] == Basic.cluster_id for r in dev.records)

        # a device's event log, awaited in the emulator process
        first = dev.ota.records[0]
        assert (await dev.ota.wait_for_event(first.name, timeout=5)).name == first.name
        with pytest.raises(TimeoutError):
            await dev.ota.wait_for_event("activated", timeout=0.2)
        with pytest.raises(TypeError, match="cannot cross"):
            await dev.ota.wait_for_event("activated", where=lambda e: True)

        # faults, read and written through the proxies; bad values refused by the emulator itself
        dev.faults.drop_block_responses = 2
        assert dev.faults.drop_block_responses == 2
        emu.faults.drop_ack_probability = 0.25
        assert emu.faults.drop_ack_probability == 0.25
        with pytest.raises(ValueError, match="within"):
            emu.faults.drop_ack_probability = 2
        emu.faults.drop_ack_probability = 0.0
        assert emu.process_cpu_s() > 0
    finally:
        if app is not None:
            await app.shutdown()
        proc = emu._proc
        await emu.stop()
    assert proc is not None and proc.poll() is not None, "the emulator process must exit on stop()"
    assert emu.errors == []
