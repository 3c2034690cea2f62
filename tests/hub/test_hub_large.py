"""A 750 kB PPMID image through the hub to an emulated PPMID, bytes identical (time printed, not asserted).

Runs unpaced (LinkModel latency 0, no UART/air charges): the time is what the host needs for 18,748
block exchanges through bellows, the emulated stick and the hub. bench/ota_throughput.py measures the
same path with a CPU split; `--paced` shows what a real 115200-baud stick would take.

The transfer takes about a minute, so it runs once per module (`transfer_750kb`) and every test here
reads its result; `xdist_group` keeps the tests on one pytest-xdist worker (`--dist loadgroup`), so the
transfer is not repeated on another. Marked `slow`: `pytest -m "not slow"` leaves it out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

import pytest
import pytest_asyncio

from rig.bench.session import EmulatedRadio, Session
from rig.hub import HubConfig
from rig.hub.events import ActivationPlan, TransferOutcome, TransferResult
from tests.hub.conftest import BENCH, events_of, wait_for
from tests.hub.images import PPMID, image

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hub-750kB"), pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.timeout(900)]


@dataclasses.dataclass(frozen=True)
class Transfer:
    data: bytes
    offer: int
    outcomes: list[tuple[int, TransferResult]]
    installed_sha256: bytes
    installed_version: int
    seconds: float


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def transfer_750kb(tmp_path_factory) -> Transfer:
    workdir = tmp_path_factory.mktemp("hub750")
    config = HubConfig.load(BENCH).with_options(db_path=str(workdir / "hub.sqlite3"))
    session = Session(EmulatedRadio(ezsp_version=13), config, workdir)
    await session.start()
    try:
        hub = session.hub
        dev = session.add_device("ppmid", "ppmid").emulated
        ieee = str(dev.ieee)
        await session.pair("ppmid", within=60)
        data = image(PPMID, 2, 750_000 - 200)
        offer = hub.offer(ieee, hub.store_image(data), plan=ActivationPlan.NOW)
        started = time.monotonic()
        await wait_for(lambda: events_of(hub, TransferOutcome, ieee), timeout=850, what="750 kB transfer")
        seconds = time.monotonic() - started
        outcomes = [(o.offer_id, o.result) for o in events_of(hub, TransferOutcome, ieee)]
        await wait_for(lambda: dev.flash.installed_image is not None, timeout=30, what="device activates the image")
        installed = hashlib.sha256(bytes(dev.flash.installed_image)).digest()
        return Transfer(data, offer, outcomes, installed, dev.flash.current_file_version, seconds)
    finally:
        await session.stop()


async def test_750kb_transfer_succeeds(transfer_750kb: Transfer) -> None:
    t = transfer_750kb
    assert 749_000 < len(t.data) <= 750_000
    blocks = -(-len(t.data) // 40)
    print(f"\n750 kB transfer: {len(t.data)} bytes, {blocks} blocks of 40 B in {t.seconds:.1f} s "
          f"({len(t.data) / t.seconds / 1000:.1f} kB/s, {t.seconds / blocks * 1000:.2f} ms per block)")
    assert t.outcomes == [(t.offer, TransferResult.SUCCESS)]


async def test_750kb_image_is_byte_identical_on_the_device(transfer_750kb: Transfer) -> None:
    assert transfer_750kb.installed_sha256 == hashlib.sha256(transfer_750kb.data).digest()
    assert transfer_750kb.installed_version == 2
