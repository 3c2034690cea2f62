"""ZCL foundation for emulated devices: headers, attribute tables, global commands.

Types come from zigpy's cluster definitions (so a Basic ManufacturerName is a character string and
an OTA ImageUpgradeStatus an enum8 exactly as zigpy expects), but parsing of what arrives is done
defensively: a frame that does not parse yields MALFORMED_COMMAND, never an exception upwards.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters import CLUSTERS_BY_ID

Status = foundation.Status
Direction = foundation.Direction
GeneralCommand = foundation.GeneralCommand


class MalformedFrame(ValueError):
    pass


# The ZCL header is parsed and built for every frame a device sees or sends; zigpy's ZCLHeader (a
# generic Struct with signature binding) cost more than the rest of the device model, so the 3- or
# 5-byte header is coded by hand here. tests/emu/test_zcl_header.py checks it against zigpy's.
_FRAME_TYPES = tuple(foundation.FrameType(i) for i in range(4))
_DIRECTIONS = (Direction.Client_to_Server, Direction.Server_to_Client)
_MANUFACTURER_SPECIFIC = 0x04


class FrameControl:
    """The frame control byte (ZCL 2.4.1.1): bits 0-1 frame type, 2 manufacturer specific,
    3 direction (1 = server to client), 4 disable default response, 5-7 reserved."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value & 0xFF

    @classmethod
    def build(cls, *, general: bool, manufacturer_specific: bool, direction: int,
              disable_default_response: bool, reserved: int = 0) -> FrameControl:
        return cls((0 if general else 1) | (_MANUFACTURER_SPECIFIC if manufacturer_specific else 0)
                   | (int(direction) & 1) << 3 | (1 if disable_default_response else 0) << 4 | (reserved & 0x07) << 5)

    @property
    def frame_type(self) -> foundation.FrameType:
        return _FRAME_TYPES[self.value & 0x03]

    @property
    def is_general(self) -> bool:
        return self.value & 0x03 == 0

    @property
    def is_cluster(self) -> bool:
        return self.value & 0x03 == 1

    @property
    def is_manufacturer_specific(self) -> int:
        return self.value >> 2 & 1

    @property
    def direction(self) -> Direction:
        return _DIRECTIONS[self.value >> 3 & 1]

    @property
    def disable_default_response(self) -> int:
        return self.value >> 4 & 1

    @property
    def reserved(self) -> int:
        return self.value >> 5

    def __int__(self) -> int:
        return self.value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrameControl):
            return self.value == other.value
        return NotImplemented if not isinstance(other, int) else self.value == other

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return (f"FrameControl(frame_type={self.frame_type.name}, is_manufacturer_specific={self.is_manufacturer_specific}, "
                f"direction={self.direction.name}, disable_default_response={self.disable_default_response}, "
                f"reserved={self.reserved})")


class ZclHeader:
    """frame control, [manufacturer code if manufacturer specific], transaction sequence number, command id."""

    __slots__ = ("frame_control", "manufacturer", "tsn", "command_id")

    def __init__(self, frame_control: FrameControl, manufacturer: int | None, tsn: int, command_id: int) -> None:
        self.frame_control = frame_control
        self.manufacturer = manufacturer
        self.tsn = tsn
        self.command_id = command_id

    @property
    def direction(self) -> Direction:
        return self.frame_control.direction

    def serialize(self) -> bytes:
        fc = self.frame_control.value
        if self.manufacturer is None:
            return bytes((fc & ~_MANUFACTURER_SPECIFIC, self.tsn & 0xFF, self.command_id & 0xFF))
        m = self.manufacturer
        return bytes((fc | _MANUFACTURER_SPECIFIC, m & 0xFF, m >> 8 & 0xFF, self.tsn & 0xFF, self.command_id & 0xFF))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ZclHeader):
            return NotImplemented
        return (self.frame_control, self.manufacturer, self.tsn, self.command_id) == (
            other.frame_control, other.manufacturer, other.tsn, other.command_id)

    def __repr__(self) -> str:
        mfr = "None" if self.manufacturer is None else f"0x{self.manufacturer:04X}"
        return f"ZclHeader({self.frame_control!r}, manufacturer={mfr}, tsn={self.tsn}, command_id=0x{self.command_id:02X})"


