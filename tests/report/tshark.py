"""tshark for the capture tests: found on PATH, never installed from inside a test (.ci/run installs it).
Without it the tests skip with the reason, except under CI=true where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

INSTALL = "the Debian package tshark"


def tshark_or_skip() -> str:
    path = shutil.which("tshark")
    if path:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"tshark is missing under CI: .ci/run installs it ({INSTALL})")
    pytest.skip(f"tshark not installed: {INSTALL} (.ci/run does it in CI)")


def fields(pcap: str, *names: str, display_filter: str | None = None) -> list[list[str]]:
    """tshark -T fields for each packet: one row per packet, one column per field ('' when absent)."""
    cmd = [tshark_or_skip(), "-r", pcap, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for name in names:
        cmd += ["-e", name]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [line.split("|") for line in done.stdout.splitlines()]


def expert(pcap: str) -> str:
    """tshark's expert info (malformed packets, bad FCS ...) for the file."""
    done = subprocess.run([tshark_or_skip(), "-r", pcap, "-q", "-z", "expert,warn"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
