"""Encode and decode EZSP parameters from the NCP's side of the wire.

A schema is a field dict (name -> zigpy/bellows type) from the emulator's own frame definitions
(rig.emu.ezsp): the NCP decodes requests with a frame's request fields and encodes responses and
callbacks with its response fields. Handlers speak one status language (sl_Status); it is
converted to whatever the field's type is in the negotiated version.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

import bellows.types as bt
import zigpy.types as zt

from rig.emu.ezsp import structs

# sl_Status -> EmberStatus, for versions < 14 whose fields are EmberStatus: each status a handler returns,
# paired with the EmberStatus EmberZNet 7.x returns in the same situation (8.x renamed, 7.x numbered them)
_SL_TO_EMBER: dict[bt.sl_Status, bt.EmberStatus] = {
    bt.sl_Status.OK: bt.EmberStatus.SUCCESS,
    bt.sl_Status.FAIL: bt.EmberStatus.ERR_FATAL,
    bt.sl_Status.INVALID_PARAMETER: bt.EmberStatus.BAD_ARGUMENT,
    bt.sl_Status.INVALID_STATE: bt.EmberStatus.INVALID_CALL,
    bt.sl_Status.INVALID_INDEX: bt.EmberStatus.INDEX_OUT_OF_RANGE,
    bt.sl_Status.NOT_FOUND: bt.EmberStatus.NOT_FOUND,
    bt.sl_Status.FULL: bt.EmberStatus.TABLE_FULL,
    bt.sl_Status.NOT_JOINED: bt.EmberStatus.NOT_JOINED,
    bt.sl_Status.NETWORK_UP: bt.EmberStatus.NETWORK_UP,
    bt.sl_Status.NETWORK_DOWN: bt.EmberStatus.NETWORK_DOWN,
    bt.sl_Status.ZIGBEE_DELIVERY_FAILED: bt.EmberStatus.DELIVERY_FAILED,
    bt.sl_Status.NOT_AVAILABLE: bt.EmberStatus.LIBRARY_NOT_PRESENT,
    bt.sl_Status.MAC_NO_ACK_RECEIVED: bt.EmberStatus.MAC_NO_ACK_RECEIVED,
    bt.sl_Status.TRANSMIT_INVALID_CHANNEL: bt.EmberStatus.PHY_INVALID_CHANNEL,
}

_SL_TO_EZSP: dict[bt.sl_Status, bt.EzspStatus] = {
    bt.sl_Status.OK: bt.EzspStatus.SUCCESS,
    bt.sl_Status.INVALID_PARAMETER: bt.EzspStatus.ERROR_INVALID_ID,
    bt.sl_Status.INVALID_STATE: bt.EzspStatus.ERROR_INVALID_CALL,
}

# the other way, for a handler that answers in 7.x terms in a version whose field is sl_status_t
# (two tables: EmberStatus and EzspStatus members compare equal by number)
_EMBER_TO_SL = {ember: sl for sl, ember in _SL_TO_EMBER.items()}
_EZSP_TO_SL = {ezsp: sl for sl, ezsp in _SL_TO_EZSP.items()}


def convert(typ: type, value: Any) -> Any:
    """Coerce a handler value into the schema's type (statuses translated between families)."""
    if isinstance(value, typ):
        return value
    if typ is bt.sl_Status and isinstance(value, (bt.EmberStatus, bt.EzspStatus)):
        table = _EMBER_TO_SL if isinstance(value, bt.EmberStatus) else _EZSP_TO_SL
        return table.get(value, bt.sl_Status.FAIL)
    if typ is bt.EmberStatus and isinstance(value, bt.sl_Status):
        return _SL_TO_EMBER.get(value, bt.EmberStatus.ERR_FATAL)
    if typ is bt.EzspStatus and isinstance(value, bt.sl_Status):
        return _SL_TO_EZSP.get(value, bt.EzspStatus.ERROR_INVALID_VALUE)
    return typ(value)


def default_for(typ: type) -> Any:
    """A zero-ish value of `typ` for response fields a handler did not set."""
    if typ in (bt.sl_Status, bt.EmberStatus, bt.EzspStatus):
        return convert(typ, bt.sl_Status.OK)
    if isinstance(typ, type) and issubclass(typ, zt.Struct):
        kwargs = {}
        for field in typ.fields:
            if getattr(field, "optional", False):
                continue
            kwargs[field.name] = default_for(field.type)
        return typ(**kwargs)
    if isinstance(typ, type) and issubclass(typ, (bytes, bytearray)):
        return typ(b"")
    if isinstance(typ, type) and issubclass(typ, list):
        return _zero_list(typ)
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        try:
            return typ(0)
        except ValueError:
            return next(iter(typ))
    return typ(0)


