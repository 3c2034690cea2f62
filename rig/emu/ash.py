"""The NCP side of ASH (UG101, UART-EZSP Gateway Protocol Reference), written for the NCP.

It does not reuse bellows' host implementation, so a bellows bug cannot hide behind a matching one here,
and it behaves as the NCP does where the two ends differ:

* Transmit window TX_K = 5 (UG101 §7): up to five DATA frames (a response and the callbacks behind it)
  go out before the host has acknowledged the first. bellows' host keeps a window of one for its own
  frames, but accepts the NCP's pipelined ones.
* Go-back-N: a NAK, or the ACK timer running out, resends every unacknowledged frame from the oldest,
  with reTx set and a fresh ackNum. t_rx_ack adapts as UG101 §4 gives (7/8 old + 1/2 measured, doubled
  on a timeout, within 0.4-3.2 s); after ACK_TIMEOUTS = 4 consecutive timeouts the NCP sends ERROR
  (EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT) and answers nothing but RST until the host resets it.
* Piggybacked ACKs: the NCP may acknowledge a command with the ackNum of its own next DATA frame, and
  EmberZNet does when the response leaves at once. So an ACK is only marked due on receipt and written
  at the end of the loop turn if no DATA frame carried it by then.
* Receive: in-sequence DATA is delivered and acknowledged; a retransmitted duplicate is re-ACKed, not
  delivered; an out-of-sequence or damaged DATA frame gets one NAK (the reject condition) until a good
  frame arrives. RST is answered with RSTACK; CANCEL, SUBSTITUTE, XON and XOFF act as §3 says.

Two fault hooks (drop a standalone ACK, break a DATA frame's CRC) sit on the write path so the host's
recovery is exercised.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from typing import Protocol

import bellows.types as bt

from rig.emu import ash_codec as codec

LOGGER = logging.getLogger(__name__)

ASH_VERSION = 0x02
TX_K = 5  # DATA frames the NCP may have unacknowledged (UG101 §7)
ACK_TIMEOUTS = 4  # consecutive ACK timeouts before the FAILED state (UG101 §7)
T_RX_ACK_INIT, T_RX_ACK_MIN, T_RX_ACK_MAX = 1.6, 0.4, 3.2  # seconds (UG101 §7)
MAX_BUFFER = 1024  # bytes of an unfinished frame kept; a longer run without FLAG is line noise

RST_CONTROL, RSTACK_CONTROL, ERROR_CONTROL = 0xC0, 0xC1, 0xC2


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


class _Sent:
    """An unacknowledged DATA frame: its number, payload and first send time (for t_rx_ack)."""

    __slots__ = ("frm_num", "payload", "sent_at", "resent")

    def __init__(self, frm_num: int, payload: bytes, sent_at: float) -> None:
        self.frm_num = frm_num
        self.payload = payload
        self.sent_at = sent_at
        self.resent = False


class NcpAshProtocol(asyncio.Protocol):
    """ASH as the NCP speaks it. One instance per host connection."""

    def __init__(self, upper: AshUpper, faults: AshFaultKnobs) -> None:
        self._upper = upper
        self._faults = faults
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._discarding = False  # after SUBSTITUTE: drop bytes up to the next FLAG
        # receive side
        self._rx_seq = 0  # frmNum expected next from the host (our ackNum)
        self._rejecting = False
        self._ack_due = False  # an ACK is owed and no DATA frame has carried it yet
        self._ack_flush: asyncio.Handle | None = None
        # transmit side
        self._tx_seq = 0
        self._unacked: collections.deque[_Sent] = collections.deque()
        self._backlog: collections.deque[bytes] = collections.deque()
        self._ack_timer: asyncio.TimerHandle | None = None
        self._ack_deadline: float | None = None  # loop time by which the oldest unacked frame must be ACKed
        self._t_rx_ack = T_RX_ACK_INIT
        self._timeouts = 0
        self.failed = False  # after ERROR: only RST is answered
        self.frames_sent = 0  # DATA frames written, retransmissions included
        self.frames_resent = 0

    @property
    def frames_unacked(self) -> int:
        """DATA frames for the host that it has not acknowledged yet (queued or written). bellows ACKs a
        frame as it hands it to the EZSP layer, so a frame counted here has not reached the host's code."""
        return len(self._unacked) + len(self._backlog)

    # -- transport ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._stop_sending()
        self._upper.ash_connection_lost(exc)

    def eof_received(self) -> bool | None:
        return None

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    # -- receive ------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        if len(buf) > MAX_BUFFER:
            del buf[:-MAX_BUFFER]
        while buf:
            if self._discarding:
                end = buf.find(b"\x7e")
                if end < 0:
                    buf.clear()
                    return
                del buf[:end + 1]
                self._discarding = False
                continue
            match = codec.LINE_CONTROL.search(buf)
            if match is None:
                return
            at = match.start()
            byte = buf[at]
            if byte == codec.FLAG:
                raw = bytes(buf[:at])
                del buf[:at + 1]
                if raw:
                    self._frame_bytes(raw)
            elif byte == codec.CANCEL:  # everything since the previous FLAG is void
                del buf[:at + 1]
            elif byte == codec.SUBSTITUTE:  # a byte was lost on the line: this frame is void
                del buf[:at + 1]
                self._discarding = True
            else:  # XON / XOFF: flow control between frames, not frame content
                del buf[at]

    def _frame_bytes(self, raw: bytes) -> None:
        try:
            frame = codec.check(codec.unstuff(raw))
        except codec.FramingError as exc:
            LOGGER.debug("bad frame from host (%s): %s", exc, raw.hex())
            if raw[0] & codec.DATA_MASK == codec.DATA_VALUE:  # a damaged DATA frame is NAKed (UG101 §4)
                self._reject()
            return
        try:
            self._frame_received(frame)
        except Exception:  # a frame we cannot act on must never take the NCP down
            LOGGER.exception("ASH receive path failed on %s", frame.hex())

    def _frame_received(self, frame: bytes) -> None:
        control = frame[0]
        if self.failed and control != RST_CONTROL:
            return
        if control & codec.DATA_MASK == codec.DATA_VALUE:
            self._acknowledged(control & 7)
            self._data_frame(control, codec.randomize(frame[1:]))
        elif control & codec.SHORT_MASK == codec.ACK_VALUE:
            self._acknowledged(control & 7)
        elif control & codec.SHORT_MASK == codec.NAK_VALUE:
            self._acknowledged(control & 7)
            self._resend_all()
        elif control == RST_CONTROL:
            self._reset_link()
            self._upper.ash_reset_requested()
            self.send_rstack(bt.NcpResetCode.RESET_SOFTWARE)
        elif control in (RSTACK_CONTROL, ERROR_CONTROL):
            LOGGER.warning("host sent %s; ignored", "RSTACK" if control == RSTACK_CONTROL else "ERROR")
        else:
            LOGGER.debug("frame with unknown control byte 0x%02x ignored", control)

    def _data_frame(self, control: int, ezsp_frame: bytes) -> None:
        frm_num, re_tx = (control >> 4) & 7, bool(control & 0x08)
        if frm_num == self._rx_seq:
            self._rx_seq = (frm_num + 1) % 8
            self._rejecting = False
            self._ack_received_data()
            self._upper.ash_data_received(ezsp_frame)
            if self._ack_due and self._ack_flush is None:
                # after the upper layer queued its answer: if that leaves this turn, it carries the ACK
                self._ack_flush = asyncio.get_running_loop().call_soon(self._flush_ack)
        elif re_tx:  # a retransmission of something already delivered: ACK again, do not deliver
            self._ack_received_data()
            self._flush_ack()
        else:
            self._reject()

    def _reject(self) -> None:
        if not self._rejecting:
            self._rejecting = True
            self._write(codec.encode_ack(self._rx_seq, nak=True))

    def _ack_received_data(self) -> None:
        if self._faults.drop_ack():
            # The standalone ACK is lost on the line; a later DATA frame still carries the ackNum.
            LOGGER.debug("fault: dropping ACK %d", self._rx_seq)
            self._ack_due = False
            return
        self._ack_due = True

    def _flush_ack(self) -> None:
        self._ack_flush = None
        if self._ack_due:
            self._ack_due = False
            self._write(codec.encode_ack(self._rx_seq))

    # -- transmit -----------------------------------------------------------------------------------
    def send(self, ezsp_frame: bytes) -> None:
        """Queue one EZSP frame for the host; it leaves as soon as the window has room."""
        if self.failed or self._transport is None:
            LOGGER.debug("NCP frame dropped: link %s", "failed" if self.failed else "closed")
            return
        self._backlog.append(ezsp_frame)
        self._pump()

    def _pump(self) -> None:
        now = time.monotonic()
        while self._backlog and len(self._unacked) < TX_K:
            sent = _Sent(self._tx_seq, self._backlog.popleft(), now)
            self._tx_seq = (self._tx_seq + 1) % 8
            self._unacked.append(sent)
            self._write_data(sent, re_tx=False)
        if self._unacked and self._ack_deadline is None:
            self._restart_ack_timer()

    def _write_data(self, sent: _Sent, *, re_tx: bool) -> None:
        self._ack_due = False  # its ackNum acknowledges everything received so far
        self.frames_sent += 1
        broken = self._faults.corrupt()  # the host must NAK it and we resend
        if broken:
            LOGGER.debug("fault: corrupting the CRC of DATA frame %d", sent.frm_num)
        self._write(codec.frame(codec.data_body(sent.frm_num, re_tx, self._rx_seq, sent.payload), broken_crc=broken))

    def _acknowledged(self, ack_num: int) -> None:
        """ackNum is the host's next expected frame: every unacked frame before it is delivered."""
        unacked = self._unacked
        if not unacked or ack_num == unacked[0].frm_num:
            return
        if ack_num != self._tx_seq and all(s.frm_num != ack_num for s in unacked):
            LOGGER.debug("ackNum %d acknowledges nothing outstanding; ignored", ack_num)
            return
        now = time.monotonic()
        while unacked and unacked[0].frm_num != ack_num:
            sent = unacked.popleft()
            if not sent.resent:  # Karn: only a frame sent once gives a clean round trip
                self._adapt(0.875 * self._t_rx_ack + 0.5 * (now - sent.sent_at))
        self._timeouts = 0
        self._ack_deadline = None
        self._pump()
        if unacked:
            self._restart_ack_timer()  # for the frame now oldest

    def _resend_all(self) -> None:
        for sent in self._unacked:
            sent.resent = True
            self.frames_resent += 1
            self._write_data(sent, re_tx=True)
        if self._unacked:
            self._restart_ack_timer()

    # The ACK timer restarts with nearly every frame. Rather than cancel and re-create a loop timer each
    # time (a heap entry per frame), one timer runs and, when it fires early, re-arms for the deadline.
    def _restart_ack_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._ack_deadline = loop.time() + self._t_rx_ack
        if self._ack_timer is not None and self._ack_timer.when() > self._ack_deadline:  # t_rx_ack shrank
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._ack_timer is None:
            self._ack_timer = loop.call_at(self._ack_deadline, self._on_ack_timer)

    def _disarm_timer(self) -> None:
        self._ack_deadline = None
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None

    def _on_ack_timer(self) -> None:
        self._ack_timer = None
        deadline = self._ack_deadline
        if deadline is None or not self._unacked:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:
            self._ack_timer = loop.call_at(deadline, self._on_ack_timer)
            return
        self._ack_timeout()

    def _ack_timeout(self) -> None:
        """t_rx_ack passed with the oldest frame unacknowledged."""
        self._ack_deadline = None
        if not self._unacked:
            return
        self._timeouts += 1
        self._adapt(2 * self._t_rx_ack)
        if self._timeouts >= ACK_TIMEOUTS:
            LOGGER.warning("host acknowledged nothing after %d ACK timeouts: NCP enters the FAILED state",
                           self._timeouts)
            self.send_error(bt.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)
            return
        self._resend_all()

    def _adapt(self, value: float) -> None:
        self._t_rx_ack = max(T_RX_ACK_MIN, min(value, T_RX_ACK_MAX))

    def _stop_sending(self) -> None:
        self._disarm_timer()
        self._unacked.clear()
        self._backlog.clear()
        if self._ack_flush is not None:
            self._ack_flush.cancel()
            self._ack_flush = None
        self._ack_due = False

    # -- reset and failure --------------------------------------------------------------------------
    def _reset_link(self) -> None:
        self._stop_sending()
        self._tx_seq = 0
        self._rx_seq = 0
        self._rejecting = False
        self._timeouts = 0
        self._t_rx_ack = T_RX_ACK_INIT
        self.failed = False

    def send_rstack(self, code: bt.NcpResetCode) -> None:
        self._write_short(RSTACK_CONTROL, code)

    def send_error(self, code: bt.NcpResetCode) -> None:
        """ERROR: the NCP is in the FAILED state until the host sends RST (UG101 §4.4)."""
        self._stop_sending()
        self.failed = True
        self._write_short(ERROR_CONTROL, code)

    def unsolicited_reset(self, code: bt.NcpResetCode) -> None:
        """The NCP rebooted on its own: sequence numbers restart, then RSTACK goes out."""
        self._reset_link()
        self.send_rstack(code)

    def _write_short(self, control: int, code: bt.NcpResetCode) -> None:
        self._write(codec.frame(bytes((control, ASH_VERSION, int(code)))))
