"""GBCS alert payloads (the ASN.1 DER SEQUENCE inside the message, domain.md §3.2).

Only the payload SEQUENCE is built, not the GBCS general block, message header or the 64-byte
signature: the rig is not a signer. Layout checked against the decoded RTDS vectors:
CCS08 `30 29 02 03 008F8A 18 0F "20150101000000Z" 04 08 <EUI> 04 04 <version> 02 01 <code>`;
0x8F8B `30 1F 02 03 008F8B 18 0F <time> 04 04 <version> 02 01 <0|1>`.
"""

from __future__ import annotations

import datetime as _dt


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def der_int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return _tlv(0x02, body)


def der_octets(value: bytes) -> bytes:
    return _tlv(0x04, value)


def der_time(posix: float) -> bytes:
    stamp = _dt.datetime.fromtimestamp(int(posix), _dt.timezone.utc).strftime("%Y%m%d%H%M%SZ")
    return _tlv(0x18, stamp.encode("ascii"))


def ccs08_transfer_alert(alert_code: int, time: float, ieee: str, version: int, response_code: int) -> bytes:
    """CCS08 Firmware Transfer Alert payload (0x8F8A success / 0x8F89 failure)."""
    eui = bytes.fromhex(ieee.replace(":", "").replace("-", ""))
    return _tlv(0x30, der_int(alert_code) + der_time(time) + der_octets(eui)
                + der_octets(version.to_bytes(4, "big")) + der_int(response_code))


def activation_alert(alert_code: int, time: float, version: int, result: int) -> bytes:
    """Read Firmware Version / activation alert payload (0x8F8B)."""
    return _tlv(0x30, der_int(alert_code) + der_time(time) + der_octets(version.to_bytes(4, "big"))
                + der_int(result))
