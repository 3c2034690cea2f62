"""Real-world time charges for the emulator, and a model that predicts OTA transfer time from them.

Unpaced, the emulated stick answers as fast as the host can talk, which is what CI wants. A `Pacing`
makes the same stack take the time real hardware would:

* UART: every ASH byte in both directions costs `bits_per_byte / baud` (115200 8N1: 86.8 us), each
  direction serialised on its own (the line is full duplex);
* air: every 802.15.4 frame occupies the one shared channel for CSMA backoff + CCA, its PHY/MAC/NWK/APS
  bytes (with NWK and, for Smart Energy, APS security) at 250 kbit/s, the RX/TX turnaround and the
  MAC ACK, once per hop; an acknowledged unicast also carries the device's APS ACK;
* the device: after receiving an Image Block Response it is busy `device_block_s` (parse + flash
  write) before it can transmit again; `device_frame_s` after any other frame.

`predict_transfer(...)` adds the same charges along one block's critical path (plus a host CPU cost
per block, measured or assumed) to estimate a transfer without running it:

    Emulator(pacing=Pacing.real_bench())
    Pacing.real_bench().predict_transfer_seconds(750_000, 40)      # -> seconds
    predict_transfer(750_000, 40, pacing=Pacing.real_bench()).as_dict()

The wire sizes come from the emulator's own EZSP frame definitions (rig.emu.ezsp) for the chosen version.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rig.emu import ncp_codec
from rig.emu.ezsp import SUPPORTED_VERSIONS, frames_for
from rig.image.ota_cluster import OTA_CLUSTER, Cmd

OTA_CLUSTER_ID = OTA_CLUSTER
IMAGE_BLOCK_RESPONSE = Cmd.IMAGE_BLOCK_RSP

# ZCL frame sizes of the OTA block exchange (header 3 bytes + command fields)
IMAGE_BLOCK_REQUEST_ZCL = 3 + 14 + 2  # fc, mfr, type, version, offset, max size + MinimumBlockPeriod
IMAGE_BLOCK_RESPONSE_ZCL = 3 + 14  # + data: status, mfr, type, version, offset, data size
# ASH: control byte + CRC16 + FLAG around the (randomised, so stuffed ~6/256 of the time) EZSP frame
ASH_DATA_OVERHEAD = 4
ASH_ACK_BYTES = 4
ASH_STUFF_RATE = 6 / 256


@dataclasses.dataclass(frozen=True)
class Pacing:
    """What real hardware charges. All times in seconds, sizes in bytes."""

    baud: int = 115_200
    bits_per_byte: int = 10  # 8N1: start + 8 data + stop
    air_bit_rate: int = 250_000  # 2.4 GHz O-QPSK
    hops: int = 1
    phy_overhead: int = 6  # preamble 4 + SFD 1 + PHR 1
    mac_overhead: int = 11  # frame control 2, seq 1, PAN 2, dst 2, src 2, FCS 2
    nwk_overhead: int = 8 + 14 + 4  # header + security auxiliary header (with source EUI64) + MIC-32
    aps_overhead: int = 8  # frame control, endpoints, cluster, profile, counter
    aps_security: int = 5 + 4  # SE: APS link-key encryption auxiliary header + MIC-32 (0 to leave out)
    aps_ack_size: int = 8  # APS ACK frame (no payload)
    mac_ack: int = 11  # PHY 6 + frame control 2, seq 1, FCS 2
    turnaround_s: float = 192e-6  # aTurnaroundTime, 12 symbols
    csma_s: float = 3.5 * 320e-6 + 128e-6  # mean backoff with macMinBE 3 (0..7 x 320 us) + CCA
    device_block_s: float = 0.002  # parse + write 40-50 B to flash (page erase amortised) on an EFR32-class MCU
    device_frame_s: float = 0.0005  # handling any other frame

    def __post_init__(self) -> None:
        for name in ("baud", "bits_per_byte", "air_bit_rate", "hops"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Pacing.{name} must be > 0, got {getattr(self, name)!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and value < 0:
                raise ValueError(f"Pacing.{f.name} must be >= 0, got {value!r}")

    # -- presets ------------------------------------------------------------------------------
    @classmethod
    def real_bench(cls, **changes: Any) -> Pacing:
        """A USB EZSP stick at 115200 baud, one hop to a mains-powered device, APS-secured SE traffic."""
        return cls(**changes)

    # -- charges ------------------------------------------------------------------------------
    def uart_s(self, nbytes: int) -> float:
        """Time for `nbytes` on the serial line in one direction."""
        return nbytes * self.bits_per_byte / self.baud

    def psdu_bytes(self, aps_payload: int) -> int:
        """MAC frame size of an APS data frame carrying `aps_payload` bytes (ZCL/ZDO frame)."""
        return self.mac_overhead + self.nwk_overhead + self.aps_overhead + self.aps_security + aps_payload

    def frame_air_s(self, aps_payload: int) -> float:
        """One hop of one data frame: CSMA, PHY+MAC frame, turnaround, MAC ACK."""
        on_air = (self.phy_overhead + self.psdu_bytes(aps_payload)) * 8 / self.air_bit_rate
        ack = self.mac_ack * 8 / self.air_bit_rate
        return self.csma_s + on_air + self.turnaround_s + ack

    def aps_ack_air_s(self) -> float:
        """The device's APS ACK back to the coordinator, one hop."""
        on_air = (self.phy_overhead + self.mac_overhead + self.nwk_overhead + self.aps_ack_size
                  + self.aps_security) * 8 / self.air_bit_rate
        return self.csma_s + on_air + self.turnaround_s + self.mac_ack * 8 / self.air_bit_rate

    def device_processing_s(self, cluster_id: int, payload: bytes) -> float:
        """How long a device is busy after receiving this APS frame."""
        if cluster_id == OTA_CLUSTER_ID and len(payload) >= 3 and payload[0] & 0x03 == 0x01 \
                and payload[2 if not payload[0] & 0x04 else 4] == IMAGE_BLOCK_RESPONSE:
            return self.device_block_s
        return self.device_frame_s

    # -- model --------------------------------------------------------------------------------
    def predict_transfer_seconds(self, image_size: int, block_size: int, **kwargs: Any) -> float:
        """Predicted seconds for a block-by-block OTA transfer (see `predict_transfer`)."""
        return predict_transfer(image_size, block_size, pacing=self, **kwargs).seconds


