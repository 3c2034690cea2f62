"""The message sequence chart (inline SVG): DSP → CSP → CH → device(s) and back, from timeline events with an
`actor` and a `to`; runs of the same message (thousands of Image Blocks) collapse to one arrow "×N".

Labels are written for people (rig.report.labels): `QNI v1 → v2 offered`, `0x8F8A transfer ok`. Every label
is measured (a generous estimate of the font's width), kept inside the picture and shortened with "…"
rather than clipped; times sit in their own column on the left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rig.report.labels import event_text, qni_answer, version_event_shown, version_text
from rig.report.svg import esc, event_time, time_text

ACTOR_ORDER = ["DSP", "CSP", "CH"]
_MAX_MESSAGES = 90
WIDTH = 960
FONT_PX = 11.0
CHAR_PX = FONT_PX * 0.6  # generous average glyph width of system-ui: labels are sized with it
TIME_COL = 96  # the time column; labels and lanes stay right of it
_LANE_BOX = 84


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
    text: str = ""
    warn: bool = False
    good: bool = False


def _lane(e: dict[str, Any], key: str) -> str | None:
    actor = e.get(key)
    if not actor:
        return None
    actor = str(actor)
    if actor == "device":
        return str(e.get("device") or "devices")  # to no device in particular (e.g. the CH busy for all)
    return actor


_COLLAPSIBLE = ("block", "page", "wait_for_data", "query", "query_next_image")
_WARN_KINDS = ("abort", "fault", "ch_restart", "wait_for_data")
_BAD_ALERTS = ("0x8F89", "N61", "RIG-")


def _warn(e: dict[str, Any], text: str) -> bool:
    kind = e.get("kind")
    if kind == "reboot":
        return e.get("reason") != "activation"
    if kind in _WARN_KINDS:
        return True
    if kind == "alert":
        return text.startswith(_BAD_ALERTS) or "failed" in text
    if kind == "upgrade_end":
        return e.get("status") not in (None, 0)
    if kind in ("transfer_outcome", "activation_outcome"):
        return not text.endswith((" ok", " outcome")) and " ok " not in text
    if kind == "query_next_image":
        return "refused" in text
    return kind == "version" and ("went back" in text or "outside" in text)


def messages(events: Sequence[dict[str, Any]], origin: float | None = None) -> tuple[list[Message], int]:
    """Messages in time order; returns (messages, how many were left off).

    A Query Next Image and the CH's answer make one message (`QNI v1 → v2 offered`). Runs of the same
    (kind, from, to, label) collapse into one message "×N" even when two devices' transfers interleave;
    a run ends when anything else happens on that device's lane.
    """
    ordered = sorted((e for e in events if isinstance(e, dict) and event_time(e) is not None), key=event_time)
    answers: dict[int, str] = {}  # index of a QNI -> the CH's answer to it
    pending: dict[str, int] = {}
    for i, e in enumerate(ordered):
        if e.get("kind") == "query_next_image":
            pending[str(e.get("device"))] = i
        elif e.get("kind") == "query_next_image_rsp" and str(e.get("device")) in pending:
            answers[pending.pop(str(e.get("device")))] = qni_answer(e)
    offered: dict[str, str] = {}  # device -> the version last offered to it
    out: list[Message] = []
    open_runs: dict[tuple[str, str, str, str], Message] = {}
    for i, e in enumerate(ordered):
        kind = str(e.get("kind") or "")
        device = str(e.get("device"))
        if kind == "query_next_image_rsp":
            if e.get("status") == 0:
                offered[device] = qni_answer(e).split()[0]
            continue  # drawn with its query
        if kind == "image_notify" and "v=" in str(e.get("detail")):
            offered.setdefault(device, event_text(e).split()[-1])
        src = _lane(e, "actor")
        if src is None or (kind == "version" and not version_event_shown(e)):
            continue
        dst = (_lane(e, "to") if e.get("to") else None) or src  # no receiver: a note on the actor's lane
        text = event_text(e, origin)
        if kind == "query_next_image" and i in answers:
            text += f" → {answers[i]}"
        if kind == "reboot" and e.get("reason") == "activation" and device in offered:
            text = f"reboot into {offered[device]}"
        offset = e.get("offset")
        key = (kind, src, dst, text)
        run = open_runs.get(key) if kind in _COLLAPSIBLE else None
        if run is not None:
            run.count += 1
            run.t_end = event_time(e)
            if offset is not None:
                lo, hi = run.offsets or (int(offset), int(offset))
                run.offsets = (min(lo, int(offset)), max(hi, int(offset)))
            continue
        lanes = {src, dst} - set(ACTOR_ORDER)
        if kind in ("ch_restart", "radio"):  # the CH (or its stick) went away: every run ends here
            open_runs.clear()
        for other in [k for k in open_runs if k != key and ({k[1], k[2]} & lanes)]:
            del open_runs[other]
        message = Message(event_time(e), event_time(e), src, dst, kind, str(e.get("detail") or ""),
                          offsets=(int(offset), int(offset)) if offset is not None else None, text=text,
                          warn=_warn(e, text), good=kind == "reboot" and not _warn(e, text))
        out.append(message)
        if kind in _COLLAPSIBLE:
            open_runs[key] = message
    left_off = max(0, len(out) - _MAX_MESSAGES)
    return out[:_MAX_MESSAGES], left_off


def label(m: Message) -> str:
    text = m.text
    if m.kind in ("block", "page"):
        text = "Image Block" if m.kind == "block" else "Image Page"
    if m.count > 1:
        text += f" ×{m.count}"
    if m.offsets and m.kind in ("block", "page"):
        text += f" (offset {m.offsets[0]:,}–{m.offsets[1]:,})" if m.count > 1 else f" (offset {m.offsets[0]:,})"
    return text


def fit(text: str, room: float, char_px: float = CHAR_PX) -> str:
    """The text, shortened with … to fit `room` pixels."""
    chars = int(room // char_px)
    if len(text) <= chars:
        return text
    return text[:max(1, chars - 1)].rstrip() + "…"


def _width(text: str, char_px: float = CHAR_PX) -> float:
    return len(text) * char_px


def sequence_svg(events: Sequence[dict[str, Any]], origin: float | None = None) -> str:
    msgs, left_off = messages(events, origin)
    if not msgs:
        return '<p class="empty">No messages with an actor recorded.</p>'
    lanes = [a for a in ACTOR_ORDER if any(a in (m.src, m.dst) for m in msgs)]
    lanes += sorted({x for m in msgs for x in (m.src, m.dst)} - set(lanes))
    first, last = TIME_COL + _LANE_BOX / 2 + 4, WIDTH - _LANE_BOX / 2 - 4
    gap = (last - first) / max(1, len(lanes) - 1) if len(lanes) > 1 else 0
    lane_x = {name: first + i * gap for i, name in enumerate(lanes)} if len(lanes) > 1 else {lanes[0]: first}
    box = min(_LANE_BOX, gap - 6) if len(lanes) > 1 else _LANE_BOX
    row, top = 24, 40
    height = top + row * (len(msgs) + 1) + (24 if left_off else 8)
    out = [f'<svg class="sequence" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
           'aria-label="message sequence chart">',
           '<title>Message sequence: DSP, CSP, CH and devices</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
           '<text x="4" y="21" class="axis small">since start</text>']
    for name, x in lane_x.items():
        out.append(f'<g class="lane" data-actor="{esc(name)}"><title>{esc(name)}</title>'
                   f'<rect x="{x - box / 2:.1f}" y="6" width="{box:.1f}" height="22" rx="4" fill="#eef3f8" '
                   f'stroke="#7f8c9a"/><text x="{x:.1f}" y="21" text-anchor="middle" class="lane-label">'
                   f'{esc(fit(name, box - 6, 12 * 0.66))}</text><line x1="{x:.1f}" x2="{x:.1f}" y1="28" '
                   f'y2="{height - 4}" stroke="#bbb" stroke-dasharray="3 3"/></g>')
    lo, hi = TIME_COL, WIDTH - 4
    for i, m in enumerate(msgs):
        y = top + row * (i + 1) - 6
        xa, xb = lane_x[m.src], lane_x[m.dst]
        full = label(m)
        when = time_text(m.t)
        if m.count > 1 and time_text(m.t_end) != when:
            when += f"–{time_text(m.t_end)}"
        tip = f"{when} {m.src} → {m.dst}: {full}" + (f" ({m.detail})" if m.detail and m.detail != "None" else "")
        colour = "#c0392b" if m.warn else "#1e8449" if m.good else "#333"
        out.append(f'<g class="msg msg-{esc(m.kind.replace("_", "-"))}" data-from="{esc(m.src)}" '
                   f'data-to="{esc(m.dst)}"><title>{esc(tip)}</title>'
                   f'<text x="4" y="{y + 4}" class="axis small">{esc(fit(when, TIME_COL - 8, 10 * 0.6))}</text>')
        if xa == xb:
            right_room, left_room = hi - (xa + 8), (xa - 8) - lo
            if _width(full) <= right_room or right_room >= left_room:
                text, tx, anchor = fit(full, right_room), xa + 8, ""
            else:
                text, tx, anchor = fit(full, left_room), xa - 8, ' text-anchor="end"'
            out.append(f'<rect x="{xa - 4:.1f}" y="{y - 8}" width="8" height="14" fill="{colour}" rx="2"/>'
                       f'<text x="{tx:.1f}" y="{y + 4}" class="msg-label"{anchor} fill="{colour}">{esc(text)}</text>')
        else:
            text = fit(full, hi - lo)
            w = _width(text)
            mid = min(max((xa + xb) / 2, lo + w / 2), hi - w / 2)
            out.append(f'<line x1="{xa:.1f}" x2="{xb:.1f}" y1="{y}" y2="{y}" stroke="{colour}" '
                       f'stroke-width="{2 if m.count > 1 else 1.2}" marker-end="url(#arrow)"/>'
                       f'<text x="{mid:.1f}" y="{y - 4}" text-anchor="middle" class="msg-label" '
                       f'fill="{colour}">{esc(text)}</text>')
        out.append("</g>")
    if left_off:
        out.append(f'<text x="{TIME_COL}" y="{height - 8}" class="axis">… {left_off} more messages left off</text>')
    out.append("</svg>")
    return "\n".join(out)


__all__ = ["Message", "messages", "sequence_svg", "label", "fit", "version_text"]
