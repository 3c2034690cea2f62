"""The NCP side of ASH, reusing bellows' own host-side implementation.

bellows.ash.AshProtocol already does framing, byte stuffing, CRC, data randomisation, ACK/NAK,
de-duplication of retransmitted frames and retransmission of our own DATA frames; an NCP needs the
same machinery with the reset handshake reversed (it *answers* RST with RSTACK). Two fault hooks
(drop an ACK, break a DATA frame's CRC) sit on the write path so the host's recovery is exercised.

Unlike the host, the NCP may piggyback acknowledgements on its DATA frames (UG101), and EmberZNet
does: the ACK for a command is carried by the command's response when that response leaves at once.
So the ACK is only marked due on receipt and written at the end of the loop turn if no DATA frame
carried it by then (e.g. the writer still waits for the host to ACK an earlier callback). That saves
one ASH frame per command on both sides of the pty.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Protocol

from bellows import ash
import bellows.types as bt

LOGGER = logging.getLogger(__name__)

ASH_VERSION = 0x02


class AshUpper(Protocol):
    """What the ASH layer hands frames to (the EZSP NCP)."""

    def ash_data_received(self, ezsp_frame: bytes) -> None: ...

    def ash_reset_requested(self) -> None: ...

    def ash_connection_lost(self, exc: Exception | None) -> None: ...


class AshFaultKnobs:
    """Probabilities for the ASH-level faults (read on every frame, so tests may change them live)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.drop_ack_probability = 0.0
        self.corrupt_crc_probability = 0.0
        self.dropped_acks = 0
        self.corrupted_frames = 0

    def drop_ack(self) -> bool:
        if self.drop_ack_probability and self.rng.random() < self.drop_ack_probability:
            self.dropped_acks += 1
            return True
        return False

    def corrupt(self) -> bool:
        if self.corrupt_crc_probability and self.rng.random() < self.corrupt_crc_probability:
            self.corrupted_frames += 1
            return True
        return False


class _UpperAdapter:
    """bellows' AshProtocol calls these names on its 'ezsp protocol'; map them to AshUpper."""

    def __init__(self, upper: AshUpper) -> None:
        self._upper = upper

    def connection_made(self, proto: object) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self._upper.ash_connection_lost(exc)

    def eof_received(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        self._upper.ash_data_received(bytes(data))

    def reset_received(self, code: object) -> None:  # an RSTACK from the host: nonsense, ignore
        LOGGER.warning("host sent RSTACK (%r); ignored", code)

    def error_received(self, code: object) -> None:
        LOGGER.warning("host sent ERROR (%r); ignored", code)


class NcpAshProtocol(ash.AshProtocol):
    """ASH as the NCP speaks it. One instance per host connection."""

    def __init__(self, upper: AshUpper, faults: AshFaultKnobs) -> None:
        super().__init__(_UpperAdapter(upper))
        self._upper = upper
        self._faults = faults
        self._ack_due = False  # an ACK is owed and no DATA frame has carried it yet
        self._ack_flush: asyncio.Handle | None = None

    # -- host -> NCP ----------------------------------------------------------------------------
    def rst_frame_received(self, frame: ash.RstFrame) -> None:
        super().rst_frame_received(frame)
        self._reset_link()
        self._upper.ash_reset_requested()
        self.send_rstack(bt.NcpResetCode.RESET_SOFTWARE)

    def rstack_frame_received(self, frame: ash.RStackFrame) -> None:
        LOGGER.warning("host sent RSTACK; ignored")

    def error_frame_received(self, frame: ash.ErrorFrame) -> None:
        LOGGER.warning("host sent ERROR frame; ignored")

    def data_received(self, data: bytes) -> None:
        try:
            super().data_received(data)
        except Exception:  # a garbled byte stream must never take the NCP down
            LOGGER.exception("ASH receive path failed; buffer dropped")
            self._buffer.clear()

    # -- NCP -> host ----------------------------------------------------------------------------
    def _reset_link(self) -> None:
        self._tx_seq = 0
        self._rx_seq = 0
        self._ack_due = False
        self._cancel_pending_data_frames(ash.NcpFailure(bt.NcpResetCode.RESET_SOFTWARE))
        self._change_ack_timeout(ash.T_RX_ACK_INIT)

    def send_rstack(self, code: bt.NcpResetCode) -> None:
        self._write_frame(ash.RStackFrame(version=ASH_VERSION, reset_code=code))

    def send_error(self, code: bt.NcpResetCode) -> None:
        self._write_frame(ash.ErrorFrame(version=ASH_VERSION, reset_code=code))

    def unsolicited_reset(self, code: bt.NcpResetCode) -> None:
        """The NCP rebooted on its own: sequence numbers restart, then RSTACK goes out."""
        self._reset_link()
        self.send_rstack(code)

    def _send_ack(self) -> None:
        if self._faults.drop_ack():
            # The standalone ACK frame is lost on the line. A later DATA frame still carries the
            # current ackNum, exactly as before piggybacking (bellows stamps every DATA frame).
            LOGGER.debug("fault: dropping ACK %d", self._rx_seq)
            self._ack_due = False
            return
        self._ack_due = True

    def data_frame_received(self, frame: ash.DataFrame) -> None:
        super().data_frame_received(frame)  # marks the ACK due, then hands the command to the NCP
        # Scheduled after the NCP queued its response (and woke its writer), so the writer goes first.
        if self._ack_due and self._ack_flush is None:
            self._ack_flush = asyncio.get_running_loop().call_soon(self._flush_ack)

    def _flush_ack(self) -> None:
        self._ack_flush = None
        if self._ack_due and self._transport is not None and not self._transport.is_closing():
            super()._send_ack()

    async def send_data(self, data: bytes) -> None:
        # bellows wraps this in a shielded eager task for the host's callers; the NCP's single writer
        # task is only ever cancelled at shutdown, so the frame goes straight out.
        await self._send_data_frame(ash.DataFrame(frm_num=None, re_tx=None, ack_num=None, ezsp_frame=data))

    def _write_frame(self, frame: ash.AshFrame, *, prefix=(), suffix=(ash.Reserved.FLAG,)) -> None:
        if isinstance(frame, ash.DataFrame):
            self._ack_due = False  # its ackNum acknowledges everything received so far
            if self._faults.corrupt():
                if self._transport is None or self._transport.is_closing():
                    raise ash.NcpFailure(bt.NcpResetCode.ERROR_UNKNOWN_EM3XX_ERROR)
                raw = bytearray(frame.to_bytes())
                raw[-1] ^= 0xFF  # break the CRC; the host must NAK and we retransmit
                LOGGER.debug("fault: corrupting CRC of %r", frame)
                self._transport.write(bytes(prefix) + self._stuff_bytes(bytes(raw)) + bytes(suffix))
                return
        elif isinstance(frame, ash.AckFrame):
            self._ack_due = False
        super()._write_frame(frame, prefix=prefix, suffix=suffix)
