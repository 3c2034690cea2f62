"""What the emulated NCP does for each EZSP command (EmberZNet 7.x/8.x behaviour, not the host's wishes).

Each handler gets the decoded request (field names as in the emulator's own frame definitions,
rig.emu.ezsp: UG100's names in every version) and returns the response fields; the encoder keeps
the fields the negotiated version's response has and fills the rest with zeros. Statuses are given
as sl_Status and converted to the field's type by ncp_codec.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import bellows.types as bt
import zigpy.types as zt

from rig.emu.ezsp import structs
from rig.emu import ncp_codec, ncp_xncp
from rig.emu.air import AirFrame
from rig.emu.ncp_context import Handler, NcpContext
from rig.emu.ncp_state import MAX_CHILDREN_SLOTS, MULTICAST_TABLE_SIZE, Endpoint

LOGGER = logging.getLogger(__name__)
S = bt.sl_Status
HANDLERS: dict[str, Handler] = {}  # the registry rig.emu.ncp dispatches by, filled by @handles

# stackVersion nibbles (major.minor.patch.special) of the EmberZNet release that speaks each version
_STACK_VERSION = {4: 0x5800, 5: 0x5A00, 6: 0x6000, 7: 0x6500, 8: 0x6700, 9: 0x6800, 10: 0x6A00,
                  11: 0x7000, 12: 0x7200, 13: 0x7440, 14: 0x8000, 16: 0x8100, 17: 0x8120,
                  18: 0x8200, 19: 0x8210}


def handles(*names: str):
    def register(fn):
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


def _get(req: dict[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in req:
            return req[name]
    return default


def _not_up(ncp: NcpContext) -> bool:
    return not ncp.ram.network_up


# -- session / configuration -----------------------------------------------------------------------
@handles("version")
def _version(ncp: NcpContext, req: dict) -> dict:
    return {
        "protocolVersion": ncp.version,
        "stackType": 2,
        "stackVersion": _STACK_VERSION.get(ncp.version, 0x8200),
    }


@handles("nop", "gpSinkTableClearAll", "gpClearProxyTable", "setManufacturerCode")
def _nothing(ncp: NcpContext, req: dict) -> dict:
    if "code" in req:
        ncp.ram.manufacturer_code = int(req["code"])
    return {}


@handles("echo")
def _echo(ncp: NcpContext, req: dict) -> dict:
    return {"echo": req.get("data", b"")}


@handles("customFrame")
def _custom_frame(ncp: NcpContext, req: dict) -> dict:
    if ncp.xncp:  # a firmware build with the XNCP extension (rig.emu.ncp_xncp)
        return ncp_xncp.answer(ncp, bytes(req["payload"]), _send_unicast)
    # No XNCP extension in a stock EmberZNet image: the default custom-frame callback refuses.
    return {"status": S.NOT_AVAILABLE, "reply": b""}


@handles("getConfigurationValue")
def _get_config(ncp: NcpContext, req: dict) -> dict:
    return {"status": S.OK, "value": ncp.ram.config_value(req["configId"])}


@handles("setConfigurationValue")
def _set_config(ncp: NcpContext, req: dict) -> dict:
    if ncp.ram.network_up:  # EmberZNet only accepts configuration before the stack starts
        return {"status": S.INVALID_STATE}
    ncp.ram.config[int(req["configId"])] = int(req["value"])
    return {"status": S.OK}


def _version_info(ncp: NcpContext) -> bytes:
    sv = _STACK_VERSION.get(ncp.version, 0x8200)
    major, minor, patch, special = sv >> 12, (sv >> 8) & 0xF, (sv >> 4) & 0xF, sv & 0xF
    return (400).to_bytes(2, "little") + bytes([major, minor, patch, special, 0xAA])


@handles("getValue")
def _get_value(ncp: NcpContext, req: dict) -> dict:
    vid = req["valueId"]
    V = bt.EzspValueId
    if vid == V.VALUE_VERSION_INFO:
        return {"status": S.OK, "value": _version_info(ncp)}
    if vid == V.VALUE_FREE_BUFFERS:
        return {"status": S.OK, "value": bytes([min(255, ncp.ram.config_value(bt.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT))])}
    if vid == V.VALUE_NWK_FRAME_COUNTER:
        return {"status": S.OK, "value": ncp.nv.nwk_frame_counter.to_bytes(4, "little")}
    if vid == V.VALUE_APS_FRAME_COUNTER:
        return {"status": S.OK, "value": ncp.nv.aps_frame_counter.to_bytes(4, "little")}
    if int(vid) in ncp.ram.values:
        return {"status": S.OK, "value": ncp.ram.values[int(vid)]}
    if vid == V.VALUE_FORCE_TX_AFTER_FAILED_CCA_ATTEMPTS:
        return {"status": S.OK, "value": b"\x00"}
    LOGGER.warning("getValue(%s): not modelled; answering ERROR_INVALID_ID as firmware does", vid)
    return {"status": S.INVALID_PARAMETER, "value": b""}


# EmberEndpointFlags: bit 0 = the endpoint is enabled (addEndpoint registers it enabled)
ENDPOINT_ENABLED = 0x0001


@handles("getExtendedValue")
def _get_extended_value(ncp: NcpContext, req: dict) -> dict:
    """EmberZNet's getExtendedValue: only the values this NCP models; the rest ERROR_INVALID_ID.

    ENDPOINT_FLAGS (characteristics = endpoint) always carries a 2-byte value, as the firmware's
    handler sets valueLength before it looks the endpoint up: hosts (herdsman's
    registerFixedEndpoints) read two bytes even when the status says the endpoint is unknown, and
    take that status as "not registered yet, call addEndpoint".
    """
    vid = int(req["valueId"])
    characteristics = int(req["characteristics"])
    if vid == bt.EzspExtendedValueId.EXTENDED_VALUE_ENDPOINT_FLAGS:
        if (characteristics & 0xFF) in ncp.ram.endpoints:
            return {"status": S.OK, "value": ENDPOINT_ENABLED.to_bytes(2, "little")}
        # 7.x answers EzspStatus ERROR_INVALID_VALUE; 8.x an sl_Status that is not OK
        missing = bt.EzspStatus.ERROR_INVALID_VALUE if ncp.version < 14 else S.INVALID_PARAMETER
        return {"status": missing, "value": bytes(2)}
    if vid == bt.EzspExtendedValueId.EXTENDED_VALUE_GET_SOURCE_ROUTE_OVERHEAD:
        return {"status": S.OK, "value": b"\x00"}  # every emulated device is one hop away: no relays
    LOGGER.warning("getExtendedValue(%s): not modelled; answering ERROR_INVALID_ID as firmware does", vid)
    return {"status": S.INVALID_PARAMETER, "value": b""}


@handles("setValue")
def _set_value(ncp: NcpContext, req: dict) -> dict:
    vid, value = req["valueId"], bytes(req["value"])
    V = bt.EzspValueId
    if vid in (V.VALUE_NWK_FRAME_COUNTER, V.VALUE_APS_FRAME_COUNTER):
        if ncp.ram.network_up:
            return {"status": S.INVALID_STATE}
        counter = int.from_bytes(value[:4], "little")
        if vid == V.VALUE_NWK_FRAME_COUNTER:
            ncp.nv.nwk_frame_counter = counter
        else:
            ncp.nv.aps_frame_counter = counter
        return {"status": S.OK}
    ncp.ram.values[int(vid)] = value
    return {"status": S.OK}


@handles("setPolicy")
def _set_policy(ncp: NcpContext, req: dict) -> dict:
    ncp.ram.policies[int(req["policyId"])] = int(req["decisionId"])
    return {"status": S.OK}


@handles("getPolicy")
def _get_policy(ncp: NcpContext, req: dict) -> dict:
    return {"status": S.OK, "decisionId": ncp.ram.policies.get(int(req["policyId"]), 0)}


@handles("addEndpoint")
def _add_endpoint(ncp: NcpContext, req: dict) -> dict:
    ep = int(req["endpoint"])
    if ep in ncp.ram.endpoints:
        return {"status": S.INVALID_STATE}
    # Both lists arrive as one AnonymousList: the counts say where inputs end.
    n_in, n_out = int(req["inputClusterCount"]), int(req["outputClusterCount"])
    clusters = [int(c) for c in req["clusterList"]]
    if len(clusters) != n_in + n_out:  # the firmware reads exactly the counted clusters
        return {"status": S.INVALID_PARAMETER}
    ncp.ram.endpoints[ep] = Endpoint(
        endpoint=ep,
        profile_id=int(req["profileId"]),
        device_id=int(req["deviceId"]),
        device_version=int(req["deviceVersion"]),
        in_clusters=clusters[:n_in],
        out_clusters=clusters[n_in : n_in + n_out],
    )
    return {"status": S.OK}


@handles("readCounters", "readAndClearCounters")
def _counters(ncp: NcpContext, req: dict) -> dict:
    return {"values": [0] * len(bt.EmberCounterType)}


@handles("getMfgToken")
def _get_mfg_token(ncp: NcpContext, req: dict) -> dict:
    T = bt.EzspMfgTokenId
    token = req["tokenId"]
    if token == T.MFG_STRING:
        data = b"HAN OTA Rig EZSP".ljust(16, b"\xff")
    elif token == T.MFG_BOARD_NAME:
        data = b"rig-emu".ljust(16, b"\xff")
    elif token == T.MFG_CUSTOM_EUI_64:
        data = b"\xff" * 8
    else:
        data = b"\xff" * 16
    return {"tokenData": data}


@handles("getTokenData")
def _get_token_data(ncp: NcpContext, req: dict) -> dict:
    return {"status": S.NOT_FOUND}  # no NV3 tokens of interest on a stock, never-migrated stick


@handles("setTokenData")
def _set_token_data(ncp: NcpContext, req: dict) -> dict:
    return {"status": S.NOT_FOUND}


# -- network state -----------------------------------------------------------------------------------
@handles("networkState")
def _network_state(ncp: NcpContext, req: dict) -> dict:
    state = bt.EmberNetworkStatus.JOINED_NETWORK if ncp.ram.network_up else bt.EmberNetworkStatus.NO_NETWORK
    return {"status": state}


def _bring_up(ncp: NcpContext) -> None:
    ncp.ram.network_up = True
    ncp.callback("stackStatusHandler", status=S.NETWORK_UP)
    if ncp.network is not None:
        ncp.after_response(ncp.network.ncp_network_up)


@handles("networkInit", "networkInitExtended")
def _network_init(ncp: NcpContext, req: dict) -> dict:
    if ncp.ram.network_up:
        return {"status": S.INVALID_STATE}
    if not ncp.nv.formed:
        return {"status": S.NOT_JOINED}
    _bring_up(ncp)
    return {"status": S.OK}


@handles("formNetwork")
def _form_network(ncp: NcpContext, req: dict) -> dict:
    if ncp.ram.network_up:
        return {"status": S.INVALID_STATE}
    params: structs.NetworkParameters = req["parameters"]
    ncp.nv.params = params.replace(nwkManagerId=0x0000, joinMethod=bt.EmberJoinMethod.USE_MAC_ASSOCIATION)
    ncp.nv.formed = True
    _bring_up(ncp)
    return {"status": S.OK}


@handles("leaveNetwork")
def _leave_network(ncp: NcpContext, req: dict) -> dict:
    if not ncp.ram.network_up:
        return {"status": S.NOT_JOINED}
    ncp.ram.network_up = False
    ncp.nv.formed = False
    ncp.callback("stackStatusHandler", status=S.NETWORK_DOWN)
    if ncp.network is not None:
        ncp.after_response(ncp.network.ncp_network_down)
    return {"status": S.OK}


@handles("tokenFactoryReset")
def _token_factory_reset(ncp: NcpContext, req: dict) -> dict:
    ncp.nv.factory_reset()
    if not req.get("excludeOutgoingFC"):
        ncp.nv.nwk_frame_counter = ncp.nv.aps_frame_counter = 0
    return {}


@handles("getNetworkParameters")
def _get_network_parameters(ncp: NcpContext, req: dict) -> dict:
    if not ncp.ram.network_up or ncp.nv.params is None:
        return {"status": S.NOT_JOINED, "nodeType": bt.EmberNodeType.UNKNOWN_DEVICE}
    return {"status": S.OK, "nodeType": bt.EmberNodeType.COORDINATOR, "parameters": ncp.nv.params}


@handles("getNodeId")
def _get_node_id(ncp: NcpContext, req: dict) -> dict:
    return {"nodeId": 0x0000 if ncp.ram.network_up else 0xFFFE}


@handles("getEui64")
def _get_eui64(ncp: NcpContext, req: dict) -> dict:
    return {"eui64": ncp.nv.eui64}


@handles("setRadioPower")
def _set_radio_power(ncp: NcpContext, req: dict) -> dict:
    ncp.ram.radio_power = int(req["power"])
    return {"status": S.OK}


@handles("setLogicalAndRadioChannel")
def _set_logical_and_radio_channel(ncp: NcpContext, req: dict) -> dict:
    """Touchlink hops channels with this before its inter-PAN frames, then sets the network's back."""
    channel = int(req["radioChannel"])
    if not 11 <= channel <= 26:
        return {"status": S.TRANSMIT_INVALID_CHANNEL}  # 7.x: EMBER_PHY_INVALID_CHANNEL
    ncp.ram.radio_channel = channel
    return {"status": S.OK}


