"""Transfer progress: one plain line per 10 % per device, a redraw signal for the live display, and the feed
from the hub's OTA frame log. (The display itself, on a pty and in a pipe: test_live_progress.py.)"""

from __future__ import annotations

from rig.hub.ota_server import FrameRecord
from rig.report.progress import FrameFeed, Progress


def test_plain_lines_once_per_ten_percent_per_device() -> None:
    lines: list[str] = []
    progress = Progress(lines.append)
    size = 10_000
    for i in range(0, size, 50):  # 200 updates, 1 s apart: 50 B/s
        progress.update("ppmid", i, size, float(i // 50))
        progress.update("hcalcs", i // 2, size, float(i // 50))
    progress.retry("ppmid")
    progress.pause("ppmid", 30)
    progress.done("ppmid", True)
    ppmid = [line for line in lines if line.startswith("ppmid:")]
    hcalcs = [line for line in lines if line.startswith("hcalcs:")]
    assert [line.split("%")[0] for line in ppmid[:10]] == [f"ppmid: {p}" for p in range(0, 100, 10)]
    assert len(hcalcs) == 5  # 0..40 %: hcalcs only got half way
    assert "50 B/s" in ppmid[5] and "ETA 1m40s" in ppmid[5]  # 5,000 B left at 50 B/s
    assert ppmid[-1].startswith("ppmid: 100%") and "done" in ppmid[-1]
    assert "1 retries" in ppmid[-1] and "1 waits (30s)" in ppmid[-1]


def test_a_live_display_is_told_to_draw_at_once_for_a_new_device_and_an_end() -> None:
    forced: list[bool] = []
    progress = Progress(on_change=forced.append)
    progress.update("ppmid", 0, 1000, 0.0)
    progress.update("ppmid", 500, 1000, 10.0)
    progress.update("hcalcs", 100, 400, 10.0)
    progress.done("ppmid", False)
    assert forced == [True, False, True, True]
    parts = Progress.line_parts(progress.devices["ppmid"])
    assert (parts["percent"], parts["bytes"], parts["rate"], parts["state"]) == ("50%", "500/1,000 B", "50 B/s",
                                                                                 "FAILED")


def test_frame_feed_follows_the_hub_frame_log() -> None:
    ieee = "00:0d:6f:00:0a:bc:de:01"
    frames = [
        FrameRecord(0.0, ieee, "rx", "QUERY_NEXT_IMAGE", None, "v=0x00000001"),
        FrameRecord(0.1, ieee, "tx", "QUERY_NEXT_IMAGE_RSP", 0, "offer 1 v=0x00000002 size=400"),
    ]
    for i in range(5):
        frames += [FrameRecord(1.0 + i, ieee, "rx", "IMAGE_BLOCK", None, f"offset={i * 40}"),
                   FrameRecord(1.0 + i, ieee, "tx", "IMAGE_BLOCK_RSP", 0, f"offset={i * 40} size=40")]
    frames += [FrameRecord(6.0, ieee, "tx", "IMAGE_BLOCK_RSP", 0x97, "server busy"),
               FrameRecord(7.0, ieee, "rx", "IMAGE_BLOCK", None, "offset=160")]  # asked again: a retry
    lines: list[str] = []
    progress = Progress(lines.append)
    feed = FrameFeed(progress, {ieee.upper(): "ppmid"}, wait_seconds=lambda frame: 1.0)
    feed.poll(frames)
    p = progress.devices["ppmid"]
    assert (p.size, p.offset, p.retries, p.pauses, p.finished) == (400, 200, 1, 1, None)
    frames += [FrameRecord(8.0, ieee, "tx", "IMAGE_BLOCK_RSP", 0, f"offset={o} size=40") for o in range(200, 400, 40)]
    frames.append(FrameRecord(9.0, ieee, "rx", "UPGRADE_END", 0, ""))
    feed.poll(frames)  # only the new frames are read
    assert (p.offset, p.retries, p.pauses, p.finished) == (400, 1, 1, True)
    assert lines[-1].startswith("ppmid: 100%")
