"""Hypothesis throws malformed and adversarial OTA / ZCL / ZDO frames at the hub from emulated devices over
the emulated radio, while a victim PPMID downloads an image from the same hub.

Per frame the hub answers as the digest says (MALFORMED_COMMAND, NO_IMAGE_AVAILABLE, NOT_AUTHORIZED,
UNSUP_CLUSTER_COMMAND, UNSUP_MANUF_CLUSTER_COMMAND, served blocks cut to the cap and the file end) or, for
frames with nothing to answer, stays silent; the hub never crashes; afterwards the victim's transfer
completes byte-identical. One bench for all examples (a sync test driving its own event loop), so the
examples are cheap.
"""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.bench.session import EmulatedRadio, Session
from rig.emu.air import AirFrame
from rig.hub import HubConfig
from rig.hub.events import ActivationPlan, TransferResult
from rig.hub.zcl import Status
from tests.hub.images import PPMID, image
from tests.reliability.conftest import BENCH, Stack, wait_for

VICTIM_IMAGE = image(PPMID, 2, 6000, seed=3)
# PPMID images share one CH memory block (R-STORE-01), so the fuzzing device is offered the same image
# under its own offer: its block requests can hit real data, and its Upgrade Ends touch only its offer.
FUZZ_IMAGE = VICTIM_IMAGE
FUZZ_ID = (0x1234, PPMID, 2)
OTA = 0x0019


class Bench:
    """Emulator + hub on a private event loop that the hypothesis examples drive."""

    def __init__(self, tmp_path) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict] = []
        self.loop.set_exception_handler(lambda loop, ctx: self.errors.append(ctx))
        self.tmp_path = tmp_path

    def run(self, coro, timeout: float = 30.0):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    @property
    def hub(self):
        return self.stack.hub

    @property
    def emu(self):
        return self.stack.emu

    async def start(self) -> None:
        config = HubConfig.load(BENCH).with_options(db_path=str(self.tmp_path / "hub.sqlite3"))
        self.stack = Stack(Session(EmulatedRadio(ezsp_version=13, seed=5), config, self.tmp_path))
        await self.stack.session.start()
        self.victim = await self.stack.device("ppmid", ota={"block_request_delay_ms": 20})
        self.fuzzer = await self.stack.device("ppmid")
        self.stranger = await self.stack.device("ppmid", allow=False)  # joined, not in the CH device log
        for dev in (self.fuzzer, self.stranger):
            dev.ota.stop()  # their own OTA clients stay quiet: every frame they send is ours
        image_id = self.hub.store_image(VICTIM_IMAGE)
        self.fuzz_offer = self.hub.offer(str(self.fuzzer.ieee), image_id, plan=ActivationPlan.NOW)
        self.victim_offer = self.hub.offer(str(self.victim.ieee), image_id, plan=ActivationPlan.NOW)

    async def stop(self) -> None:
        await self.stack.session.stop()


@pytest.fixture
def bench(tmp_path):
    b = Bench(tmp_path)
    b.run(b.start(), 60)
    yield b
    b.run(b.stop(), 30)
    b.run(asyncio.sleep(0.05))  # let cancelled device tasks unwind before the loop closes
    b.loop.close()


# -- frames ---------------------------------------------------------------------------------------
u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
image_ids = st.one_of(st.just(FUZZ_ID), st.tuples(u16, u16, u32))


@st.composite
def ota_payloads(draw):
    """(command id, payload) of client->server OTA commands: well-formed, truncated, oversized, absurd."""
    cmd = draw(st.sampled_from([0x01, 0x03, 0x04, 0x06, 0x00, 0x02, 0x05, 0x07, 0x08, 0x09, 0x1F, 0xFF]))
    mfr, itype, ver = draw(image_ids)
    fc = draw(st.sampled_from([0, 1, 2, 3, 0xFF]))
    if cmd == 0x01:
        body = struct.pack("<BHHI", fc, mfr, itype, ver) + draw(st.binary(max_size=4))
    elif cmd == 0x03:
        offset = draw(st.one_of(st.integers(0, len(FUZZ_IMAGE) + 5), u32))
        body = struct.pack("<BHHIIB", fc, mfr, itype, ver, offset, draw(u8)) + draw(st.binary(max_size=12))
    elif cmd == 0x04:
        body = struct.pack("<BHHIIBHH", fc, mfr, itype, ver, draw(u32), draw(u8), draw(u16), draw(u16))
    elif cmd == 0x06:
        body = bytes([draw(st.sampled_from([0x00, 0x95, 0x96, 0x99, 0x01]))]) + struct.pack("<HHI", mfr, itype, ver)
    else:
        body = draw(st.binary(max_size=40))
    cut = draw(st.one_of(st.none(), st.integers(0, len(body))))
    if cut is not None:
        body = body[:cut]
    if draw(st.booleans()) and cut is None:
        body += draw(st.binary(min_size=1, max_size=60))  # oversized: trailing junk
    return cmd, body


