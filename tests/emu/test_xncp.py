"""The emulated stick as an XNCP firmware build: bellows finds COMBINED_SEND and uses it; stock refuses."""

from __future__ import annotations

import bellows.types as bt
import pytest
from bellows.ezsp import xncp

from rig.emu import ncp_xncp

from tests.emu.conftest import wait_until
from tests.emu.test_network import _interviewed, _unacked_send


async def _joined(make_emulator, make_app, make_node, **emu_kwargs):
    emu = await make_emulator(**emu_kwargs)
    app, _ = await make_app(emu)
    node = make_node(emu)
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: _interviewed(app, node))
    return emu, app, node


async def test_bellows_sends_unicasts_with_one_combined_command(make_emulator, make_app, make_node) -> None:
    emu, app, node = await _joined(make_emulator, make_app, make_node, xncp=True)
    assert xncp.FirmwareFeatures.COMBINED_SEND in app._ezsp._xncp_features
    emu.trace.clear()
    before = len(node.received)
    await _unacked_send(app, node)
    assert len(node.received) == before + 1
    sent = [name for direction, name in emu.trace if direction == "host->ncp"]
    assert "customFrame" in sent
    assert "getExtendedTimeout" not in sent and "sendUnicast" not in sent


async def test_stock_stick_refuses_custom_frames(make_emulator, make_app, make_node) -> None:
    emu, app, node = await _joined(make_emulator, make_app, make_node)
    assert app._ezsp._xncp_features == xncp.FirmwareFeatures.NONE
    emu.trace.clear()
    await _unacked_send(app, node)
    sent = [name for direction, name in emu.trace if direction == "host->ncp"]
    assert "getExtendedTimeout" in sent and "sendUnicast" in sent


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\x09\x00\x00", b"\x34\x12\x00", b"\xff" * 40])
def test_garbage_xncp_requests_get_unknown_not_a_crash(payload: bytes) -> None:
    rsp = ncp_xncp.answer(None, payload, send_unicast=None)  # nothing to send: must not be reached
    assert rsp["status"] == bt.sl_Status.OK
    frame = xncp.XncpCommand.from_bytes(rsp["reply"])
    assert frame.command_id == xncp.XncpCommandId.UNKNOWN
