"""The NCP's own ASH (rig/emu/ash.py): framing checked against bellows' host codec as the oracle, and
the NCP's window, go-back-N and failure rules driven frame by frame."""

from __future__ import annotations

import asyncio
import random

from bellows import ash as host_ash
import bellows.types as bt
import pytest

from rig.emu import ash_codec as codec
from rig.emu.ash import ACK_TIMEOUTS, TX_K, AshFaultKnobs, NcpAshProtocol

RESERVED_HEAVY = bytes([0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A, 0x00, 0xFF])


def _host_bytes(frame: host_ash.AshFrame) -> bytes:
    return bytes(host_ash.AshProtocol._stuff_bytes(frame.to_bytes())) + b"\x7e"


def test_data_frames_are_byte_identical_to_bellows():
    rng = random.Random(3)
    for _ in range(300):
        payload = bytes(rng.choice(RESERVED_HEAVY) if rng.random() < 0.3 else rng.randrange(256)
                        for _ in range(rng.randrange(3, 130)))
        frm, ack, re_tx = rng.randrange(8), rng.randrange(8), rng.random() < 0.5
        expected = _host_bytes(host_ash.DataFrame(frm_num=frm, re_tx=re_tx, ack_num=ack, ezsp_frame=payload))
        assert codec.encode_data(frm, re_tx, ack, payload) == expected
        body = codec.check(codec.unstuff(expected[:-1]))
        assert codec.randomize(body[1:]) == payload


def test_short_frames_are_byte_identical_to_bellows():
    for ack in range(8):
        assert codec.encode_ack(ack) == _host_bytes(host_ash.AckFrame(res=0, ncp_ready=0, ack_num=ack))
        assert codec.encode_ack(ack, nak=True) == _host_bytes(host_ash.NakFrame(res=0, ncp_ready=0, ack_num=ack))


def test_damaged_frames_are_refused():
    raw = codec.encode_data(1, False, 2, b"\x00\x01\x02")[:-1]
    with pytest.raises(codec.FramingError):
        codec.check(codec.unstuff(raw[:-1] + bytes((raw[-1] ^ 0x01,))))
    with pytest.raises(codec.FramingError):
        codec.check(b"\x80")
    with pytest.raises(codec.FramingError):
        codec.unstuff(b"\x10\x7d\x41")  # 0x41 ^ 0x20 = 0x61 is not a reserved byte


