"""The NCP's compiled EZSP codec must produce exactly what bellows' own types produce.

For every frame of every EZSP version the emulator speaks (its own definitions, rig.emu.ezsp), random field values are
encoded by the compiled path and by the generic zigpy-type path (rig.emu.ncp_codec.encode_generic), and
request bytes are decoded by both; any difference is a wire difference a host would see.
"""

from __future__ import annotations

import enum
import random

import bellows.types as bt
import pytest
import zigpy.types as zt

from rig.emu import ncp_codec
from rig.emu.ezsp import SUPPORTED_VERSIONS, frames_for, structs


def _random_value(typ: type, rng: random.Random):
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return rng.choice(list(typ))
    if isinstance(typ, type) and issubclass(typ, zt.LVBytes):
        return typ(rng.randbytes(rng.randrange(0, 80)))
    if isinstance(typ, type) and issubclass(typ, zt.Struct):
        kwargs = {f.name: _random_value(f.type, rng) for f in typ.fields if not getattr(f, "optional", False)}
        return typ(**kwargs)
    if isinstance(typ, type) and issubclass(typ, int) and isinstance(getattr(typ, "_size", None), int):
        bits = typ._size * 8
        if getattr(typ, "_signed", False):
            return typ(rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1)))
        return typ(rng.randrange(0, 1 << bits))
    return ncp_codec.default_for(typ)


def _schemas():
    for version in SUPPORTED_VERSIONS:
        for frame in frames_for(version).by_id.values():
            yield version, frame.name, frame.request, frame.response


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_compiled_encode_matches_bellows_types_for_every_frame(version):
    rng = random.Random(version)
    checked = 0
    for v, name, _tx, rx in _schemas():
        if v != version or not isinstance(rx, dict):
            continue
        for _ in range(5):
            values = {key: _random_value(typ, rng) for key, typ in rx.items() if rng.random() < 0.9}
            assert ncp_codec.encode(rx, values) == ncp_codec.encode_generic(rx, values), (version, name, values)
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_compiled_decode_matches_bellows_types_for_every_request(version):
    rng = random.Random(1000 + version)
    for v, name, tx, _rx in _schemas():
        if v != version or not isinstance(tx, dict):
            continue
        for _ in range(5):
            values = {key: _random_value(typ, rng) for key, typ in tx.items()}
            data = ncp_codec.encode_generic(tx, values) + (b"\x01\x02" if rng.random() < 0.2 else b"")
            fast, generic = ncp_codec.decode(tx, data), ncp_codec.decode_generic(tx, data)
            for key, value in generic.items():
                if isinstance(value, structs.ApsFrame):  # handed to the send handlers as ApsFields
                    assert fast[key] == ncp_codec.ApsFields.of(value), (version, name)
                else:
                    assert fast[key] == value and type(fast[key]) is type(value), (version, name, key)
            assert fast.keys() == generic.keys()


def test_aps_frame_packs_from_any_object_with_its_fields():
    """The emulator passes light records (not zigpy Structs) as apsFrame; the bytes are the same."""
    schema = frames_for(13).by_name["incomingMessageHandler"].response
    aps = structs.ApsFrame(profileId=0x0109, clusterId=0x0019, sourceEndpoint=1, destinationEndpoint=1,
                           options=bt.EmberApsOption.APS_OPTION_RETRY, groupId=0, sequence=7)
    light = ncp_codec.ApsFields(0x0109, 0x0019, 1, 1, int(bt.EmberApsOption.APS_OPTION_RETRY), 0, 7)
    values = {"type": bt.EmberIncomingMessageType.INCOMING_UNICAST, "lastHopLqi": 200, "lastHopRssi": -40,
              "sender": 0x1234, "bindingIndex": 0xFF, "addressIndex": 0xFF, "messageContents": b"\x01\x02"}
    assert ncp_codec.encode(schema, {**values, "apsFrame": light}) == \
        ncp_codec.encode_generic(schema, {**values, "apsFrame": aps})


def test_short_request_is_refused_like_bellows():
    tx = frames_for(13).by_name["sendUnicast"].request
    with pytest.raises(ValueError):
        ncp_codec.decode(tx, b"\x00\x34")
    with pytest.raises(ValueError):
        ncp_codec.decode_generic(tx, b"\x00\x34")
