"""The rig's one notion of time.

Every rig-level timer (retention, long retry, in-progress timeout, the 15-minute version check, device
query intervals, hourly re-asks) reads a Clock, so a plan can jump hours or days in milliseconds of wall
time. Protocol timers inside bellows (ASH, EZSP) stay on the real event loop: they are the stick's.

* RealClock   - wall time; what a bench with real devices uses.
* VirtualClock - runs at `rate` x real time from a chosen start, plus whatever `advance()` adds. Timers
  due inside an advanced window fire in deadline order, each seeing `now()` equal to its own deadline.

This module is a leaf: it imports nothing from the rig, so every package (the emulator included) may
use it without coupling to any other.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What every timer in the rig is written against."""

    def now(self) -> float:
        """POSIX seconds (UTC)."""

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle: ...

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        """Like asyncio.wait_for, with the timeout in this clock's seconds."""


class RealClock:
    """Wall time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback, *args)

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        return await asyncio.wait_for(aw, timeout)


_COMPACT_AT = 256  # cancelled timers tolerated before a compaction is considered


def _cancelled_callback(*_args: Any) -> None:
    """What a cancelled timer holds instead of its callback."""


class _VirtualTimer:
    __slots__ = ("deadline", "seq", "callback", "args", "cancelled", "clock")

    def __init__(self, deadline: float, seq: int, callback: Callable[..., Any], args: tuple,
                 clock: VirtualClock) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.args = args
        self.cancelled = False
        self.clock: VirtualClock | None = clock  # dropped once the timer leaves the heap

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            # A cancelled timer may sit in the heap until it reaches the top or a compaction: it must not
            # keep its callback's owner alive meanwhile (a stopped hub, its zigpy app and databases).
            self.callback, self.args = _cancelled_callback, ()
            if self.clock is not None:
                self.clock._cancelled += 1

    def __lt__(self, other: _VirtualTimer) -> bool:
        if self.deadline != other.deadline:
            return self.deadline < other.deadline
        return self.seq < other.seq


class VirtualClock:
    """Virtual time: flows at `rate` x real time and jumps forward with `advance()`.

    Letting virtual time flow (rather than freezing it) keeps short protocol-level waits such as a
    1-second WAIT_FOR_DATA natural, while long rig timers are crossed with `advance()`.
    """

    def __init__(self, start: float | None = None, rate: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"VirtualClock rate must be > 0, got {rate!r}")
        self._start = time.time() if start is None else float(start)
        self._rate = rate
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._timers: list[_VirtualTimer] = []
        self._seq = itertools.count()
        self._pump: asyncio.TimerHandle | None = None
        self._pump_for = 0.0  # the rig-time deadline the armed pump is for
        self._cancelled = 0  # cancelled timers still in the heap (a response timeout per frame adds up)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._advancing = False
        self._frozen: float | None = None  # while advancing, time stands at the cursor

    # -- reading -------------------------------------------------------------------------------
    def now(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return self._flowing_now()

    def _flowing_now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self._rate + self._offset

    @property
    def rate(self) -> float:
        return self._rate

    # -- timers --------------------------------------------------------------------------------
    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self.now() + max(0.0, delay), callback, *args)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _VirtualTimer(when, next(self._seq), callback, args, self)
        if self._cancelled > _COMPACT_AT and 2 * self._cancelled > len(self._timers):
            self._compact()
        heapq.heappush(self._timers, timer)
        self._loop = asyncio.get_running_loop()
        # Re-arm only for a new earliest deadline: cancelling and re-creating the loop timer on every
        # call left the loop's heap full of cancelled handles (the emulator schedules a few per frame).
        if not self._advancing and (self._pump is None or when < self._pump_for):
            self._arm()
        return timer

    async def sleep(self, seconds: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        handle = self.call_later(seconds, wake, fut)
        try:
            await fut
        finally:
            handle.cancel()

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        if timeout is None:
            return await aw
        task = asyncio.ensure_future(aw)
        timed_out = asyncio.get_running_loop().create_future()
        handle = self.call_later(timeout, wake, timed_out)
        try:
            done, _ = await asyncio.wait({task, timed_out}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            handle.cancel()
            if not task.done():  # timed out, or we were cancelled: never leave the inner wait behind
                task.cancel()
        if task in done:
            return task.result()
        raise asyncio.TimeoutError(f"no result within {timeout} s of rig time")

    def next_deadline(self) -> float | None:
        """When the earliest pending timer is due (None: nothing scheduled)."""
        self._drop_cancelled()
        return self._timers[0].deadline if self._timers else None

    # -- jumping -------------------------------------------------------------------------------
    async def advance(self, seconds: float, settle: Callable[[], Awaitable[None]] | None = None) -> None:
        """Jump `seconds` ahead, firing every timer due on the way in deadline order.

        After each fired batch, `settle()` (default: a few event-loop turns) lets woken tasks run and
        schedule their next timers, which are honoured if they fall inside the window too.
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        settle = settle or _default_settle
        target = self.now() + seconds
        # Time stands still at the cursor while we walk the window, so a timer re-armed from a
        # callback lands exactly where it asked to, not a few real microseconds later.
        self._frozen = self.now()
        self._advancing = True
        try:
            while True:
                self._drop_cancelled()
                if not self._timers or self._timers[0].deadline > target:
                    break
                self._frozen = max(self._frozen, self._timers[0].deadline)
                self._fire_due()
                await settle()
            self._frozen = max(self._frozen, target)
        finally:
            self._offset += self._frozen - self._flowing_now()
            self._frozen = None
            self._advancing = False
        self._fire_due()
        await settle()
        self._arm()

    # -- internals -----------------------------------------------------------------------------
    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            self._pop()

    def _pop(self) -> _VirtualTimer:
        timer = heapq.heappop(self._timers)
        timer.clock = None
        if timer.cancelled:
            self._cancelled -= 1
        return timer

    def _compact(self) -> None:
        """Drop every cancelled timer at once, as asyncio's own loop does past half its heap."""
        for timer in self._timers:
            if timer.cancelled:
                timer.clock = None
        self._timers = [t for t in self._timers if not t.cancelled]
        heapq.heapify(self._timers)
        self._cancelled = 0

    def _fire_due(self) -> None:
        now = self.now()
        while self._timers and self._timers[0].deadline <= now:
            timer = self._pop()
            if timer.cancelled:
                continue
            try:
                timer.callback(*timer.args)
            except Exception as exc:  # one failing timer must not stop every other timer in the rig
                loop = self._loop or asyncio.get_event_loop()
                loop.call_exception_handler({
                    "message": f"exception in rig clock timer {timer.callback!r}",
                    "exception": exc,
                })

    def _arm(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        self._drop_cancelled()
        if not self._timers or self._loop is None or self._loop.is_closed():
            return
        self._pump_for = self._timers[0].deadline
        delay = max(0.0, (self._pump_for - self.now()) / self._rate)
        self._pump = self._loop.call_later(delay, self._on_pump)

    def _on_pump(self) -> None:
        self._pump = None
        self._fire_due()
        self._arm()


def wake(fut: asyncio.Future) -> None:
    """Resolve a waiter future unless something else already did (a timer and an event can race)."""
    if not fut.done():
        fut.set_result(None)


async def _default_settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def zigbee_utc(posix_seconds: float) -> int:
    """ZCL UTCTime: seconds since 2000-01-01 00:00:00 UTC."""
    return max(0, int(posix_seconds) - 946684800)
