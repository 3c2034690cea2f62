"""zigpy-cli (PyPI zigpy-cli, a tool the rig did not write) against `rig emulate` over tcp://.

form, backup, restore of an edited backup (new PAN ID, channel and network key), info showing the
edit, energy-scan: what a user does to move a network between sticks. The emulator must record no
errors.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys

import pytest

from tests.interop.emulate_cli import EmulateProcess
from tests.interop.steps import Steps

pytest.importorskip("zigpy_cli", reason="zigpy-cli is in the project's `test` extra")

NEW_PAN = 0x2B3C
NEW_KEY = "0f0e0d0c0b0a09080706050403020100"


def zigpy(port: str, *args: str) -> str:
    # `python -m zigpy_cli` only imports the commands; the `zigpy` script calls the click group
    entry = "from zigpy_cli.__main__ import cli; cli()"
    proc = subprocess.run([sys.executable, "-c", entry, "radio", "ezsp", port, *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"zigpy radio ezsp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


STEPS = ["form", "backup", "restore edited", "info", "energy-scan"]


@pytest.mark.parametrize("version", [13, 14, 19])
def test_zigpy_cli_form_backup_restore_info_scan(version, tmp_path):
    steps = Steps(f"zigpy-cli {importlib.metadata.version('zigpy-cli')} "
                  f"(zigpy {importlib.metadata.version('zigpy')}, bellows {importlib.metadata.version('bellows')}), "
                  f"EZSP v{version}")
    emulator = EmulateProcess("--transport", "tcp", "--ezsp-version", str(version), workdir=tmp_path)
    try:
        port = emulator.port
        with steps.step("form"):
            zigpy(port, "form")
        backup_path = tmp_path / "backup.json"
        with steps.step("backup") as detail:
            zigpy(port, "backup", str(backup_path))
            backup = json.loads(backup_path.read_text())
            assert backup["metadata"]["format"] == "zigpy/open-coordinator-backup"
            formed_pan = int(backup["pan_id"], 16)
            new_channel = 25 if backup["channel"] != 25 else 15  # the edit must change what was formed
            detail.update(pan_id=backup["pan_id"], channel=backup["channel"],
                          frame_counter=backup["network_key"]["frame_counter"])

        with steps.step("restore edited") as detail:
            edited = dict(backup, pan_id=f"{NEW_PAN:04x}", channel=new_channel,
                          channel_mask=[new_channel], network_key=dict(backup["network_key"], key=NEW_KEY))
            edited_path = tmp_path / "edited.json"
            edited_path.write_text(json.dumps(edited))
            zigpy(port, "restore", str(edited_path))
            detail.update(pan_id=edited["pan_id"], channel=new_channel, key=NEW_KEY[:8] + "...")

        with steps.step("info") as detail:
            info = zigpy(port, "info")
            assert re.search(rf"PAN ID:\s+0x{NEW_PAN:04X}", info), info
            assert re.search(rf"Channel:\s+{new_channel}\b", info), info
            assert NEW_KEY in info.replace(":", "").lower(), info
            assert NEW_PAN != formed_pan and new_channel != backup["channel"]  # each edit changed something
            assert backup["network_key"]["key"] != NEW_KEY
            detail.update(pan_id=f"0x{NEW_PAN:04X}", channel=new_channel, key="as restored")

        with steps.step("energy-scan") as detail:
            scan = zigpy(port, "energy-scan", "-n", "0")
            channels = re.findall(r"-\s+[\[ ](\d\d)", scan)
            assert sorted(set(int(c) for c in channels)) == list(range(11, 27)), scan
            assert re.search(rf"\[{new_channel}[ *]\]", scan), scan  # zigpy-cli brackets the current channel
            detail.update(channels=f"{min(map(int, channels))}-{max(map(int, channels))}", current=new_channel)
    finally:
        errors = emulator.stop()
    print(f"  EZSP v{version}: emulator errors {len(errors)}")
    assert steps.passed() == STEPS
    assert errors == [], "the emulated NCP recorded errors:\n" + "\n".join(errors)
