"""The HTML report: one self-contained file per run (inline CSS and SVG; no scripts, fonts or links out).

Input is the JSON run record (`RunRecord.to_json()`), one dict per plan, so the report can be regenerated
later from the files (`rig report RECORD.json ...`). Missing or odd fields are shown as "-", never a
traceback: a record from an older rig still renders.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from rig.report.sequence import sequence_svg
from rig.report.timeline import timeline_svg

REPORT_NAME = "report.html"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#f4f6f8}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:0}h3{font-size:15px;margin:18px 0 6px}
section.plan{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:14px 16px;margin:18px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700;font-size:12px;color:#fff}
.pass{background:#27ae60}.fail{background:#c0392b}.error{background:#8e44ad}.skip{background:#7f8c8d}
.unknown{background:#95a5a6}
.muted{color:#666}.msg{white-space:pre-wrap;margin:6px 0}.kv{display:flex;flex-wrap:wrap;gap:4px 18px}
.kv span b{font-weight:600}code{font-size:12px}
svg{display:block;max-width:100%;height:auto;background:#fff}
svg text{font-family:system-ui,sans-serif}
svg .axis{font-size:11px;fill:#555}svg .small{font-size:10px}svg .mark-label{font-size:11px;font-weight:600}
svg .rail-label{font-size:10px}svg .legend-label{font-size:12px;fill:#333}
svg .lane-label{font-size:12px;font-weight:600}svg .msg-label{font-size:11px}
.empty{color:#777;font-style:italic}
"""


def _e(value: object) -> str:
    return escape("-" if value is None or value == "" else str(value), quote=True)


def _verdict(value: object) -> str:
    v = str(value or "unknown").lower()
    cls = v if v in ("pass", "fail", "error", "skip") else "unknown"
    return f'<span class="badge {cls}">{escape(v.upper())}</span>'