class _Line(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def frames(self) -> list[bytes]:
        """Every frame written so far (unstuffed, CRC checked and stripped), then forget them."""
        out = []
        for chunk in b"".join(self.written).split(b"\x7e"):
            if chunk:
                out.append(codec.check(codec.unstuff(chunk)))
        self.written.clear()
        return out


class _Upper:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.resets = 0

    def ash_data_received(self, data: bytes) -> None:
        self.received.append(data)

    def ash_reset_requested(self) -> None:
        self.resets += 1

    def ash_connection_lost(self, exc: Exception | None) -> None:
        pass


def _ncp() -> tuple[NcpAshProtocol, _Line, _Upper]:
    upper, line = _Upper(), _Line()
    proto = NcpAshProtocol(upper, AshFaultKnobs(random.Random(0)))
    proto.connection_made(line)
    return proto, line, upper


def _data_numbers(frames: list[bytes]) -> list[tuple[int, bool]]:
    return [((f[0] >> 4) & 7, bool(f[0] & 0x08)) for f in frames if not f[0] & 0x80]


async def test_up_to_five_data_frames_leave_before_the_first_ack():
    proto, line, _ = _ncp()
    for i in range(7):
        proto.send(bytes([i, 0x80, 0x00]))
    assert _data_numbers(line.frames()) == [(n, False) for n in range(TX_K)]
    proto.data_received(codec.encode_ack(2))  # frames 0 and 1 delivered: two more may go
    assert _data_numbers(line.frames()) == [(5, False), (6, False)]
    proto.data_received(codec.encode_ack(7))
    assert not proto._unacked and proto._ack_deadline is None  # nothing left to time out


async def test_frames_unacked_counts_what_the_host_has_not_read_yet():
    """What a virtual-clock driver reads before jumping time (rig/bench/quiet.py): queued and written DATA
    frames until the host's ACK says it has them."""
    proto, line, _ = _ncp()
    assert proto.frames_unacked == 0
    for i in range(TX_K + 2):
        proto.send(bytes([i, 0x80, 0x00]))
    assert proto.frames_unacked == TX_K + 2  # five written, two queued behind the window
    proto.data_received(codec.encode_ack(3))
    assert proto.frames_unacked == TX_K + 2 - 3
    proto.data_received(codec.encode_ack((TX_K + 2) % 8))
    assert proto.frames_unacked == 0


async def test_nak_resends_every_unacknowledged_frame_from_its_ack_number():
    proto, line, _ = _ncp()
    for i in range(4):
        proto.send(bytes([i, 0x80, 0x00]))
    line.frames()
    proto.data_received(codec.encode_ack(1, nak=True))  # 0 arrived, 1 was damaged
    assert _data_numbers(line.frames()) == [(1, True), (2, True), (3, True)]
    assert (proto.frames_sent, proto.frames_resent) == (7, 3)  # the counters a bench or test can read


async def test_ack_timeouts_resend_then_fail_with_error_until_rst():
    proto, line, upper = _ncp()
    proto.send(b"\x00\x80\x00")
    line.frames()
    for _ in range(ACK_TIMEOUTS - 1):
        proto._ack_timeout()  # what the loop timer does when the host stays silent
        assert _data_numbers(line.frames()) == [(0, True)]
    proto._ack_timeout()
    error = line.frames()
    assert error == [bytes([0xC2, 0x02, int(bt.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)])]
    assert proto.failed
    proto.data_received(codec.encode_data(0, False, 0, b"\x01\x00\x00"))
    assert upper.received == [] and line.frames() == []  # FAILED: only RST is answered
    proto.data_received(b"\x1a\xc0\x38\xbc\x7e")  # CANCEL, RST
    assert upper.resets == 1 and not proto.failed
    assert line.frames() == [bytes([0xC1, 0x02, int(bt.NcpResetCode.RESET_SOFTWARE)])]


async def test_receive_delivers_in_sequence_reacks_duplicates_and_naks_gaps_once():
    proto, line, upper = _ncp()
    proto.data_received(codec.encode_data(0, False, 0, b"\x01\x00\x05"))
    await asyncio.sleep(0)  # the ACK waits for the end of the loop turn (a response could carry it)
    assert upper.received == [b"\x01\x00\x05"] and line.frames() == [bytes([0x81])]
    proto.data_received(codec.encode_data(0, True, 0, b"\x01\x00\x05"))  # retransmitted duplicate
    assert upper.received == [b"\x01\x00\x05"] and line.frames() == [bytes([0x81])]
    proto.data_received(codec.encode_data(3, False, 0, b"\x02\x00\x05"))  # frame 1 and 2 missing
    proto.data_received(codec.encode_data(4, False, 0, b"\x03\x00\x05"))
    assert line.frames() == [bytes([0xA1])]  # one NAK: the reject condition holds until a good frame
    proto.data_received(codec.encode_data(1, False, 0, b"\x04\x00\x05"))
    assert upper.received[-1] == b"\x04\x00\x05"


async def test_a_response_carries_the_ack_for_its_command():
    proto, line, upper = _ncp()
    upper.ash_data_received = lambda data: proto.send(b"\x01\x80" + data[2:])  # answer at once
    proto.data_received(codec.encode_data(0, False, 0, b"\x01\x00\x05"))
    await asyncio.sleep(0)
    frames = line.frames()
    assert len(frames) == 1 and frames[0][0] == 0x01  # DATA frmNum 0, ackNum 1: no separate ACK


async def test_the_ack_timer_re_arms_when_early_and_resends_when_due():
    """One loop timer serves the ACK clock: fired before the deadline (an ACK moved it on) it re-arms;
    at the deadline the unacknowledged frames go again."""
    proto, line, _ = _ncp()
    proto.send(b"\x00\x80\x00")
    line.frames()
    proto._on_ack_timer()
    assert line.frames() == [] and proto._ack_timer is not None
    proto._ack_deadline = asyncio.get_running_loop().time() - 0.001
    proto._on_ack_timer()
    assert _data_numbers(line.frames()) == [(0, True)]
