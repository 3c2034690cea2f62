"""Words for people: alert codes, ZCL statuses and timeline events as short labels
(`0x8F8A transfer ok`, `QNI v1 → v2 offered`, `Upgrade End INVALID_IMAGE 0x96`), and clock times.

Records keep what the rig saw (details are often a Python repr of a hub event); the report turns them
into these labels and never shows a dict. Anything unknown still reads: its kind and a short detail.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from typing import Any

from rig.image.ota_cluster import Status

ZCL_STATUS = {int(s): s.name for s in Status}

ALERT_TEXT = {"0x8F8A": "transfer ok", "0x8F89": "transfer failed", "N60": "image delivered to CH",
              "N61": "delivery to CH failed", "N63": "CH firmware activated",
              "RIG-FWCHG": "firmware changed outside OTA", "RIG-FWREG": "firmware version went back"}


def status_text(status: Any) -> str:
    """0x96 -> 'INVALID_IMAGE 0x96'; SUCCESS alone."""
    if not isinstance(status, int) or isinstance(status, bool):
        return "" if status is None else str(status)
    name = ZCL_STATUS.get(status)
    if status == 0:
        return "SUCCESS"
    return f"{name} 0x{status:02X}" if name else f"status 0x{status:02X}"


def version_text(value: Any) -> str:
    """0x00000002 / '00000002' / 2 -> 'v2' (file versions read as small numbers on a bench)."""
    try:
        n = int(value, 16) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"v{n}" if n < 0x10000 else f"v0x{n:08X}"


def parse_detail(detail: Any) -> dict[str, Any]:
    """A hub event's detail (the repr of a dict) as a dict; {} when it is not one."""
    if isinstance(detail, dict):
        return detail
    text = str(detail or "").strip()
    if not text.startswith("{"):
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def alert_text(code: Any, fields: dict[str, Any] | None = None) -> str:
    """`0x8F8A transfer ok`, `0x8F8B activation ok`, `0x8F89 transfer failed: <detail>`."""
    code = str(code or "?")
    fields = fields or {}
    if code == "0x8F8B":
        target, observed = fields.get("TargetVersion"), fields.get("ObservedVersion")
        ok = target is not None and target == observed
        what = "activation ok" if ok else f"activation failed (running {version_text(observed)})" \
            if observed is not None else "activation"
    else:
        what = ALERT_TEXT.get(code, "alert")
    detail = str(fields.get("Detail") or "").strip()
    if detail and code not in ("0x8F8A", "N60", "N63"):
        what += f": {detail}"
    return f"{code} {what}"


_ALERT_DETAIL = re.compile(r"^(\S+)\s*(\{.*\})?\s*$", re.S)
_V = re.compile(r"\bv=(0x[0-9a-fA-F]+)")


def _alert_event(detail: str) -> str:
    m = _ALERT_DETAIL.match(detail)
    if not m:
        return detail
    return alert_text(m.group(1), parse_detail(m.group(2)))


def _sr(detail: str) -> str:
    m = re.match(r"SR (\S+) \S+: (accepted|rejected)\s*(\S*)\s*(.*)$", detail)
    if not m:
        return detail
    sr, verdict, code, reason = m.groups()
    tail = f" {code}" if code and code not in ("I99", "I0") else ""
    return f"SR {sr} {verdict}{tail}" + (f": {reason}" if reason and verdict == "rejected" else "")


def _outcome(word: str, detail: str) -> str:
    d = parse_detail(detail)
    if not d:  # a plain word (older records): SUCCESS, FAILURE ...
        return f"{word} ok" if detail.strip().upper() == "SUCCESS" else f"{word} {detail.lower()}".strip()
    result = str(d.get("result") or "").upper()
    version = d.get("file_version") or d.get("target_version")
    if result == "SUCCESS":
        return f"{word} ok" + (f" {version_text(version)}" if version is not None else "")
    text = f"{word} {result.lower().replace('_', ' ') or 'outcome'}"
    if d.get("observed_version") is not None and word == "activation":
        text += f" (running {version_text(d['observed_version'])})"
    return text + (f": {d['detail']}" if d.get("detail") else "")


def _version(detail: str) -> str:
    d = parse_detail(detail)
    source = str(d.get("source") or "").replace("_", " ").lower()
    text = f"{version_text(d.get('version'))} seen" + (f" ({source})" if source else "")
    if d.get("regression"):
        text += ", went back"
    elif d.get("unexplained_change"):
        text += ", changed outside OTA"
    return text


def version_event_shown(event: dict[str, Any]) -> bool:
    """A version the CH read or a surprise is worth a row; the echo of every QNI is not."""
    d = parse_detail(event.get("detail"))
    return d.get("source") != "QUERY_NEXT_IMAGE" or bool(d.get("regression") or d.get("unexplained_change"))


