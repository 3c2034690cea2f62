"""SIGKILL the back end (in a child process, with the fake CH inside it) at several points; after a
restart the scenario completes and every alert is in the log exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("crash_child.py")
EXPECTED = Counter({("N60", "00:db:12:34:56:78:90:a4", "R1"): 1, ("N60", "00:db:12:34:56:78:90:a5", "R1"): 1,
                    ("0x8F8A", "00:db:12:34:56:78:90:a4", "R1"): 1, ("0x8F89", "00:db:12:34:56:78:90:a5", "R1"): 1,
                    ("0x8F8B", "00:db:12:34:56:78:90:a4", "R1"): 1, ("N60", "00:db:12:34:56:78:90:b1", "R2"): 1,
                    ("0x8F8A", "00:db:12:34:56:78:90:b1", "R2"): 1, ("N63", "00:db:12:34:56:78:90:a2", "R3"): 1})


def _run(workdir: Path, pause_at: str | None = None) -> list[dict]:
    cmd = [sys.executable, str(CHILD), str(workdir)] + (["--pause-at", pause_at] if pause_at else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    alerts = None
    try:
        for line in proc.stdout:
            if line.startswith("PAUSE"):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                assert proc.returncode == -signal.SIGKILL
                return []
            if line.startswith("ALERTS "):
                alerts = json.loads(line[7:])
            if line.startswith("ERRORS "):
                assert json.loads(line[7:]) == []
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()
    assert pause_at is None, f"the child never reached {pause_at}"
    return alerts


def _summary(alerts: list[dict]) -> Counter:
    return Counter((a["code"], a["device"], a["request_id"]) for a in alerts)


def test_uninterrupted_run_gives_the_reference_alerts(tmp_path):
    assert _summary(_run(tmp_path)) == EXPECTED


@pytest.mark.parametrize("point", ["append:2", "step:2", "append:5", "step:4", "step:7"])
def test_sigkill_then_restart_gives_every_alert_exactly_once(tmp_path, point):
    _run(tmp_path, point)
    alerts = _run(tmp_path)
    assert _summary(alerts) == EXPECTED
    assert len({a["dedup"] for a in alerts}) == len(alerts)
