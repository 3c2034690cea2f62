"""EZSP frames the emulated NCP speaks: id, request and response parameters, per protocol version.

One `Frame` row per (frame, version range). Parameter names are UG100's (EmberZNet 7.x); 8.x
renamed several in its C API but not on the wire, and the names never reach the wire. Versions
are the EZSP protocol versions of EmberZNet 5.x (4) to 8.2 (19); there is no EZSP 15.

Where these rows differ from a host's tables the difference is listed, with the reason, in
tests/interop/test_frame_definitions.py.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import bellows.types as bt

from rig.emu.ezsp import structs
from rig.emu.ezsp.types import (
    EUI64, EZSP_STATUS, LV, LV32, SL_STATUS, STATUS, ApsFrame, Bool, KeyData, NodeId, U16List, U16LVList,
    i8, resolve, u8, u16, u32,
)

SUPPORTED_VERSIONS = (4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19)
LAST = 99  # "still present in the newest version"

Fields = Sequence[tuple[str, object]]


@dataclasses.dataclass(frozen=True)
class Frame:
    name: str
    frame_id: int
    request: Fields
    response: Fields
    since: int = 4
    until: int = LAST
    callback: bool = False

    def covers(self, version: int) -> bool:
        return self.since <= version <= self.until


def _cmd(name, frame_id, request=(), response=(), since=4, until=LAST) -> Frame:
    return Frame(name, frame_id, tuple(request), tuple(response), since, until)


def _cb(name, frame_id, response, since=4, until=LAST) -> Frame:
    return Frame(name, frame_id, (), tuple(response), since, until, callback=True)


_CHILD = (("childId", NodeId), ("childEui64", EUI64), ("childType", bt.EmberNodeType))

FRAMES: tuple[Frame, ...] = (
    # -- configuration ---------------------------------------------------------------------------
    _cmd("version", 0x0000, [("desiredProtocolVersion", u8)],
         [("protocolVersion", u8), ("stackType", u8), ("stackVersion", u16)]),
    _cmd("getConfigurationValue", 0x0052, [("configId", bt.EzspConfigId)],
         [("status", EZSP_STATUS), ("value", u16)]),
    _cmd("setConfigurationValue", 0x0053, [("configId", bt.EzspConfigId), ("value", u16)],
         [("status", EZSP_STATUS)]),
    # both cluster lists travel as one run of uint16_t; the two counts say where inputs end
    _cmd("addEndpoint", 0x0002,
         [("endpoint", u8), ("profileId", u16), ("deviceId", u16), ("deviceVersion", u8),
          ("inputClusterCount", u8), ("outputClusterCount", u8), ("clusterList", U16List)],
         [("status", EZSP_STATUS)]),
    _cmd("setPolicy", 0x0055, [("policyId", bt.EzspPolicyId), ("decisionId", bt.EzspDecisionId)],
         [("status", EZSP_STATUS)]),
    _cmd("getPolicy", 0x0056, [("policyId", bt.EzspPolicyId)],
         [("status", EZSP_STATUS), ("decisionId", bt.EzspDecisionId)]),
    _cmd("getValue", 0x00AA, [("valueId", bt.EzspValueId)], [("status", EZSP_STATUS), ("value", LV)]),
    _cmd("getExtendedValue", 0x0003, [("valueId", bt.EzspExtendedValueId), ("characteristics", u32)],
         [("status", EZSP_STATUS), ("value", LV)]),
    _cmd("setValue", 0x00AB, [("valueId", bt.EzspValueId), ("value", LV)], [("status", EZSP_STATUS)]),
    # -- utilities -------------------------------------------------------------------------------
    _cmd("nop", 0x0005),
    _cmd("echo", 0x0081, [("data", LV)], [("echo", LV)]),
    # EzspStatus in every version: hosts read one byte here (EZSP-level errors stayed EzspStatus in 8.x)
    _cb("invalidCommand", 0x0058, [("reason", bt.EzspStatus)]),
    _cmd("getMfgToken", 0x000B, [("tokenId", bt.EzspMfgTokenId)], [("tokenData", LV)]),
    _cmd("readAndClearCounters", 0x0065, [], [("values", U16List)]),
    _cmd("readCounters", 0x00F1, [], [("values", U16List)]),
    _cmd("customFrame", 0x0047, [("payload", LV)], [("status", STATUS), ("reply", LV)]),
    _cmd("getEui64", 0x0026, [], [("eui64", EUI64)]),
    _cmd("getNodeId", 0x0027, [], [("nodeId", NodeId)]),
    # -- networking ------------------------------------------------------------------------------
    _cmd("setManufacturerCode", 0x0015, [("code", u16)], [], until=13),
    _cmd("setManufacturerCode", 0x0015, [("code", u16)], [("status", SL_STATUS)], since=14),
    _cmd("networkState", 0x0018, [], [("status", bt.EmberNetworkStatus)]),
    _cb("stackStatusHandler", 0x0019, [("status", STATUS)]),
    _cmd("startScan", 0x001A,
         [("scanType", bt.EzspNetworkScanType), ("channelMask", bt.Channels), ("duration", u8)],
         [("status", STATUS)], until=12),
    # 7.4 (EZSP 13) already answers with sl_status_t (emberStartScan returns sl_status_t since 7.x)
    _cmd("startScan", 0x001A,
         [("scanType", bt.EzspNetworkScanType), ("channelMask", bt.Channels), ("duration", u8)],
         [("status", SL_STATUS)], since=13),
    _cb("energyScanResultHandler", 0x0048, [("channel", u8), ("maxRssiValue", i8)]),
    _cb("scanCompleteHandler", 0x001C, [("channel", u8), ("status", STATUS)]),
    _cmd("networkInit", 0x0017, [], [("status", STATUS)], until=5),
    _cmd("networkInit", 0x0017, [("networkInitBitmask", bt.EmberNetworkInitBitmask)], [("status", STATUS)],
         since=6),
    # EmberZNet 5.x: networkInit took no parameters; the bitmask came with networkInitExtended
    _cmd("networkInitExtended", 0x0070, [("networkInitStruct", bt.EmberNetworkInitBitmask)], [("status", STATUS)],
         until=5),
    _cmd("formNetwork", 0x001E, [("parameters", structs.NetworkParameters)], [("status", STATUS)]),
    _cmd("leaveNetwork", 0x0020, [], [("status", STATUS)], until=13),
    # 8.x: sl_zigbee_leave_network(options)
    _cmd("leaveNetwork", 0x0020, [("options", u8)], [("status", STATUS)], since=14),
    _cmd("permitJoining", 0x0022, [("duration", u8)], [("status", STATUS)]),
    _cb("childJoinHandler", 0x0023, [("index", u8), ("joining", Bool), *_CHILD]),
    _cb("trustCenterJoinHandler", 0x0024,
        [("newNodeId", NodeId), ("newNodeEui64", EUI64), ("status", bt.EmberDeviceUpdate),
         ("policyDecision", bt.EmberJoinDecision), ("parentOfNewNodeId", NodeId)]),
    _cmd("getNetworkParameters", 0x0028, [],
         [("status", STATUS), ("nodeType", bt.EmberNodeType), ("parameters", structs.NetworkParameters)]),
    _cmd("getChildData", 0x004A, [("index", u8)], [("status", STATUS), *_CHILD], until=6),
    _cmd("getChildData", 0x004A, [("index", u8)], [("status", STATUS), ("childData", structs.ChildDataV7)],
         since=7, until=9),
    _cmd("getChildData", 0x004A, [("index", u8)], [("status", STATUS), ("childData", structs.ChildDataV10)],
         since=10),
    _cmd("setChildData", 0x00AC, [("index", u8), ("childData", structs.ChildDataV7)], [("status", STATUS)],
         since=9, until=9),
    _cmd("setChildData", 0x00AC, [("index", u8), ("childData", structs.ChildDataV10)], [("status", STATUS)],
         since=10),
    _cmd("setRadioPower", 0x0099, [("power", i8)], [("status", STATUS)]),
    _cmd("setLogicalAndRadioChannel", 0x00B9, [("radioChannel", u8)], [("status", STATUS)]),
    # EZSP 8-9 used 0x0095 for overrideCurrentChannel (not emulated)
    _cmd("setRadioIeee802154CcaMode", 0x0095, [("ccaMode", u8)], [("status", STATUS)], since=10),
    _cmd("setConcentrator", 0x0010,
         [("on", Bool), ("concentratorType", u16), ("minTime", u16), ("maxTime", u16),
          ("routeErrorThreshold", u8), ("deliveryFailureThreshold", u8), ("maxHops", u8)],
         [("status", STATUS)]),
    _cmd("setSourceRouteDiscoveryMode", 0x005A, [("mode", u8)], [("remainingTime", u32)], since=8),
    _cmd("setSourceRoute", 0x005A, [("destination", NodeId), ("relayList", U16LVList)], [("status", STATUS)],
         until=7),
    _cmd("setSourceRoute", 0x00AE, [("destination", NodeId), ("relayList", U16LVList)], [("status", STATUS)],
         since=8),
    # -- binding / address table -------------------------------------------------------------------
    _cmd("setExtendedTimeout", 0x007E, [("remoteEui64", EUI64), ("extendedTimeout", Bool)], [], until=13),
    _cmd("setExtendedTimeout", 0x007E, [("remoteEui64", EUI64), ("extendedTimeout", Bool)],
         [("status", SL_STATUS)], since=14),
    _cmd("getExtendedTimeout", 0x007F, [("remoteEui64", EUI64)], [("extendedTimeout", Bool)], until=13),
    # 8.x: SL_STATUS_OK = extended, SL_STATUS_FAIL = normal timeout
    _cmd("getExtendedTimeout", 0x007F, [("remoteEui64", EUI64)], [("status", SL_STATUS)], since=14),
    _cmd("replaceAddressTableEntry", 0x0082,
         [("addressTableIndex", u8), ("newEui64", EUI64), ("newId", NodeId), ("newExtendedTimeout", Bool)],
         [("status", STATUS), ("oldEui64", EUI64), ("oldId", NodeId), ("oldExtendedTimeout", Bool)]),
    _cmd("getAddressTableRemoteEui64", 0x005E, [("addressTableIndex", u8)], [("eui64", EUI64)], until=13),
    _cmd("getAddressTableRemoteNodeId", 0x005F, [("addressTableIndex", u8)], [("nodeId", NodeId)], until=13),
    # 8.x folds the two lookups into one (and reuses 0x005E)
    _cmd("getAddressTableInfo", 0x005E, [("index", u8)],
         [("status", SL_STATUS), ("nodeId", NodeId), ("eui64", EUI64)], since=14),
    _cmd("lookupNodeIdByEui64", 0x0060, [("eui64", EUI64)], [("nodeId", NodeId)], until=13),
    _cmd("lookupNodeIdByEui64", 0x0060, [("eui64", EUI64)], [("status", SL_STATUS), ("nodeId", NodeId)],
         since=14),
    _cmd("lookupEui64ByNodeId", 0x0061, [("nodeId", NodeId)], [("status", STATUS), ("eui64", EUI64)]),
    _cmd("getMulticastTableEntry", 0x0063, [("index", u8)],
         [("status", STATUS), ("value", structs.MulticastTableEntry)]),
    _cmd("setMulticastTableEntry", 0x0064, [("index", u8), ("value", structs.MulticastTableEntry)],
         [("status", STATUS)]),
    # -- messaging -----------------------------------------------------------------------------------
    _cmd("sendUnicast", 0x0034,
         [("type", bt.EmberOutgoingMessageType), ("indexOrDestination", NodeId), ("apsFrame", ApsFrame),
          ("messageTag", u8), ("messageContents", LV)],
         [("status", STATUS), ("sequence", u8)], until=13),
    _cmd("sendUnicast", 0x0034,
         [("type", bt.EmberOutgoingMessageType), ("indexOrDestination", NodeId), ("apsFrame", ApsFrame),
          ("messageTag", u16), ("messageContents", LV)],
         [("status", STATUS), ("sequence", u8)], since=14),
    _cmd("sendBroadcast", 0x0036,
         [("destination", NodeId), ("apsFrame", ApsFrame), ("radius", u8), ("messageTag", u8),
          ("messageContents", LV)],
         [("status", STATUS), ("sequence", u8)], until=13),
    _cmd("sendBroadcast", 0x0036,
         [("alias", NodeId), ("destination", NodeId), ("nwkSequence", u8), ("apsFrame", ApsFrame),
          ("radius", u8), ("messageTag", u16), ("messageContents", LV)],
         [("status", STATUS), ("sequence", u8)], since=14),
    _cmd("sendMulticast", 0x0038,
         [("apsFrame", ApsFrame), ("hops", u8), ("nonmemberRadius", u8), ("messageTag", u8),
          ("messageContents", LV)],
         [("status", STATUS), ("sequence", u8)], until=13),
    _cmd("sendMulticast", 0x0038,
         [("apsFrame", ApsFrame), ("hops", u8), ("broadcastAddr", NodeId), ("alias", NodeId),
          ("nwkSequence", u8), ("messageTag", u16), ("messageContents", LV)],
         [("status", STATUS), ("sequence", u8)], since=14),
    # inter-PAN / touchlink: a raw 802.15.4 frame (MAC header included) on the current radio channel
    _cmd("sendRawMessageExtended", 0x0051, [("message", LV), ("priority", u8), ("useCca", Bool)],
         [("status", STATUS)], since=8),
    _cb("rawTransmitCompleteHandler", 0x0098, [("status", STATUS)], until=13),
    # 8.x hands the frame back with the outcome (sl_zigbee_raw_transmit_complete_handler(length, message, status))
    _cb("rawTransmitCompleteHandler", 0x0098, [("messageContents", LV), ("status", SL_STATUS)], since=14),
    _cmd("sendReply", 0x0039, [("sender", NodeId), ("apsFrame", ApsFrame), ("messageContents", LV)],
         [("status", STATUS)]),
    _cb("messageSentHandler", 0x003F,
        [("type", bt.EmberOutgoingMessageType), ("indexOrDestination", u16), ("apsFrame", ApsFrame),
         ("messageTag", u8), ("status", STATUS), ("messageContents", LV)], until=13),
    _cb("messageSentHandler", 0x003F,
        [("status", STATUS), ("type", bt.EmberOutgoingMessageType), ("indexOrDestination", u16),
         ("apsFrame", ApsFrame), ("messageTag", u16), ("messageContents", LV)], since=14),
    _cb("incomingMessageHandler", 0x0045,
        [("type", bt.EmberIncomingMessageType), ("apsFrame", ApsFrame), ("lastHopLqi", u8),
         ("lastHopRssi", i8), ("sender", NodeId), ("bindingIndex", u8), ("addressIndex", u8),
         ("messageContents", LV)], until=13),
    # 8.x: sl_zigbee_rx_packet_info_t (sender id, sender EUI64, binding/address index, LQI, RSSI, timestamp)
    _cb("incomingMessageHandler", 0x0045,
        [("type", bt.EmberIncomingMessageType), ("apsFrame", ApsFrame), ("sender", NodeId), ("eui64", EUI64),
         ("bindingIndex", u8), ("addressIndex", u8), ("lastHopLqi", u8), ("lastHopRssi", i8),
         ("timestamp", u32), ("messageContents", LV)], since=14),
    # -- security ------------------------------------------------------------------------------------
    _cmd("setInitialSecurityState", 0x0068, [("state", structs.InitialSecurityState)], [("status", STATUS)]),
    _cmd("getCurrentSecurityState", 0x0069, [],
         [("status", STATUS), ("state", structs.CurrentSecurityState)]),
    _cmd("getKey", 0x006A, [("keyType", bt.EmberKeyType)], [("status", STATUS), ("keyStruct", structs.KeyStruct)],
         until=12),
    _cmd("getKeyTableEntry", 0x0071, [("index", u8)], [("status", STATUS), ("keyStruct", structs.KeyStruct)],
         until=12),
    _cmd("addOrUpdateKeyTableEntry", 0x0066, [("address", EUI64), ("linkKey", Bool), ("keyData", KeyData)],
         [("status", STATUS)], until=12),
    _cmd("findKeyTableEntry", 0x0075, [("address", EUI64), ("linkKey", Bool)], [("index", u8)]),
    _cmd("eraseKeyTableEntry", 0x0076, [("index", u8)], [("status", STATUS)]),
    _cmd("clearKeyTable", 0x00B1, [], [("status", STATUS)]),
    _cmd("clearTransientLinkKeys", 0x006B),
    _cmd("broadcastNextNetworkKey", 0x0073, [("key", KeyData)], [("status", STATUS)]),
    _cmd("broadcastNetworkKeySwitch", 0x0074, [], [("status", STATUS)]),
    _cmd("addTransientLinkKey", 0x00AF, [("partner", EUI64), ("transientKey", KeyData)], [("status", STATUS)],
         until=12),
    _cmd("tokenFactoryReset", 0x0077, [("excludeOutgoingFC", Bool), ("excludeBootCounter", Bool)], [],
         since=13),
    # the security manager API (7.x sec-man, EZSP 12+): sl_status_t from the start
    _cmd("exportKey", 0x0114, [("context", structs.SecManContextV12)],
         [("key", KeyData), ("status", SL_STATUS)], since=12, until=12),
    _cmd("exportKey", 0x0114, [("context", structs.SecManContextV13)],
         [("key", KeyData), ("status", SL_STATUS)], since=13, until=13),
    _cmd("exportKey", 0x0114, [("context", structs.SecManContextV13)],
         [("status", SL_STATUS), ("key", KeyData), ("context", structs.SecManContextV13)], since=14),
    _cmd("importLinkKey", 0x010E, [("index", u8), ("address", EUI64), ("plaintextKey", KeyData)],
         [("status", SL_STATUS)], since=12),
    _cmd("exportLinkKeyByIndex", 0x010F, [("index", u8)],
         [("eui64", EUI64), ("plaintextKey", KeyData), ("keyData", structs.SecManApsKeyMetadata),
          ("status", SL_STATUS)], since=12, until=13),
    _cmd("exportLinkKeyByIndex", 0x010F, [("index", u8)],
         [("status", SL_STATUS), ("context", structs.SecManContextV13), ("plaintextKey", KeyData),
          ("keyData", structs.SecManApsKeyMetadata)], since=14),
    _cmd("importTransientKey", 0x0111,
         [("eui64", EUI64), ("plaintextKey", KeyData), ("flags", bt.SecurityManagerContextFlags)],
         [("status", SL_STATUS)], since=12, until=13),
    # 8.x dropped the flags byte (sl_zigbee_sec_man_import_transient_key(eui64, key))
    _cmd("importTransientKey", 0x0111, [("eui64", EUI64), ("plaintextKey", KeyData)],
         [("status", SL_STATUS)], since=14),
    _cmd("getNetworkKeyInfo", 0x0116, [],
         [("status", SL_STATUS), ("networkKeyInfo", structs.SecManNetworkKeyInfo)], since=13),
    # -- tokens ------------------------------------------------------------------------------------------
    _cmd("getTokenData", 0x0102, [("token", u32), ("index", u32)], [("status", STATUS), ("value", LV32)],
         since=9),
    _cmd("setTokenData", 0x0103, [("token", u32), ("index", u32), ("tokenData", LV32)], [("status", STATUS)],
         since=9),
    # -- green power ---------------------------------------------------------------------------------------
    _cmd("gpSinkTableClearAll", 0x00E2, since=6),
    _cmd("gpClearProxyTable", 0x005F, since=17),
)


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A frame in one version: statuses resolved to that version's types."""

    name: str
    frame_id: int
    request: dict[str, type]
    response: dict[str, type]
    callback: bool


@dataclasses.dataclass(frozen=True)
class FrameTable:
    version: int
    by_id: dict[int, Resolved]
    by_name: dict[str, Resolved]


@functools.cache
def frames_for(version: int) -> FrameTable:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"EZSP version {version!r} is not emulated; expected one of {SUPPORTED_VERSIONS}")
    by_id: dict[int, Resolved] = {}
    by_name: dict[str, Resolved] = {}
    for frame in FRAMES:
        if not frame.covers(version):
            continue
        resolved = Resolved(
            frame.name, frame.frame_id,
            {k: resolve(t, version) for k, t in frame.request},
            {k: resolve(t, version) for k, t in frame.response},
            frame.callback,
        )
        if frame.frame_id in by_id or frame.name in by_name:
            raise AssertionError(f"EZSP v{version}: {frame.name} (0x{frame.frame_id:04X}) defined twice")
        by_id[frame.frame_id] = by_name[frame.name] = resolved
    return FrameTable(version, by_id, by_name)
