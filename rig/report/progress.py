"""Transfer progress per device: percent, bytes, bytes/s, ETA, retries and WAIT_FOR_DATA pauses.

`Progress` is the model the plan context feeds: `update(device, offset, size, now)`, `pause(device, seconds)`,
`retry(device)`, `done(device, ok)`. Times come from the caller (`now`, the rig clock), so virtual-time runs
show the rates the device would see, not the emulator's wall time. Two ways out:
- `log`: plain lines (pipes, CI logs): one per 10 % per device, plus the end of each transfer;
- `on_change`: a live display (rig.report.live) redraws from `devices` and `line_parts`.
`FrameFeed` turns the hub's OTA frame log (`hub.frames`) into that feed.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from rig.image.ota_cluster import Status

_RATE_WINDOW_S = 20.0  # bytes/s over the last 20 s of the rig clock: follows throttling without jitter


@dataclasses.dataclass
class DeviceProgress:
    device: str
    size: int = 0
    offset: int = 0
    started: float | None = None
    last: float = 0.0
    retries: int = 0
    pauses: int = 0
    paused_s: float = 0.0
    finished: bool | None = None  # None running, True ok, False failed
    logged_decile: int = -1
    samples: deque = dataclasses.field(default_factory=lambda: deque(maxlen=512))

    @property
    def percent(self) -> float:
        return 100.0 * self.offset / self.size if self.size else 0.0

    @property
    def rate(self) -> float:
        """Bytes per second over the recent window (0 until two samples)."""
        if len(self.samples) < 2:
            return 0.0
        (t0, o0), (t1, o1) = self.samples[0], self.samples[-1]
        return (o1 - o0) / (t1 - t0) if t1 > t0 and o1 >= o0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if self.finished is not None or rate <= 0 or not self.size:
            return None
        return max(0.0, (self.size - self.offset) / rate)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def rate_text(bps: float) -> str:
    return f"{bps / 1024:.1f} KiB/s" if bps >= 1024 else f"{bps:.0f} B/s"


class Progress:
    """Collects the feed; tells `log` (plain lines) and/or `on_change` (a live display) about it."""

    def __init__(self, log: Callable[[str], None] | None = None, *,
                 on_change: Callable[[bool], None] | None = None) -> None:
        self.log = log
        self.on_change = on_change or (lambda force: None)  # force: draw now (a new device, an end)
        self.devices: dict[str, DeviceProgress] = {}

    # -- the feed ------------------------------------------------------------------------------
    def update(self, device: str, offset: int, size: int, now: float) -> None:
        p, new = self._get(device)
        if size > 0:
            p.size = size
        if p.started is None or (p.finished is not None and offset < p.offset):
            p.started, p.finished, p.logged_decile = now, None, -1  # a (new) transfer starts
            p.samples.clear()
            new = True
        p.offset = max(0, min(offset, p.size or offset))
        p.last = now
        p.samples.append((now, p.offset))
        while len(p.samples) > 2 and now - p.samples[0][0] > _RATE_WINDOW_S:
            p.samples.popleft()
        decile = int(p.percent // 10)
        if decile > p.logged_decile and decile < 10:  # 100 %: the end of the transfer says it (done/FAILED)
            p.logged_decile = decile
            self._log(p)
        self.on_change(new)

    def pause(self, device: str, seconds: float) -> None:
        p, new = self._get(device)
        p.pauses += 1
        p.paused_s += max(0.0, seconds)
        self.on_change(new)

    def retry(self, device: str) -> None:
        p, new = self._get(device)
        p.retries += 1
        self.on_change(new)

    def done(self, device: str, ok: bool) -> None:
        p, _ = self._get(device)
        p.finished = ok
        if ok and p.size:
            p.offset = p.size
        self._log(p)
        self.on_change(True)

    # -- text ----------------------------------------------------------------------------------
    @staticmethod
    def line_parts(p: DeviceProgress) -> dict[str, str]:
        """The pieces of a device's line, for a plain line or a live display's columns."""
        extra = []
        if p.retries:
            extra.append(f"{p.retries} retries")
        if p.pauses:
            extra.append(f"{p.pauses} waits ({duration_text(p.paused_s)})")
        return {"percent": f"{p.percent:.0f}%",
                "bytes": f"{p.offset:,}/{p.size:,} B" if p.size else f"{p.offset:,} B",
                "rate": rate_text(p.rate), "eta": f"ETA {duration_text(p.eta)}",
                "state": {None: "", True: "done", False: "FAILED"}[p.finished],
                "extra": ", ".join(extra)}

    def line(self, p: DeviceProgress) -> str:
        parts = self.line_parts(p)
        text = f"{p.device}: {parts['percent']} ({parts['bytes']}), {parts['rate']}, {parts['eta']}"
        text += f" {parts['state']}" if parts["state"] else ""
        return text + (f"  [{parts['extra']}]" if parts["extra"] else "")

    def _log(self, p: DeviceProgress) -> None:
        if self.log is not None:
            self.log(self.line(p))

    def _get(self, device: str) -> tuple[DeviceProgress, bool]:
        if device not in self.devices:
            self.devices[device] = DeviceProgress(device)
            return self.devices[device], True
        return self.devices[device], False


_SIZE = re.compile(r"\bsize=(\d+)")
_OFFSET = re.compile(r"\boffset=(\d+)")


class FrameFeed:
    """Feeds `Progress` from the hub's OTA frame log (rig.hub.ota_server.FrameRecord list).

    Reads only frames added since the last `poll`. Image size comes from the Query Next Image Response
    detail ("size=N"); a served block (IMAGE_BLOCK_RSP SUCCESS, "offset=O size=S") moves the device to O+S;
    a request for an offset already served is a retry; WAIT_FOR_DATA (0x97) is a pause; a SUCCESS Upgrade
    End Request finishes the transfer, a failing one or an ABORT (0x95) response fails it.
    """

    WAIT_FOR_DATA = Status.WAIT_FOR_DATA
    ABORT = Status.ABORT

    def __init__(self, progress: Progress, names: dict[str, str] | None = None,
                 wait_seconds: Callable[[Any], float] | None = None) -> None:
        self.progress = progress
        self.names = {k.lower(): v for k, v in (names or {}).items()}  # ieee -> plan device name
        self.wait_seconds = wait_seconds or (lambda frame: 0.0)
        self._seen = 0
        self._sizes: dict[str, int] = {}
        self._served: dict[str, int] = {}

    def poll(self, frames: Sequence[Any]) -> None:
        if self._seen > len(frames):  # the hub trimmed its log; start over from what is there
            self._seen = 0
        for frame in frames[self._seen:]:
            self._one(frame)
        self._seen = len(frames)

    def _one(self, f: Any) -> None:
        name = self.names.get(str(f.ieee).lower(), str(f.ieee))
        if f.direction == "tx" and f.command == "QUERY_NEXT_IMAGE_RSP" and f.status == 0:
            m = _SIZE.search(f.detail or "")
            if m:
                self._sizes[name] = int(m.group(1))
                self._served[name] = 0
                self.progress.update(name, 0, self._sizes[name], f.time)
        elif f.direction == "rx" and f.command == "IMAGE_BLOCK":
            m = _OFFSET.search(f.detail or "")
            if m and name in self._served and int(m.group(1)) < self._served[name]:
                self.progress.retry(name)
        elif f.direction == "tx" and f.command == "IMAGE_BLOCK_RSP":
            if f.status == self.WAIT_FOR_DATA:
                self.progress.pause(name, self.wait_seconds(f))
            elif f.status == self.ABORT:
                self.progress.done(name, False)
            elif f.status == 0:
                off, size = _OFFSET.search(f.detail or ""), _SIZE.search(f.detail or "")
                if off and size:
                    end = int(off.group(1)) + int(size.group(1))
                    self._served[name] = max(self._served.get(name, 0), end)
                    self.progress.update(name, end, self._sizes.get(name, 0), f.time)
        elif f.direction == "rx" and f.command == "UPGRADE_END":
            self.progress.done(name, f.status == 0)