def parse_header(payload: bytes) -> tuple[ZclHeader, bytes]:
    n = len(payload)
    if n < 3:
        raise MalformedFrame(f"ZCL frame of {n} bytes, expected at least 3")
    fc = payload[0]
    if fc & _MANUFACTURER_SPECIFIC:
        if n < 5:
            raise MalformedFrame(f"manufacturer-specific ZCL frame of {n} bytes, expected at least 5")
        return ZclHeader(FrameControl(fc), payload[1] | payload[2] << 8, payload[3], payload[4]), bytes(payload[5:])
    return ZclHeader(FrameControl(fc), None, payload[1], payload[2]), bytes(payload[3:])


def header(
    tsn: int,
    command_id: int,
    *,
    general: bool,
    direction: Direction,
    disable_default_response: bool = False,
    manufacturer: int | None = None,
) -> ZclHeader:
    fc = FrameControl.build(general=general, manufacturer_specific=manufacturer is not None, direction=direction,
                            disable_default_response=disable_default_response)
    return ZclHeader(fc, manufacturer, tsn, command_id)


def reply_header(req: ZclHeader, command_id: int, *, general: bool = True) -> ZclHeader:
    """Header of an answer to `req`: same TSN and manufacturer, opposite direction, no default response."""
    return header(
        req.tsn,
        command_id,
        general=general,
        direction=req.direction.flip(),
        disable_default_response=True,
        manufacturer=req.manufacturer,
    )


def default_response(req: ZclHeader, status: int) -> bytes:
    return reply_header(req, GeneralCommand.Default_Response).serialize() + bytes([req.command_id, int(status)])


def wants_default_response(req: ZclHeader, status: int, broadcast: bool) -> bool:
    """ZCL: never to broadcasts or to a Default Response; always on error; on success only if asked."""
    if broadcast:
        return False
    if req.frame_control.is_general and req.command_id == GeneralCommand.Default_Response:
        return False
    return status != Status.SUCCESS or not req.frame_control.disable_default_response


def attribute_type(cluster_id: int, attr_id: int) -> type | None:
    """The wire type of a standard ZCL attribute, from zigpy's public table of its cluster classes."""
    cluster = CLUSTERS_BY_ID.get(cluster_id)
    if cluster is None:
        return None
    attr = cluster.attributes.get(attr_id)
    return None if attr is None else attr.type


@dataclasses.dataclass
class AttributeDef:
    python_type: type
    getter: Callable[[], Any]
    setter: Callable[[Any], None] | None = None  # None = read-only


class AttributeTable:
    """Attributes of one endpoint, per cluster; values may be live (getter) or stored."""

    def __init__(self) -> None:
        self._defs: dict[int, dict[int, AttributeDef]] = {}

    def define(self, cluster_id: int, attr_id: int, value: Any = None, *, getter=None, writable: bool = False, python_type=None) -> None:
        ptype = python_type or attribute_type(cluster_id, attr_id)
        if ptype is None:
            raise KeyError(f"no zigpy type known for cluster 0x{cluster_id:04X} attribute 0x{attr_id:04X}")
        box = {"v": value}
        get = getter or (lambda: box["v"])
        setter = (lambda v: box.__setitem__("v", v)) if writable else None
        self._defs.setdefault(cluster_id, {})[attr_id] = AttributeDef(ptype, get, setter)

    def has_cluster(self, cluster_id: int) -> bool:
        return cluster_id in self._defs

    def ids(self, cluster_id: int) -> list[int]:
        return sorted(self._defs.get(cluster_id, {}))

    def get(self, cluster_id: int, attr_id: int) -> Any:
        return self._defs[cluster_id][attr_id].getter()

    def read_record(self, cluster_id: int, attr_id: int) -> foundation.ReadAttributeRecord:
        d = self._defs.get(cluster_id, {}).get(attr_id)
        if d is None:
            return foundation.ReadAttributeRecord(attr_id, Status.UNSUPPORTED_ATTRIBUTE)
        value = d.python_type(d.getter())
        type_id = foundation.DataType.from_python_type(d.python_type).type_id
        return foundation.ReadAttributeRecord(attr_id, Status.SUCCESS, foundation.TypeValue(type=type_id, value=value))

    def write(self, cluster_id: int, attr_id: int, tv: foundation.TypeValue, *, apply: bool = True) -> Status:
        d = self._defs.get(cluster_id, {}).get(attr_id)
        if d is None:
            return Status.UNSUPPORTED_ATTRIBUTE
        if d.setter is None:
            return Status.READ_ONLY
        if tv.type != foundation.DataType.from_python_type(d.python_type).type_id:
            return Status.INVALID_DATA_TYPE
        if apply:
            d.setter(d.python_type(tv.value))
        return Status.SUCCESS


