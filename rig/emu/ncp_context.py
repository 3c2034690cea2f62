"""The NCP as its command handlers see it: the state they read and write, and how they raise callbacks.

A leaf: the handlers (rig.emu.ncp_handlers, ncp_xncp, ncp_zdo) are written against this Protocol and
rig.emu.ncp.EzspNcp satisfies it, so imports run one way (ncp -> handlers -> this module) and no
handler needs the NCP's framing and dispatch code.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from rig.emu.ncp_state import NvState, RamState


class NcpContext(Protocol):
    version: int  # the EZSP version this NCP speaks
    clock: Any
    rng: random.Random
    xncp: bool  # answer customFrame as an XNCP firmware build
    nv: NvState  # survives resets
    ram: RamState  # cleared by every reset
    network: Any  # rig.emu.network.SimNetwork once the Emulator attaches it, else None

    def after_response(self, action: Callable[[], None]) -> None:
        """Run `action` once the current command's response is queued (or now, outside a command)."""

    def callback(self, name: str, **fields: Any) -> None:
        """Queue an async callback frame (after the current response, if inside a command)."""


#: an EZSP command handler: the decoded request in, the response fields out (None = all zeros)
Handler = Callable[[NcpContext, dict[str, Any]], dict[str, Any] | None]
