"""Paced emulator mode (rig.emu.pacing): the charges, the prediction model, and the paced stack working.

Only lower bounds on time are asserted (a paced frame can never arrive early); how long things take on
this machine is the benchmark's business (bench/ota_throughput.py --paced).
"""

from __future__ import annotations

import asyncio
import math

import pytest

from rig.emu.pacing import IMAGE_BLOCK_RESPONSE_ZCL, Pacing, ezsp_frame_sizes, predict_transfer
from rig.emu.transport import PacedProtocol
from tests.emu.conftest import wait_until

MAX_PSDU = 127  # 802.15.4 aMaxPHYPacketSize


def test_uart_charge_is_ten_bits_per_byte_at_115200() -> None:
    assert Pacing.real_bench().uart_s(1152) == pytest.approx(0.1)
    assert Pacing(baud=460_800).uart_s(4608) == pytest.approx(0.1)


def test_largest_block_frames_fit_one_802154_frame() -> None:
    p = Pacing.real_bench()
    assert p.psdu_bytes(IMAGE_BLOCK_RESPONSE_ZCL + 50) <= MAX_PSDU
    assert p.psdu_bytes(IMAGE_BLOCK_RESPONSE_ZCL + 64) > MAX_PSDU  # why GB caps blocks well below 64


def test_air_time_grows_with_payload_and_hops() -> None:
    p = Pacing.real_bench()
    assert p.frame_air_s(57) - p.frame_air_s(17) == pytest.approx(40 * 8 / 250_000)
    one = predict_transfer(100_000, 40, pacing=p)
    three = predict_transfer(100_000, 40, pacing=Pacing.real_bench(hops=3))
    assert three.air_s == pytest.approx(3 * one.air_s)


def test_device_processing_only_long_for_block_responses() -> None:
    p = Pacing.real_bench(device_block_s=0.01, device_frame_s=0.001)
    block_rsp = bytes([0x19, 0x07, 0x05]) + bytes(16)  # cluster-specific, server->client, cmd 0x05
    block_req = bytes([0x01, 0x07, 0x03]) + bytes(16)
    assert p.device_processing_s(0x0019, block_rsp) == 0.01
    assert p.device_processing_s(0x0019, block_req) == 0.001
    assert p.device_processing_s(0x0000, block_rsp) == 0.001


@pytest.mark.parametrize("field,value", [("baud", 0), ("hops", 0), ("device_block_s", -1.0)])
def test_bad_pacing_named_in_the_error(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"Pacing.{field}"):
        Pacing(**{field: value})


def test_prediction_lands_in_the_real_world_range_and_scales() -> None:
    """anchors.md D: a 115200 stick moves 1-2 kB/s at best; a 750 kB image takes minutes, not seconds."""
    p40 = predict_transfer(750_000, 40)
    p50 = predict_transfer(750_000, 50)
    assert p40.blocks == 18_750 and p50.blocks == 15_000
    assert 500 < p40.bytes_per_s < 2_000
    assert p50.bytes_per_s > p40.bytes_per_s  # fewer blocks, same per-block exchange
    assert predict_transfer(350_000, 40).seconds < p40.seconds
    assert Pacing.real_bench().predict_transfer_seconds(750_000, 40) == pytest.approx(p40.seconds)
    assert p40.seconds == pytest.approx(p40.blocks * (p40.uart_s + p40.air_s + p40.device_s + p40.host_s))


def test_block_period_is_a_floor_per_block() -> None:
    slow = predict_transfer(4_000, 40, min_block_period_s=1.0)
    assert slow.seconds == pytest.approx(100 * 1.0)
    assert slow.gap_s > 0


def test_frame_sizes_follow_the_ezsp_version() -> None:
    v13 = ezsp_frame_sizes(13, request_zcl=19, response_zcl=57)
    v14 = ezsp_frame_sizes(14, request_zcl=19, response_zcl=57)
    # v14 widens statuses to u32 and adds fields to incomingMessageHandler
    assert v14["incomingMessageHandler"] > v13["incomingMessageHandler"]
    assert v13["sendUnicast"] > 57 and v13["messageSentHandler"] > 57
    with pytest.raises(ValueError, match="ezsp_version 99"):
        ezsp_frame_sizes(99, request_zcl=19, response_zcl=57)


def test_bad_prediction_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="block_size"):
        predict_transfer(1000, 0)


class _Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes]] = []

    def data_received(self, data: bytes) -> None:
        self.chunks.append((asyncio.get_running_loop().time(), data))


class _Wire(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:
        self.written.append((asyncio.get_running_loop().time(), bytes(data)))

    def is_closing(self) -> bool:
        return False


async def test_paced_line_never_delivers_early_and_keeps_order() -> None:
    byte_s = 0.0005
    inner = _Sink()
    paced = PacedProtocol(inner, byte_s)
    wire = _Wire()
    paced.connection_made(wire)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(5):
        paced.data_received(bytes([i]) * 20)  # 20 bytes = 10 ms each, queued back to back
    paced._transport.write(b"x" * 40)  # NCP -> host: 20 ms on its own direction
    await asyncio.sleep(0.2)
    assert [c[1][0] for c in inner.chunks] == [0, 1, 2, 3, 4]
    for i, (t, _) in enumerate(inner.chunks):
        assert t - t0 >= (i + 1) * 20 * byte_s - 1e-4
    assert wire.written and wire.written[0][0] - t0 >= 40 * byte_s - 1e-4


async def test_paced_stack_forms_interviews_and_charges_air_time(make_emulator, make_app, make_node) -> None:
    from rig.clock import VirtualClock

    pacing = Pacing.real_bench(baud=921_600)  # realistic air, a fast UART to keep the test short
    emu = await make_emulator(clock=VirtualClock(), pacing=pacing)
    app, _ = await make_app(emu)
    node = make_node(emu)
    arrivals: list[float] = []
    original = node.receive

    def timed_receive(frame) -> None:
        arrivals.append(emu.clock.now())
        original(frame)

    node.receive = timed_receive
    await app.permit(30)
    await emu.join(node)
    await wait_until(lambda: (d := app.devices.get(node.ieee)) is not None and d.is_initialized, timeout=20)
    assert len(arrivals) >= 3
    # consecutive frames to the device share one channel: never closer than one frame's air time
    min_air = pacing.frame_air_s(1)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(g >= min_air - 1e-6 for g in gaps), gaps
    assert math.isfinite(emu.network._air_free_at) and emu.network._air_free_at > 0
