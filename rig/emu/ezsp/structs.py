"""The EZSP structs the emulated NCP reads and writes, written from UG100 ("EZSP Reference Guide",
Structured Data Types) and the EmberZNet 8.x security-manager headers rather than taken from a host.

Field order and sizes are the wire's; field names are the ones the handlers use. Enum- and
bitmap-typed fields take bellows' / zigpy's named integer types (a name on a uint8/16/32, no
layout of their own). tests/interop/test_frame_definitions.py expands each struct into its
primitives and compares it with bellows' and herdsman's, so a mistake here shows as a difference.
"""

from __future__ import annotations

import bellows.types as bt
import zigpy.types as zt


class ApsFrame(zt.Struct):
    """EmberApsFrame: 11 bytes."""

    profileId: zt.uint16_t
    clusterId: zt.uint16_t
    sourceEndpoint: zt.uint8_t
    destinationEndpoint: zt.uint8_t
    options: bt.EmberApsOption
    groupId: zt.uint16_t
    sequence: zt.uint8_t


class NetworkParameters(zt.Struct):
    """EmberNetworkParameters: 20 bytes."""

    extendedPanId: zt.ExtendedPanId
    panId: zt.PanId
    radioTxPower: zt.uint8_t
    radioChannel: zt.uint8_t
    joinMethod: bt.EmberJoinMethod
    nwkManagerId: zt.NWK
    nwkUpdateId: zt.uint8_t
    channels: zt.Channels


class InitialSecurityState(zt.Struct):
    """EmberInitialSecurityState: 43 bytes."""

    bitmask: bt.EmberInitialSecurityBitmask
    preconfiguredKey: zt.KeyData
    networkKey: zt.KeyData
    networkKeySequenceNumber: zt.uint8_t
    preconfiguredTrustCenterEui64: zt.EUI64


class CurrentSecurityState(zt.Struct):
    """EmberCurrentSecurityState: 10 bytes."""

    bitmask: bt.EmberCurrentSecurityBitmask
    trustCenterLongAddress: zt.EUI64


class KeyStruct(zt.Struct):
    """EmberKeyStruct (EZSP up to 12): 36 bytes."""

    bitmask: bt.EmberKeyStructBitmask
    type: bt.EmberKeyType
    key: zt.KeyData
    outgoingFrameCounter: zt.uint32_t
    incomingFrameCounter: zt.uint32_t
    sequenceNumber: zt.uint8_t
    partnerEUI64: zt.EUI64


class ChildDataV7(zt.Struct):
    """EmberChildData, EZSP 7-9: 14 bytes."""

    eui64: zt.EUI64
    type: bt.EmberNodeType
    id: zt.NWK
    phy: zt.uint8_t
    power: zt.uint8_t
    timeout: zt.uint8_t


class ChildDataV10(ChildDataV7):
    """EmberChildData from EZSP 10: the seconds left before the child times out follow."""

    timeout_remaining: zt.uint32_t


class MulticastTableEntry(zt.Struct):
    """EmberMulticastTableEntry: 4 bytes."""

    multicastId: zt.Group
    endpoint: zt.uint8_t
    networkIndex: zt.uint8_t


class _SecManContext(zt.Struct):
    core_key_type: bt.SecurityManagerKeyType
    key_index: zt.uint8_t


class SecManContextV12(_SecManContext):
    """sl_zb_sec_man_context_t, EmberZNet 7.0-7.1 (EZSP 12): 17 bytes."""

    derived_type: bt.SecurityManagerDerivedKeyTypeV12
    eui64: zt.EUI64
    multi_network_index: zt.uint8_t
    flags: bt.SecurityManagerContextFlags
    psa_key_alg_permission: zt.uint32_t


class SecManContextV13(_SecManContext):
    """sl_zb_sec_man_context_t from EZSP 13: the derived-key type became 16 bits (18 bytes)."""

    derived_type: bt.SecurityManagerDerivedKeyTypeV13
    eui64: zt.EUI64
    multi_network_index: zt.uint8_t
    flags: bt.SecurityManagerContextFlags
    psa_key_alg_permission: zt.uint32_t


class SecManApsKeyMetadata(zt.Struct):
    """sl_zb_sec_man_aps_key_metadata_t: 12 bytes."""

    bitmask: bt.EmberKeyStructBitmask
    outgoing_frame_counter: zt.uint32_t
    incoming_frame_counter: zt.uint32_t
    ttl_in_seconds: zt.uint16_t


class SecManNetworkKeyInfo(zt.Struct):
    """sl_zb_sec_man_network_key_info_t: 8 bytes."""

    network_key_set: bt.Bool
    alternate_network_key_set: bt.Bool
    network_key_sequence_number: zt.uint8_t
    alt_network_key_sequence_number: zt.uint8_t
    network_key_frame_counter: zt.uint32_t