def _zero_list(typ: type) -> Any:
    """An empty variable-length list, or a fixed-length one (KeyData, EUI64) of zeros: whichever
    the type's own parser makes of the fewest zero bytes it accepts."""
    for size in (0, 1, 2, 4, 8, 16, 32, 64):
        try:
            value, _ = typ.deserialize(bytes(size))
        except (ValueError, TypeError, IndexError):
            continue
        return value
    raise TypeError(f"no default for {typ!r}")


def encode(schema: Any, values: dict[str, Any]) -> bytes:
    """Serialise `values` with a response schema (a field dict or a Struct class)."""
    if isinstance(schema, dict):
        return _compiled(schema).encode(values)
    return encode_generic(schema, values)


def decode(schema: Any, data: bytes) -> dict[str, Any]:
    """Parse request parameters with a request schema."""
    if isinstance(schema, dict):
        return _compiled(schema).decode(data)
    return decode_generic(schema, data)


def encode_generic(schema: Any, values: dict[str, Any]) -> bytes:
    """The reference encoder: every field through its zigpy type (what `encode` must match)."""
    if isinstance(schema, dict):
        out = b""
        for key, typ in schema.items():
            value = convert(typ, values[key]) if key in values else default_for(typ)
            out += value.serialize()
        return out
    kwargs = {}
    for field in schema.fields:
        if field.name in values:
            kwargs[field.name] = convert(field.type, values[field.name])
    return schema(**kwargs).serialize()


def decode_generic(schema: Any, data: bytes) -> dict[str, Any]:
    """The reference decoder (what `decode` must match)."""
    if isinstance(schema, dict):
        result, rest = {}, data
        for key, typ in schema.items():
            result[key], rest = typ.deserialize(rest)
    else:
        obj, rest = schema.deserialize(data)
        result = obj.as_dict() if hasattr(obj, "as_dict") else {"value": obj}
    if rest:
        result["_trailing"] = bytes(rest)
    return result


# -- compiled schemas --------------------------------------------------------------------------------
# The NCP encodes four frames and decodes two per OTA block; through zigpy's types that is most of its
# CPU (a Struct costs an inspect.Signature.bind). A schema is compiled once into per-field coders that
# pack fixed-size integers, LVBytes and all-integer Structs directly and leave every other type to
# zigpy. tests/emu/test_ncp_codec.py checks the result byte for byte against the generic path for
# every frame of every EZSP version the emulator speaks.

class ApsFields(NamedTuple):
    """An EmberApsFrame's fields as a plain record: what the NCP builds per frame (a zigpy Struct costs
    ~30 us to construct); the compiled encoder packs it exactly as it packs the Struct."""

    profileId: int
    clusterId: int
    sourceEndpoint: int
    destinationEndpoint: int
    options: int
    groupId: int
    sequence: int

    @classmethod
    def of(cls, aps: Any, **changes: int) -> ApsFields:
        return cls(*(changes.get(name, int(getattr(aps, name))) for name in cls._fields))


_STATUS_TYPES = (bt.sl_Status, bt.EmberStatus, bt.EzspStatus)
Packer = Callable[[Any], bytes]
Unpacker = Callable[[bytes, int], tuple[Any, int]]


def _int_packer(typ: type) -> tuple[Packer, Unpacker] | None:
    size = getattr(typ, "_size", None)
    if not (isinstance(typ, type) and issubclass(typ, int) and isinstance(size, int) and size > 0):
        return None
    signed = bool(getattr(typ, "_signed", False))
    if typ in _STATUS_TYPES:
        def pack(value: Any) -> bytes:
            return int(convert(typ, value)).to_bytes(size, "little", signed=signed)
    else:
        def pack(value: Any) -> bytes:
            if not isinstance(value, int):
                value = convert(typ, value)
            return int(value).to_bytes(size, "little", signed=signed)

    def unpack(data: bytes, at: int) -> tuple[Any, int]:
        end = at + size
        if end > len(data):
            raise ValueError(f"Data is too short to contain {size} bytes")
        return typ(int.from_bytes(data[at:end], "little", signed=signed)), end

    return pack, unpack