def qni_answer(event: dict[str, Any]) -> str:
    """The CH's Query Next Image Response: 'v2 offered' or 'no image' (with the status when not plain)."""
    status = event.get("status")
    if status == 0:
        m = _V.search(str(event.get("detail") or ""))
        return f"{version_text(m.group(1))} offered" if m else "image offered"
    if status == 0x98 or status is None:
        return "no image"
    return f"refused {status_text(status)}"


def event_text(event: dict[str, Any], origin: float | None = None) -> str:
    """One timeline event as a short label (no dicts, codes in hex)."""
    kind = str(event.get("kind") or "")
    detail = str(event.get("detail") or "").strip()
    if detail == "None":
        detail = ""
    if kind == "query_next_image":
        m = _V.search(detail)
        return f"QNI {version_text(m.group(1))}" if m else "QNI"
    if kind == "query_next_image_rsp":
        return qni_answer(event)
    if kind == "image_notify":
        m = _V.search(detail)
        return "Image Notify" + (f" {version_text(m.group(1))}" if m else "")
    if kind == "upgrade_end":
        return "Upgrade End " + (status_text(event.get("status")) or "").strip() if event.get("status") is not None \
            else "Upgrade End"
    if kind == "upgrade_end_rsp":
        if "unsolicited" in detail:
            return "activate (unsolicited)"
        m = re.search(r"plan=(\w+)", detail)
        plan = m.group(1) if m else ""
        if plan == "now":
            return "activate now"
        if plan == "wait":
            return "wait for activation"
        at = re.search(r"activation_at=([\d.]+)", detail)
        if at and origin is not None:
            return f"activate at {offset_text(float(at.group(1)) - origin)}"
        return f"activate {plan}".strip()
    if kind == "alert":
        return _alert_event(detail)
    if kind == "sr":
        return _sr(detail)
    if kind == "transfer_outcome":
        return _outcome("transfer", detail)
    if kind == "activation_outcome":
        return _outcome("activation", detail)
    if kind == "image_discarded":
        reason = parse_detail(detail).get("reason")
        return "image discarded" + (f": {str(reason).replace('_', ' ')}" if reason else "")
    if kind == "version":
        return _version(detail)
    if kind == "pair":
        return "joined"
    if kind == "reboot":
        return "reboot into the new image" if event.get("reason") == "activation" else "reboot (power cycle)"
    if kind == "fault":
        return f"fault: {detail.replace('_', ' ')}" if detail else "fault"
    if kind == "wait_for_data":
        return "WAIT_FOR_DATA"
    if kind == "abort":
        return "ABORT" + (f": {detail}" if detail else "")
    if kind == "ch_restart":
        return "CH restart"
    if kind == "radio":
        return f"radio {detail}"
    text = kind.replace("_", " ")
    return f"{text}: {detail}" if detail and "{" not in detail else text


# -- times -------------------------------------------------------------------------------------
def clock_origin(record: dict[str, Any]) -> float | None:
    """The wall-clock time (epoch s) of the plan's t = 0, from the alerts' clock times, else the start."""
    for alert in record.get("alerts") or []:
        if isinstance(alert, dict):
            try:
                return float(alert["time"]) - float(alert["t"])
            except (KeyError, TypeError, ValueError):
                continue
    try:
        return float(record.get("started_wall"))
    except (TypeError, ValueError):
        return None


def clock_text(epoch: float | None, *, day_of: float | None = None) -> str:
    """Local clock time 'HH:MM:SS' (with the date when it is another day than `day_of`)."""
    if epoch is None:
        return "-"
    try:
        when = dt.datetime.fromtimestamp(epoch).astimezone()
    except (OverflowError, OSError, ValueError):
        return "-"
    if day_of is not None:
        try:
            if dt.datetime.fromtimestamp(day_of).date() != when.date():
                return when.strftime("%Y-%m-%d %H:%M:%S")
        except (OverflowError, OSError, ValueError):
            pass
    return when.strftime("%H:%M:%S")


def zone_text(epoch: float | None) -> str:
    try:
        when = dt.datetime.fromtimestamp(epoch or 0).astimezone()
    except (OverflowError, OSError, ValueError):
        return ""
    return f"{when.tzname()} (UTC{when.strftime('%z')[:3]}:{when.strftime('%z')[3:]})"


def offset_text(seconds: Any) -> str:
    """Time since the plan started: '+2.5 s', '+15m03', '+2h05', '+3d04h'."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "-"
    sign = "-" if s < 0 else "+"
    s = abs(s)
    if s < 60:
        return f"{sign}{s:.1f} s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m{int(s % 60):02d}"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h{int(s % 3600 // 60):02d}"
    return f"{sign}{int(s // 86400)}d{int(s % 86400 // 3600):02d}h"
