"""A 750 kB PPMID image through the hub to an emulated PPMID, bytes identical (time printed, not asserted).

Runs unpaced (LinkModel latency 0, no UART/air charges): the time is what the host needs for 18,748
block exchanges through bellows, the emulated stick and the hub. bench/ota_throughput.py measures the
same path with a CPU split; `--paced` shows what a real 115200-baud stick would take.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from rig.hub.events import ActivationPlan, TransferOutcome, TransferResult
from tests.hub.conftest import events_of, wait_for
from tests.hub.images import PPMID, image


@pytest.mark.timeout(900)
async def test_750kb_image_to_ppmid(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    data = image(PPMID, 2, 750_000 - 200)
    assert 749_000 < len(data) <= 750_000
    offer = rig.hub.offer(ieee, rig.hub.store_image(data), plan=ActivationPlan.NOW)
    started = time.monotonic()
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), timeout=850, what="750 kB transfer")
    elapsed = time.monotonic() - started
    blocks = -(-len(data) // 40)
    print(f"\n750 kB transfer: {len(data)} bytes, {blocks} blocks of 40 B in {elapsed:.1f} s "
          f"({len(data) / elapsed / 1000:.1f} kB/s, {elapsed / blocks * 1000:.2f} ms per block)")
    assert [(o.offer_id, o.result) for o in events_of(rig.hub, TransferOutcome, ieee)] == [
        (offer, TransferResult.SUCCESS)]
    await wait_for(lambda: dev.flash.installed_image is not None, timeout=30, what="device activates the image")
    assert hashlib.sha256(bytes(dev.flash.installed_image)).digest() == hashlib.sha256(data).digest()
    assert dev.flash.current_file_version == 2