def handle_general(table: AttributeTable, cluster_id: int, hdr: ZclHeader, body: bytes) -> tuple[bytes | None, Status]:
    """Answer a global (profile-wide) command: (response frame or None, status for a Default Response)."""
    cmd = hdr.command_id
    if cmd == GeneralCommand.Read_Attributes:
        if len(body) % 2 or not body:
            return None, Status.MALFORMED_COMMAND
        ids = struct.unpack(f"<{len(body) // 2}H", body)
        out = b"".join(table.read_record(cluster_id, a).serialize() for a in ids)
        return reply_header(hdr, GeneralCommand.Read_Attributes_rsp).serialize() + out, Status.SUCCESS
    if cmd in (GeneralCommand.Write_Attributes, GeneralCommand.Write_Attributes_Undivided, GeneralCommand.Write_Attributes_No_Response):
        records = []
        try:
            while body:
                rec, body = foundation.Attribute.deserialize(body)
                records.append(rec)
        except (ValueError, KeyError):
            return None, Status.MALFORMED_COMMAND
        undivided = cmd == GeneralCommand.Write_Attributes_Undivided
        statuses = [(r.attrid, table.write(cluster_id, r.attrid, r.value, apply=not undivided)) for r in records]
        if undivided and all(s == Status.SUCCESS for _, s in statuses):
            for r in records:
                table.write(cluster_id, r.attrid, r.value)
        if cmd == GeneralCommand.Write_Attributes_No_Response:
            return None, Status.SUCCESS
        failed = [(a, s) for a, s in statuses if s != Status.SUCCESS]
        payload = b"".join(bytes([s]) + struct.pack("<H", a) for a, s in failed) if failed else bytes([Status.SUCCESS])
        return reply_header(hdr, GeneralCommand.Write_Attributes_rsp).serialize() + payload, Status.SUCCESS
    if cmd == GeneralCommand.Discover_Attributes:
        if len(body) < 3:
            return None, Status.MALFORMED_COMMAND
        start, max_n = struct.unpack_from("<HB", body)
        ids = [a for a in table.ids(cluster_id) if a >= start]
        chosen = ids[:max_n]
        out = bytes([1 if len(chosen) == len(ids) else 0])
        for a in chosen:
            ptype = table._defs[cluster_id][a].python_type
            out += struct.pack("<HB", a, foundation.DataType.from_python_type(ptype).type_id)
        return reply_header(hdr, GeneralCommand.Discover_Attributes_rsp).serialize() + out, Status.SUCCESS
    if cmd == GeneralCommand.Default_Response:
        return None, Status.SUCCESS
    # Configure Reporting and the rest: not supported by these simple devices
    return None, Status.UNSUP_GENERAL_COMMAND


def eui64(value: Any) -> t.EUI64:
    return value if isinstance(value, t.EUI64) else t.EUI64.convert(str(value))