def _anchor(record: dict[str, Any], index: int) -> str:
    plan = record.get("plan") or {}
    raw = str(plan.get("id") or f"plan-{index + 1}")
    return "plan-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in raw)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _when(record: dict[str, Any]) -> str:
    try:
        stamp = _dt.datetime.fromtimestamp(float(record.get("started_wall")), _dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return "-"
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


# -- sections ----------------------------------------------------------------------------------
def _steps(record: dict[str, Any]) -> str:
    rows = []
    for s in _list(record.get("steps")):
        s = _dict(s)
        secs = s.get("wall_seconds")
        rows.append(f"<tr><td class=num>{_e(s.get('index'))}</td><td>{_e(s.get('title'))}<div class=muted>"
                    f"<code>{_e(s.get('kind'))}</code></div></td><td>{_verdict(s.get('verdict'))}</td>"
                    f"<td class=num>{_e(f'{secs:.2f}s' if isinstance(secs, (int, float)) else None)}</td>"
                    f"<td class=msg>{_e(s.get('message'))}</td></tr>")
    if not rows:
        return '<p class="empty">No steps recorded.</p>'
    return ("<table class=steps><tr><th>#</th><th>step</th><th>verdict</th><th>wall</th><th>message</th></tr>"
            + "".join(rows) + "</table>")


def _measurements(record: dict[str, Any]) -> str:
    rows = []
    for m in _list(record.get("measurements")):
        m = _dict(m)
        value, unit = m.get("value"), m.get("unit") or ""
        shown = "n/a" if value is None else f"{_fmt(value)} {unit}".strip()
        limits = []
        if m.get("minimum") is not None:
            limits.append(f"≥ {_fmt(m['minimum'])}")
        if m.get("maximum") is not None:
            limits.append(f"≤ {_fmt(m['maximum'])}")
        limit_text = " and ".join(limits) + (f" {unit}" if limits and unit else "") if limits else "recorded"
        passed = m.get("passed")
        verdict = _verdict("pass" if passed else "fail") if passed is not None else _verdict(None)
        rows.append(f"<tr><td>{_e(m.get('name'))}</td><td>{_e(m.get('device'))}</td><td class=num>{_e(shown)}</td>"
                    f"<td>{_e(limit_text)}</td><td>{verdict}</td></tr>")
    if not rows:
        return '<p class="empty">No measurements recorded.</p>'
    return ("<table class=measurements><tr><th>measurement</th><th>device</th><th>value</th><th>limits</th>"
            "<th>result</th></tr>" + "".join(rows) + "</table>")


def _alerts(record: dict[str, Any]) -> str:
    alerts = [_dict(a) for a in _list(record.get("alerts"))]
    alerts.sort(key=lambda a: (a.get("seq") is None, a.get("seq") if isinstance(a.get("seq"), (int, float)) else 0))
    rows = []
    for a in alerts:
        fields = a.get("fields")
        rows.append(f"<tr><td class=num>{_e(a.get('seq'))}</td><td class=num>{_e(_fmt(a.get('time')))}</td>"
                    f"<td><b>{_e(a.get('code'))}</b></td><td>{_e(a.get('device'))}</td>"
                    f"<td>{_e(a.get('request_id'))}</td><td><code>{_e(_fmt(fields) if fields else None)}</code></td>"
                    "</tr>")
    if not rows:
        return '<p class="empty">No alerts.</p>'
    return ("<table class=alerts><tr><th>seq</th><th>time</th><th>code</th><th>device</th><th>request</th>"
            "<th>fields</th></tr>" + "".join(rows) + "</table>")


def _key_values(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    rows = []
    for name, info in items.items():
        info = _dict(info) if isinstance(info, dict) else {"value": info}
        pairs = ", ".join(f"{_e(k)}={_e(_fmt(v))}" for k, v in info.items())
        rows.append(f"<tr><td><b>{_e(name)}</b></td><td>{pairs}</td></tr>")
    return f"<h3>{escape(title)}</h3><table>{''.join(rows)}</table>"


def _plan_section(record: dict[str, Any], index: int) -> str:
    plan = _dict(record.get("plan"))
    events = [e for e in _list(record.get("events")) if isinstance(e, dict)]
    bench = _dict(record.get("bench"))
    bench_text = " ".join(f"<span><b>{_e(k)}</b> {_e(_fmt(v))}</span>" for k, v in bench.items())
    wall = record.get("wall_seconds")
    message = record.get("message")
    return "\n".join([
        f'<section class="plan" id="{_anchor(record, index)}">',
        f"<h2>{_verdict(record.get('verdict'))} {_e(plan.get('name') or plan.get('id'))} "
        f"<span class=muted><code>{_e(plan.get('id'))}</code></span></h2>",
        f"<div class=muted>{_e(plan.get('file'))} · started {_when(record)} · wall "
        f"{_e(f'{wall:.1f}s' if isinstance(wall, (int, float)) else None)}</div>",
        f"<div class=msg>{_e(message)}</div>" if message else "",
        f'<div class="kv muted">{bench_text}</div>' if bench_text else "",
        "<h3>Steps</h3>", _steps(record),
        "<h3>Measurements</h3>", _measurements(record),
        "<h3>Alerts (in order)</h3>", _alerts(record),
        "<h3>Transfer timeline</h3>", timeline_svg(events),
        "<h3>Message sequence</h3>", sequence_svg(events),
        _key_values("Devices", _dict(record.get("devices"))),
        _key_values("Images", _dict(record.get("images"))),
        "</section>",
    ])


def _index(records: Sequence[dict[str, Any]]) -> str:
    rows = []
    for i, r in enumerate(records):
        plan = _dict(r.get("plan"))
        fails = sum(1 for m in _list(r.get("measurements")) if isinstance(m, dict) and m.get("passed") is False)
        wall = r.get("wall_seconds")
        rows.append(f'<tr><td><a href="#{_anchor(r, i)}">{_e(plan.get("id"))}</a></td><td>{_e(plan.get("name"))}</td>'
                    f"<td>{_verdict(r.get('verdict'))}</td>"
                    f"<td class=num>{_e(f'{wall:.1f}s' if isinstance(wall, (int, float)) else None)}</td>"
                    f"<td class=num>{len(_list(r.get('alerts')))}</td><td class=num>{fails}</td></tr>")
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.get("verdict") or "unknown")] = counts.get(str(r.get("verdict") or "unknown"), 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return (f"<p>{len(records)} plan{'s' if len(records) != 1 else ''}: {escape(summary)}</p>"
            "<table class=index><tr><th>plan</th><th>name</th><th>verdict</th><th>wall</th><th>alerts</th>"
            "<th>failed measurements</th></tr>" + "".join(rows) + "</table>")


def render_report(records: Iterable[dict[str, Any]], *, title: str = "HAN OTA Rig report") -> str:
    records = [r for r in records if isinstance(r, dict)]
    body = [_index(records)] + [_plan_section(r, i) for i, r in enumerate(records)]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body><main>"
            f"<h1>{escape(title)}</h1>\n" + "\n".join(body) + "\n</main></body></html>\n")


def write_report(records: Iterable[dict[str, Any]], directory: str | Path, *, name: str = REPORT_NAME) -> Path:
    """Write the report for these run records (dicts from `RunRecord.to_json()`) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(render_report(records), encoding="utf-8")
    return path
