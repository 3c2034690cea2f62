"""ASH framing at C speed: CRC, data randomisation and byte stuffing (UG101 §2-3).

bellows' own helpers walk every byte in Python (about 40 us per 70-byte frame each way); the NCP
handles some ten frames per OTA block, so here each step is one C-level call: binascii.crc_hqx for the
CRC-CCITT, one big-integer XOR against the pseudo-random sequence, and a regular expression that finds
the (rare) reserved bytes. The results are byte-identical to bellows' (tests/emu/test_ash_ncp.py).
"""

from __future__ import annotations

import binascii
import re

FLAG = 0x7E
ESCAPE = 0x7D
XON = 0x11
XOFF = 0x13
SUBSTITUTE = 0x18
CANCEL = 0x1A
FLIP = 0x20

DATA_MASK, DATA_VALUE = 0x80, 0x00
SHORT_MASK, ACK_VALUE, NAK_VALUE = 0xE0, 0x80, 0xA0


class FramingError(ValueError):
    """A frame that fails its CRC, stuffing or length check (the receiver NAKs a DATA frame like that)."""


def _random_sequence(length: int) -> bytes:
    """UG101 §4.3: the LFSR (seed 0x42, polynomial 0xB8) that whitens DATA frame payloads."""
    out = bytearray()
    rand = 0x42
    for _ in range(length):
        out.append(rand)
        rand = (rand >> 1) ^ 0xB8 if rand & 1 else rand >> 1
    return bytes(out)


_SEQUENCE = _random_sequence(256)
_SEQUENCE_INT = [int.from_bytes(_SEQUENCE[:n], "big") for n in range(257)]
_TO_STUFF = re.compile(b"[\x7e\x7d\x11\x13\x18\x1a]")
_ESCAPED = re.compile(b"\x7d(.)", re.DOTALL)
# what ends or interrupts a frame on the line (an ESCAPE only changes the byte after it)
LINE_CONTROL = re.compile(b"[\x7e\x11\x13\x18\x1a]")
_RESERVED = frozenset((FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL))


def randomize(data: bytes) -> bytes:
    """XOR with the pseudo-random sequence (its own inverse)."""
    n = len(data)
    if n > len(_SEQUENCE):
        raise FramingError(f"DATA field of {n} bytes; at most {len(_SEQUENCE)} expected")
    return (int.from_bytes(data, "big") ^ _SEQUENCE_INT[n]).to_bytes(n, "big")


def crc(data: bytes) -> bytes:
    return binascii.crc_hqx(data, 0xFFFF).to_bytes(2, "big")


def _escape(match: re.Match[bytes]) -> bytes:
    return bytes((ESCAPE, match[0][0] ^ FLIP))


def _unescape(match: re.Match[bytes]) -> bytes:
    byte = match[1][0] ^ FLIP
    if byte not in _RESERVED:
        raise FramingError(f"escaped byte 0x{byte:02X} is not a reserved byte")
    return bytes((byte,))


def stuff(data: bytes) -> bytes:
    return _TO_STUFF.sub(_escape, data) if _TO_STUFF.search(data) else data


def unstuff(data: bytes) -> bytes:
    """Undo `stuff`. A lone ESCAPE at the end is left in place: the CRC check then fails the frame."""
    if ESCAPE not in data:
        return data
    return _ESCAPED.sub(_unescape, data)


def frame(body: bytes, *, broken_crc: bool = False) -> bytes:
    """A frame on the line: control + field, CRC (last byte inverted if `broken_crc`), stuffed, then FLAG."""
    check_bytes = crc(body)
    if broken_crc:
        check_bytes = check_bytes[:1] + bytes((check_bytes[1] ^ 0xFF,))
    return stuff(body + check_bytes) + b"\x7e"


def data_body(frm_num: int, re_tx: bool, ack_num: int, ezsp_frame: bytes) -> bytes:
    """A DATA frame's control byte and randomised EZSP frame, before CRC and stuffing."""
    return bytes(((frm_num & 7) << 4 | (0x08 if re_tx else 0) | (ack_num & 7),)) + randomize(ezsp_frame)


def encode_data(frm_num: int, re_tx: bool, ack_num: int, ezsp_frame: bytes) -> bytes:
    return frame(data_body(frm_num, re_tx, ack_num, ezsp_frame))


def encode_ack(ack_num: int, *, nak: bool = False) -> bytes:
    return frame(bytes(((NAK_VALUE if nak else ACK_VALUE) | (ack_num & 7),)))


def check(raw: bytes) -> bytes:
    """Unstuffed frame bytes -> control + field with the CRC verified and removed."""
    if len(raw) < 3:
        raise FramingError(f"frame of {len(raw)} bytes; at least 3 (control + CRC) expected")
    body = raw[:-2]
    if crc(body) != raw[-2:]:
        raise FramingError(f"CRC {raw[-2:].hex()} does not match the frame (expected {crc(body).hex()})")
    return body
