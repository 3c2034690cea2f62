"""The fence: every place the hub and the report's capture rely on zigpy/bellows beyond their stable
public API, in one module. Each touch has a contract test in tests/hub/test_upstream_contract.py that
names it, so a zigpy or bellows upgrade that changes one fails there first, with a message that says
which rig feature depends on it, instead of somewhere deep in a download.

The touches:
1. `ezsp_of(app)`: bellows keeps the EZSP connection in the private `ControllerApplication._ezsp`; the
   install-code join (Hub.permit_with_install_code) needs its `add_transient_link_key` and `setPolicy`.
2. `zigpy_parsable(packet)`: zigpy parses ZCL only on the HA/ZLL profiles and drops every other
   profile's frames ("custom profile, ignoring"); Smart Energy frames are re-labelled HA so their
   attribute reports and read responses reach zigpy's waiting requests (ZCL framing is the same on SE).
3. `wrap_packet_path(app, on_rx, on_tx)`: bellows hands every received frame to `self.packet_received`
   and zigpy sends every frame through `self.send_packet`, both looked up on the instance, so wrapping
   them on the instance sees every frame (the report's capture); the hub's own `packet_received`
   override (rig.hub.app) relies on the first half.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import bellows.types as bt
import zigpy.types as t

from rig.hub.zcl import SE_PROFILE

LOGGER = logging.getLogger(__name__)

HA_PROFILE = 0x0104  # Home Automation: one of the two profiles zigpy parses


class UpstreamChanged(RuntimeError):
    """zigpy/bellows no longer offer what the rig relies on here (see tests/hub/test_upstream_contract.py)."""


# -- 1. the EZSP connection inside bellows' ControllerApplication ---------------------------------------
def ezsp_of(app: Any) -> Any:
    """bellows' EZSP protocol object of a running application (private `_ezsp`)."""
    try:
        return app._ezsp  # noqa: SLF001 - the one read of bellows' private attribute, fenced here
    except AttributeError:
        raise UpstreamChanged("bellows' ControllerApplication has no _ezsp attribute any more: the install-code"
                              " join needs another way to reach the EZSP connection (rig/hub/upstream.py)") from None


async def add_transient_link_key(app: Any, ieee: t.EUI64, key: t.KeyData) -> Any:
    """Give the stick a transient link key for one joining device; returns bellows' status (int 0 = ok)."""
    return await ezsp_of(app).add_transient_link_key(ieee, key)


async def allow_install_code_joins_only(app: Any) -> None:
    """Trust-centre policy: joins allowed, each only with its install-code-derived key."""
    await ezsp_of(app).setPolicy(policyId=bt.EzspPolicyId.TRUST_CENTER_POLICY,
                                 decisionId=bt.EzspDecisionBitmask.ALLOW_JOINS
                                 | bt.EzspDecisionBitmask.JOINS_USE_INSTALL_CODE_KEY)


# -- 2. the profiles zigpy parses --------------------------------------------------------------------
def zigpy_parsable(packet: t.ZigbeePacket) -> t.ZigbeePacket:
    """A Smart Energy ZCL frame re-labelled HA, so zigpy parses it instead of dropping it."""
    if packet.profile_id == SE_PROFILE and packet.src_ep != 0:
        return packet.replace(profile_id=HA_PROFILE)
    return packet


# -- 3. the packet path of a zigpy ControllerApplication ------------------------------------------------
_MISSING = object()


def wrap_packet_path(app: Any, on_rx: Callable[[t.ZigbeePacket], None],
                     on_tx: Callable[[t.ZigbeePacket], None]) -> Callable[[], None]:
    """Call `on_rx`/`on_tx` with every packet `app` receives/sends, before it is handled; returns undo().

    Wraps the two methods on the instance, so subclasses' overrides (the hub's OTA interception) still run
    and the radio library's own calls (`self.packet_received(...)`) go through the wrapper. An observer that
    raises is logged; the frame is still handled."""
    before_rx = vars(app).get("packet_received", _MISSING)
    before_tx = vars(app).get("send_packet", _MISSING)
    original_rx: Callable[[t.ZigbeePacket], Any] = app.packet_received
    original_tx: Callable[[t.ZigbeePacket], Awaitable[Any]] = app.send_packet

    def packet_received(packet: t.ZigbeePacket) -> Any:
        try:
            on_rx(packet)
        except Exception:  # noqa: BLE001 - an observer must never cost the hub a frame
            LOGGER.exception("observer of a received packet failed")
        return original_rx(packet)

    async def send_packet(packet: t.ZigbeePacket) -> Any:
        try:
            on_tx(packet)
        except Exception:  # noqa: BLE001
            LOGGER.exception("observer of a sent packet failed")
        return await original_tx(packet)

    app.packet_received = packet_received
    app.send_packet = send_packet

    def undo() -> None:
        for name, before in (("packet_received", before_rx), ("send_packet", before_tx)):
            if before is _MISSING:
                vars(app).pop(name, None)
            else:
                setattr(app, name, before)

    return undo
