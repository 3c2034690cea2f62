"""Frame parameters reduced to their wire shape, so three schemas written three ways can be compared.

A layout is a tuple of tokens: int8 / int16 / int32 (any integer or enum of that size), bytesN (N
fixed bytes: EUI64, keys), bytes* (bytes whose count another field gives), int16* (uint16_t run).
A length-prefixed byte string is (int8, bytes*); a struct is its fields in order. Names and
signedness are not on the wire and are left out.
"""

from __future__ import annotations

import enum
from typing import Any

import zigpy.types as zt

Layout = tuple[str, ...]


def _int_size(typ: type) -> int:
    try:
        _, rest = typ.deserialize(bytes(8))
        return 8 - len(rest)
    except ValueError:  # an enum without a zero member
        if isinstance(typ, type) and issubclass(typ, enum.Enum):
            return len(next(iter(typ)).serialize())
        raise


def type_layout(typ: Any) -> Layout:
    if isinstance(typ, type) and issubclass(typ, zt.Struct):
        out: list[str] = []
        for field in typ.fields:
            out += type_layout(field.type)
        return tuple(out)
    if isinstance(typ, type) and issubclass(typ, (bytes, bytearray)):  # LVBytes, LVBytes32
        prefix = len(typ(b"").serialize())
        return (f"int{prefix * 8}", "bytes*")
    if isinstance(typ, type) and issubclass(typ, list):
        empty = None
        try:
            empty, _ = typ.deserialize(b"")
        except (ValueError, TypeError, IndexError):
            pass
        if empty is None:  # fixed length: how many zero bytes it takes
            for size in (1, 2, 4, 8, 16, 32, 64):
                try:
                    value, _ = typ.deserialize(bytes(size))
                    return (f"bytes{len(value.serialize())}",)
                except (ValueError, TypeError, IndexError):
                    continue
            raise TypeError(f"cannot size {typ!r}")
        prefix = len(typ([]).serialize())
        item = len(typ([0]).serialize()) - prefix
        head = (f"int{prefix * 8}",) if prefix else ()
        return head + (f"int{item * 8}*" if item > 1 else "bytes*",)
    if isinstance(typ, type) and issubclass(typ, int):
        return (f"int{_int_size(typ) * 8}",)
    raise TypeError(f"no wire layout for {typ!r}")


def fields_layout(fields: dict[str, Any] | Any) -> Layout:
    if isinstance(fields, dict):
        out: list[str] = []
        for typ in fields.values():
            out += type_layout(typ)
        return tuple(out)
    return type_layout(fields)  # a Struct used as a whole response (bellows does this)


def _runs(layout: Layout) -> Layout:
    """Back-to-back runs of one item type are one run on the wire (addEndpoint's two cluster lists)."""
    out: list[str] = []
    for token in layout:
        if not (token.endswith("*") and out and out[-1] == token):
            out.append(token)
    return tuple(out)


def same(mine: Layout, theirs: Layout) -> bool:
    """Equal, where a host that writes a byte list without a length (bytes*) matches fixed bytesN."""
    mine, theirs = _runs(mine), _runs(theirs)
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs):
        if a == b:
            continue
        if {a, b} & {"bytes*"} and (a.startswith("bytes") and b.startswith("bytes")):
            continue
        return False
    return True
