"""Network-key rotation and the CCA-mode setting, through an unmodified bellows host over ASH on the pty.

zigbee-herdsman's ember adapter has both (broadcastNetworkKeyUpdate; initEzsp with a CCA_MODE stack
setting); bellows sends the same frames, so bellows drives them here and zigpy reads the result back.
"""

from __future__ import annotations

import bellows.types as bt
import pytest
import zigpy.types as zt


def _ok(status) -> bool:
    return status in (bt.EmberStatus.SUCCESS, bt.sl_Status.OK)


@pytest.mark.parametrize("version", [13, 14])
async def test_next_network_key_then_switch(version, make_emulator, make_app):
    emu = await make_emulator(ezsp_version=version)
    app, _ = await make_app(emu)
    before = app.state.network_info.network_key
    new_key = bytes(range(0x10, 0x20))

    (status,) = await app._ezsp.broadcastNetworkKeySwitch()
    assert not _ok(status)  # nothing to switch to yet

    (status,) = await app._ezsp.broadcastNextNetworkKey(key=bt.KeyData(new_key))
    assert _ok(status)
    await app.load_network_info()
    assert app.state.network_info.network_key.key == before.key  # sent, not in use yet

    (status,) = await app._ezsp.broadcastNetworkKeySwitch()
    assert _ok(status)
    await app.load_network_info()
    key = app.state.network_info.network_key
    assert key.key == zt.KeyData(new_key)
    assert key.seq == (before.seq + 1) % 256
    assert emu.errors == []


@pytest.mark.parametrize("version", [13, 14])
async def test_cca_mode(version, make_emulator, make_app):
    emu = await make_emulator(ezsp_version=version)
    app, _ = await make_app(emu)
    (status,) = await app._ezsp.setRadioIeee802154CcaMode(cca_mode=2)  # SIGNAL_OR_RSSI
    assert _ok(status) and emu.ncp.ram.cca_mode == 2
    (status,) = await app._ezsp.setRadioIeee802154CcaMode(cca_mode=9)
    assert not _ok(status) and emu.ncp.ram.cca_mode == 2


async def test_outgoing_nwk_frame_counter_advances(make_emulator, make_app):
    """Each frame the stick sends takes the next NWK frame counter; a backup reads it back."""
    emu = await make_emulator()
    app, _ = await make_app(emu)
    await app.load_network_info()
    before = app.state.network_info.network_key.tx_counter
    await app.permit(10)  # a broadcast Mgmt_Permit_Joining_req
    await app.permit(0)
    await app.load_network_info()
    assert app.state.network_info.network_key.tx_counter >= before + 2
