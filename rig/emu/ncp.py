"""The emulated EZSP NCP: framing, dispatch, ordering of responses and callbacks.

The behaviour of each command lives in rig.emu.ncp_handlers; this module owns the wire rules:

* every session starts in the legacy v4 frame format and switches after `version`;
* responses and callbacks go to ASH in the order they arise, so a callback a handler raises goes out
  after its response (NETWORK_UP after formNetwork, messageSent after sendUnicast); ASH's transmit
  window then lets them leave back to back, as EmberZNet's does;
* callbacks are stamped with the sequence number of the last response sent: with bellows' single
  outstanding command that number is never awaited, so a callback is never taken for a response;
* an unknown or unimplemented command gets `invalidCommand` AND is recorded in `errors` and logged
  at ERROR, so a gap in the emulator fails a test instead of stalling it for 10 s.
"""

from __future__ import annotations

import binascii
import dataclasses
import logging
import random
from collections.abc import Callable
from typing import Any

import bellows.types as bt
import zigpy.types as zt

from rig.emu import ncp_codec
from rig.emu.ezsp import SUPPORTED_VERSIONS, frames_for
from rig.emu.ncp_context import Handler
from rig.emu.ncp_handlers import HANDLERS
from rig.emu.ncp_state import NvState, RamState

LOGGER = logging.getLogger(__name__)

FC_RESPONSE = 0x80
FC_CALLBACK = 0x90
INVALID_COMMAND_ID = 0x0058


def frame_format(version: int) -> int:
    """4 = legacy (1-byte id), 5 = extended legacy (0xFF marker), 8 = 2-byte frame id."""
    if version >= 8:
        return 8
    if version >= 5:
        return 5
    return 4


@dataclasses.dataclass
class _Outgoing:
    name: str
    frame_id: int
    payload: bytes
    fmt: int
    seq: int | None  # None = callback: stamped when sent