# IEEE 802.15.4 frame control: acknowledgment request (bit 5); destination addressing mode (bits 10-11)
_MAC_ACK_REQUEST = 0x0020
_MAC_DEST_SHORT = 0x0800


@handles("sendRawMessageExtended")
def _send_raw_message(ncp: NcpContext, req: dict) -> dict:
    """A raw 802.15.4 frame (inter-PAN ZCL: touchlink scan, identify, reset) goes out on the radio channel.

    The emulated air carries network-layer frames between the stick and its emulated devices, and no
    emulated device is a ZLL/touchlink target, so nothing hears it: a broadcast completes with OK, a
    frame asking for a MAC acknowledgment completes with MAC_NO_ACK_RECEIVED, as on a bench with no
    touchlink device in range. A frame too short for a MAC header is refused as the firmware does.
    """
    message = bytes(req["message"])
    if len(message) < 3:
        return {"status": S.INVALID_PARAMETER}
    channel = ncp.ram.radio_channel
    if channel is None:
        channel = int(ncp.nv.params.radioChannel) if ncp.nv.params is not None else 11
    ncp.ram.raw_frames.append((channel, message))
    LOGGER.info("raw 802.15.4 frame on channel %d (%d bytes): no emulated device listens for inter-PAN frames",
                channel, len(message))
    fc = int.from_bytes(message[:2], "little")
    unicast = bool(fc & _MAC_ACK_REQUEST) and not (
        fc & 0x0C00 == _MAC_DEST_SHORT and len(message) >= 7 and message[5:7] == b"\xff\xff")
    status = S.MAC_NO_ACK_RECEIVED if unicast else S.OK
    fields = {"status": status} if ncp.version < 14 else {"status": status, "messageContents": message}
    ncp.callback("rawTransmitCompleteHandler", **fields)
    return {"status": S.OK}


