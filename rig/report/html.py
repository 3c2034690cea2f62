"""The HTML report: one self-contained file per run (inline CSS and SVG; no scripts, fonts or links out but
relative links to the run's own pcapng captures next to it).

Input is the JSON run record (`RunRecord.to_json()`), one dict per plan, so the report can be regenerated
later from the files (`rig report RECORD.json ...`). Missing or odd fields are shown as "-", never a
traceback: a record from an older rig still renders.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from rig.report.labels import alert_text, clock_origin, clock_text, offset_text, zone_text
from rig.report.sequence import sequence_svg
from rig.report.steps import step_text
from rig.report.timeline import timeline_svg

REPORT_NAME = "report.html"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#f4f6f8}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:0}h3{font-size:15px;margin:18px 0 6px}
section.plan{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:14px 16px;margin:18px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
table.alerts,table.steps{table-layout:fixed}td{overflow-wrap:anywhere}
.fields span{display:inline-block;margin-right:10px}.fields b{font-weight:600;color:#555}
th,td{border-bottom:1px solid #e3e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700;font-size:12px;color:#fff}
.pass{background:#27ae60}.fail{background:#c0392b}.error{background:#8e44ad}.skip{background:#7f8c8d}
.unknown{background:#95a5a6}
.muted{color:#666}.msg{white-space:pre-wrap;margin:6px 0}.kv{display:flex;flex-wrap:wrap;gap:4px 18px}
.kv span b{font-weight:600}code{font-size:12px}.when small{display:block;color:#666}
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
        stamp = _dt.datetime.fromtimestamp(float(record.get("started_wall"))).astimezone()
    except (TypeError, ValueError, OverflowError, OSError):
        return "-"
    return stamp.strftime("%Y-%m-%d %H:%M:%S %Z")


# -- sections ----------------------------------------------------------------------------------
def _steps(record: dict[str, Any]) -> str:
    rows = []
    for s in _list(record.get("steps")):
        s = _dict(s)
        secs = s.get("wall_seconds")
        kind = str(s.get("kind") or "")
        args = s.get("args") if isinstance(s.get("args"), dict) else {}
        title = str(s.get("title") or "")
        head = "" if title in ("", kind, kind.replace("_", " ")) else f"{_e(title)}<br>"
        rows.append(f"<tr><td class=num>{_e(s.get('index'))}</td><td>{head}<code>{_e(step_text(kind, args))}</code>"
                    f"</td><td>{_verdict(s.get('verdict'))}</td>"
                    f"<td class=num>{_e(f'{secs:.2f}s' if isinstance(secs, (int, float)) else None)}</td>"
                    f"<td class=msg>{_e(s.get('message'))}</td></tr>")
    if not rows:
        return '<p class="empty">No steps recorded.</p>'
    return ("<table class=steps><colgroup><col style='width:34px'><col style='width:46%'><col style='width:70px'>"
            "<col style='width:64px'><col></colgroup>"
            "<tr><th>#</th><th>step</th><th>verdict</th><th>wall</th><th>message</th></tr>" + "".join(rows) + "</table>")


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


_SHOWN_ELSEWHERE = {"AlertCode", "EntityId", "DeviceID", "ExecutionDateTime"}


def _field_value(key: str, value: Any) -> str:
    text = _fmt(value)
    if key == "ResponseCode" and isinstance(value, int):
        return f"0x{value:02X}"
    if len(text) > 28:  # payload hex and the like: the start, the whole in the tooltip
        return f'<span title="{_e(text)}">{_e(text[:24])}…</span>'
    return _e(text)


def _alerts(record: dict[str, Any]) -> str:
    alerts = [_dict(a) for a in _list(record.get("alerts"))]
    alerts.sort(key=lambda a: (a.get("seq") is None, a.get("seq") if isinstance(a.get("seq"), (int, float)) else 0))
    day = clock_origin(record)
    rows = []
    for a in alerts:
        fields = _dict(a.get("fields"))
        shown = " ".join(f"<span><b>{_e(k)}</b> {_field_value(k, v)}</span>" for k, v in fields.items()
                         if k not in _SHOWN_ELSEWHERE and v not in ("", None))
        when = a.get("time") if isinstance(a.get("time"), (int, float)) else None
        offset = a.get("t")
        if offset is None and when is not None and when < 1e8 and day is not None:  # an older record: rig
            offset, when = when, day + when  # time since the plan started, not a clock time
        device = a.get("device_name") or a.get("device")
        ieee = a.get("device") if a.get("device_name") else None
        rows.append(f"<tr><td class=num>{_e(a.get('seq'))}</td>"
                    f"<td class=when>{_e(clock_text(when, day_of=day))}<small>{_e(offset_text(offset))}</small></td>"
                    f"<td><b>{_e(alert_text(a.get('code'), fields))}</b></td>"
                    f"<td>{_e(device)}" + (f"<div class=muted><code>{_e(ieee)}</code></div>" if ieee else "") + "</td>"
                    f"<td class=fields>{shown or '-'}<div class=muted>request <code>{_e(a.get('request_id'))}</code>"
                    "</div></td></tr>")
    if not rows:
        return '<p class="empty">No alerts.</p>'
    return ("<table class=alerts><colgroup><col style='width:34px'><col style='width:84px'><col style='width:24%'>"
            "<col style='width:19%'><col></colgroup>"
            "<tr><th>#</th><th>time</th><th>alert</th><th>device</th><th>fields</th></tr>" + "".join(rows) + "</table>")


_HEX = {"manufacturer_code": 4, "image_type": 4, "file_version": 8, "min_hw_version": 4, "max_hw_version": 4,
        "hardware_version": 4, "start_version": 8, "end_version": 8}


def _kv_value(key: str, value: Any) -> str:
    if key in _HEX and isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:0{_HEX[key]}X}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):  # e.g. a device's identity: its fields in words, where they came from after
        source = value.get("source")
        fields = ", ".join(f"{k.replace('_', ' ')} {_kv_value(k, v)}" for k, v in value.items() if k != "source")
        return fields + (f" (from {source})" if source else "")
    return _fmt(value)


def _key_values(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    rows = []
    for name, info in items.items():
        info = _dict(info) if isinstance(info, dict) else {"value": info}
        pairs = " · ".join(f"<span>{_e(k)} {_e(_kv_value(k, v))}</span>" for k, v in info.items())
        rows.append(f"<tr><td style='width:110px'><b>{_e(name)}</b></td><td>{pairs}</td></tr>")
    return f"<h3>{escape(title)}</h3><table>{''.join(rows)}</table>"


def _capture(record: dict[str, Any], base: Path | None) -> str:
    path = _dict(record.get("artifacts")).get("capture")
    if not path:
        return ""
    target = Path(str(path))
    href = target.name
    if base is not None:
        try:
            href = Path(os.path.relpath(target, base)).as_posix()
        except ValueError:  # another drive (Windows): the absolute path
            href = target.as_uri() if target.is_absolute() else target.as_posix()
    size = ""
    try:
        size = f" ({target.stat().st_size / 1024:,.0f} KiB)"
    except OSError:
        pass
    return (f'<div class=muted>capture <a href="{_e(href)}">{_e(target.name)}</a>{escape(size)}: every frame on '
            "the air and over the stick, for Wireshark</div>")


def _plan_section(record: dict[str, Any], index: int, base: Path | None = None) -> str:
    plan = _dict(record.get("plan"))
    events = [e for e in _list(record.get("events")) if isinstance(e, dict)]
    bench = _dict(record.get("bench"))
    bench_text = " ".join(f"<span><b>{_e(k)}</b> {_e(_kv_value(k, v))}</span>" for k, v in bench.items())
    origin = clock_origin(record)
    wall = record.get("wall_seconds")
    message = record.get("message")
    return "\n".join([
        f'<section class="plan" id="{_anchor(record, index)}">',
        f"<h2>{_verdict(record.get('verdict'))} {_e(plan.get('name') or plan.get('id'))} "
        f"<span class=muted><code>{_e(plan.get('id'))}</code></span></h2>",
        f"<div class=muted>{_e(plan.get('file'))} · started {_when(record)} · wall "
        f"{_e(f'{wall:.1f}s' if isinstance(wall, (int, float)) else None)}</div>",
        _capture(record, base),
        f"<div class=msg>{_e(message)}</div>" if message else "",
        f'<div class="kv muted">{bench_text}</div>' if bench_text else "",
        "<h3>Steps</h3>", _steps(record),
        "<h3>Measurements</h3>", _measurements(record),
        "<h3>Alerts (in order)</h3>",
        f"<div class=muted>local clock time ({_e(zone_text(origin))}) and time since the plan started</div>"
        if origin is not None and record.get("alerts") else "",
        _alerts(record),
        "<h3>Transfer timeline</h3>", timeline_svg(events),
        "<h3>Message sequence</h3>",
        f"<div class=muted>times since the plan started at {_e(clock_text(origin))} {_e(zone_text(origin))}; "
        "hover a row for its detail</div>" if origin is not None else "",
        sequence_svg(events, origin),
        _key_values("Devices", _dict(record.get("devices"))),
        _key_values("Images", _dict(record.get("images"))),
        "</section>",
    ])


def _lab(record: dict[str, Any]) -> dict[str, Any]:
    return _dict(_dict(record.get("bench")).get("lab"))


def _index(records: Sequence[dict[str, Any]]) -> str:
    rows = []
    on_lab = any(_lab(r) for r in records)  # a lab run: the place (and exporter host) each plan ran on
    for i, r in enumerate(records):
        plan = _dict(r.get("plan"))
        fails = sum(1 for m in _list(r.get("measurements")) if isinstance(m, dict) and m.get("passed") is False)
        wall = r.get("wall_seconds")
        lab = _lab(r)
        place = f"<td>{_e(lab.get('place'))} ({_e(lab.get('exporter_host'))})</td>" if lab else "<td>-</td>"
        rows.append(f'<tr><td><a href="#{_anchor(r, i)}">{_e(plan.get("id"))}</a></td><td>{_e(plan.get("name"))}</td>'
                    + (place if on_lab else "") +
                    f"<td>{_verdict(r.get('verdict'))}</td>"
                    f"<td class=num>{_e(f'{wall:.1f}s' if isinstance(wall, (int, float)) else None)}</td>"
                    f"<td class=num>{len(_list(r.get('alerts')))}</td><td class=num>{fails}</td></tr>")
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.get("verdict") or "unknown")] = counts.get(str(r.get("verdict") or "unknown"), 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return (f"<p>{len(records)} plan{'s' if len(records) != 1 else ''}: {escape(summary)}</p>"
            "<table class=index><tr><th>plan</th><th>name</th>" + ("<th>place (host)</th>" if on_lab else "")
            + "<th>verdict</th><th>wall</th><th>alerts</th><th>failed measurements</th></tr>" + "".join(rows)
            + "</table>")


def render_report(records: Iterable[dict[str, Any]], *, title: str = "HAN OTA Rig report",
                  base: str | Path | None = None) -> str:
    """The report's HTML; `base` is the folder it will live in (links to captures are relative to it)."""
    records = [r for r in records if isinstance(r, dict)]
    folder = Path(base) if base is not None else None
    body = [_index(records)] + [_plan_section(r, i, folder) for i, r in enumerate(records)]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body><main>"
            f"<h1>{escape(title)}</h1>\n" + "\n".join(body) + "\n</main></body></html>\n")


def write_report(records: Iterable[dict[str, Any]], directory: str | Path, *, name: str = REPORT_NAME) -> Path:
    """Write the report for these run records (dicts from `RunRecord.to_json()`) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(render_report(records, base=directory), encoding="utf-8")
    return path
