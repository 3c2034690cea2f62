"""Find (or, as root on Debian, install) tshark for the capture tests; skip with the reason otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

INSTALL = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tshark"


def tshark_or_skip() -> str:
    path = shutil.which("tshark")
    if path:
        return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "-q", "tshark"], env=env, check=True, capture_output=True,
                           timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"tshark missing and `{INSTALL}` failed: {exc}")
        path = shutil.which("tshark")
        if path:
            return path
    pytest.skip(f"tshark not installed and cannot install it here (needs root + apt-get); run: {INSTALL}")


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
