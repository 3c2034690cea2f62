"""The ZDO server inside the emulated NCP (the part of EmberZNet that answers about the coordinator).

EmberZNet answers the "supported" ZDO requests about itself from its own tables (the endpoints the
host registered with addEndpoint). bellows sets CONFIG_APPLICATION_ZDO_FLAGS = 3:
APP_RECEIVES_SUPPORTED_ZDO_REQUESTS (the stack still answers, and also passes the request up) and
APP_HANDLES_UNSUPPORTED_ZDO_REQUESTS (the stack stays silent and passes the request up with
APS_OPTION_ZDO_RESPONSE_REQUIRED). This module decides which is which and builds the answers.
"""

from __future__ import annotations

import logging
import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from rig.emu.ncp_context import NcpContext

LOGGER = logging.getLogger(__name__)

C = zdo_t.ZDOCmd
SUPPORTED_REQUESTS = frozenset(
    {C.NWK_addr_req, C.IEEE_addr_req, C.Node_Desc_req, C.Simple_Desc_req, C.Active_EP_req, C.Match_Desc_req}
)
BROADCASTS = (0xFFFF, 0xFFFD, 0xFFFC, 0xFFFB)


# Announcements share the request id range but ask for no answer: EmberZNet processes them (address
# tables) and passes them up whatever CONFIG_APPLICATION_ZDO_FLAGS says. zigbee-herdsman's ember
# adapter leaves the flags at 0 and still waits for the Device_annce a device sends after an upgrade.
ANNOUNCEMENTS = frozenset({C.Device_annce})


def is_request(cluster_id: int) -> bool:
    """A ZDO request the stack answers or withholds from the host by CONFIG_APPLICATION_ZDO_FLAGS."""
    return cluster_id < 0x8000 and cluster_id not in ANNOUNCEMENTS


def node_descriptor(ncp: NcpContext) -> zdo_t.NodeDescriptor:
    return zdo_t.NodeDescriptor(
        logical_type=zdo_t.LogicalType.Coordinator,
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
        mac_capability_flags=(
            zdo_t.NodeDescriptor.MACCapabilityFlags.AlternatePanCoordinator
            | zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
            | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
            | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
            | zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
        ),
        manufacturer_code=ncp.ram.manufacturer_code,
        maximum_buffer_size=82,
        maximum_incoming_transfer_size=128,
        server_mask=0x2C41,  # primary trust centre, network manager, stack compliance rev 22
        maximum_outgoing_transfer_size=128,
        descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability(0),
    )


def answer(ncp: NcpContext, cluster_id: int, payload: bytes) -> tuple[int, bytes] | None:
    """The NCP's own response to a ZDO request about itself, or None if it stays silent."""
    try:
        cmd = zdo_t.ZDOCmd(cluster_id)
    except ValueError:
        return None
    if cmd not in SUPPORTED_REQUESTS or not payload:
        return None
    tsn, body = payload[0], payload[1:]
    try:
        args, _ = zt.deserialize(body, zdo_t.CLUSTERS[cmd][1])
    except Exception:
        LOGGER.warning("malformed ZDO %s payload %s; ignored", cmd.name, payload.hex())
        return None
    if cmd == C.Match_Desc_req:
        rsp = _match_desc(ncp, args)
    elif args[0] != (ncp.nv.eui64 if cmd == C.NWK_addr_req else OWN_NWK):
        return None  # a request about another node: the stick does not answer for it
    else:
        rsp = _ABOUT_ITSELF[cmd](ncp, args)
    if rsp is None:
        return None
    rsp_cmd, values = rsp
    while values and values[-1] is None:  # optional trailing fields absent (single-address response)
        values = values[:-1]
    schema = zdo_t.CLUSTERS[rsp_cmd][1]
    return int(rsp_cmd), bytes([tsn]) + zt.serialize(values, schema)


OWN_NWK = zt.NWK(0x0000)  # the stick is the coordinator
_OK = zdo_t.Status.SUCCESS


def _addresses(rsp_cmd: zdo_t.ZDOCmd):
    def respond(ncp: NcpContext, args: list) -> tuple:
        return rsp_cmd, [_OK, ncp.nv.eui64, OWN_NWK, None, None, None]
    return respond


def _node_desc(ncp: NcpContext, args: list) -> tuple:
    return C.Node_Desc_rsp, [_OK, OWN_NWK, node_descriptor(ncp)]


def _active_eps(ncp: NcpContext, args: list) -> tuple:
    return C.Active_EP_rsp, [_OK, OWN_NWK, [zt.uint8_t(ep) for ep in sorted(ncp.ram.endpoints)]]


def _simple_desc(ncp: NcpContext, args: list) -> tuple:
    ep = ncp.ram.endpoints.get(int(args[1]))
    if ep is None:
        return C.Simple_Desc_rsp, [zdo_t.Status.NOT_ACTIVE, OWN_NWK, None]
    desc = zdo_t.SizePrefixedSimpleDescriptor(
        endpoint=ep.endpoint,
        profile=ep.profile_id,
        device_type=ep.device_id,
        device_version=ep.device_version,
        input_clusters=ep.in_clusters,
        output_clusters=ep.out_clusters,
    )
    return C.Simple_Desc_rsp, [_OK, OWN_NWK, desc]


def _match_desc(ncp: NcpContext, args: list) -> tuple | None:
    nwk, profile, in_clusters, out_clusters = args
    if nwk != OWN_NWK and nwk not in BROADCASTS:
        return None
    matches = [
        zt.uint8_t(ep.endpoint)
        for ep in ncp.ram.endpoints.values()
        if (profile == 0xFFFF or ep.profile_id == profile)
        and (set(in_clusters) & set(ep.in_clusters) or set(out_clusters) & set(ep.out_clusters))
    ]
    if not matches and nwk in BROADCASTS:
        return None  # a broadcast match with nothing to offer gets no answer
    return C.Match_Desc_rsp, [_OK, OWN_NWK, matches]


# Requests about the stick itself (their first argument is its own address), by request.
_ABOUT_ITSELF = {
    C.NWK_addr_req: _addresses(C.NWK_addr_rsp),
    C.IEEE_addr_req: _addresses(C.IEEE_addr_rsp),
    C.Node_Desc_req: _node_desc,
    C.Active_EP_req: _active_eps,
    C.Simple_Desc_req: _simple_desc,
}
