"""A device's bounded event log: absolute indices survive dropping the oldest events."""

from __future__ import annotations

import pickle

import pytest

from rig.emu.event_log import EventLog

try:
    from test_device_fakes import build_image, make_device, settle
except ImportError:  # tests/emu became a package
    from .test_device_fakes import build_image, make_device, settle


def test_keeps_the_newest_and_counts_every_event() -> None:
    log: EventLog[int] = EventLog(keep=8)
    for i in range(100):
        log.append(i)
    kept = list(log)
    assert 8 <= len(kept) <= 10 and kept == list(range(100 - len(kept), 100))
    assert len(log) == 100 and log.dropped == 100 - len(kept)
    assert log[99] == 99 and log[-1] == 99 and log[-3] == 97
    assert log[95:] == [95, 96, 97, 98, 99] and log[-2:] == [98, 99]
    assert log[0:] == kept  # a `since` older than the log's far end gives what is kept
    assert log[100:] == []
    with pytest.raises(IndexError, match="event 3 was dropped: the log keeps the newest 8"):
        log[3]
    with pytest.raises(IndexError, match="out of range: 100 events recorded"):
        log[100]


def test_unbounded_use_reads_like_a_list() -> None:
    log: EventLog[str] = EventLog()
    assert not log and len(log) == 0 and log[0:] == []
    log.append("a")
    log.append("b")
    assert log and list(log) == ["a", "b"] and log[0] == "a" and log[1:] == ["b"]
    assert pickle.loads(pickle.dumps(log))[0:] == ["a", "b"]  # crosses to the host by value (rig.emu.remote)


def test_keep_must_be_positive() -> None:
    with pytest.raises(ValueError, match="keep must be at least 1, got 0"):
        EventLog(keep=0)


async def test_a_transfer_stays_bounded_and_waits_still_find_new_events() -> None:
    image = build_image(0x00000002, 4000)  # 100 blocks of 40 B: about 200 block events
    dev, server, clock = make_device("ppmid", image)
    dev.ota.records = EventLog(keep=16)
    dev.power_on()
    started = await dev.ota.wait_for_event("download_started", timeout=120)
    since = len(dev.ota.records)
    done = await dev.ota.wait_for_event("activated", timeout=120, since=since)
    await settle()
    log = dev.ota.records
    assert len(list(log)) <= 20 and log.dropped > 150  # bounded, and most of the transfer was dropped
    assert done.time >= started.time
    assert dev.flash.current_file_version == 2
    # a wait whose `since` was dropped meanwhile still finds what is kept
    assert (await dev.ota.wait_for_event("activated", timeout=5, since=since)) is done
    dev.power_off()