@handles("setRadioIeee802154CcaMode")
def _set_cca_mode(ncp: NcpContext, req: dict) -> dict:
    mode = int(req["ccaMode"])
    if mode > 4:  # RSSI, SIGNAL, SIGNAL_OR_RSSI, SIGNAL_AND_RSSI, ALWAYS_TRANSMIT
        return {"status": S.INVALID_PARAMETER}
    ncp.ram.cca_mode = mode
    LOGGER.info("IEEE 802.15.4 CCA mode set to %d", mode)
    return {"status": S.OK}


@handles("setConcentrator")
def _set_concentrator(ncp: NcpContext, req: dict) -> dict:
    return {"status": S.OK}


@handles("setSourceRouteDiscoveryMode")
def _set_srd_mode(ncp: NcpContext, req: dict) -> dict:
    return {"remainingTime": 0}


@handles("setSourceRoute")
def _set_source_route(ncp: NcpContext, req: dict) -> dict:
    return {"status": S.OK}


@handles("startScan")
def _start_scan(ncp: NcpContext, req: dict) -> dict:
    channels = [ch for ch in range(11, 27) if req["channelMask"] & (1 << ch)]
    if req["scanType"] == bt.EzspNetworkScanType.ENERGY_SCAN:
        for ch in channels:  # every requested channel, or bellows scans again forever
            ncp.callback("energyScanResultHandler", channel=ch, maxRssiValue=ncp.rng.randint(-95, -70))
    ncp.callback("scanCompleteHandler", channel=0, status=S.OK)
    return {"status": S.OK}


