"""The message sequence chart (inline SVG): DSP → CSP → CH → device(s) and back, from timeline events with an
`actor` and a `to`; runs of the same message (thousands of Image Blocks) collapse to one arrow "×N"."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rig.report.svg import esc, event_time, time_text

ACTOR_ORDER = ["DSP", "CSP", "CH"]
_MAX_MESSAGES = 90


@dataclasses.dataclass
class Message:
    t: float
    t_end: float
    src: str
    dst: str
    kind: str
    detail: str
    count: int = 1
    offsets: tuple[int, int] | None = None


def _lane(e: dict[str, Any], key: str) -> str | None:
    actor = e.get(key)
    if not actor:
        return None
    actor = str(actor)
    if actor == "device":
        return str(e.get("device") or "device")
    return actor


_COLLAPSIBLE = ("block", "page", "wait_for_data", "query")


def messages(events: Sequence[dict[str, Any]]) -> tuple[list[Message], int]:
    """Messages in time order; returns (messages, how many were left off).

    Runs of the same (kind, from, to) collapse into one message "×N" even when two devices' transfers
    interleave; a run ends when anything else happens on that device's lane.
    """
    out: list[Message] = []
    open_runs: dict[tuple[str, str, str], Message] = {}
    for e in sorted((e for e in events if isinstance(e, dict) and event_time(e) is not None), key=event_time):
        src = _lane(e, "actor")
        if src is None:
            continue
        dst = (_lane(e, "to") if e.get("to") else None) or src  # no receiver: a note on the actor's lane
        kind = str(e.get("kind") or "")
        offset = e.get("offset")
        key = (kind, src, dst)
        run = open_runs.get(key) if kind in _COLLAPSIBLE else None
        if run is not None:
            run.count += 1
            run.t_end = event_time(e)
            if offset is not None:
                lo, hi = run.offsets or (int(offset), int(offset))
                run.offsets = (min(lo, int(offset)), max(hi, int(offset)))
            continue
        lanes = {src, dst} - set(ACTOR_ORDER)
        for other in [k for k in open_runs if k != key and ({k[1], k[2]} & lanes)]:
            del open_runs[other]
        message = Message(event_time(e), event_time(e), src, dst, kind, str(e.get("detail") or ""),
                          offsets=(int(offset), int(offset)) if offset is not None else None)
        out.append(message)
        if kind in _COLLAPSIBLE:
            open_runs[key] = message
    left_off = max(0, len(out) - _MAX_MESSAGES)
    return out[:_MAX_MESSAGES], left_off


_KIND_TEXT = {"sr": "service request", "offer": "offer image", "query": "Query Next Image", "block": "Image Block",
              "page": "Image Page", "wait_for_data": "WAIT_FOR_DATA", "upgrade_end": "Upgrade End",
              "activation": "activate", "transfer_outcome": "transfer outcome",
              "activation_outcome": "activation outcome", "alert": "alert", "reboot": "reboot", "abort": "abort",
              "fault": "fault", "ch_restart": "CH restart"}


def sequence_svg(events: Sequence[dict[str, Any]]) -> str:
    msgs, left_off = messages(events)
    if not msgs:
        return '<p class="empty">No messages with an actor recorded.</p>'
    lanes = [a for a in ACTOR_ORDER if any(a in (m.src, m.dst) for m in msgs)]
    lanes += sorted({x for m in msgs for x in (m.src, m.dst)} - set(lanes))
    width, left, row = 960, 90, 24
    gap = (width - left - 130) / max(1, len(lanes) - 1) if len(lanes) > 1 else 0
    lane_x = {name: left + i * gap for i, name in enumerate(lanes)}
    top = 40
    height = top + row * (len(msgs) + 1) + (24 if left_off else 8)
    out = [f'<svg class="sequence" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           'aria-label="message sequence chart">',
           '<title>Message sequence: DSP, CSP, CH and devices</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>']
    for name, x in lane_x.items():
        out.append(f'<g class="lane" data-actor="{esc(name)}"><rect x="{x - 42:.1f}" y="6" width="84" height="22" '
                   f'rx="4" fill="#eef3f8" stroke="#7f8c9a"/><text x="{x:.1f}" y="21" text-anchor="middle" '
                   f'class="lane-label">{esc(name[:12])}</text><line x1="{x:.1f}" x2="{x:.1f}" y1="28" '
                   f'y2="{height - 4}" stroke="#bbb" stroke-dasharray="3 3"/></g>')
    for i, m in enumerate(msgs):
        y = top + row * (i + 1) - 6
        xa, xb = lane_x[m.src], lane_x[m.dst]
        text = _KIND_TEXT.get(m.kind, m.kind)
        if m.count > 1:
            text += f" ×{m.count}"
        if m.offsets and m.kind in ("block", "page"):
            text += f" (offset {m.offsets[0]:,}–{m.offsets[1]:,})" if m.count > 1 else f" (offset {m.offsets[0]:,})"
        elif m.detail:
            text += f": {m.detail[:48]}"
        when = time_text(m.t) + (f"–{time_text(m.t_end)}" if m.count > 1 else "")
        tip = f"{when} {m.src} → {m.dst}: {_KIND_TEXT.get(m.kind, m.kind)} {m.detail}".strip()
        warn = m.kind in ("reboot", "abort", "fault", "ch_restart", "wait_for_data", "alert")
        colour = "#c0392b" if warn else "#333"
        out.append(f'<g class="msg msg-{esc(m.kind.replace("_", "-"))}" data-from="{esc(m.src)}" '
                   f'data-to="{esc(m.dst)}"><title>{esc(tip)}</title>'
                   f'<text x="4" y="{y + 4}" class="axis small">{esc(when)}</text>')
        if xa == xb:
            left_side = xa > width - 200  # a note on the rightmost lane reads leftwards, inside the picture
            tx, anchor = (xa - 8, ' text-anchor="end"') if left_side else (xa + 8, "")
            out.append(f'<rect x="{xa - 4:.1f}" y="{y - 8}" width="8" height="14" fill="{colour}" rx="2"/>'
                       f'<text x="{tx:.1f}" y="{y + 4}" class="msg-label"{anchor} fill="{colour}">{esc(text)}</text>')
        else:
            mid = (xa + xb) / 2
            out.append(f'<line x1="{xa:.1f}" x2="{xb:.1f}" y1="{y}" y2="{y}" stroke="{colour}" '
                       f'stroke-width="{2 if m.count > 1 else 1.2}" marker-end="url(#arrow)"/>'
                       f'<text x="{mid:.1f}" y="{y - 4}" text-anchor="middle" class="msg-label" '
                       f'fill="{colour}">{esc(text)}</text>')
        out.append("</g>")
    if left_off:
        out.append(f'<text x="{left}" y="{height - 8}" class="axis">… {left_off} more messages left off</text>')
    out.append("</svg>")
    return "\n".join(out)
