"""The rate limiter on its own: concurrency slots, the wait queue and how long it tells devices to wait."""

from __future__ import annotations

from rig.hub.config import HubConfig
from rig.hub.ratelimit import MAX_QUEUE_WAIT_S, RateLimiter


def limiter(slots: int = 2, delay: int = 1) -> RateLimiter:
    return RateLimiter(HubConfig(max_concurrent_downloads=slots, wait_for_data_delay_s=delay))


def ask(rl: RateLimiter, ieee: str, now: float, offset: int = 0):
    return rl.on_request(ieee, "ppmid", offset, None, now)


def test_slots_then_the_configured_delay_before_any_download_finished() -> None:
    rl = limiter(slots=2)
    assert ask(rl, "a", 0.0) is None and ask(rl, "b", 0.0) is None
    wait = ask(rl, "c", 0.0)
    assert wait is not None and wait.request_time_s == 1 and "already running" in wait.reason


def test_queued_devices_are_told_to_come_back_in_turn() -> None:
    rl = limiter(slots=2)
    ask(rl, "a", 0.0)
    ask(rl, "b", 5.0)
    rl.finish("a", 10.0)  # one download took 10 s
    assert rl.typical_download_s == 10.0
    ask(rl, "a2", 10.0)  # takes the free slot; b should end at 15, a2 at 20
    waits = [ask(rl, q, 10.0).request_time_s for q in ("c", "d", "e", "f", "g")]
    # first in line gets b's slot, the next a2's, then a round (one download) later each
    assert waits == [5, 10, 15, 20, 25]


def test_a_device_keeps_its_place_and_is_admitted_when_a_slot_frees() -> None:
    rl = limiter(slots=1)
    ask(rl, "a", 0.0)
    rl.finish("a", 4.0)
    ask(rl, "b", 4.0)
    assert ask(rl, "c", 4.0).request_time_s == 4
    assert ask(rl, "d", 4.0).request_time_s == 8
    rl.finish("b", 8.0)
    assert ask(rl, "c", 8.0) is None  # its turn: admitted, leaves the queue
    assert ask(rl, "e", 9.0).request_time_s == 7  # behind d: c should end at 12, then d's download
    assert ask(rl, "d", 12.0).request_time_s == 1  # first in line, c due to end now


def test_an_overdue_download_means_come_back_soon() -> None:
    rl = limiter(slots=1)
    ask(rl, "a", 0.0)
    rl.finish("a", 4.0)
    ask(rl, "b", 4.0)
    assert ask(rl, "c", 30.0).request_time_s == 1  # b should have ended at 8: its slot may free any moment


def test_devices_that_never_came_back_do_not_hold_places() -> None:
    rl = limiter(slots=1)
    ask(rl, "a", 0.0)
    rl.finish("a", 100.0)
    ask(rl, "b", 100.0)
    assert ask(rl, "gone", 100.0).request_time_s == 100  # due back at 200; it never comes
    later = 200.0 + rl.config.download_idle_s + 1
    ask(rl, "b", later - 1)  # b is still downloading (overdue)
    # with 'gone' still in line, 'new' would be second: told 300 - later; it holds no place, so 1 s
    assert ask(rl, "new", later).request_time_s == 1


def test_waits_are_capped_and_never_below_the_configured_delay() -> None:
    rl = limiter(slots=1, delay=5)
    ask(rl, "a", 0.0)
    rl.finish("a", 0.2)  # tiny downloads: the configured 5 s still holds
    ask(rl, "b", 1.0)
    assert ask(rl, "c", 1.0).request_time_s == 5
    rl.typical_download_s = 10_000.0
    assert ask(rl, "d", 1.0).request_time_s == MAX_QUEUE_WAIT_S


def test_aborted_downloads_do_not_teach_the_typical_duration() -> None:
    rl = limiter(slots=1)
    ask(rl, "a", 0.0)
    rl.finish("a")  # aborted: no time given
    assert rl.typical_download_s is None