# -- security ------------------------------------------------------------------------------------------
@handles("setInitialSecurityState")
def _set_initial_security_state(ncp: NcpContext, req: dict) -> dict:
    if ncp.ram.network_up:
        return {"status": S.INVALID_STATE}
    state: structs.InitialSecurityState = req["state"]
    ncp.nv.security_bitmask = int(state.bitmask)
    ncp.nv.network_key = bytes(state.networkKey)
    ncp.nv.tc_link_key = bytes(state.preconfiguredKey)
    ncp.nv.network_key_seq = int(state.networkKeySequenceNumber)
    return {"status": S.OK}


@handles("getCurrentSecurityState")
def _get_current_security_state(ncp: NcpContext, req: dict) -> dict:
    if not ncp.ram.network_up:
        return {"status": S.NOT_JOINED}
    bits = 0x10 | (ncp.nv.security_bitmask & 0x84)  # HAVE_TC_LINK_KEY + global/hashed link key bits
    state = structs.CurrentSecurityState(
        bitmask=bt.EmberCurrentSecurityBitmask(bits),
        trustCenterLongAddress=ncp.nv.eui64,  # we are the trust centre
    )
    return {"status": S.OK, "state": state}


@handles("exportKey")
def _export_key(ncp: NcpContext, req: dict) -> dict:
    ctx = req["context"]
    K = bt.SecurityManagerKeyType
    if ctx.core_key_type == K.NETWORK:
        key = ncp.nv.network_key
    elif ctx.core_key_type == K.TC_LINK:
        key = ncp.nv.tc_link_key
    else:
        return {"status": S.NOT_FOUND, "context": ctx}
    return {"status": S.OK, "key": bt.KeyData(key), "context": ctx}


@handles("broadcastNextNetworkKey")
def _broadcast_next_network_key(ncp: NcpContext, req: dict) -> dict:
    """The trust centre sends the next key to the network; an all-zero key means "make one up"."""
    if _not_up(ncp):
        return {"status": S.NETWORK_DOWN}
    key = bytes(req["key"])
    if key == bytes(16):
        key = ncp.rng.randbytes(16)
    ncp.nv.alternate_network_key = key
    return {"status": S.OK}


