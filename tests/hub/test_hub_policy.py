"""Hub integration: rate limiting, page requests and malformed frames through the emulated radio."""

from __future__ import annotations

from rig.hub import BlockPeriod
from rig.hub.events import ActivationPlan, TransferOutcome, TransferResult
from rig.hub.zcl import Status
from tests.hub.conftest import events_of, wait_for
from tests.hub.images import PPMID, image
from tests.hub.test_hub_transfers import frames, transfer_result

PUSHED_PERIOD = {"ppmid": BlockPeriod(50, "ms")}


async def test_wait_for_data_honoured(make_rig) -> None:
    rig = await make_rig(min_block_period=PUSHED_PERIOD)
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    offer = rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 400)), plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), timeout=60, what="transfer outcome")
    assert transfer_result(rig.hub, ieee) == [(offer, TransferResult.SUCCESS)]
    assert frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.WAIT_FOR_DATA)
    conf = rig.hub.conformance(ieee)
    assert conf.waits_issued == 1 and conf.early_requests == 0
    assert conf.waited_as_told is True and conf.wait_records[0].same_offset
    assert conf.wait_records[0].waited_s >= 1.0
    assert conf.respects_block_period is True and conf.gaps_checked > 0


async def test_wait_for_data_ignored_is_recorded(make_rig) -> None:
    rig = await make_rig(min_block_period=PUSHED_PERIOD)
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    dev.faults.ignore_wait_for_data = True
    rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 400)), plan=ActivationPlan.NOW)
    await wait_for(lambda: rig.hub.conformance(ieee).early_requests >= 2, what="early re-requests")
    conf = rig.hub.conformance(ieee)
    assert conf.waited_as_told is False
    assert all(not r.honoured for r in conf.wait_records)
    # every early re-request was told to wait again, never served
    assert not frames(rig.hub, ieee, "IMAGE_BLOCK_RSP", Status.SUCCESS)


async def test_concurrent_download_limit(make_rig) -> None:
    rig = await make_rig(max_concurrent_downloads=1)
    first, second = await rig.device("ppmid"), await rig.device("ppmid")
    img = rig.hub.store_image(image(PPMID, 2, 2000))
    rig.hub.offer(str(first.ieee), img, plan=ActivationPlan.NOW)
    await wait_for(lambda: frames(rig.hub, str(first.ieee), "IMAGE_BLOCK_RSP", Status.SUCCESS), what="first serves")
    rig.hub.offer(str(second.ieee), img, plan=ActivationPlan.NOW)
    await wait_for(lambda: len(rig.hub.outcomes()) == 2, timeout=60, what="both transfers")
    assert frames(rig.hub, str(second.ieee), "IMAGE_BLOCK_RSP", Status.WAIT_FOR_DATA)
    assert {o[3] for o in rig.hub.outcomes()} == {TransferResult.SUCCESS}


async def test_notify_within_slots_keeps_offers_in_line_without_wait_for_data(make_rig) -> None:
    """notify_within_slots: one slot, three offers; the second and third are notified in turn as the
    download before them ends, and nobody is sent WAIT_FOR_DATA."""
    rig = await make_rig(max_concurrent_downloads=1, notify_within_slots=True)
    devs = [await rig.device("ppmid") for _ in range(3)]
    img = rig.hub.store_image(image(PPMID, 2, 2000))
    for dev in devs:
        rig.hub.offer(str(dev.ieee), img, plan=ActivationPlan.NOW)
    assert rig.hub.pacer.waiting == [str(d.ieee) for d in devs[1:]]
    await wait_for(lambda: len(rig.hub.outcomes()) == 3, timeout=60, what="three transfers")
    assert {o[3] for o in rig.hub.outcomes()} == {TransferResult.SUCCESS}
    assert not [f for f in rig.hub.frames if f.command == "IMAGE_BLOCK_RSP" and f.status == Status.WAIT_FOR_DATA]
    notified = [f.ieee for f in rig.hub.frames if f.command == "IMAGE_NOTIFY" and f.direction == "tx"]
    assert notified[-3:] == [str(d.ieee) for d in devs]  # in offer order, one per freed slot
    assert rig.hub.pacer.held == 2


async def test_page_requests_off_falls_back_to_blocks(make_rig) -> None:
    rig = await make_rig(image_pages=False)
    dev = await rig.device("ppmid", profile="ppmid-paged")
    ieee = str(dev.ieee)
    rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 500)), plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), timeout=60, what="transfer outcome")
    assert frames(rig.hub, ieee, "DEFAULT_RESPONSE", Status.UNSUP_CLUSTER_COMMAND)
    assert transfer_result(rig.hub, ieee)[0][1] == TransferResult.SUCCESS
    assert not [f for f in frames(rig.hub, ieee, "IMAGE_BLOCK_RSP") if f.detail.startswith("page")]


async def test_page_requests_on_serves_pages(make_rig) -> None:
    rig = await make_rig(image_pages=True)
    dev = await rig.device("ppmid", profile="ppmid-paged")
    ieee = str(dev.ieee)
    rig.hub.offer(ieee, rig.hub.store_image(image(PPMID, 2, 500)), plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, ieee), timeout=60, what="transfer outcome")
    assert transfer_result(rig.hub, ieee)[0][1] == TransferResult.SUCCESS
    assert frames(rig.hub, ieee, "IMAGE_PAGE", direction="rx")
    assert [f for f in frames(rig.hub, ieee, "IMAGE_BLOCK_RSP") if f.detail.startswith("page")]
    assert not frames(rig.hub, ieee, "DEFAULT_RESPONSE", Status.UNSUP_CLUSTER_COMMAND)


async def test_malformed_frames_answered_and_hub_keeps_serving(make_rig) -> None:
    rig = await make_rig()
    bad, good = await rig.device("ppmid"), await rig.device("ppmid")
    rig.hub.store_image(image(PPMID, 2, 400))
    for kind in ("qni_truncated", "ibr_truncated", "bad_payload", "upgrade_end_truncated"):
        bad.faults.send_malformed(kind)
    bad.faults.send_malformed("unknown_command")
    await wait_for(lambda: len(frames(rig.hub, str(bad.ieee), "DEFAULT_RESPONSE")) >= 5, what="5 default responses")
    statuses = [f.status for f in frames(rig.hub, str(bad.ieee), "DEFAULT_RESPONSE")]
    assert statuses.count(Status.MALFORMED_COMMAND) == 4 and Status.UNSUP_CLUSTER_COMMAND in statuses
    offer = rig.hub.offer(str(good.ieee), rig.hub.store.live_images()[0].id, plan=ActivationPlan.NOW)
    await wait_for(lambda: events_of(rig.hub, TransferOutcome, str(good.ieee)), timeout=60, what="good device")
    assert transfer_result(rig.hub, str(good.ieee)) == [(offer, TransferResult.SUCCESS)]