def expected(bench: Bench, device, cmd: int, body: bytes, manuf: bool) -> tuple[str, int | None] | None:
    """What the hub must answer (command, status), per domain.md R-CH-02..09 and rig/hub/ota_server.py."""
    listed = device is bench.fuzzer
    if manuf:
        return "DEFAULT_RESPONSE", Status.UNSUP_MANUF_CLUSTER_COMMAND
    if cmd not in (0x01, 0x03, 0x04, 0x06):
        return "DEFAULT_RESPONSE", Status.UNSUP_CLUSTER_COMMAND
    if cmd == 0x04:
        return "DEFAULT_RESPONSE", Status.UNSUP_CLUSTER_COMMAND  # pages off on this bench (R-CH-06)
    if cmd == 0x01:
        if len(body) < 9 or (body[0] & 1 and len(body) < 11):
            return "DEFAULT_RESPONSE", Status.MALFORMED_COMMAND
        return ("QUERY_NEXT_IMAGE_RSP", None if listed else Status.NOT_AUTHORIZED)  # None: any verdict
    if cmd == 0x03:
        fc = body[0] if body else 0
        need = 14 + (8 if fc & 1 else 0) + (2 if fc & 2 else 0)
        if len(body) < need:
            return "DEFAULT_RESPONSE", Status.MALFORMED_COMMAND
        if not listed:
            return "DEFAULT_RESPONSE", Status.NOT_AUTHORIZED
        _, mfr, itype, ver, offset, size = struct.unpack_from("<BHHIIB", body)
        if (mfr, itype, ver) != FUZZ_ID:
            return "DEFAULT_RESPONSE", Status.NO_IMAGE_AVAILABLE
        if bench.hub.store.offer(bench.fuzz_offer).state not in ("offered", "transferred"):
            return "IMAGE_BLOCK_RSP", Status.ABORT  # offer over (e.g. a fuzzed QNI's hw mismatch): stop
        if offset >= len(FUZZ_IMAGE) or size == 0:
            return "DEFAULT_RESPONSE", Status.MALFORMED_COMMAND
        return "IMAGE_BLOCK_RSP", None  # SUCCESS (checked below) or WAIT_FOR_DATA
    # Upgrade End
    if not body or (body[0] == 0 and len(body) < 9):
        return "DEFAULT_RESPONSE", Status.MALFORMED_COMMAND
    if not listed:
        return "DEFAULT_RESPONSE", Status.NOT_AUTHORIZED
    if body[0] != 0:
        return "DEFAULT_RESPONSE", Status.SUCCESS
    if len(body) >= 9 and struct.unpack_from("<HHI", body, 1) == FUZZ_ID:
        return None  # Upgrade End Response or ABORT, depending on the offer's state
    return "DEFAULT_RESPONSE", Status.ABORT


