"""getExtendedValue(ENDPOINT_FLAGS) through an unmodified bellows host over real ASH on the pty.

zigbee-herdsman's ember adapter asks for each endpoint's flags before addEndpoint and registers
the endpoint only when the status is not OK; it reads a 2-byte value either way.
"""

from __future__ import annotations

import bellows.types as bt
import pytest

ENDPOINT_FLAGS = bt.EzspExtendedValueId.EXTENDED_VALUE_ENDPOINT_FLAGS


def _ok(status) -> bool:
    return status in (bt.EzspStatus.SUCCESS, bt.sl_Status.OK)


@pytest.mark.parametrize("version", [13, 14, 19])
async def test_endpoint_flags_as_emberznet_answers(version, make_emulator, make_app):
    emu = await make_emulator(ezsp_version=version)
    app, _ = await make_app(emu)
    ep = 0x77  # an endpoint the host has not registered yet

    status, value = await app._ezsp.getExtendedValue(valueId=ENDPOINT_FLAGS, characteristics=ep)
    assert not _ok(status)
    assert len(value) == 2  # the length is always 2: herdsman throws on anything shorter

    (status,) = await app._ezsp.addEndpoint(
        endpoint=ep, profileId=0x0104, deviceId=0x0005, deviceVersion=0,
        inputClusterCount=1, outputClusterCount=0, inputClusterList=[0x0000], outputClusterList=[],
    )
    assert _ok(status)
    status, value = await app._ezsp.getExtendedValue(valueId=ENDPOINT_FLAGS, characteristics=ep)
    assert _ok(status)
    assert bytes(value) == b"\x01\x00"  # EMBER_ENDPOINT_ENABLED, little-endian uint16
    assert emu.errors == []
