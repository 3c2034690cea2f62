"""A realistic synthetic run record (RunRecord.to_json() shape) for report tests and the screenshot.

PPMID: 96 KiB image in 64-byte blocks at ~4 blocks/s, one WAIT_FOR_DATA pause (30 s) at 25 %, a reboot at
60 % (resumes from its saved offset after 12 s), Upgrade End, activation. HCALCS: a smaller image, served
in parallel, with one abort and a restart. Then a 15-minute activation check: the timeline cuts that gap.
"""

from __future__ import annotations

import copy
from typing import Any

PPMID_SIZE = 96 * 1024
HCALCS_SIZE = 24 * 1024
BLOCK = 64
PAUSE_AT = 0.25
REBOOT_AT = 0.60


def _ev(t: float, device: str | None, kind: str, detail: str = "", *, offset: int | None = None,
        size: int | None = None, actor: str | None = None, to: str | None = None) -> dict[str, Any]:
    return {"t": round(t, 3), "device": device, "kind": kind, "detail": detail, "offset": offset, "size": size,
            "actor": actor, "to": to}


def _transfer(events: list, device: str, size: int, start: float, *, pause_at: float | None = None,
              pause_s: float = 30.0, reboot_at: float | None = None, reboot_s: float = 12.0,
              abort_at: float | None = None) -> float:
    """Append block events (and faults) for one transfer; returns the time of the Upgrade End."""
    t = start
    events.append(_ev(t, device, "query", "QNI v=0x00000001", actor="device", to="CH"))
    t += 0.2
    offset = 0
    paused = rebooted = aborted = False
    while offset < size:
        if pause_at is not None and not paused and offset >= pause_at * size:
            paused = True
            events.append(_ev(t, device, "wait_for_data", f"RequestTime {int(pause_s)} s (server busy)",
                              offset=offset, size=size, actor="CH", to="device"))
            t += pause_s
        if reboot_at is not None and not rebooted and offset >= reboot_at * size:
            rebooted = True
            events.append(_ev(t, device, "reboot", "power cycle (fault injection)", actor="device"))
            t += reboot_s
            events.append(_ev(t, device, "query", "QNI after reboot", actor="device", to="CH"))
            t += 0.2
        if abort_at is not None and not aborted and offset >= abort_at * size:
            aborted = True
            events.append(_ev(t, device, "abort", "client aborted download", offset=offset, size=size,
                              actor="device", to="CH"))
            t += 5.0
            offset = 0  # starts over
            events.append(_ev(t, device, "query", "QNI retry", actor="device", to="CH"))
        events.append(_ev(t, device, "block", "", offset=offset, size=size, actor="CH", to="device"))
        offset += BLOCK
        t += 0.25
    events.append(_ev(t, device, "upgrade_end", "status SUCCESS", actor="device", to="CH"))
    return t


def synthetic_record() -> dict[str, Any]:
    ev: list[dict[str, Any]] = []
    ev.append(_ev(0.0, "ppmid", "sr", "SR 11.4 Update PPMID Firmware req=R1", actor="DSP", to="CSP"))
    ev.append(_ev(0.1, "ppmid", "sr", "distribute image", actor="CSP", to="CH"))
    ev.append(_ev(0.3, "ppmid", "offer", "offer 1 plan=now", actor="CH", to="device"))
    ev.append(_ev(0.3, "hcalcs", "offer", "offer 2 plan=wait", actor="CH", to="device"))
    end_p = _transfer(ev, "ppmid", PPMID_SIZE, 1.0, pause_at=PAUSE_AT, reboot_at=REBOOT_AT)
    end_h = _transfer(ev, "hcalcs", HCALCS_SIZE, 2.0, abort_at=0.5)
    ev.append(_ev(end_p + 0.1, "ppmid", "transfer_outcome", "SUCCESS", actor="CH", to="CSP"))
    ev.append(_ev(end_h + 0.1, "hcalcs", "transfer_outcome", "SUCCESS", actor="CH", to="CSP"))
    ev.append(_ev(end_p + 0.2, "ppmid", "activation", "activate now", actor="CH", to="device"))
    check = end_p + 15 * 60 + 1
    ev.append(_ev(check, "ppmid", "activation_outcome", "SUCCESS v=0x00000002", actor="CH", to="CSP"))
    ev.append(_ev(check + 0.5, "ppmid", "alert", "N63 activation success", actor="CSP", to="DSP"))
    ev.sort(key=lambda e: e["t"])
    return {
        "record_version": 1,
        "plan": {"id": "ppmid-reboot-and-throttle", "name": "PPMID update survives a reboot and WAIT_FOR_DATA",
                 "file": "testplans/ppmid_reboot.yaml"},
        "bench": {"radio": "emulated", "ezsp_version": 13, "channel": 15, "pan_id": "0x1A62"},
        "verdict": "fail",
        "message": "step 5: HCALCS transfer needed 1 restart (limit 0)",
        "started_wall": 1767225600.0,
        "wall_seconds": 41.7,
        "steps": [
            {"index": 1, "kind": "join", "title": "PPMID and HCALCS join the HAN", "verdict": "pass", "message": "",
             "started": 0.0, "wall_seconds": 0.8, "args": {}},
            {"index": 2, "kind": "update_firmware", "title": "SR 11.4 to the PPMID (activate now)",
             "verdict": "pass", "message": "", "started": 0.0, "wall_seconds": 0.2, "args": {}},
            {"index": 3, "kind": "fault", "title": "Power-cycle the PPMID at 60 %", "verdict": "pass",
             "message": "rebooted at offset 58,944", "started": 0.0, "wall_seconds": 0.1, "args": {}},
            {"index": 4, "kind": "expect_alert", "title": "N63 activation success", "verdict": "pass",
             "message": "", "started": 0.0, "wall_seconds": 0.1, "args": {}},
            {"index": 5, "kind": "expect_transfer", "title": "HCALCS transfer without restart", "verdict": "fail",
             "message": "transfer restarted once after the client aborted", "started": 0.0, "wall_seconds": 0.1,
             "args": {}},
        ],
        "measurements": [
            {"name": "throughput", "value": 248.3, "unit": "B/s", "minimum": 100.0, "maximum": None,
             "device": "ppmid", "passed": True},
            {"name": "time_to_activate", "value": 912.4, "unit": "s", "minimum": None, "maximum": 3600.0,
             "device": "ppmid", "passed": True},
            {"name": "restarts", "value": 1.0, "unit": "", "minimum": None, "maximum": 0.0, "device": "hcalcs",
             "passed": False},
        ],
        "images": {"ppmid-v2": {"file_version": "0x00000002", "size": PPMID_SIZE, "sha256": "9f2c…"}},
        "devices": {"ppmid": {"ieee": "00:0d:6f:00:0a:bc:de:01", "kind": "ppmid"},
                    "hcalcs": {"ieee": "00:0d:6f:00:0a:bc:de:02", "kind": "hcalcs"}},
        "alerts": [
            {"seq": 2, "code": "N63", "device": "ppmid", "request_id": "R1", "time": round(check + 0.5, 3),
             "fields": {"result": "success", "version": "0x00000002"}},
            {"seq": 1, "code": "8F66", "device": "hcalcs", "request_id": "R2", "time": round(end_h, 3),
             "fields": {"result": "transfer success"}},
        ],
        "events": ev,
    }


def record_copy() -> dict[str, Any]:
    return copy.deepcopy(synthetic_record())