class EzspNcp:
    """One emulated NCP. `network` (rig.emu.network.SimNetwork) is attached by the Emulator.

    Its handlers see it as a rig.emu.ncp_context.NcpContext."""

    def __init__(
        self,
        *,
        version: int = 13,
        eui64: zt.EUI64,
        clock: Any,
        rng: random.Random,
        errors: list[str],
        trace: list[tuple[str, str]] | None = None,
        xncp: bool = False,
    ) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"ezsp_version {version!r} is not one the emulated NCP speaks; expected one of {SUPPORTED_VERSIONS}"
            )
        self.version = version
        self.clock = clock
        self.rng = rng
        self.errors = errors
        self.trace = trace
        self.xncp = xncp  # answer customFrame as an XNCP firmware build (combined send) instead of refusing
        self.nv = NvState(eui64=eui64)
        self.ram = RamState()
        self.network: Any = None
        self.handlers: dict[str, Handler] = HANDLERS
        self.frames = frames_for(version)  # the emulator's own definitions (rig.emu.ezsp)
        self._ash: Any = None
        self._fmt = 4
        self._negotiated = False  # until `version`, EmberZNet answers nothing else
        self._last_seq = 0xFF
        self._deferred: list[Callable[[], None]] | None = None
        self.commands_received = 0
        self.duplicate_commands = 0  # identical consecutive frames executed: must stay 0 (ASH dedups)
        self._last_rx: bytes | None = None
        self.resets = 0

    def attach_ash(self, ash: Any) -> None:
        self._ash = ash

    @property
    def host_connected(self) -> bool:
        return self._ash is not None and self._ash._transport is not None

    @property
    def frames_to_host_unacked(self) -> int:
        """Frames (callbacks, responses) written up the line that the host has not acknowledged."""
        return self._ash.frames_unacked if self.host_connected else 0

    def reboot(self) -> None:
        """What a reset does: RAM gone, network down (still formed in NVRAM), legacy framing."""
        self.resets += 1
        self._fmt = 4
        self._negotiated = False
        self._last_seq = 0xFF
        self._last_rx = None
        was_up = self.ram.network_up
        self.ram = RamState()
        if was_up and self.network is not None:
            self.network.ncp_network_down()
        if self.trace is not None:
            self.trace.append(("host->ncp", "RESET"))

    # -- ASH upcalls ------------------------------------------------------------------------------
    def ash_reset_requested(self) -> None:
        self.reboot()

    def ash_connection_lost(self, exc: Exception | None) -> None:
        LOGGER.debug("host connection lost: %r", exc)

    def ash_data_received(self, data: bytes) -> None:
        try:
            self._dispatch(data)
        except Exception as exc:  # never let a bad frame kill the NCP; but make it loud
            self.record_error(f"NCP failed handling frame {data.hex()}: {exc!r}")
            LOGGER.exception("NCP dispatch failure")

    # -- dispatch ---------------------------------------------------------------------------------
    def _dispatch(self, data: bytes) -> None:
        fmt = self._fmt
        seq, frame_id, params = self._split(data, fmt)
        self.commands_received += 1
        if data == self._last_rx:
            self.duplicate_commands += 1
        self._last_rx = data
        if not self._negotiated and frame_id != 0x0000:
            # e.g. a host that missed our reset still talks the old session's format
            LOGGER.warning("EZSP frame %s before version negotiation: ERROR_VERSION_NOT_SET", data.hex())
            self._queue_invalid(seq, fmt, bt.EzspStatus.ERROR_VERSION_NOT_SET)
            return
        # `version` has one layout in every format; before it, nothing else gets this far
        entry = self.frames.by_id.get(frame_id)
        if entry is None or entry.callback:
            self.record_error(f"unknown EZSP frame id 0x{frame_id:04X} (v{self.version}): {data.hex()}")
            self._queue_invalid(seq, fmt, bt.EzspStatus.ERROR_INVALID_FRAME_ID)
            return
        name, tx_schema, rx_schema = entry.name, entry.request, entry.response
        try:
            req = ncp_codec.decode(tx_schema, params)
        except Exception as exc:
            self.record_error(f"cannot decode {name} request {params.hex()}: {exc!r}")
            self._queue_invalid(seq, fmt, bt.EzspStatus.ERROR_INVALID_VALUE)
            return
        if self.trace is not None:
            self.trace.append(("host->ncp", name))
        LOGGER.debug("EZSP <- %s %s", name, req)
        handler = self.handlers.get(name)
        if handler is None:
            self.record_error(f"EZSP command {name} (0x{frame_id:04X}) is not implemented by the emulator")
            self._queue_invalid(seq, fmt, bt.EzspStatus.ERROR_INVALID_FRAME_ID)
            return
        self._deferred = []
        try:
            try:
                rsp = handler(self, req) or {}
            except Exception as exc:
                self.record_error(f"handler for {name} raised {exc!r} on {req}")
                LOGGER.exception("handler %s failed", name)
                self._queue_invalid(seq, fmt, bt.EzspStatus.ERROR_INVALID_CALL)
                return
            payload = ncp_codec.encode(rx_schema, rsp)
            self._queue(_Outgoing(name, frame_id, payload, fmt, seq))
            if name == "version":
                self._fmt = frame_format(self.version)
                self._negotiated = True
        finally:
            deferred, self._deferred = self._deferred, None
        for action in deferred:
            action()

    @staticmethod
    def _split(data: bytes, fmt: int) -> tuple[int, int, bytes]:
        if fmt == 8:
            if len(data) < 5:
                raise ValueError(f"EZSP frame too short: {data.hex()}")
            return data[0], int.from_bytes(data[3:5], "little"), data[5:]
        if fmt == 5:
            if len(data) < 5:
                raise ValueError(f"EZSP frame too short: {data.hex()}")
            return data[0], data[4], data[5:]
        if len(data) < 3:
            raise ValueError(f"EZSP frame too short: {data.hex()}")
        return data[0], data[2], data[3:]

    def _queue_invalid(self, seq: int, fmt: int, status: bt.EzspStatus) -> None:
        payload = ncp_codec.encode(self.frames.by_name["invalidCommand"].response, {"reason": status})
        self._queue(_Outgoing("invalidCommand", INVALID_COMMAND_ID, payload, fmt, seq))

    def record_error(self, message: str) -> None:
        self.errors.append(message)
        LOGGER.error("EMULATOR ERROR: %s", message)

    # -- callbacks ------------------------------------------------------------------------------
    def after_response(self, action: Callable[[], None]) -> None:
        """Run `action` once the current command's response is queued (or now, outside a command)."""
        if self._deferred is not None:
            self._deferred.append(action)
        else:
            action()

    def callback(self, name: str, **fields: Any) -> None:
        """Queue an async callback frame (after the current response, if inside a command)."""
        self.after_response(lambda: self._emit(name, fields))

    def _emit(self, name: str, fields: dict[str, Any]) -> None:
        if self._fmt != frame_format(self.version) or not self.host_connected:
            LOGGER.debug("callback %s dropped: host not in session", name)
            return
        entry = self.frames.by_name.get(name)
        if entry is None:
            self.record_error(f"callback {name} does not exist in EZSP v{self.version}")
            return
        payload = ncp_codec.encode(entry.response, fields)
        self._queue(_Outgoing(name, entry.frame_id, payload, self._fmt, None))

    # -- to the host --------------------------------------------------------------------------------
    def _queue(self, item: _Outgoing) -> None:
        """Hand the frame to ASH now: its transmit window, not a writer task, paces the line."""
        ash = self._ash
        if ash is None or ash._transport is None:
            LOGGER.debug("NCP frame %s dropped: no host connected", item.name)
            return
        frame = self._render(item)
        if self.trace is not None:
            self.trace.append(("ncp->host", item.name))
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug("EZSP -> %s %s", item.name, binascii.hexlify(item.payload))
        ash.send(frame)

    def _render(self, item: _Outgoing) -> bytes:
        if item.seq is None:
            seq, fc = self._last_seq, FC_CALLBACK
        else:
            seq, fc = item.seq, FC_RESPONSE
            self._last_seq = item.seq
        if item.fmt == 8:
            header = bytes([seq, fc, 0x01]) + item.frame_id.to_bytes(2, "little")
        elif item.fmt == 5:
            header = bytes([seq, fc, 0xFF, 0x00, item.frame_id])
        else:
            header = bytes([seq, fc, item.frame_id])
        return header + item.payload
