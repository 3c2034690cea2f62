"""The XNCP extension some EmberZNet sticks carry, behind EZSP `customFrame`.

Stock EmberZNet refuses custom frames. The zigpy project's firmware builds (on the Home Assistant
Connect ZBT-1 and other EFR32 sticks) answer them with XNCP, a small command set bellows probes at
startup. The one that matters to the rig is COMBINED_SEND: one command sets a destination's
extended timeout and sends the unicast, where stock EmberZNet costs bellows a getExtendedTimeout
round trip before every sendUnicast. The emulated stick offers it only when asked
(`Emulator(xncp=True)`, `rig emulate --xncp`), so by default it stays a stock stick.

Frames are the emulator's own XNCP definitions (rig.emu.ezsp.xncp), written from the firmware's.
"""

from __future__ import annotations

import logging
from typing import Any

import bellows.types as bt
import zigpy.types as zt

from rig.emu.ezsp import xncp
from rig.emu.ncp_context import NcpContext

LOGGER = logging.getLogger(__name__)

# What the emulated XNCP firmware claims: only what it implements (no manual source routes).
FEATURES = xncp.FEATURE_COMBINED_SEND | xncp.FEATURE_BUILD_STRING
BUILD_STRING = "HAN OTA Rig emulated EmberZNet + XNCP"


def answer(ncp: NcpContext, payload: bytes, send_unicast: Any) -> dict[str, Any]:
    """The customFrame response for an XNCP request (`send_unicast`: the sendUnicast handler)."""
    version = ncp.version
    request = xncp.parse(payload)
    if request is None:  # shorter than the header: UNKNOWN, BAD_ARGUMENT, never a crash
        LOGGER.debug("XNCP request %s too short", payload.hex())
        return _done(xncp.reply(xncp.UNKNOWN, xncp.bad_argument(version)))
    rsp_id = xncp.response_id(request.command_id)
    if request.command_id == xncp.GET_SUPPORTED_FEATURES:
        return _done(xncp.reply(rsp_id, xncp.OK, FEATURES.to_bytes(4, "little")))
    if request.command_id == xncp.GET_BUILD_STRING:
        return _done(xncp.reply(rsp_id, xncp.OK, BUILD_STRING.encode()))
    if request.command_id == xncp.SEND_UNICAST:
        req = xncp.parse_send_unicast(request.payload)
        if req is None or req.relays is not None:  # short, or a source route this build does not offer
            return _done(xncp.reply(rsp_id, xncp.bad_argument(version)))
        return _done(xncp.reply(rsp_id, xncp.OK, _combined_send(ncp, req, send_unicast)))
    LOGGER.debug("XNCP command 0x%04X not offered", request.command_id)
    return _done(xncp.reply(xncp.UNKNOWN, xncp.not_found(version)))


def _combined_send(ncp: NcpContext, req: xncp.SendUnicast, send_unicast: Any) -> bytes:
    if req.eui64 is not None:
        ncp.ram.extended_timeout[zt.EUI64(req.eui64)] = bool(req.extended_timeout)
    rsp = send_unicast(ncp, {
        "type": bt.EmberOutgoingMessageType.OUTGOING_DIRECT,
        "indexOrDestination": req.destination,
        "apsFrame": req.aps_frame,
        "messageTag": req.message_tag,
        "messageContents": req.message,
    })
    status = bt.sl_Status(rsp["status"])  # the handlers speak sl_Status; XNCP sends all four bytes
    return int(status).to_bytes(4, "little") + bytes([int(rsp["sequence"])])


def _done(frame: bytes) -> dict[str, Any]:
    return {"status": bt.sl_Status.OK, "reply": frame}
