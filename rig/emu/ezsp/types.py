"""The wire types the frame definitions use: zigpy/bellows primitives and the emulator's own structs.

STATUS and EZSP_STATUS are placeholders resolved per protocol version: EmberZNet 8.x (EZSP 14 and
up) returns a 4-byte sl_status_t wherever 7.x returned a 1-byte EmberStatus or EzspStatus.
"""

from __future__ import annotations

import bellows.types as bt
import zigpy.types as zt

from rig.emu.ezsp import structs

u8 = zt.uint8_t
u16 = zt.uint16_t
u32 = zt.uint32_t
i8 = zt.int8s
Bool = bt.Bool
EUI64 = zt.EUI64
NodeId = bt.EmberNodeId
KeyData = bt.KeyData
LV = zt.LVBytes  # uint8_t length + bytes
LV32 = bt.LVBytes32  # uint32_t length + bytes (EmberTokenData)
U16List = zt.List[zt.uint16_t]  # a run of uint16_t whose count another field gives
U16LVList = zt.LVList[zt.uint16_t]  # uint8_t count + uint16_t[count]
ApsFrame = structs.ApsFrame


class _VersionedStatus:
    """A status field: `legacy` up to EZSP 13, sl_Status from 14 (EmberZNet 8.x)."""

    def __init__(self, name: str, legacy: type) -> None:
        self.name = name
        self.legacy = legacy

    def resolve(self, version: int) -> type:
        return bt.sl_Status if version >= 14 else self.legacy

    def __repr__(self) -> str:
        return self.name


STATUS = _VersionedStatus("STATUS", bt.EmberStatus)
EZSP_STATUS = _VersionedStatus("EZSP_STATUS", bt.EzspStatus)
SL_STATUS = bt.sl_Status  # commands born in 7.x with sl_status_t (the security manager ones)


def resolve(typ: object, version: int) -> type:
    return typ.resolve(version) if isinstance(typ, _VersionedStatus) else typ  # type: ignore[return-value]
