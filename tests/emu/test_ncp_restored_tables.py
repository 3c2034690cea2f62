"""The tables a restored backup fills: the trust centre's APS link keys and the child table.

An unmodified bellows writes keys the way its restore does (importLinkKey from EZSP 13,
addOrUpdateKeyTableEntry before) and reads them back the way its backup does (exportLinkKeyByIndex /
getKeyTableEntry over the configured table size; at 14+ the 8.x frames directly, see _read); erase and
clear empty it again.
"""

from __future__ import annotations

import bellows.types as bt
import pytest
import zigpy.state
import zigpy.types as zt

KEYS = [
    zigpy.state.Key(key=zt.KeyData(bytes(range(16))), partner_ieee=zt.EUI64.convert("00:11:22:33:44:55:66:77")),
    zigpy.state.Key(key=zt.KeyData(bytes(range(16, 32))), partner_ieee=zt.EUI64.convert("88:99:aa:bb:cc:dd:ee:ff")),
]


async def _read(ezsp) -> list[tuple[zt.EUI64, bytes]]:
    if ezsp.ezsp_version < 14:
        return [(key.partner_ieee, bytes(key.key)) async for key in ezsp.read_link_keys()]
    # bellows 1.2.1's read_link_keys unpacks 8.x's (status, context, key, metadata) in 7.x's order
    # (eui64, key, metadata, status), so it never yields a key at 14+: read the frames as 8.x sends them
    (_, size) = await ezsp.getConfigurationValue(configId=bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE)
    found = []
    for index in range(size):
        status, context, key, _metadata = await ezsp.exportLinkKeyByIndex(index=index)
        if status == bt.sl_Status.OK:
            assert context.key_index == index
            found.append((context.eui64, bytes(key)))
    return found


@pytest.mark.parametrize("version", [8, 12, 13, 14, 19])
async def test_link_keys_written_by_a_restore_come_back_in_a_backup(version, make_emulator, make_app):
    emu = await make_emulator(ezsp_version=version)
    app, _ = await make_app(emu)
    ezsp = app._ezsp

    await ezsp.write_link_keys(KEYS)
    assert await _read(ezsp) == [(k.partner_ieee, bytes(k.key)) for k in KEYS]

    (index,) = await ezsp.findKeyTableEntry(address=KEYS[1].partner_ieee, linkKey=True)
    assert index != 0xFF
    await ezsp.eraseKeyTableEntry(index=index)
    assert await _read(ezsp) == [(KEYS[0].partner_ieee, bytes(KEYS[0].key))]

    await ezsp.clearKeyTable()
    assert await _read(ezsp) == []
    assert emu.errors == []


CHILDREN = {zt.EUI64.convert("00:11:22:33:44:55:66:01"): zt.NWK(0x1234),
            zt.EUI64.convert("00:11:22:33:44:55:66:02"): zt.NWK(0x5678)}


@pytest.mark.parametrize("version", [9, 13, 14, 19])
async def test_children_written_by_a_restore_come_back_in_a_backup(version, make_emulator, make_app):
    """bellows' restore writes the backup's children with setChildData; its backup reads getChildData."""
    emu = await make_emulator(ezsp_version=version)
    app, _ = await make_app(emu)
    await app._ezsp.write_child_data(CHILDREN)
    read = {ieee: nwk async for nwk, ieee, _type in app._ezsp.read_child_data()}
    assert read == CHILDREN
    assert emu.errors == []
