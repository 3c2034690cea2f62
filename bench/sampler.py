"""A low-overhead sampling profiler: where does the process spend its CPU, by owning package.

cProfile slows this asyncio-heavy stack by about 2x and so distorts the very throughput being
measured. Instead SIGPROF fires every `interval_s` of CPU time (setitimer ITIMER_PROF) and the handler
charges the interrupted stack to the emulator if any rig.emu frame is on it (zigpy types and stdlib
code it calls count as emulator work), else to the innermost frame with an owner (rig.hub/rig.plan/rig.backend,
bellows/zigpy/serialx); stdlib frames (asyncio, struct, enum...) are charged to whoever called them,
and a stack with no owner at all is the event loop itself. Idle = wall time - sampled CPU time.
(A sampling *thread* would be biased: it can only take the GIL where the loop releases it, i.e. in
select/read/write.) Main thread only; POSIX only.
"""

from __future__ import annotations

import os
import signal
import time
from types import FrameType
from typing import Any

OWNERS = ("rig", "bellows/zigpy", "emulator", "loop/stdlib", "idle")
_SEP = os.sep


def owner_of(filename: str) -> str | None:
    """Which bucket a source file belongs to (None: stdlib or unknown, charge the caller)."""
    if f"{_SEP}rig{_SEP}emu{_SEP}" in filename:
        return "emulator"
    if f"{_SEP}rig{_SEP}hub{_SEP}" in filename or f"{_SEP}rig{_SEP}plan{_SEP}" in filename \
            or f"{_SEP}rig{_SEP}backend{_SEP}" in filename:
        return "rig"
    if f"{_SEP}bellows{_SEP}" in filename or f"{_SEP}zigpy{_SEP}" in filename or f"{_SEP}serialx{_SEP}" in filename:
        return "bellows/zigpy"
    return None


def classify(frame: FrameType | None) -> str:
    """Emulator if any frame on the stack is rig.emu (zigpy types and stdlib code called by the NCP
    count as emulator work); else the innermost owner; else the loop itself."""
    if frame is None:
        return "idle"
    if frame.f_code.co_name in ("select", "poll") and "selectors" in frame.f_code.co_filename:
        return "idle"
    innermost: str | None = None
    f: FrameType | None = frame
    while f is not None:
        owner = owner_of(f.f_code.co_filename)
        if owner == "emulator":
            return owner
        if innermost is None:
            innermost = owner
        f = f.f_back
    return innermost or "loop/stdlib"


def _cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) clock ticks of all CPUs so far, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return ticks[7], sum(ticks)


class StealMeter:
    """`with StealMeter() as m: ...` then `m.percent`: the share of the machine's CPU time its hypervisor
    gave to other guests meanwhile (vmstat's "st"; None off Linux). On a shared VM a run with a high
    figure measured the neighbours as much as the rig, and a fleet (two busy processes) loses more of
    its second core to it than a lone device does."""

    def __init__(self) -> None:
        self.percent: float | None = None
        self._start: tuple[int, int] | None = None

    def __enter__(self) -> StealMeter:
        self._start = _cpu_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        end = _cpu_ticks()
        if self._start is not None and end is not None and end[1] > self._start[1]:
            self.percent = round(100.0 * (end[0] - self._start[0]) / (end[1] - self._start[1]), 1)


class Sampler:
    """`with Sampler() as s: ...` then `s.seconds()` -> {owner: seconds}; `s.steal.percent` as StealMeter's."""

    # 5 ms: a 20 s transfer still gets about 4,000 samples, and the handler (a Python stack walk each
    # time) costs the measured run a fifth of what 1 ms sampling did
    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self._counts = dict.fromkeys(OWNERS, 0)
        self._elapsed = 0.0
        self._cpu = 0.0
        self._previous: Any = None
        self.steal = StealMeter()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._counts[classify(frame)] += 1

    def __enter__(self) -> Sampler:
        self._previous = signal.signal(signal.SIGPROF, self._on_signal)
        self.steal.__enter__()
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, self._previous or signal.SIG_DFL)
        self._elapsed = time.perf_counter() - self._t0
        self._cpu = time.process_time() - self._c0
        self.steal.__exit__()

    def seconds(self) -> dict[str, float]:
        """Seconds per owner: CPU samples scaled to the process CPU time; idle is the rest of the wall time."""
        busy = {k: n for k, n in self._counts.items() if k != "idle"}
        total = sum(busy.values()) or 1
        out = {k: round(self._cpu * n / total, 3) for k, n in busy.items()}
        out["idle"] = round(max(0.0, self._elapsed - self._cpu), 3)
        return out
