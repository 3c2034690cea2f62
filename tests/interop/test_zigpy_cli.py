"""zigpy-cli (PyPI zigpy-cli, a tool the rig did not write) against `rig emulate` over tcp://.

form, backup, restore of an edited backup (new PAN ID, channel and network key), info showing the
edit, energy-scan: what a user does to move a network between sticks. The emulator must record no
errors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.interop.emulate_cli import EmulateProcess

pytest.importorskip("zigpy_cli", reason="zigpy-cli is in the project's `test` extra")

NEW_PAN = 0x2B3C
NEW_CHANNEL = 20
NEW_KEY = "0f0e0d0c0b0a09080706050403020100"


def zigpy(port: str, *args: str) -> str:
    # `python -m zigpy_cli` only imports the commands; the `zigpy` script calls the click group
    entry = "from zigpy_cli.__main__ import cli; cli()"
    proc = subprocess.run([sys.executable, "-c", entry, "radio", "ezsp", port, *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"zigpy radio ezsp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.parametrize("version", [13, 14])
def test_zigpy_cli_form_backup_restore_info_scan(version, tmp_path):
    emulator = EmulateProcess("--transport", "tcp", "--ezsp-version", str(version), workdir=tmp_path)
    try:
        port = emulator.port
        zigpy(port, "form")
        backup_path = tmp_path / "backup.json"
        zigpy(port, "backup", str(backup_path))
        backup = json.loads(backup_path.read_text())
        assert backup["metadata"]["format"] == "zigpy/open-coordinator-backup"
        formed_pan = int(backup["pan_id"], 16)

        edited = dict(backup, pan_id=f"{NEW_PAN:04x}", channel=NEW_CHANNEL,
                      channel_mask=[NEW_CHANNEL], network_key=dict(backup["network_key"], key=NEW_KEY))
        edited_path = tmp_path / "edited.json"
        edited_path.write_text(json.dumps(edited))
        zigpy(port, "restore", str(edited_path))

        info = zigpy(port, "info")
        assert re.search(rf"PAN ID:\s+0x{NEW_PAN:04X}", info), info
        assert re.search(rf"Channel:\s+{NEW_CHANNEL}\b", info), info
        assert NEW_KEY in info.replace(":", "").lower(), info
        assert NEW_PAN != formed_pan

        scan = zigpy(port, "energy-scan", "-n", "0")
        channels = re.findall(r"-\s+[\[ ](\d\d)", scan)
        assert sorted(set(int(c) for c in channels)) == list(range(11, 27)), scan
        assert re.search(rf"\[{NEW_CHANNEL}[ *]\]", scan), scan  # zigpy-cli brackets the current channel
    finally:
        errors = emulator.stop()
    print(f"EZSP v{version}: emulator errors {len(errors)}")
    assert errors == [], "the emulated NCP recorded errors:\n" + "\n".join(errors)
