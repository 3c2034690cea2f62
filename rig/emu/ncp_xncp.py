"""The XNCP extension some EmberZNet sticks carry, behind EZSP `customFrame`.

Stock EmberZNet refuses custom frames. The zigpy project's firmware builds (on the Home Assistant
Connect ZBT-1 and other EFR32 sticks) answer them with XNCP, a small command set bellows probes at
startup. The one that matters to the rig is COMBINED_SEND: one command sets a destination's
extended timeout and sends the unicast, where stock EmberZNet costs bellows a getExtendedTimeout
round trip before every sendUnicast. The emulated stick offers it only when asked
(`Emulator(xncp=True)`, `rig emulate --xncp`), so by default it stays a stock stick.

Frames are bellows' own XNCP types, read from the NCP's side: XNCP is the zigpy project's extension and
bellows is where it is defined (EZSP itself uses the emulator's own definitions, rig.emu.ezsp).
"""

from __future__ import annotations

import logging
from typing import Any

import bellows.types as bt
from bellows.ezsp import xncp

from rig.emu.ncp_context import NcpContext

LOGGER = logging.getLogger(__name__)

# What the emulated XNCP firmware claims: only what it implements.
FEATURES = xncp.FirmwareFeatures.COMBINED_SEND | xncp.FirmwareFeatures.BUILD_STRING
BUILD_STRING = "HAN OTA Rig emulated EmberZNet + XNCP"


def answer(ncp: NcpContext, payload: bytes, send_unicast: Any) -> dict[str, Any]:
    """The customFrame response for an XNCP request (`send_unicast`: the sendUnicast handler)."""
    try:
        request = xncp.XncpCommand.from_bytes(payload)
    except Exception as exc:  # unknown id or a short payload: XNCP answers UNKNOWN, never a crash
        LOGGER.debug("XNCP request %s not understood: %r", payload.hex(), exc)
        return _reply(xncp.Unknown())
    body = request.payload
    if isinstance(body, xncp.GetSupportedFeaturesReq):
        return _reply(xncp.GetSupportedFeaturesRsp(features=FEATURES))
    if isinstance(body, xncp.GetBuildStringReq):
        return _reply(xncp.GetBuildStringRsp(build_string=BUILD_STRING.encode()))
    if isinstance(body, xncp.SendUnicastReq):
        return _combined_send(ncp, body, send_unicast)
    return _reply(xncp.Unknown())


def _combined_send(ncp: NcpContext, req: xncp.SendUnicastReq, send_unicast: Any) -> dict[str, Any]:
    if xncp.SendUnicastFlags.SOURCE_ROUTE in req.flags:  # MANUAL_SOURCE_ROUTE is not offered
        return _reply(xncp.SendUnicastRsp(status=bt.sl_Status.NOT_SUPPORTED, sequence=0),
                      status=xncp.XncpStatus.SL_STATUS_INVALID_PARAMETER)
    if xncp.SendUnicastFlags.EXTENDED_TIMEOUT in req.flags:
        ncp.ram.extended_timeout[req.ieee] = bool(req.extended_timeout)
    rsp = send_unicast(ncp, {
        "type": bt.EmberOutgoingMessageType.OUTGOING_DIRECT,
        "indexOrDestination": req.destination,
        "apsFrame": req.aps_frame,
        "messageTag": req.message_tag,
        "messageContents": bytes(req.data),
    })
    status = bt.sl_Status(rsp["status"])
    return _reply(xncp.SendUnicastRsp(status=status, sequence=rsp["sequence"]))


def _reply(payload: xncp.XncpCommandPayload, status: xncp.XncpStatus = xncp.XncpStatus.OK) -> dict[str, Any]:
    frame = xncp.XncpCommand.from_payload(payload)
    frame.status = status
    return {"status": bt.sl_Status.OK, "reply": bytes(frame.serialize())}
