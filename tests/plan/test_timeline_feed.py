"""The timeline feed on its own: what the hub logs and says becomes a readable timeline, not a copy of every
frame, and a replay after a CH restart is not a second event."""

from __future__ import annotations

from types import SimpleNamespace

from rig.bench.session import DeviceHandle
from rig.hub.config import HubConfig
from rig.hub.events import TransferOutcome, TransferResult
from rig.hub.ota_server import FrameRecord
from rig.image.ota_cluster import Status
from rig.plan.timeline_feed import Timeline, TimelineFeed
from rig.report.record import RunRecord

IEEE = "00:0d:6f:00:00:00:00:01"


class HandClock:
    """Rig time that moves only when the test moves it (the feed only reads now())."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


def _feed() -> tuple[TimelineFeed, HandClock, RunRecord]:
    clock = HandClock()
    record = RunRecord("p", "p", "p.yaml", {})
    # The feed reads only the session's devices and hub config here (no radio, no hub needed).
    session = SimpleNamespace(devices={"dev": DeviceHandle("dev", "ppmid", "ppmid", IEEE)}, hub_config=HubConfig())
    timeline = Timeline(clock, record)
    timeline.start()
    return TimelineFeed(session, timeline), clock, record  # type: ignore[arg-type]


def _block(clock: HandClock, offset: int, size: int, total: int) -> FrameRecord:
    return FrameRecord(clock.now(), IEEE, "tx", "IMAGE_BLOCK_RSP", 0, offset=offset, size=size, total=total)


def test_blocks_are_counted_each_but_drawn_about_once_per_two_percent() -> None:
    feed, clock, record = _feed()
    for n in range(200):  # 200 blocks of 50 bytes: a 10,000-byte image
        feed.on_frame(_block(clock, n * 50, 50, 10_000))
    marks = feed.transfer_marks["dev"]
    assert (marks["blocks"], marks["bytes"], marks["high"], marks["total"]) == (200, 10_000, 10_000, 10_000)
    points = [e for e in record.events if e["kind"] == "block"]
    assert len(points) == 50 and all(e["device"] == "dev" for e in points)


def test_a_wait_for_data_flood_is_one_mark_a_second() -> None:
    feed, clock, record = _feed()
    for _ in range(30):  # 30 in 3 s of rig time
        feed.on_frame(FrameRecord(clock.now(), IEEE, "tx", "IMAGE_BLOCK_RSP", Status.WAIT_FOR_DATA))
        clock.t += 0.1
    assert feed.transfer_marks["dev"]["waits"] == 30
    assert len([e for e in record.events if e["kind"] == "wait_for_data"]) == 3


def test_an_event_replayed_after_a_ch_restart_is_kept_once() -> None:
    feed, clock, record = _feed()
    outcome = TransferOutcome(IEEE, 1, "r1", TransferResult.SUCCESS, 2, clock.now())
    assert feed.on_hub_event(outcome) is True
    assert feed.on_hub_event(TransferOutcome(IEEE, 1, "r1", TransferResult.SUCCESS, 2, outcome.time)) is False
    assert feed.hub_events == [outcome]
    assert [(e["kind"], e["device"]) for e in record.events] == [("transfer_outcome", "dev")]
