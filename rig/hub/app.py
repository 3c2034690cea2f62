"""The zigpy/bellows side of the hub: a bellows ControllerApplication with the CH's OTA server on it.

Subclassed only to (a) take OTA cluster frames before zigpy's Ota cluster answers NO_IMAGE/ABORT
(R-PLAT-02), (b) answer SE Match_Desc_req for the OTA server, which zigpy answers with an empty list for
non-ZHA profiles (R-PLAT-05), and (c) send raw frames to a requester's endpoint/profile.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable

import bellows.zigbee.application
import zigpy.config as zconf
import zigpy.exceptions
import zigpy.types as t

from rig.hub import upstream, zcl
from rig.hub.config import HubConfig

LOGGER = logging.getLogger(__name__)

SE_ENDPOINT = 0x0A  # endpoint 1 is zigpy's ZHA endpoint; the CH's Smart Energy endpoint lives here
SE_DEVICE_TYPE = 0x0500  # ESP-style server device (carries the OTA Upgrade server cluster)
MATCH_DESC_REQ = 0x0006
MATCH_DESC_RSP = 0x8006

PacketHandler = Callable[[t.ZigbeePacket], bool]


def zigpy_config(config: HubConfig, port: str) -> dict:
    """The zigpy/bellows config dict for this hub (R-PLAT-01: zigpy's own OTA and broadcasts off)."""
    device: dict = {zconf.CONF_DEVICE_PATH: port, zconf.CONF_DEVICE_BAUDRATE: config.baudrate}
    if config.flow_control is not None:
        device[zconf.CONF_DEVICE_FLOW_CONTROL] = config.flow_control
    return {
        zconf.CONF_DEVICE: device,
        "use_thread": config.use_thread,
        zconf.CONF_DATABASE: config.zigpy_database,
        zconf.CONF_TOPO_SCAN_ENABLED: False,
        zconf.CONF_NWK: {
            zconf.CONF_NWK_CHANNEL: config.channel,
            zconf.CONF_NWK_PAN_ID: config.pan_id,
            zconf.CONF_NWK_EXTENDED_PAN_ID: config.extended_pan_id,
        },
        zconf.CONF_OTA: {
            zconf.CONF_OTA_ENABLED: False,
            zconf.CONF_OTA_BROADCAST_ENABLED: False,
            zconf.CONF_OTA_PROVIDERS: [],
        },
        zconf.CONF_ADDITIONAL_ENDPOINTS: [{
            "endpoint": SE_ENDPOINT,
            "profile": zcl.SE_PROFILE,
            "device_type": SE_DEVICE_TYPE,
            "device_version": 0,
            "input_clusters": [zcl.OTA_CLUSTER],
            "output_clusters": [],
        }],
    }


class HubApplication(bellows.zigbee.application.ControllerApplication):
    """bellows' controller, with the OTA cluster and SE service discovery handled by the hub."""

    ota_handler: PacketHandler | None = None
    formed_network_now = False
    closing = False  # set by Hub.stop: incoming frames are dropped while the port closes

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sends_in_flight: set[asyncio.Task] = set()

    async def form_network(self, *args, **kwargs) -> None:
        self.formed_network_now = True
        await super().form_network(*args, **kwargs)

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        if self.closing:
            return
        try:
            if packet.cluster_id == zcl.OTA_CLUSTER and packet.dst_ep != 0 and self.ota_handler is not None:
                if self.ota_handler(packet):
                    return
            elif packet.dst_ep == 0 and packet.cluster_id == MATCH_DESC_REQ and self._answer_match_desc(packet):
                return
        except Exception:  # noqa: BLE001 - a device's frame must never take the hub down
            LOGGER.exception("hub failed handling %r; frame dropped", packet)
            return
        # zigpy drops Smart Energy frames; re-labelled HA, reports and read responses reach their requests
        super().packet_received(upstream.zigpy_parsable(packet))

    # -- ZDO Match_Desc for the SE OTA server ------------------------------------------------
    def _answer_match_desc(self, packet: t.ZigbeePacket) -> bool:
        data = packet.data.serialize()
        try:
            tsn, _nwk, profile, n_in = struct.unpack_from("<BHHB", data)
            clusters_in = struct.unpack_from(f"<{n_in}H", data, 6)
            n_out = data[6 + 2 * n_in]
            clusters_out = struct.unpack_from(f"<{n_out}H", data, 7 + 2 * n_in)
        except (struct.error, IndexError):
            return False  # let zigpy deal with (and log) it
        if profile not in (zcl.SE_PROFILE, 0xFFFF) or zcl.OTA_CLUSTER not in clusters_in:
            return False
        del clusters_out
        own_nwk = self.state.node_info.nwk
        payload = struct.pack("<BBHBB", tsn, 0, own_nwk, 1, SE_ENDPOINT)
        self.send_raw(packet.src.address, dst_ep=0, src_ep=0, profile=0, cluster=MATCH_DESC_RSP, tsn=tsn,
                      data=payload, ack=True)
        return True

    # -- sending -----------------------------------------------------------------------------
    def send_raw(self, nwk: int, *, dst_ep: int, src_ep: int, profile: int, cluster: int, tsn: int, data: bytes,
                 ack: bool = True, broadcast: bool = False) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(
            self.send_raw_now(nwk, dst_ep=dst_ep, src_ep=src_ep, profile=profile, cluster=cluster, tsn=tsn,
                              data=data, ack=ack, broadcast=broadcast))
        self.sends_in_flight.add(task)
        task.add_done_callback(self.sends_in_flight.discard)
        return task

    async def drain_sends(self, timeout: float = 1.0) -> None:
        """Let frames already handed to bellows finish before the port closes: bellows sends each in a
        shielded task, and closing under it leaves a 'Connection has been closed' nobody retrieves."""
        if self.sends_in_flight:
            await asyncio.wait(set(self.sends_in_flight), timeout=timeout)

    async def send_raw_now(self, nwk: int, *, dst_ep: int, src_ep: int, profile: int, cluster: int, tsn: int,
                           data: bytes, ack: bool = True, broadcast: bool = False) -> bool:
        """One frame to a NWK address, or with broadcast=True to 0xFFFF / 0xFFFD / 0xFFFC (no APS ack)."""
        dst = (t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=t.BroadcastAddress(nwk)) if broadcast
               else t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk)))
        packet = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.state.node_info.nwk),
            src_ep=src_ep,
            dst=dst,
            dst_ep=dst_ep,
            tsn=tsn,
            profile_id=profile,
            cluster_id=cluster,
            data=t.SerializableBytes(data),
            tx_options=t.TransmitOptions.ACK if ack and not broadcast else t.TransmitOptions.NONE,
            radius=0,
        )
        try:
            await self.send_packet(packet)
        except (zigpy.exceptions.DeliveryError, asyncio.TimeoutError, zigpy.exceptions.ControllerException) as exc:
            LOGGER.warning("delivery to 0x%04x cluster 0x%04x failed: %r", nwk, cluster, exc)
            return False
        except (RuntimeError, ConnectionError) as exc:  # the stick's line closed under us (shutdown, unplug)
            LOGGER.warning("send to 0x%04x cluster 0x%04x failed, radio gone: %r", nwk, cluster, exc)
            return False
        return True
