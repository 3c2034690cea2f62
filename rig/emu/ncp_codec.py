"""Encode EZSP parameters with bellows' own schemas, from the NCP's side of the wire.

bellows describes every command as (frame id, host->NCP schema, NCP->host schema). The NCP decodes
requests with the first and encodes responses/callbacks with the second, so a field added or
retyped in a bellows release is picked up without touching the emulator. Handlers speak one status
language (sl_Status); it is converted to whatever the field's type is in the negotiated version.
"""

from __future__ import annotations

import enum
from typing import Any

import bellows.types as bt
import zigpy.types as zt

# sl_Status -> EmberStatus, for versions < 14 whose fields are EmberStatus.
_SL_TO_EMBER: dict[bt.sl_Status, bt.EmberStatus] = {}
for (_typ, _ember), _sl in bt.named.SL_STATUS_MAP.items():
    if _typ is bt.EmberStatus:
        _SL_TO_EMBER.setdefault(_sl, _ember)
_SL_TO_EMBER.update(
    {
        bt.sl_Status.OK: bt.EmberStatus.SUCCESS,
        bt.sl_Status.FAIL: bt.EmberStatus.ERR_FATAL,
        bt.sl_Status.NOT_FOUND: bt.EmberStatus.NOT_FOUND,
        bt.sl_Status.NOT_JOINED: bt.EmberStatus.NOT_JOINED,
        bt.sl_Status.NETWORK_UP: bt.EmberStatus.NETWORK_UP,
        bt.sl_Status.NETWORK_DOWN: bt.EmberStatus.NETWORK_DOWN,
        bt.sl_Status.ZIGBEE_DELIVERY_FAILED: bt.EmberStatus.DELIVERY_FAILED,
        bt.sl_Status.NOT_AVAILABLE: bt.EmberStatus.LIBRARY_NOT_PRESENT,
        bt.sl_Status.INVALID_INDEX: bt.EmberStatus.INDEX_OUT_OF_RANGE,
    }
)

_SL_TO_EZSP: dict[bt.sl_Status, bt.EzspStatus] = {
    bt.sl_Status.OK: bt.EzspStatus.SUCCESS,
    bt.sl_Status.INVALID_PARAMETER: bt.EzspStatus.ERROR_INVALID_ID,
    bt.sl_Status.INVALID_STATE: bt.EzspStatus.ERROR_INVALID_CALL,
}


def convert(typ: type, value: Any) -> Any:
    """Coerce a handler value into the schema's type (statuses translated between families)."""
    if isinstance(value, typ):
        return value
    if typ is bt.sl_Status and isinstance(value, (bt.EmberStatus, bt.EzspStatus)):
        return bt.sl_Status.from_ember_status(value)
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
    if isinstance(typ, type) and issubclass(typ, zt.FixedList):
        return typ([default_for(typ._item_type)] * typ._length)
    if isinstance(typ, type) and issubclass(typ, list):
        return typ([])
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        try:
            return typ(0)
        except ValueError:
            return next(iter(typ))
    return typ(0)


def encode(schema: Any, values: dict[str, Any]) -> bytes:
    """Serialise `values` with a bellows rx schema (a field dict or a Struct class)."""
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


def decode(schema: Any, data: bytes) -> dict[str, Any]:
    """Parse request parameters with a bellows tx schema."""
    if isinstance(schema, dict):
        result, rest = bt.deserialize_dict(data, schema)
    else:
        obj, rest = schema.deserialize(data)
        result = obj.as_dict() if hasattr(obj, "as_dict") else {"value": obj}
    if rest:
        result["_trailing"] = bytes(rest)
    return result
