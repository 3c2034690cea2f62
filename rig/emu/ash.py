"""The NCP side of ASH, reusing bellows' own host-side implementation.

bellows.ash.AshProtocol already does framing, byte stuffing, CRC, data randomisation, ACK/NAK,
de-duplication of retransmitted frames and retransmission of our own DATA frames; an NCP needs the
same machinery with the reset handshake reversed (it *answers* RST with RSTACK). Two fault hooks
(drop an ACK, break a DATA frame's CRC) sit on the write path so the host's recovery is exercised.
"""

from __future__ import annotations

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
            LOGGER.debug("fault: dropping ACK %d", self._rx_seq)
            return
        super()._send_ack()

    def _write_frame(self, frame: ash.AshFrame, *, prefix=(), suffix=(ash.Reserved.FLAG,)) -> None:
        if isinstance(frame, ash.DataFrame) and self._faults.corrupt():
            if self._transport is None or self._transport.is_closing():
                raise ash.NcpFailure(bt.NcpResetCode.ERROR_UNKNOWN_EM3XX_ERROR)
            raw = bytearray(frame.to_bytes())
            raw[-1] ^= 0xFF  # break the CRC; the host must NAK and we retransmit
            LOGGER.debug("fault: corrupting CRC of %r", frame)
            self._transport.write(bytes(prefix) + self._stuff_bytes(bytes(raw)) + bytes(suffix))
            return
        super()._write_frame(frame, prefix=prefix, suffix=suffix)
