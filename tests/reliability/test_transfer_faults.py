"""Transfers survive device reboots at random offsets, 5 % frame loss on the air and ASH CRC corruption on
the serial line; every run ends with the device holding byte-for-byte the offered image and exactly one
transfer outcome."""

from __future__ import annotations

import random

import pytest

from rig.emu.network import LinkModel
from rig.hub.events import ActivationPlan, TransferResult
from rig.hub.zcl import Status
from tests.hub.images import PPMID, image
from tests.reliability.conftest import SEEDS, drive_until

SIZE = 1600  # 40 blocks of 40 bytes: enough room for a random interruption, cheap to repeat


def _installed(dev, data: bytes) -> bool:
    return dev.flash.installed_image == data and dev.flash.current_file_version == 2


@pytest.mark.parametrize("seed", SEEDS)
async def test_reboots_at_random_offsets_resume_to_an_identical_image(make_stack, seed) -> None:
    rng = random.Random(seed)
    stack = await make_stack(seed=seed)
    dev = await stack.device("ppmid")
    ieee = str(dev.ieee)
    data = image(PPMID, 2, SIZE, seed=seed)
    offsets = sorted(rng.sample(range(41, len(data) - 1), 2))
    dev.faults.reboot_at_offset = offsets[0]
    offer = stack.hub.offer(ieee, stack.hub.store_image(data), plan=ActivationPlan.NOW)

    def rebooted_once() -> bool:
        return len(dev.ota.events("fault_reboot")) == 1

    await drive_until(stack, rebooted_once, what="first reboot")
    dev.faults.reboot_at_offset = offsets[1]  # a second power cut later in the same download
    await drive_until(stack, lambda: _installed(dev, data), what="device running the image")
    assert [e.data["offset"] >= o for e, o in zip(dev.ota.events("fault_reboot"), offsets)] == [True, True]
    resumed = dev.ota.events("resume") + dev.ota.events("download_resumed")
    assert len(resumed) == 2  # picked up from FileOffset after each power cut, not restarted
    assert len(dev.ota.events("download_started")) == 1
    assert [(o.offer_id, o.result) for o in stack.outcomes(ieee)] == [(offer, TransferResult.SUCCESS)]


@pytest.mark.parametrize("seed", SEEDS)
async def test_five_percent_frame_loss_each_way(make_stack, seed) -> None:
    stack = await make_stack(seed=seed)
    dev = await stack.device("ppmid", ota={"response_timeout_s": 2.0, "max_block_errors": 20})
    stack.emu.network.set_link(dev, LinkModel(loss=0.05))  # after the join: the interview is not the subject
    ieee = str(dev.ieee)
    data = image(PPMID, 2, SIZE, seed=seed)
    offer = stack.hub.offer(ieee, stack.hub.store_image(data), plan=ActivationPlan.NOW)
    await drive_until(stack, lambda: _installed(dev, data), rig_s=6 * 3600, what="image installed under 5 % loss")
    assert [(o.offer_id, o.result) for o in stack.outcomes(ieee)] == [(offer, TransferResult.SUCCESS)]
    served = [f for f in stack.hub.frames if f.ieee == ieee and f.command == "IMAGE_BLOCK_RSP"
              and f.status == Status.SUCCESS]
    assert len(served) >= -(-len(data) // 40)
    assert stack.emu.network.frames_lost > 0  # the loss really happened


@pytest.mark.parametrize("seed", SEEDS)
async def test_ash_crc_corruption_on_the_serial_line(make_stack, seed) -> None:
    stack = await make_stack(seed=seed)
    dev = await stack.device("ppmid", ota={"response_timeout_s": 2.0, "max_block_errors": 20})
    ieee = str(dev.ieee)
    stack.emu.faults.corrupt_crc_probability = 0.05
    data = image(PPMID, 2, SIZE, seed=seed)
    offer = stack.hub.offer(ieee, stack.hub.store_image(data), plan=ActivationPlan.NOW)
    await drive_until(stack, lambda: _installed(dev, data), rig_s=6 * 3600, what="image installed under CRC errors")
    stack.emu.faults.corrupt_crc_probability = 0.0
    assert stack.emu.faults.corrupted_frames > 0  # the fault really fired
    assert [(o.offer_id, o.result) for o in stack.outcomes(ieee)] == [(offer, TransferResult.SUCCESS)]