@handles("broadcastNetworkKeySwitch")
def _broadcast_network_key_switch(ncp: NcpContext, req: dict) -> dict:
    """Switch to the key sent before: the sequence number moves on and NWK frame counting restarts."""
    if _not_up(ncp):
        return {"status": S.NETWORK_DOWN}
    if ncp.nv.alternate_network_key is None:
        return {"status": S.INVALID_STATE}
    ncp.nv.network_key = ncp.nv.alternate_network_key
    ncp.nv.alternate_network_key = None
    ncp.nv.network_key_seq = (ncp.nv.network_key_seq + 1) % 256
    ncp.nv.nwk_frame_counter = 0
    return {"status": S.OK}


@handles("getNetworkKeyInfo")
def _get_network_key_info(ncp: NcpContext, req: dict) -> dict:
    info = structs.SecManNetworkKeyInfo(
        network_key_set=ncp.nv.formed,
        alternate_network_key_set=ncp.nv.alternate_network_key is not None,
        network_key_sequence_number=ncp.nv.network_key_seq,
        alt_network_key_sequence_number=(ncp.nv.network_key_seq + 1) % 256 if ncp.nv.alternate_network_key else 0,
        network_key_frame_counter=ncp.nv.nwk_frame_counter,
    )
    return {"status": S.OK, "networkKeyInfo": info}


@handles("getKey")
def _get_key(ncp: NcpContext, req: dict) -> dict:
    kt = req["keyType"]
    if kt == bt.EmberKeyType.CURRENT_NETWORK_KEY:
        key, seq = ncp.nv.network_key, ncp.nv.network_key_seq
    elif kt == bt.EmberKeyType.TRUST_CENTER_LINK_KEY:
        key, seq = ncp.nv.tc_link_key, 0
    else:
        return {"status": S.NOT_FOUND}
    ks = structs.KeyStruct(
        bitmask=bt.EmberKeyStructBitmask.KEY_HAS_SEQUENCE_NUMBER | bt.EmberKeyStructBitmask.KEY_HAS_OUTGOING_FRAME_COUNTER,
        type=kt,
        key=bt.KeyData(key),
        outgoingFrameCounter=ncp.nv.nwk_frame_counter,
        incomingFrameCounter=0,
        sequenceNumber=seq,
        partnerEUI64=zt.EUI64([0] * 8),
    )
    return {"status": S.OK, "keyStruct": ks}


# -- the APS link-key table: what a backup's device keys are restored into and read back from ------------
def _key_table_size(ncp: NcpContext) -> int:
    return ncp.ram.config_value(bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE)


_LINK_KEY_BITS = bt.EmberKeyStructBitmask.KEY_HAS_PARTNER_EUI64 | bt.EmberKeyStructBitmask.KEY_HAS_OUTGOING_FRAME_COUNTER