@dataclasses.dataclass(frozen=True)
class TransferPrediction:
    """One block's critical path, split by what charges it, and the whole transfer."""

    image_size: int
    block_size: int
    blocks: int
    uart_s: float  # per block: the ASH/EZSP exchange on the serial line
    air_s: float  # per block: request, response and APS ACK over the air (all hops)
    device_s: float  # per block: device processing / flash write
    host_s: float  # per block: host CPU (bellows + zigpy + OTA server)
    gap_s: float  # per block: extra wait imposed by MinimumBlockPeriod / the client's own delay
    seconds: float  # whole transfer

    @property
    def per_block_s(self) -> float:
        return self.seconds / self.blocks

    @property
    def bytes_per_s(self) -> float:
        return self.image_size / self.seconds

    def as_dict(self) -> dict[str, float | int]:
        out = dataclasses.asdict(self)
        out["per_block_s"] = self.per_block_s
        out["bytes_per_s"] = self.bytes_per_s
        return out


def predict_transfer(
    image_size: int,
    block_size: int,
    *,
    pacing: Pacing | None = None,
    ezsp_version: int = 13,
    host_s_per_block: float = 0.0015,
    min_block_period_s: float = 0.0,
    block_request_delay_s: float = 0.0,
) -> TransferPrediction:
    """Predict a block-request OTA transfer through a bellows host, an EZSP stick and the air.

    Per block, on the critical path: the device's Image Block Request over the air, the NCP's
    incomingMessageHandler on the UART, the host's ACK + getExtendedTimeout + sendUnicast exchanges
    (bellows checks the extended timeout before every unicast), the response over the air and the
    device's APS ACK, the device's processing, and messageSentHandler (which shares the NCP->host line
    with the next request's callback; the NCP's TX window of 5 lets them leave back to back, so the
    UART time is the sum of the bytes). `host_s_per_block` is host CPU; the default is what
    bench/ota_throughput.py measures on a desktop-class CPU (a Raspberry Pi is about 3x that).
    The block period is a floor: a device never asks sooner than MinimumBlockPeriod after its last ask.
    """
    if image_size <= 0 or block_size <= 0:
        raise ValueError(f"image_size and block_size must be > 0, got {image_size!r}, {block_size!r}")
    pacing = pacing or Pacing.real_bench()
    blocks = math.ceil(image_size / block_size)
    sizes = ezsp_frame_sizes(ezsp_version, request_zcl=IMAGE_BLOCK_REQUEST_ZCL,
                             response_zcl=IMAGE_BLOCK_RESPONSE_ZCL + block_size)

    def data(n: int) -> float:
        return n * (1 + ASH_STUFF_RATE) + ASH_DATA_OVERHEAD

    ncp_to_host = data(sizes["incomingMessageHandler"]) + data(sizes["getExtendedTimeout_rsp"]) \
        + data(sizes["sendUnicast_rsp"]) + data(sizes["messageSentHandler"])
    host_to_ncp = data(sizes["getExtendedTimeout"]) + data(sizes["sendUnicast"]) + 4 * ASH_ACK_BYTES
    uart = pacing.uart_s(ncp_to_host + host_to_ncp)
    hops = pacing.hops
    air = hops * (pacing.frame_air_s(IMAGE_BLOCK_REQUEST_ZCL)
                  + pacing.frame_air_s(IMAGE_BLOCK_RESPONSE_ZCL + block_size) + pacing.aps_ack_air_s())
    device = pacing.device_block_s
    natural = uart + air + device + host_s_per_block
    floor = max(min_block_period_s, block_request_delay_s)
    gap = max(0.0, floor - natural)
    seconds = blocks * (natural + gap)
    return TransferPrediction(image_size, block_size, blocks, uart, air, device, host_s_per_block, gap, seconds)


def ezsp_frame_sizes(version: int, *, request_zcl: int, response_zcl: int) -> dict[str, int]:
    """EZSP frame sizes (header included) of one block's exchange, from the emulator's own frame
    definitions (rig.emu.ezsp) for `version`: the frames the emulated stick puts on the wire."""
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"ezsp_version {version!r} is not one the emulated NCP speaks; expected one of "
                         f"{list(SUPPORTED_VERSIONS)}")
    frames = frames_for(version).by_name
    header = 5 if version >= 5 else 3  # seq, control, id; v5-7 add the 0xFF marker + 0x00, v8+ 2-byte control and id

    def size(name: str, response: bool, payload: int = 0) -> int:
        frame = frames[name]
        schema = frame.response if response else frame.request
        return header + len(ncp_codec.encode(schema, {"messageContents": bytes(payload)}))

    return {
        "incomingMessageHandler": size("incomingMessageHandler", True, request_zcl),
        "getExtendedTimeout": size("getExtendedTimeout", False),
        "getExtendedTimeout_rsp": size("getExtendedTimeout", True),
        "sendUnicast": size("sendUnicast", False, response_zcl),
        "sendUnicast_rsp": size("sendUnicast", True),
        "messageSentHandler": size("messageSentHandler", True, response_zcl),
    }