async def send_and_check(bench: Bench, device, cmd: int, body: bytes, manuf: bool) -> None:
    ieee = str(device.ieee)
    before = len(bench.hub.frames)
    if manuf:
        hdr = bytes([0x05, 0x34, 0x12, device.next_tsn(), cmd])  # cluster-specific, manufacturer 0x1234
        device.medium.send_from_device(device, AirFrame(device.nwk, 0x0000, 1, 1, 0x0109, OTA, hdr + body, 1))
    else:
        device.ota.send_raw(cmd, body)
    want = expected(bench, device, cmd, body, manuf)

    def replies():
        return [f for f in bench.hub.frames[before:] if f.ieee == ieee and f.direction == "tx"]

    await wait_for(lambda: replies() or [f for f in bench.hub.frames[before:] if f.ieee == ieee], timeout=10,
                   what=f"hub handling command 0x{cmd:02x} {body.hex()}")
    await asyncio.sleep(0.01)
    got = replies()
    assert len(got) == 1, (cmd, body.hex(), got)
    reply = got[0]
    if want is None:
        assert reply.command in ("UPGRADE_END_RSP", "DEFAULT_RESPONSE"), reply
        return
    command, status = want
    assert reply.command == command, (cmd, body.hex(), reply)
    if status is not None:
        assert reply.status == status, (cmd, body.hex(), reply)
    if reply.command == "IMAGE_BLOCK_RSP" and status is None:
        assert reply.status in (Status.SUCCESS, Status.WAIT_FOR_DATA), reply
    if reply.command == "IMAGE_BLOCK_RSP" and reply.status == Status.SUCCESS:
        offset, size = struct.unpack_from("<IB", body, 9)
        assert (reply.offset, reply.size) == (offset, min(size, bench.hub.config.block_size_cap,
                                                           len(FUZZ_IMAGE) - offset))


async def raw_zdo_and_zcl(bench: Bench, cluster: int, profile: int, endpoint: int, payload: bytes) -> None:
    """Anything at all on any cluster/profile: no crash, nothing logged against the victim."""
    dev = bench.fuzzer
    dev.medium.send_from_device(dev, AirFrame(dev.nwk, 0x0000, endpoint, endpoint, profile, cluster, payload, 2))
    await asyncio.sleep(0.005)


@pytest.mark.timeout(150)
def test_adversarial_frames_never_disturb_the_hub(bench) -> None:
    sent = {"ota": 0, "raw": 0, "flood": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(frame=ota_payloads(), who=st.sampled_from(["fuzzer", "stranger"]), manuf=st.integers(0, 7).map(lambda n: n == 0))
    def ota_frame(frame, who, manuf) -> None:
        cmd, body = frame
        bench.run(send_and_check(bench, getattr(bench, who), cmd, body, manuf))
        sent["ota"] += 1

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(cluster=st.one_of(st.integers(0, 0x0040), st.integers(0x8000, 0x8040), st.sampled_from([0x0019, 0x0000])),
           profile=st.sampled_from([0x0000, 0x0104, 0x0109, 0xC05E]), endpoint=st.sampled_from([0, 1, 0xFF]),
           payload=st.binary(max_size=80))
    def raw_frame(cluster, profile, endpoint, payload) -> None:
        bench.run(raw_zdo_and_zcl(bench, cluster, profile, endpoint, payload))
        sent["raw"] += 1

    ota_frame()
    raw_frame()

    async def flood() -> None:  # 200 queries at once from the same device
        before = len(bench.hub.frames)
        for _ in range(200):
            bench.fuzzer.ota.send_raw(0x01, struct.pack("<BHHIH", 1, 0x1234, PPMID, 1, 0x0100))
        await wait_for(lambda: sum(1 for f in bench.hub.frames[before:] if f.command == "QUERY_NEXT_IMAGE_RSP"
                                   and f.ieee == str(bench.fuzzer.ieee)) == 200, timeout=30, what="200 answers")
        sent["flood"] += 200

    bench.run(flood(), 60)

    async def victim_finishes() -> None:
        await wait_for(lambda: bench.victim.flash.installed_image == VICTIM_IMAGE, timeout=60,
                       what="the victim's transfer")

    bench.run(victim_finishes(), 90)
    victim = str(bench.victim.ieee)
    assert [(o.offer_id, o.result) for o in bench.stack.outcomes(victim)] == [(bench.victim_offer,
                                                                              TransferResult.SUCCESS)]
    assert sent["ota"] >= 100 and sent["raw"] >= 40
    assert bench.hub.app is not None  # still running
    hub_errors = [e for e in bench.errors if "rig/hub" in repr(e.get("exception")) + repr(e.get("message"))]
    assert hub_errors == [] and bench.emu.errors == []
