"""The transfer timeline picture (inline SVG).

`timeline_svg(events)`: offset over time per device (percent of the image, so devices with different image
sizes share one chart), with WAIT_FOR_DATA pauses as shaded bands, reboots/aborts/faults/CH restarts as
labelled vertical lines, Upgrade End and activation as dots, and service requests/offers/alerts as ticks on a
rail above the plot. Thousands of blocks are down-sampled to a few points per pixel column. Long idle gaps
(e.g. the 15-minute activation check after a 30-second transfer) are cut out of the time axis and drawn as a
break, so the transfer stays readable.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from rig.report.svg import PALETTE, esc, event_time, num, time_text

LINE_KINDS = {  # kind -> (css class suffix, label, colour, dash)
    "reboot": ("reboot", "reboot", "#c0392b", "6 3"),
    "abort": ("abort", "abort", "#8e44ad", "2 2"),
    "fault": ("fault", "fault", "#d35400", "4 2"),
    "ch_restart": ("ch-restart", "CH restart", "#2c3e50", "8 3 2 3"),
}
ACTIVATION_REBOOT = ("activation-reboot", "reboot into new image", "#1e8449", "1 3")
RAIL_KINDS = {"sr": "SR", "offer": "offer", "alert": "alert", "query": "QNI", "transfer_outcome": "transfer",
              "activation_outcome": "activation"}
PROGRESS_KINDS = ("block", "page")
_LABEL_CHAR_PX = 11 * 0.7  # generous width of a bold 11 px glyph: labels near the right edge turn left
_BUCKETS = 360  # down-sampling: at most ~4 points per bucket per device


# -- time axis with breaks ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Segment:
    t0: float
    t1: float
    x0: float
    x1: float


class TimeAxis:
    """Piecewise-linear time → x. Idle gaps longer than `gap_fraction` of the span become fixed-width breaks."""

    BREAK_PX = 22.0

    def __init__(self, times: Iterable[float], x0: float, x1: float, *, gap_fraction: float = 0.15) -> None:
        ts = sorted(set(times)) or [0.0]
        lo, hi = min(0.0, ts[0]), ts[-1]
        if hi <= lo:
            hi = lo + 1.0
        span = hi - lo
        pieces: list[list[float]] = [[lo, lo]]
        for t in ts:
            if t - pieces[-1][1] > gap_fraction * span and t - pieces[-1][1] > 5.0:
                pieces.append([t, t])
            else:
                pieces[-1][1] = t
        pieces[-1][1] = max(pieces[-1][1], hi)
        # Each piece gets a floor of width (12 %, so a lone instant after a long gap is readable) and the
        # rest in proportion to its duration: a 2-second transfer before a 15-minute wait gets most of the
        # width, not the ~1 % its share of the time would give it.
        breaks = len(pieces) - 1
        usable = (x1 - x0) - breaks * self.BREAK_PX
        floor = min(0.12 * usable, usable / len(pieces)) if breaks else usable
        durations = [p[1] - p[0] for p in pieces]
        total = sum(durations)
        extra = usable - floor * len(pieces)
        self.segments: list[Segment] = []
        x = x0
        for (a, b), d in zip(pieces, durations):
            w = floor + (extra * d / total if total > 0 else extra / len(pieces))
            pad = 0.0 if d > 0 else 0.5  # a lone instant sits mid-piece
            self.segments.append(Segment(a - pad, b + pad, x, x + w))
            x += w + self.BREAK_PX
        self._starts = [s.t0 for s in self.segments]

    @property
    def breaks(self) -> list[tuple[float, float, float]]:
        """(x where the break starts, t before, t after) for each cut-out gap."""
        return [(a.x1, a.t1, b.t0) for a, b in zip(self.segments, self.segments[1:])]

    def x(self, t: float) -> float:
        i = max(0, bisect.bisect_right(self._starts, t) - 1)
        s = self.segments[i]
        if t > s.t1 and i + 1 < len(self.segments):  # inside a cut-out gap: put it in the break
            nxt = self.segments[i + 1]
            return s.x1 + (nxt.x0 - s.x1) * (t - s.t1) / max(nxt.t0 - s.t1, 1e-9)
        if s.t1 == s.t0:
            return s.x0
        return s.x0 + (s.x1 - s.x0) * (t - s.t0) / (s.t1 - s.t0)

    def ticks(self, per_px: float = 110.0) -> list[float]:
        out: list[float] = []
        for s in self.segments:
            n = max(1, int((s.x1 - s.x0) / per_px))
            step = _nice_step((s.t1 - s.t0) / n)
            first = math.ceil(s.t0 / step) * step
            t = first
            while t <= s.t1 + 1e-9:
                out.append(round(t, 6))
                t += step
        return out


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    for unit in (1, 60, 3600, 86400):
        if raw < unit * 60 or unit == 86400:
            base = raw / unit
            for nice in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60):
                if nice >= base:
                    return nice * unit
    return raw


# -- down-sampling -----------------------------------------------------------------------------
def downsample(points: Sequence[tuple[float, float]], t0: float, t1: float,
               buckets: int = _BUCKETS) -> list[tuple[float, float]]:
    """Keep first, lowest, highest and last point of each time bucket: drops (reboot restarts) survive."""
    if len(points) <= buckets * 2:
        return list(points)
    width = (t1 - t0) / buckets or 1.0
    out: list[tuple[float, float]] = []
    bucket: list[tuple[float, float]] = []
    current = None
    for p in points:
        b = int((p[0] - t0) / width)
        if b != current and bucket:
            out.extend(_keep(bucket))
            bucket = []
        current = b
        bucket.append(p)
    if bucket:
        out.extend(_keep(bucket))
    return out


def _keep(bucket: list[tuple[float, float]]) -> list[tuple[float, float]]:
    chosen = {0, len(bucket) - 1,
              min(range(len(bucket)), key=lambda i: bucket[i][1]),
              max(range(len(bucket)), key=lambda i: bucket[i][1])}
    return [bucket[i] for i in sorted(chosen)]


# -- the transfer timeline ---------------------------------------------------------------------
@dataclasses.dataclass
class Series:
    device: str
    colour: str
    size: int = 0
    points: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (t, offset)

    def percent(self, offset: float) -> float:
        return 100.0 * offset / self.size if self.size else 0.0

    @property
    def times(self) -> list[float]:
        cached = getattr(self, "_times", None)
        if cached is None or len(cached) != len(self.points):
            cached = [p[0] for p in self.points]
            object.__setattr__(self, "_times", cached)
        return cached


def device_series(events: Sequence[dict[str, Any]]) -> dict[str, Series]:
    series: dict[str, Series] = {}
    for e in events:
        if e.get("kind") not in PROGRESS_KINDS or event_time(e) is None or e.get("offset") is None:
            continue
        name = str(e.get("device") or "?")
        s = series.get(name)
        if s is None:
            s = series[name] = Series(name, PALETTE[len(series) % len(PALETTE)])
        if e.get("size"):
            s.size = max(s.size, int(e["size"]))
        s.points.append((event_time(e), float(e["offset"])))
    for s in series.values():
        s.points.sort(key=lambda p: p[0])
        if not s.size:
            s.size = int(max((o for _, o in s.points), default=0)) or 1
    return series


class Timeline:
    """Lays out and renders the timeline. `x(t)` is public so tests and callers can locate markers."""

    WIDTH = 960
    LEFT, RIGHT = 56, 20
    RAIL_TOP, RAIL_H = 8, 44
    PLOT_TOP = 96
    PLOT_H = 260

    def __init__(self, events: Sequence[dict[str, Any]], *, colours: dict[str, str] | None = None) -> None:
        self.events = [e for e in events if isinstance(e, dict) and event_time(e) is not None]
        self.series = device_series(self.events)
        for name, colour in (colours or {}).items():
            if name in self.series:
                self.series[name].colour = colour
        self.axis = TimeAxis((event_time(e) for e in self.events), self.LEFT, self.WIDTH - self.RIGHT)
        self.legend_top = self.PLOT_TOP + self.PLOT_H + 66
        self._placed: list[tuple[float, float, float, float]] = []  # label boxes drawn so far
        self.height = self.legend_top + 24

    def x(self, t: float) -> float:
        return self.axis.x(t)

    def y(self, percent: float) -> float:
        return self.PLOT_TOP + self.PLOT_H * (1 - max(0.0, min(100.0, percent)) / 100)

    def colour(self, device: str | None) -> str:
        s = self.series.get(str(device))
        return s.colour if s else "#555"

    # -- rendering ---------------------------------------------------------------------------
    def render(self) -> str:
        self._placed = []
        out = [f'<svg class="timeline" viewBox="0 0 {self.WIDTH} {self.height}" width="{self.WIDTH}" '
               f'height="{self.height}" role="img" aria-label="transfer timeline">',
               '<title>Transfer timeline: image offset over time per device</title>']
        out += self._frame()
        out += self._pauses()
        out += self._series()
        out += self._lines()
        out += self._dots()
        out += self._rail()
        out += self._legend()
        out.append("</svg>")
        return "\n".join(out)

    def _frame(self) -> list[str]:
        x0, x1 = self.LEFT, self.WIDTH - self.RIGHT
        top, bottom = self.PLOT_TOP, self.PLOT_TOP + self.PLOT_H
        out = [f'<rect class="plot" x="{x0}" y="{top}" width="{x1 - x0}" height="{self.PLOT_H}" fill="#fff" '
               'stroke="#999"/>']
        for pct in (0, 25, 50, 75, 100):
            y = num(self.y(pct))
            out.append(f'<line x1="{x0}" x2="{x1}" y1="{y}" y2="{y}" stroke="#eee"/>'
                       f'<text x="{x0 - 6}" y="{y}" dy="4" text-anchor="end" class="axis">{pct}%</text>')
        for t in self.axis.ticks():
            x = num(self.x(t))
            out.append(f'<line x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 5}" stroke="#999"/>'
                       f'<text x="{x}" y="{bottom + 18}" text-anchor="middle" class="axis">{time_text(t)}</text>')
        for xb, ta, tb in self.axis.breaks:
            xa = num(xb + 3)
            out.append(f'<g class="axis-break"><title>{esc(time_text(tb - ta))} with no events cut out</title>'
                       f'<rect x="{xa}" y="{top}" width="{num(self.axis.BREAK_PX - 6)}" height="{self.PLOT_H}" '
                       f'fill="url(#hatch)" fill-opacity="0.5"/>'
                       f'<path d="M{xa},{bottom + 4} l4,-8 l4,8 l4,-8" stroke="#666" fill="none"/>'
                       f'<text x="{num(xb + self.axis.BREAK_PX / 2)}" y="{bottom + 30}" text-anchor="middle" '
                       f'class="axis small">+{esc(time_text(tb - ta))}</text></g>')
        out.insert(0, '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
                      'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#bbb"/></pattern>'
                      '</defs>')
        mid = top + self.PLOT_H / 2
        out.append(f'<text x="14" y="{mid}" transform="rotate(-90 14 {mid})" text-anchor="middle" '
                   'class="axis">image offset (% of image)</text>'
                   f'<text x="{x0}" y="{bottom + 46}" class="axis">time since plan start</text>')
        return out

    def _next_progress(self, device: str, t: float) -> float | None:
        s = self.series.get(device)
        if not s:
            return None
        i = bisect.bisect_right(s.times, t)
        return s.points[i][0] if i < len(s.points) else None

    def _pauses(self) -> list[str]:
        out = []
        bands: list[tuple[str, float, float, dict[str, Any]]] = []
        for e in self.events:
            if e.get("kind") != "wait_for_data":
                continue
            device = str(e.get("device") or "?")
            t0 = event_time(e)
            t1 = self._next_progress(device, t0)
            if t1 is None:
                t1 = t0
            bands.append((device, t0, t1, e))
        merged: list[list[Any]] = []  # merge back-to-back waits of one device (throttled every block)
        for device, t0, t1, e in sorted(bands, key=lambda b: (b[0], b[1])):
            last = merged[-1] if merged else None
            if last and last[0] == device and self.x(t0) - self.x(last[2]) < 2:
                last[2] = max(last[2], t1)
                last[4] += 1
            else:
                merged.append([device, t0, t1, e, 1])
        for i, (device, t0, t1, e, count) in enumerate(merged):
            xa, xb = self.x(t0), self.x(t1)
            w = max(3.0, round(xb, 1) - round(xa, 1))  # rounded ends: the band meets the series exactly
            label = "WAIT_FOR_DATA" + (f" ×{count}" if count > 1 else "") + f" {time_text(t1 - t0)}"
            tip = f"{device}: WAIT_FOR_DATA at {time_text(t0)}, resumed {time_text(t1)}"
            if e.get("detail"):
                tip += f" ({e['detail']})"
            text = self._place(xa + 3, [self.PLOT_TOP + 12 + 12 * r for r in range(6)], f"{label} ({device})",
                               "#a04000", flip=False)
            out.append(
                f'<g class="mark mark-pause" id="pause-{i + 1}" data-device="{esc(device)}" data-t="{t0:g}" '
                f'data-t-end="{t1:g}" data-x="{xa:.1f}"><title>{esc(tip)}</title>'
                f'<rect x="{xa:.1f}" y="{self.PLOT_TOP}" width="{w:.1f}" height="{self.PLOT_H}" fill="#f5b041" '
                f'fill-opacity="0.28" stroke="#e67e22" stroke-width="0.8"/>{text}</g>')
        return out

    def _series(self) -> list[str]:
        out = []
        lo, hi = self.axis.segments[0].t0, self.axis.segments[-1].t1
        for s in self.series.values():
            pts = downsample(s.points, lo, hi)
            path = " ".join(f"{self.x(t):.1f},{self.y(s.percent(o)):.1f}" for t, o in pts)
            out.append(f'<polyline class="series" data-device="{esc(s.device)}" data-points="{len(s.points)}" '
                       f'points="{path}" fill="none" stroke="{s.colour}" stroke-width="2" '
                       f'stroke-linejoin="round"><title>{esc(s.device)}: {len(s.points)} block events, image '
                       f'{s.size:,} bytes</title></polyline>')
        return out

    def _lines(self) -> list[str]:
        out = []
        counters: dict[str, int] = {}
        for n, e in enumerate(e for e in self.events if e.get("kind") in LINE_KINDS):
            cls, label, colour, dash = LINE_KINDS[e["kind"]]
            if e["kind"] == "reboot" and e.get("reason") == "activation":  # the upgrade working, not a fault
                cls, label, colour, dash = ACTIVATION_REBOOT
            counters[cls] = counters.get(cls, 0) + 1
            x = self.x(event_time(e))
            device = e.get("device")
            who = f" {device}" if device and e["kind"] != "ch_restart" else ""
            tip = f"{label}{who} at {time_text(event_time(e))}" + (f": {e['detail']}" if e.get("detail") else "")
            rows = [self.PLOT_TOP + self.PLOT_H - 8 - 13 * ((n + r) % 6) for r in range(6)]
            out.append(
                f'<g class="mark mark-{cls}" id="{cls}-{counters[cls]}" data-device="{esc(device or "")}" '
                f'data-t="{event_time(e):g}" data-x="{x:.1f}"><title>{esc(tip)}</title>'
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.PLOT_TOP - 4}" y2="{self.PLOT_TOP + self.PLOT_H}" '
                f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
                f'{self._place(x, rows, label + who, colour)}</g>')
        return out

    def _place(self, x: float, rows: list[float], text: str, colour: str, *, flip: bool = True,
               anchor_end: bool = False) -> str:
        """A label at the first row (baseline y) where it overlaps no label drawn so far, right of `x` (left
        of it with anchor_end, or when it would run off the picture); '' when no row is free: the mark's
        <title> still carries it."""
        w = len(text) * _LABEL_CHAR_PX
        end = anchor_end or (flip and x + 3 + w > self.WIDTH - 2)
        x0 = x - 3 - w if end else x + 3
        if x0 < 0 or x0 + w > self.WIDTH:
            return ""
        for y in rows:
            box = (x0, x0 + w, y - 11, y + 3)
            if all(box[1] <= b[0] or b[1] <= box[0] or box[3] <= b[2] or b[3] <= box[2] for b in self._placed):
                self._placed.append(box)
                tx, attr = (x - 3, ' text-anchor="end"') if end else (x + 3, "")
                return f'<text x="{tx:.1f}" y="{y:.1f}"{attr} class="mark-label" fill="{colour}">{esc(text)}</text>'
        return ""

    def _last_offset(self, device: str, t: float) -> float:
        s = self.series.get(device)
        if not s or not s.points:
            return 0.0
        i = bisect.bisect_right(s.times, t)
        return s.percent(s.points[i - 1][1]) if i else 0.0

    def _dots(self) -> list[str]:
        out = []
        for i, e in enumerate(e for e in self.events if e.get("kind") in ("upgrade_end", "activation")):
            device = str(e.get("device") or "?")
            x = self.x(event_time(e))
            kind = e["kind"]
            y = self.y(self._last_offset(device, event_time(e))) if kind == "upgrade_end" else self.y(100) - 10
            colour = self.colour(device)
            tip = f"{kind.replace('_', ' ')} {device} at {time_text(event_time(e))}" + (
                f": {e['detail']}" if e.get("detail") else "")
            shape = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" stroke="#fff"/>' if kind == "upgrade_end"
                     else f'<path d="M{x:.1f},{y - 6:.1f} l6,6 l-6,6 l-6,-6 z" fill="#27ae60" stroke="#fff"/>')
            # Upgrade End reads leftwards of its dot, the activation (just after it) rightwards of its diamond.
            if kind == "upgrade_end":
                label = self._place(x - 1, [y - 8 - 13 * r for r in range(3)], "Upgrade End", "#222",
                                    anchor_end=True)
            else:
                label = self._place(x + 5, [y + 4 + 13 * r for r in range(3)], "activated", "#1e8449")
            out.append(f'<g class="mark mark-{kind.replace("_", "-")}" id="{kind.replace("_", "-")}-{i + 1}" '
                       f'data-device="{esc(device)}" data-t="{event_time(e):g}"><title>{esc(tip)}</title>{shape}'
                       f'{label}</g>')
        return out

    def _rail(self) -> list[str]:
        y0 = self.RAIL_TOP
        out = [f'<text x="{self.LEFT - 6}" y="{y0 + 12}" text-anchor="end" class="axis small">events</text>',
               f'<line x1="{self.LEFT}" x2="{self.WIDTH - self.RIGHT}" y1="{y0 + self.RAIL_H}" '
               f'y2="{y0 + self.RAIL_H}" stroke="#ccc"/>']
        rail = [e for e in self.events if e.get("kind") in RAIL_KINDS]
        row_end = [-1e9, -1e9, -1e9]  # right edge of the last label in each of the three label rows
        for e in rail:
            kind = e["kind"]
            x = self.x(event_time(e))
            colour = "#c0392b" if kind == "alert" else "#555"
            label = RAIL_KINDS[kind]
            if kind == "alert":
                label = str(e.get("detail") or "alert").split()[0][:14]
            tip = f"{kind} {e.get('device') or ''} at {time_text(event_time(e))}: {e.get('detail') or ''}".strip()
            width = 5.6 * len(label) + 4
            right_aligned = x + width > self.WIDTH - 4
            start = x - width if right_aligned else x
            row = next((r for r in range(3) if start > row_end[r] + 4), None)
            text = ""
            if row is not None:  # labels only where they fit; the <title> always carries the detail
                row_end[row] = start + width
                anchor = ' text-anchor="end"' if right_aligned else ""
                tx = x - 2 if right_aligned else x + 2
                text = (f'<text x="{tx:.1f}" y="{y0 + 10 + 12 * row}" class="rail-label"{anchor} '
                        f'fill="{colour}">{esc(label)}</text>')
            out.append(f'<g class="mark mark-{kind.replace("_", "-")}" data-t="{event_time(e):g}" '
                       f'data-device="{esc(e.get("device") or "")}"><title>{esc(tip)}</title>'
                       f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0 + self.RAIL_H - 10}" y2="{self.PLOT_TOP}" '
                       f'stroke="{colour}" stroke-width="{1.5 if kind == "alert" else 1}" '
                       f'stroke-opacity="0.7"/>{text}</g>')
        return out

    def _legend(self) -> list[str]:
        out = []
        x = self.LEFT
        y = self.legend_top
        items: list[tuple[str, str]] = []
        for s in self.series.values():
            items.append((f'<line x1="0" x2="18" y1="0" y2="0" stroke="{s.colour}" stroke-width="3"/>', s.device))
        items.append(('<rect x="0" y="-6" width="18" height="12" fill="#f5b041" fill-opacity="0.35" '
                      'stroke="#e67e22"/>', "WAIT_FOR_DATA pause"))
        kinds_present = {e.get("kind") for e in self.events if e.get("reason") != "activation"}
        lines = dict(LINE_KINDS)
        if any(e.get("kind") == "reboot" and e.get("reason") == "activation" for e in self.events):
            lines["activation_reboot"] = ACTIVATION_REBOOT
            kinds_present.add("activation_reboot")
        for kind, (cls, label, colour, dash) in lines.items():
            if kind in kinds_present:
                items.append((f'<line x1="9" x2="9" y1="-7" y2="7" stroke="{colour}" stroke-width="2" '
                              f'stroke-dasharray="{dash}"/>', label))
        if "upgrade_end" in kinds_present:
            items.append(('<circle cx="9" cy="0" r="5" fill="#777"/>', "Upgrade End"))
        if "activation" in kinds_present:
            items.append(('<path d="M9,-6 l6,6 l-6,6 l-6,-6 z" fill="#27ae60"/>', "activated"))
        if "alert" in kinds_present:
            items.append(('<line x1="9" x2="9" y1="-7" y2="7" stroke="#c0392b" stroke-width="1.5"/>', "alert"))
        out.append('<g class="legend">')
        for glyph, label in items:
            out.append(f'<g transform="translate({x},{y})">{glyph}<text x="24" y="4" class="legend-label">'
                       f'{esc(label)}</text></g>')
            x += 34 + 7 * len(label)
        out.append("</g>")
        return out


def timeline_svg(events: Sequence[dict[str, Any]]) -> str:
    """The transfer timeline for one plan's events; a short note when there is nothing to draw."""
    timeline = Timeline(events)
    if not timeline.events:
        return '<p class="empty">No timeline events recorded.</p>'
    return timeline.render()


