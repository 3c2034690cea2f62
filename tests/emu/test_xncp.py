"""The emulated stick as an XNCP firmware build: bellows finds COMBINED_SEND and uses it; stock refuses."""

from __future__ import annotations

import types

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


# what the firmware answers (xncp_core.c): too short for the header -> UNKNOWN + BAD_ARGUMENT; a command
# it has no handler for -> UNKNOWN + NOT_FOUND; a known command with a short payload -> its response id +
# BAD_ARGUMENT. Statuses are the low octet of sl_status_t on an 8.x build (EZSP 14+), EmberStatus before.
GARBAGE = [
    (b"", xncp.XncpCommandId.UNKNOWN, {14: 0x21, 13: 0x02}),
    (b"\x00", xncp.XncpCommandId.UNKNOWN, {14: 0x21, 13: 0x02}),
    (b"\x09\x00\x00", xncp.XncpCommandId.SEND_UNICAST_RSP, {14: 0x21, 13: 0x02}),
    (b"\x09\x00\x00" + bytes(14), xncp.XncpCommandId.SEND_UNICAST_RSP, {14: 0x21, 13: 0x02}),
    (b"\x34\x12\x00", xncp.XncpCommandId.UNKNOWN, {14: 0x2D, 13: 0x03}),
    (b"\xff" * 40, xncp.XncpCommandId.UNKNOWN, {14: 0x2D, 13: 0x03}),
]


@pytest.mark.parametrize("version", [13, 14])
@pytest.mark.parametrize(("payload", "command_id", "status"), GARBAGE)
def test_garbage_xncp_requests_are_refused_as_the_firmware_does(payload, command_id, status, version) -> None:
    ncp = types.SimpleNamespace(version=version)
    rsp = ncp_xncp.answer(ncp, payload, send_unicast=None)  # nothing to send: must not be reached
    assert rsp["status"] == bt.sl_Status.OK
    reply = rsp["reply"]
    assert int.from_bytes(reply[:2], "little") == command_id and reply[2] == status[version], reply.hex()


def test_bellows_reads_the_emulators_xncp_frames() -> None:
    """The host's parser (bellows' XNCP types) agrees with the emulator's own definitions."""
    ncp = types.SimpleNamespace(version=14)
    features = xncp.XncpCommand.from_bytes(ncp_xncp.answer(ncp, b"\x00\x00\x00", None)["reply"])
    assert features.status == xncp.XncpStatus.OK
    assert features.payload.features == xncp.FirmwareFeatures.COMBINED_SEND | xncp.FirmwareFeatures.BUILD_STRING
    build = xncp.XncpCommand.from_bytes(ncp_xncp.answer(ncp, b"\x03\x00\x00", None)["reply"])
    assert build.payload.build_string.decode() == ncp_xncp.BUILD_STRING
