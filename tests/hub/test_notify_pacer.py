"""NotifyPacer on its own: slots, reservations, the queue and the re-check timer (rig clock, no radio)."""

from __future__ import annotations

from rig.clock import VirtualClock
from rig.hub.config import HubConfig
from rig.hub.notify_pacer import RESERVATION_S, NotifyPacer
from rig.hub.ratelimit import RateLimiter


def _pacer(slots: int = 2):
    clock = VirtualClock(start=1000.0)
    config = HubConfig(max_concurrent_downloads=slots)
    limiter = RateLimiter(config)
    sent: list[str] = []
    pacer = NotifyPacer(config, clock, limiter, lambda ieee: sent.append(ieee) or True)
    limiter.on_finish = pacer.slot_freed
    return pacer, limiter, clock, sent


async def test_notifies_up_to_the_slots_then_one_per_finished_download():
    pacer, limiter, clock, sent = _pacer(slots=2)
    for ieee in "abcd":
        pacer.offer(ieee)
    assert sent == ["a", "b"] and pacer.waiting == ["c", "d"] and pacer.is_waiting("c")
    limiter.on_request("a", "ppmid", 0, None, clock.now())  # a starts: its reservation becomes a slot
    limiter.finish("a", clock.now())
    assert sent == ["a", "b", "c"] and pacer.waiting == ["d"]
    assert pacer.held == 2


async def test_a_notified_device_that_never_comes_gives_its_slot_back():
    pacer, _, clock, sent = _pacer(slots=1)
    pacer.offer("a")
    pacer.offer("b")
    assert sent == ["a"]
    await clock.advance(RESERVATION_S + 10)  # the re-check timer runs on the rig clock
    assert sent == ["a", "b"] and pacer.waiting == []


async def test_an_offer_with_nothing_to_notify_does_not_hold_a_slot():
    clock = VirtualClock(start=0.0)
    config = HubConfig(max_concurrent_downloads=1)
    limiter = RateLimiter(config)
    sent: list[str] = []
    pacer = NotifyPacer(config, clock, limiter, lambda ieee: ieee != "gone" and (sent.append(ieee) or True))
    limiter.on_finish = pacer.slot_freed
    pacer.offer("gone")  # withdrawn meanwhile: the hub's notify callback declines
    pacer.offer("b")
    assert sent == ["b"]
    pacer.stop()
