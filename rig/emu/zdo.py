"""ZDO (endpoint 0, profile 0) for emulated devices: the discovery answers zigpy's interview needs,
Device_annce, and the Match_Desc_req a client uses to find the OTA server.

Frames are `TSN + fields`, serialized with zigpy's ZDO schemas (zigpy.zdo.types.CLUSTERS).
"""

from __future__ import annotations

import zigpy.types as t
import zigpy.zdo.types as zdo_t

from rig.emu.profiles import DeviceProfile

ZDO_PROFILE = 0x0000
ZDO_ENDPOINT = 0
Cmd = zdo_t.ZDOCmd
ZStatus = zdo_t.Status

_LOGICAL = {"coordinator": zdo_t.LogicalType.Coordinator, "router": zdo_t.LogicalType.Router, "end_device": zdo_t.LogicalType.EndDevice}


class MalformedZdo(ValueError):
    pass


def encode(command: Cmd, tsn: int, *values) -> bytes:
    _names, types = zdo_t.CLUSTERS[command]
    return bytes([tsn & 0xFF]) + t.serialize(values, types)


def decode(command: int, payload: bytes) -> tuple[int, list]:
    """(tsn, fields) of a ZDO frame, raising MalformedZdo when it does not parse."""
    if not payload:
        raise MalformedZdo("empty ZDO frame")
    try:
        _names, types = zdo_t.CLUSTERS[Cmd(command)]
        values, _rest = t.deserialize(payload[1:], types)
    except (KeyError, ValueError) as exc:
        raise MalformedZdo(f"ZDO 0x{command:04X}: {exc}") from None
    return payload[0], values


def capability(profile: DeviceProfile) -> zdo_t.MACCapabilityFlags:
    caps = zdo_t.MACCapabilityFlags.AllocateAddress
    if profile.logical_type != "end_device":
        caps |= zdo_t.MACCapabilityFlags.FullFunctionDevice
    if profile.mains_powered:
        caps |= zdo_t.MACCapabilityFlags.MainsPowered
    if profile.rx_on_when_idle:
        caps |= zdo_t.MACCapabilityFlags.RxOnWhenIdle
    return caps


def node_descriptor(profile: DeviceProfile) -> zdo_t.NodeDescriptor:
    return zdo_t.NodeDescriptor(
        logical_type=_LOGICAL[profile.logical_type],
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
        mac_capability_flags=capability(profile),
        manufacturer_code=profile.manufacturer_code,
        maximum_buffer_size=82,
        maximum_incoming_transfer_size=82,
        server_mask=0x2C00,  # stack compliance revision 22 (R22)
        maximum_outgoing_transfer_size=82,
        descriptor_capability_field=zdo_t.DescriptorCapability.NONE,
    )


def simple_descriptor(profile: DeviceProfile, endpoint: int) -> zdo_t.SizePrefixedSimpleDescriptor | None:
    for ep in profile.endpoints:
        if ep.id == endpoint:
            return zdo_t.SizePrefixedSimpleDescriptor(
                endpoint=ep.id,
                profile=ep.profile_id,
                device_type=ep.device_type,
                device_version=ep.device_version,
                input_clusters=list(ep.in_clusters),
                output_clusters=list(ep.out_clusters),
            )
    return None


def device_annce(tsn: int, nwk: int, ieee: t.EUI64, profile: DeviceProfile) -> bytes:
    return encode(Cmd.Device_annce, tsn, t.NWK(nwk), ieee, int(capability(profile)))


def match_desc_req(tsn: int, nwk_of_interest: int, profile_id: int, in_clusters: list[int], out_clusters: list[int]) -> bytes:
    return encode(Cmd.Match_Desc_req, tsn, t.NWK(nwk_of_interest), profile_id, in_clusters, out_clusters)


def ieee_addr_req(tsn: int, nwk_of_interest: int) -> bytes:
    return encode(Cmd.IEEE_addr_req, tsn, t.NWK(nwk_of_interest), zdo_t.AddrRequestType.Single, 0)


def answer(profile: DeviceProfile, ieee: t.EUI64, nwk: int, command: int, payload: bytes, *, broadcast: bool) -> tuple[int, bytes] | None:
    """The (response cluster, frame) this device sends for a ZDO request, or None to stay silent."""
    if command >= 0x8000:
        return None  # responses are handled by whoever asked
    if command == Cmd.Device_annce:
        return None  # every device hears each rejoin's broadcast: no answer, so no need to parse it
    try:
        tsn, args = decode(command, payload)
    except MalformedZdo:
        return None
    rsp = command | 0x8000
    me = t.NWK(nwk)
    if command == Cmd.NWK_addr_req:
        return (rsp, encode(Cmd.NWK_addr_rsp, tsn, ZStatus.SUCCESS, ieee, me)) if args[0] == ieee else None
    if command == Cmd.IEEE_addr_req:
        return (rsp, encode(Cmd.IEEE_addr_rsp, tsn, ZStatus.SUCCESS, ieee, me)) if args[0] == nwk else None
    if broadcast and command not in (Cmd.Match_Desc_req,):
        # Descriptor requests are unicast; a broadcast one for someone else needs no answer
        if not args or args[0] != nwk:
            return None
    if command == Cmd.Node_Desc_req:
        return rsp, encode(Cmd.Node_Desc_rsp, tsn, ZStatus.SUCCESS, me, node_descriptor(profile))
    if command == Cmd.Active_EP_req:
        return rsp, encode(Cmd.Active_EP_rsp, tsn, ZStatus.SUCCESS, me, [ep.id for ep in profile.endpoints])
    if command == Cmd.Simple_Desc_req:
        sd = simple_descriptor(profile, args[1])
        if sd is None:
            return rsp, bytes([tsn]) + bytes([ZStatus.NOT_ACTIVE]) + me.serialize() + b"\x00"
        return rsp, encode(Cmd.Simple_Desc_rsp, tsn, ZStatus.SUCCESS, me, sd)
    if command == Cmd.Match_Desc_req:
        _nwk, profile_id, wanted_in, wanted_out = args
        hits = [
            ep.id
            for ep in profile.endpoints
            if ep.profile_id == profile_id and (set(wanted_in) & set(ep.in_clusters) or set(wanted_out) & set(ep.out_clusters))
        ]
        if broadcast and not hits:
            return None
        return rsp, encode(Cmd.Match_Desc_rsp, tsn, ZStatus.SUCCESS, me, hits)
    if broadcast:
        return None
    # Bind, Mgmt_Leave, Mgmt_Lqi, ...: not supported by these simple devices
    return rsp, bytes([tsn, ZStatus.NOT_SUPPORTED])