def _lvbytes_coders(typ: type) -> tuple[Packer, Unpacker]:
    prefix = int(getattr(typ, "_prefix_length", 1))
    limit = pow(256, prefix) - 1

    def pack(value: Any) -> bytes:
        value = bytes(value)
        if len(value) >= limit:
            raise ValueError(f"{typ.__name__} of {len(value)} bytes; at most {limit - 1} fit its length prefix")
        return len(value).to_bytes(prefix, "little") + value

    def unpack(data: bytes, at: int) -> tuple[Any, int]:
        start = at + prefix
        if start > len(data):
            raise ValueError("Data is too short")
        end = start + int.from_bytes(data[at:start], "little")
        if end > len(data):
            raise ValueError("Data is too short")
        return typ(data[start:end]), end

    return pack, unpack


def _struct_packer(typ: type) -> Packer | None:
    """All-integer Structs (EmberApsFrame): packed from the attributes of any object that has them."""
    parts = []
    for field in typ.fields:
        coder = None if getattr(field, "optional", False) else _int_packer(field.type)
        if coder is None:
            return None
        parts.append((field.name, coder[0]))

    def pack(value: Any) -> bytes:
        return b"".join(p(getattr(value, name)) for name, p in parts)

    return pack


def _generic_coders(typ: type) -> tuple[Packer, Unpacker]:
    def pack(value: Any) -> bytes:
        return convert(typ, value).serialize()

    def unpack(data: bytes, at: int) -> tuple[Any, int]:
        value, rest = typ.deserialize(data[at:])
        return value, len(data) - len(rest)

    return pack, unpack


def _eui64_unpacker(typ: type) -> Unpacker:
    """EUI64, ExtendedPanId: eight bytes in wire order (zigpy's item-by-item parse costs 12 us)."""
    def unpack(data: bytes, at: int) -> tuple[Any, int]:
        end = at + 8
        if end > len(data):
            raise ValueError("Data is too short to contain 8 bytes")
        return typ(data[at:end]), end

    return unpack


def _aps_unpacker() -> Unpacker:
    """EmberApsFrame -> ApsFields: the send handlers only read its fields (see ApsFields)."""
    layout = struct.Struct("<HHBBHHB")

    def unpack(data: bytes, at: int) -> tuple[Any, int]:
        end = at + layout.size
        if end > len(data):
            raise ValueError(f"Data is too short to contain {layout.size} bytes")
        return ApsFields(*layout.unpack_from(data, at)), end

    return unpack


def _field_coders(typ: type) -> tuple[Packer, Unpacker]:
    if isinstance(typ, type) and issubclass(typ, zt.LVBytes):
        return _lvbytes_coders(typ)
    coders = _int_packer(typ)
    if coders is not None:
        return coders
    generic_pack, generic_unpack = _generic_coders(typ)
    if typ is zt.EUI64 or typ is bt.ExtendedPanId:
        return generic_pack, _eui64_unpacker(typ)
    if isinstance(typ, type) and issubclass(typ, zt.Struct):
        fast = _struct_packer(typ)
        if fast is not None:
            unpack = _aps_unpacker() if typ is structs.ApsFrame else generic_unpack
            return (lambda value: fast(value) if not isinstance(value, dict) else generic_pack(value)), unpack
    return generic_pack, generic_unpack


class _Compiled:
    def __init__(self, schema: dict[str, type]) -> None:
        self.fields = [(key, *_field_coders(typ)) for key, typ in schema.items()]
        self.defaults = {key: default_for(typ).serialize() for key, typ in schema.items()}

    def encode(self, values: dict[str, Any]) -> bytes:
        return b"".join(pack(values[key]) if key in values else self.defaults[key]
                        for key, pack, _ in self.fields)

    def decode(self, data: bytes) -> dict[str, Any]:
        result: dict[str, Any] = {}
        at = 0
        for key, _, unpack in self.fields:
            result[key], at = unpack(data, at)
        if at < len(data):
            result["_trailing"] = bytes(data[at:])
        return result


_COMPILED: dict[int, tuple[dict, _Compiled]] = {}


def _compiled(schema: dict[str, type]) -> _Compiled:
    hit = _COMPILED.get(id(schema))
    if hit is None or hit[0] is not schema:  # the frame tables live for the process; the id check is a guard
        hit = _COMPILED[id(schema)] = (schema, _Compiled(schema))
    return hit[1]