@handles("getKeyTableEntry")
def _get_key_table_entry(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= _key_table_size(ncp):
        return {"status": S.INVALID_INDEX}
    if index not in ncp.nv.link_keys:
        return {"status": S.NOT_FOUND}  # 7.x: EMBER_TABLE_ENTRY_ERASED
    eui64, key = ncp.nv.link_keys[index]
    return {"status": S.OK, "keyStruct": structs.KeyStruct(
        bitmask=_LINK_KEY_BITS, type=bt.EmberKeyType.APPLICATION_LINK_KEY, key=bt.KeyData(key),
        outgoingFrameCounter=0, incomingFrameCounter=0, sequenceNumber=0, partnerEUI64=eui64)}


@handles("exportLinkKeyByIndex")
def _export_link_key_by_index(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= _key_table_size(ncp):
        return {"status": S.INVALID_INDEX}
    if index not in ncp.nv.link_keys:
        return {"status": S.NOT_FOUND}
    eui64, key = ncp.nv.link_keys[index]
    context = structs.SecManContextV13(
        core_key_type=bt.SecurityManagerKeyType.APP_LINK, key_index=index,
        derived_type=bt.SecurityManagerDerivedKeyTypeV13.NONE, eui64=eui64, multi_network_index=0,
        flags=bt.SecurityManagerContextFlags.KEY_INDEX_IS_VALID, psa_key_alg_permission=0)
    metadata = structs.SecManApsKeyMetadata(
        bitmask=_LINK_KEY_BITS, outgoing_frame_counter=0, incoming_frame_counter=0, ttl_in_seconds=0)
    return {"status": S.OK, "eui64": eui64, "context": context, "plaintextKey": bt.KeyData(key),
            "keyData": metadata}


@handles("importLinkKey")
def _import_link_key(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= _key_table_size(ncp):
        return {"status": S.INVALID_INDEX}
    ncp.nv.link_keys[index] = (zt.EUI64(req["address"]), bytes(req["plaintextKey"]))
    LOGGER.info("APS link key for %s imported at key-table index %d", ncp.nv.link_keys[index][0], index)
    return {"status": S.OK}


@handles("addOrUpdateKeyTableEntry")
def _add_or_update_key_table_entry(ncp: NcpContext, req: dict) -> dict:
    eui64 = zt.EUI64(req["address"])
    index = _find_link_key(ncp, eui64)
    if index is None:
        free = [i for i in range(_key_table_size(ncp)) if i not in ncp.nv.link_keys]
        if not free:
            return {"status": S.FULL}  # 7.x: EMBER_TABLE_FULL
        index = free[0]
    ncp.nv.link_keys[index] = (eui64, bytes(req["keyData"]))
    return {"status": S.OK}


def _find_link_key(ncp: NcpContext, eui64: zt.EUI64) -> int | None:
    return next((i for i, (partner, _) in sorted(ncp.nv.link_keys.items()) if partner == eui64), None)


@handles("findKeyTableEntry")
def _find_key_table_entry(ncp: NcpContext, req: dict) -> dict:
    index = _find_link_key(ncp, zt.EUI64(req["address"])) if req["linkKey"] else None
    return {"index": 0xFF if index is None else index}


@handles("eraseKeyTableEntry")
def _erase_key_table_entry(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= _key_table_size(ncp):
        return {"status": S.INVALID_INDEX}
    ncp.nv.link_keys.pop(index, None)
    return {"status": S.OK}


@handles("clearKeyTable")
def _clear_key_table(ncp: NcpContext, req: dict) -> dict:
    ncp.nv.link_keys.clear()
    return {"status": S.OK}


@handles("setChildData")
def _set_child_data(ncp: NcpContext, req: dict) -> dict:
    """A host restoring a backup writes its children back into the child table."""
    index, child = int(req["index"]), req["childData"]
    if index >= MAX_CHILDREN_SLOTS:
        return {"status": S.INVALID_INDEX}
    ncp.nv.child_table[index] = (zt.EUI64(child.eui64), int(child.id), int(child.type))
    return {"status": S.OK}


@handles("importTransientKey", "addTransientLinkKey")
def _transient_key(ncp: NcpContext, req: dict) -> dict:
    """A key a joining device must prove it has (install-code derived, or the well-known key for all)."""
    eui64 = req.get("eui64", req.get("partner"))
    key = req.get("plaintextKey", req.get("transientKey"))
    ncp.ram.transient_keys[zt.EUI64(eui64)] = bytes(key)
    return {"status": S.OK}


@handles("clearTransientLinkKeys")
def _clear_transient_keys(ncp: NcpContext, req: dict) -> dict:
    ncp.ram.transient_keys.clear()
    return {"status": S.OK}


# -- tables --------------------------------------------------------------------------------------------
@handles("getChildData")
def _get_child_data(ncp: NcpContext, req: dict) -> dict:
    entry = _child_table(ncp).get(int(req["index"]))
    if entry is None:
        return {"status": S.NOT_JOINED}  # an empty slot
    ieee, nwk, node_type = entry
    v7 = {"eui64": ieee, "type": bt.EmberNodeType(node_type), "id": nwk, "phy": 0, "power": 0, "timeout": 8}
    child = structs.ChildDataV7(**v7) if ncp.version < 10 else structs.ChildDataV10(**v7, timeout_remaining=0)
    return {
        "status": S.OK,
        "childId": nwk,
        "childEui64": ieee,
        "childType": bt.EmberNodeType(node_type),
        "childData": child,
    }


def _child_table(ncp: NcpContext) -> dict[int, tuple[zt.EUI64, int, int]]:
    """The entries a host wrote, then each emulated end device that joined, in the first free slot."""
    table = dict(ncp.nv.child_table)
    slot_of = {ieee: index for index, (ieee, _, _) in table.items()}
    free = (i for i in range(MAX_CHILDREN_SLOTS) if i not in table)
    for ieee, nwk in ncp.network.children() if ncp.network is not None else []:
        if ieee in slot_of:  # a restored child that is here again: its id is the one it has now
            index = slot_of[ieee]
            table[index] = (ieee, nwk, table[index][2])
        else:
            table[next(free)] = (ieee, nwk, int(bt.EmberNodeType.SLEEPY_END_DEVICE))
    return table


@handles("getAddressTableRemoteNodeId")
def _addr_table_nwk(ncp: NcpContext, req: dict) -> dict:
    entry = ncp.ram.address_table.get(int(req["addressTableIndex"]))
    return {"nodeId": entry[1] if entry else 0xFFFF}


@handles("getAddressTableRemoteEui64")
def _addr_table_eui(ncp: NcpContext, req: dict) -> dict:
    entry = ncp.ram.address_table.get(int(req["addressTableIndex"]))
    return {"eui64": entry[0] if entry else zt.EUI64([0] * 8)}


@handles("getAddressTableInfo")
def _addr_table_info(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= ncp.ram.config_value(bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE):
        return {"status": S.INVALID_INDEX}
    entry = ncp.ram.address_table.get(index)
    if entry is None:
        return {"status": S.NOT_FOUND, "nodeId": 0xFFFF}
    return {"status": S.OK, "nodeId": entry[1], "eui64": entry[0]}


@handles("replaceAddressTableEntry")
def _replace_address_table_entry(ncp: NcpContext, req: dict) -> dict:
    index = int(req["addressTableIndex"])
    old = ncp.ram.address_table.get(index, (zt.EUI64([0] * 8), 0xFFFF))
    old_ext = ncp.ram.extended_timeout.get(old[0], False)
    ncp.ram.address_table[index] = (req["newEui64"], int(req["newId"]))
    ncp.ram.extended_timeout[req["newEui64"]] = bool(req["newExtendedTimeout"])
    return {"status": S.OK, "oldEui64": old[0], "oldId": old[1], "oldExtendedTimeout": old_ext}


@handles("getExtendedTimeout")
def _get_extended_timeout(ncp: NcpContext, req: dict) -> dict:
    ext = ncp.ram.extended_timeout.get(req["remoteEui64"], False)
    # up to v13 a Bool; from v14 a status where FAIL means "normal timeout"
    return {"extendedTimeout": ext, "status": S.OK if ext else S.FAIL}


@handles("setExtendedTimeout")
def _set_extended_timeout(ncp: NcpContext, req: dict) -> dict:
    ncp.ram.extended_timeout[req["remoteEui64"]] = bool(req["extendedTimeout"])
    return {"status": S.OK}


@handles("lookupNodeIdByEui64")
def _lookup_node_id(ncp: NcpContext, req: dict) -> dict:
    eui = req["eui64"]
    if eui == ncp.nv.eui64:
        return {"status": S.OK, "nodeId": 0x0000}
    nwk = ncp.network.nwk_of(eui) if ncp.network is not None else None
    if nwk is None:
        return {"status": S.NOT_FOUND, "nodeId": 0xFFFF}
    return {"status": S.OK, "nodeId": nwk}


@handles("lookupEui64ByNodeId")
def _lookup_eui64(ncp: NcpContext, req: dict) -> dict:
    nwk = int(req["nodeId"])
    if nwk == 0x0000:
        return {"status": S.OK, "eui64": ncp.nv.eui64}
    ieee = ncp.network.ieee_of(nwk) if ncp.network is not None else None
    if ieee is None:
        return {"status": S.NOT_FOUND, "eui64": zt.EUI64([0] * 8)}
    return {"status": S.OK, "eui64": ieee}


@handles("getMulticastTableEntry")
def _get_multicast(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= MULTICAST_TABLE_SIZE:
        return {"status": S.INVALID_INDEX}
    entry = ncp.ram.multicast.get(index) or structs.MulticastTableEntry(multicastId=0, endpoint=0, networkIndex=0)
    return {"status": S.OK, "value": entry}


@handles("setMulticastTableEntry")
def _set_multicast(ncp: NcpContext, req: dict) -> dict:
    index = int(req["index"])
    if index >= MULTICAST_TABLE_SIZE:
        return {"status": S.INVALID_INDEX}
    ncp.ram.multicast[index] = req["value"]
    return {"status": S.OK}


@handles("permitJoining")
def _permit_joining(ncp: NcpContext, req: dict) -> dict:
    duration = int(req["duration"])
    now = ncp.clock.now()
    ncp.ram.permit_until = now + (float("inf") if duration == 0xFF else duration)
    if ncp.network is not None:
        ncp.after_response(ncp.network.permit_changed)
    return {"status": S.OK}


# -- messaging -----------------------------------------------------------------------------------------
def _air_frame(ncp: NcpContext, aps: structs.ApsFrame, dst: int, payload: bytes, counter: int,
               group: int | None = None) -> AirFrame:
    return AirFrame(
        src_nwk=0x0000,
        dst_nwk=dst,
        src_ep=int(aps.sourceEndpoint),
        dst_ep=int(aps.destinationEndpoint),
        profile_id=int(aps.profileId),
        cluster_id=int(aps.clusterId),
        payload=bytes(payload),
        aps_counter=counter,
        group_id=group,
    )


# EzspPolicyId.MESSAGE_CONTENTS_IN_CALLBACK_POLICY: EmberZNet's default is the tag only (0x30); the
# contents come back in messageSentHandler only after the host sets MESSAGE_TAG_AND_CONTENTS (0x31).
_CONTENTS_POLICY = int(bt.EzspPolicyId.MESSAGE_CONTENTS_IN_CALLBACK_POLICY)
_TAG_AND_CONTENTS = 0x31


def _sent_callback(ncp: NcpContext, msg_type: bt.EmberOutgoingMessageType, dst: int, aps: structs.ApsFrame,
                   tag: int, payload: bytes) -> Callable[[bt.sl_Status], None]:
    if ncp.ram.policies.get(_CONTENTS_POLICY) != _TAG_AND_CONTENTS:
        payload = b""

    def report(status: bt.sl_Status) -> None:
        ncp.callback(
            "messageSentHandler",
            type=msg_type, message_type=msg_type,
            indexOrDestination=dst, nwk=dst,
            apsFrame=aps, aps_frame=aps,
            messageTag=tag, message_tag=tag,
            status=status,
            messageContents=payload, message=payload,
        )

    return report


def _count_nwk_frame(ncp: NcpContext) -> None:
    """Every NWK frame the stick secures takes the next outgoing frame counter (kept in NVRAM, read
    back by getNetworkKeyInfo / getKey and restored from backups with an increment)."""
    ncp.nv.nwk_frame_counter = (ncp.nv.nwk_frame_counter + 1) & 0xFFFFFFFF


@handles("sendUnicast")
def _send_unicast(ncp: NcpContext, req: dict) -> dict:
    msg_type = _get(req, "type", "message_type")
    dst = int(_get(req, "indexOrDestination", "nwk"))
    aps: structs.ApsFrame = _get(req, "apsFrame", "aps_frame")
    tag = int(_get(req, "messageTag", "message_tag"))
    payload = bytes(_get(req, "messageContents", "message"))
    if _not_up(ncp):
        return {"status": S.NETWORK_DOWN, "sequence": 0}
    if msg_type == bt.EmberOutgoingMessageType.OUTGOING_VIA_ADDRESS_TABLE:
        entry = ncp.ram.address_table.get(dst)
        dst = entry[1] if entry else 0xFFFF
    counter = ncp.ram.next_aps_counter()
    _count_nwk_frame(ncp)
    aps = ncp_codec.ApsFields.of(aps, sequence=counter)
    on_sent = _sent_callback(ncp, msg_type, int(_get(req, "indexOrDestination", "nwk")), aps, tag, payload)
    frame = _air_frame(ncp, aps, dst, payload, counter)
    want_ack = bool(aps.options & bt.EmberApsOption.APS_OPTION_RETRY)
    ncp.after_response(lambda: ncp.network.host_unicast(frame, want_ack=want_ack, on_sent=on_sent))
    return {"status": S.OK, "sequence": counter}


@handles("sendBroadcast")
def _send_broadcast(ncp: NcpContext, req: dict) -> dict:
    dst = int(req["destination"])
    aps: structs.ApsFrame = _get(req, "apsFrame", "aps_frame")
    tag = int(_get(req, "messageTag", "message_tag"))
    payload = bytes(_get(req, "messageContents", "message"))
    if _not_up(ncp):
        return {"status": S.NETWORK_DOWN, "sequence": 0}
    counter = ncp.ram.next_aps_counter()
    _count_nwk_frame(ncp)
    aps = ncp_codec.ApsFields.of(aps, sequence=counter)
    on_sent = _sent_callback(ncp, bt.EmberOutgoingMessageType.OUTGOING_BROADCAST, dst, aps, tag, payload)
    frame = _air_frame(ncp, aps, dst, payload, counter)
    ncp.after_response(lambda: ncp.network.host_broadcast(frame, on_sent=on_sent))
    return {"status": S.OK, "sequence": counter}


@handles("sendMulticast")
def _send_multicast(ncp: NcpContext, req: dict) -> dict:
    aps: structs.ApsFrame = _get(req, "apsFrame", "aps_frame")
    tag = int(_get(req, "messageTag", "message_tag"))
    payload = bytes(_get(req, "messageContents", "message"))
    if _not_up(ncp):
        return {"status": S.NETWORK_DOWN, "sequence": 0}
    counter = ncp.ram.next_aps_counter()
    _count_nwk_frame(ncp)
    aps = ncp_codec.ApsFields.of(aps, sequence=counter)
    group = int(aps.groupId)
    on_sent = _sent_callback(ncp, bt.EmberOutgoingMessageType.OUTGOING_MULTICAST, group, aps, tag, payload)
    frame = _air_frame(ncp, aps, 0xFFFD, payload, counter, group=group)
    ncp.after_response(lambda: ncp.network.host_multicast(frame, on_sent=on_sent))
    return {"status": S.OK, "sequence": counter}


@handles("sendReply")
def _send_reply(ncp: NcpContext, req: dict) -> dict:
    # Used by bellows only to ACK APS fragments; emulated devices never fragment.
    return {"status": S.OK}
