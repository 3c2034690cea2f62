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
import zigpy.zcl
from zigpy.zcl import foundation

Status = foundation.Status
Direction = foundation.Direction
GeneralCommand = foundation.GeneralCommand


class MalformedFrame(ValueError):
    pass


def parse_header(payload: bytes) -> tuple[foundation.ZCLHeader, bytes]:
    if len(payload) < 3:
        raise MalformedFrame(f"ZCL frame of {len(payload)} bytes, expected at least 3")
    try:
        hdr, rest = foundation.ZCLHeader.deserialize(payload)
    except (ValueError, KeyError) as exc:
        raise MalformedFrame(f"bad ZCL header: {exc}") from None
    return hdr, rest


def header(
    tsn: int,
    command_id: int,
    *,
    general: bool,
    direction: Direction,
    disable_default_response: bool = False,
    manufacturer: int | None = None,
) -> foundation.ZCLHeader:
    fc = foundation.FrameControl(
        frame_type=foundation.FrameType.GLOBAL_COMMAND if general else foundation.FrameType.CLUSTER_COMMAND,
        is_manufacturer_specific=manufacturer is not None,
        direction=direction,
        disable_default_response=int(disable_default_response),
        reserved=0,
    )
    return foundation.ZCLHeader(frame_control=fc, manufacturer=manufacturer, tsn=tsn, command_id=command_id)


def reply_header(req: foundation.ZCLHeader, command_id: int, *, general: bool = True) -> foundation.ZCLHeader:
    """Header of an answer to `req`: same TSN and manufacturer, opposite direction, no default response."""
    return header(
        req.tsn,
        command_id,
        general=general,
        direction=req.direction.flip(),
        disable_default_response=True,
        manufacturer=req.manufacturer,
    )


def default_response(req: foundation.ZCLHeader, status: int) -> bytes:
    return reply_header(req, GeneralCommand.Default_Response).serialize() + bytes([req.command_id, int(status)])


def wants_default_response(req: foundation.ZCLHeader, status: int, broadcast: bool) -> bool:
    """ZCL: never to broadcasts or to a Default Response; always on error; on success only if asked."""
    if broadcast:
        return False
    if req.frame_control.is_general and req.command_id == GeneralCommand.Default_Response:
        return False
    return status != Status.SUCCESS or not req.frame_control.disable_default_response


def attribute_type(cluster_id: int, attr_id: int) -> type | None:
    cluster = zigpy.zcl.Cluster._registry.get(cluster_id)
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


def handle_general(table: AttributeTable, cluster_id: int, hdr: foundation.ZCLHeader, body: bytes) -> tuple[bytes | None, Status]:
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
