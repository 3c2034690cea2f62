"""The injectable clock: timers inside an advanced window fire in order, at their own virtual time."""

import asyncio

import pytest

from rig.clock import DAY, HOUR, RealClock, VirtualClock, zigbee_utc


async def test_advance_fires_timers_in_deadline_order_seeing_their_own_time():
    clock = VirtualClock(start=1_000_000.0)
    seen = []
    clock.call_later(2 * HOUR, lambda: seen.append(("b", round(clock.now()))))
    clock.call_later(1 * HOUR, lambda: seen.append(("a", round(clock.now()))))
    await clock.advance(3 * HOUR)
    assert seen == [("a", 1_000_000 + 3600), ("b", 1_000_000 + 7200)]
    assert clock.now() == pytest.approx(1_000_000 + 3 * HOUR, abs=1.0)


async def test_sleepers_rescheduling_inside_the_window_are_honoured():
    """An hourly re-ask loop crosses four days as 96 wake-ups, each at its own hour."""
    clock = VirtualClock(start=0.0)
    wakes = []

    async def hourly():
        while True:
            await clock.sleep(HOUR)
            wakes.append(clock.now())

    task = asyncio.create_task(hourly())
    await asyncio.sleep(0)
    await clock.advance(4 * DAY)
    task.cancel()
    assert len(wakes) == 96
    assert wakes[0] == pytest.approx(HOUR, abs=1.0)
    assert wakes[-1] == pytest.approx(4 * DAY, abs=1.0)


async def test_cancelled_timer_never_fires():
    clock = VirtualClock(start=0.0)
    fired = []
    handle = clock.call_later(10, fired.append, 1)
    handle.cancel()
    await clock.advance(20)
    assert fired == []


async def test_wait_for_times_out_on_rig_time_not_wall_time():
    clock = VirtualClock(start=0.0)
    never = asyncio.get_running_loop().create_future()
    waiter = asyncio.create_task(clock.wait_for(never, timeout=DAY))
    await asyncio.sleep(0)
    assert not waiter.done()
    await clock.advance(DAY + 1)
    with pytest.raises(asyncio.TimeoutError):
        await waiter


async def test_short_timers_also_fire_as_real_time_passes():
    clock = VirtualClock(start=0.0, rate=100.0)  # 100x: 5 rig-seconds in 50 ms
    await asyncio.wait_for(clock.sleep(5.0), timeout=5.0)
    assert clock.now() >= 5.0


async def test_real_clock_wait_for():
    clock = RealClock()
    assert await clock.wait_for(asyncio.sleep(0, result=7), timeout=1) == 7


def test_negative_advance_is_refused():
    with pytest.raises(ValueError):
        asyncio.run(VirtualClock().advance(-1))


def test_zigbee_utc_epoch_is_2000():
    assert zigbee_utc(946684800) == 0
    assert zigbee_utc(946684800 + 3600) == 3600


async def test_a_failing_timer_does_not_stop_the_others():
    clock = VirtualClock(start=0.0)
    fired = []
    errors = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx["exception"]))

    def boom():
        raise TypeError("broken callback")

    clock.call_later(1, boom)
    clock.call_later(2, fired.append, "after")
    await clock.advance(3)
    assert fired == ["after"]
    assert len(errors) == 1 and isinstance(errors[0], TypeError)


async def test_cancelled_wait_for_cancels_what_it_waited_on() -> None:
    """A device task stopped mid-wait must not leave its inner Queue.get() behind (seen as 'Task was
    destroyed but it is pending' when the loop closed under the benches)."""
    clock = VirtualClock()
    queue: asyncio.Queue = asyncio.Queue()
    inner: list[asyncio.Task] = []
    real_get = queue.get

    def tracked_get():
        task = asyncio.ensure_future(real_get())
        inner.append(task)
        return task

    waiter = asyncio.ensure_future(clock.wait_for(tracked_get(), 60))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    assert inner and inner[0].cancelled()


async def test_cancelled_timers_do_not_pile_up_in_the_heap():
    """A response timeout armed and cancelled per frame must not grow the heap for the whole run."""
    clock = VirtualClock(start=0)
    fired = []
    keep = clock.call_later(3600, fired.append, "kept")
    for i in range(5000):
        clock.call_later(30, fired.append, i).cancel()
    assert len(clock._timers) < 600
    await clock.advance(3600)
    assert fired == ["kept"]
    keep.cancel()
