"""What the emulated NCP remembers: "NVRAM" (survives resets) and RAM (cleared by every reset)."""

from __future__ import annotations

import dataclasses
from typing import Any

import bellows.types as bt
import zigpy.types as zt

from rig.emu.ezsp import structs

# Values a freshly booted EmberZNet 7.x NCP reports before the host configures it. Table sizes
# drive bellows' read loops (key table, address table, multicast table).
DEFAULT_CONFIG: dict[str, int] = {
    "CONFIG_PACKET_BUFFER_COUNT": 75,
    "CONFIG_NEIGHBOR_TABLE_SIZE": 16,
    "CONFIG_APS_UNICAST_MESSAGE_COUNT": 10,
    "CONFIG_BINDING_TABLE_SIZE": 32,
    "CONFIG_ADDRESS_TABLE_SIZE": 16,
    "CONFIG_MULTICAST_TABLE_SIZE": 16,
    "CONFIG_ROUTE_TABLE_SIZE": 16,
    "CONFIG_DISCOVERY_TABLE_SIZE": 8,
    "CONFIG_STACK_PROFILE": 2,
    "CONFIG_SECURITY_LEVEL": 5,
    "CONFIG_MAX_HOPS": 30,
    "CONFIG_MAX_END_DEVICE_CHILDREN": 32,
    "CONFIG_INDIRECT_TRANSMISSION_TIMEOUT": 3000,
    "CONFIG_END_DEVICE_POLL_TIMEOUT": 8,
    "CONFIG_TX_POWER_MODE": 0,
    "CONFIG_DISABLE_RELAY": 0,
    "CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE": 2,
    "CONFIG_SOURCE_ROUTE_TABLE_SIZE": 7,
    "CONFIG_FRAGMENT_WINDOW_SIZE": 1,
    "CONFIG_FRAGMENT_DELAY_MS": 0,
    "CONFIG_KEY_TABLE_SIZE": 4,
    "CONFIG_APPLICATION_ZDO_FLAGS": 0,
    "CONFIG_SUPPORTED_NETWORKS": 1,
    "CONFIG_PAN_ID_CONFLICT_REPORT_THRESHOLD": 1,
    "CONFIG_TC_REJOINS_USING_WELL_KNOWN_KEY_TIMEOUT_S": 0,
}

MULTICAST_TABLE_SIZE = 16
MAX_CHILDREN_SLOTS = 256


@dataclasses.dataclass
class NvState:
    """Survives resets (EmberZNet tokens)."""

    eui64: zt.EUI64
    formed: bool = False
    params: structs.NetworkParameters | None = None
    network_key: bytes = bytes(16)
    network_key_seq: int = 0
    tc_link_key: bytes = bytes(16)
    security_bitmask: int = 0
    nwk_frame_counter: int = 0
    aps_frame_counter: int = 0
    alternate_network_key: bytes | None = None  # sent by broadcastNextNetworkKey, current after the switch
    # the APS link-key table (a token in EmberZNet): index -> (partner EUI64, key); a backup's device keys
    link_keys: dict[int, tuple[zt.EUI64, bytes]] = dataclasses.field(default_factory=dict)
    # child-table entries a host wrote (setChildData: a restored backup's children): index -> (EUI64, id, type)
    child_table: dict[int, tuple[zt.EUI64, int, int]] = dataclasses.field(default_factory=dict)

    def factory_reset(self) -> None:
        self.alternate_network_key = None
        self.formed = False
        self.params = None
        self.network_key = bytes(16)
        self.network_key_seq = 0
        self.tc_link_key = bytes(16)
        self.security_bitmask = 0
        self.link_keys.clear()
        self.child_table.clear()


@dataclasses.dataclass
class Endpoint:
    endpoint: int
    profile_id: int
    device_id: int
    device_version: int
    in_clusters: list[int]
    out_clusters: list[int]


@dataclasses.dataclass
class RamState:
    """Cleared by every reset: configuration, endpoints, policies, tables, network up/down."""

    config: dict[int, int] = dataclasses.field(default_factory=dict)
    values: dict[int, bytes] = dataclasses.field(default_factory=dict)
    policies: dict[int, int] = dataclasses.field(default_factory=dict)
    endpoints: dict[int, Endpoint] = dataclasses.field(default_factory=dict)
    network_up: bool = False
    permit_until: float = 0.0  # clock time; joins allowed while now() < permit_until
    extended_timeout: dict[zt.EUI64, bool] = dataclasses.field(default_factory=dict)
    address_table: dict[int, tuple[zt.EUI64, int]] = dataclasses.field(default_factory=dict)
    multicast: dict[int, Any] = dataclasses.field(default_factory=dict)
    # the transient link-key table (install-code keys for devices about to join); EUI64 FF..FF = any device
    transient_keys: dict[zt.EUI64, bytes] = dataclasses.field(default_factory=dict)
    manufacturer_code: int = 0x1049  # Silicon Labs
    radio_power: int = 8
    # setLogicalAndRadioChannel (touchlink's inter-PAN channel hopping); None = the network's channel
    radio_channel: int | None = None
    # raw 802.15.4 frames the host sent (sendRawMessageExtended): (channel, frame); no emulated device hears them
    raw_frames: list[tuple[int, bytes]] = dataclasses.field(default_factory=list)
    cca_mode: int = 0  # IEEE 802.15.4 CCA mode (0 = RSSI, EmberZNet's default)
    aps_counter: int = 0

    def config_value(self, config_id: bt.EzspConfigId) -> int:
        if int(config_id) in self.config:
            return self.config[int(config_id)]
        return DEFAULT_CONFIG.get(config_id.name, 0)

    def next_aps_counter(self) -> int:
        self.aps_counter = (self.aps_counter + 1) % 256
        return self.aps_counter
