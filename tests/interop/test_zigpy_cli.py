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
# a device the edited backup adds, with its APS link key (restored into the stick's key table)
DEVICE = {"nwk_address": "5a3c", "ieee_address": "0011223344556677", "is_child": False,
          "link_key": {"key": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", "tx_counter": 0, "rx_counter": 0}}
# and a child of the coordinator (restored into the stick's child table)
CHILD = {"nwk_address": "7a11", "ieee_address": "00112233445566a1", "is_child": True}


def zigpy(port: str, *args: str) -> str:
    # `python -m zigpy_cli` only imports the commands; the `zigpy` script calls the click group
    entry = "from zigpy_cli.__main__ import cli; cli()"
    proc = subprocess.run([sys.executable, "-c", entry, "radio", "ezsp", port, *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"zigpy radio ezsp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


STEPS = ["form", "backup", "restore edited", "backup again", "info", "energy-scan"]


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
                          channel_mask=[new_channel], network_key=dict(backup["network_key"], key=NEW_KEY),
                          devices=[DEVICE, CHILD])
            edited_path = tmp_path / "edited.json"
            edited_path.write_text(json.dumps(edited))
            zigpy(port, "restore", str(edited_path))
            detail.update(pan_id=edited["pan_id"], channel=new_channel, key=NEW_KEY[:8] + "...")

        with steps.step("backup again") as detail:
            again_path = tmp_path / "again.json"
            zigpy(port, "backup", str(again_path))
            again = json.loads(again_path.read_text())
            keys = {d["ieee_address"]: d.get("link_key", {}).get("key") for d in again["devices"]}
            if version < 14:  # the device's link key went into the stick's key table and came back
                assert keys.get(DEVICE["ieee_address"]) == DEVICE["link_key"]["key"], again["devices"]
            else:  # bellows 1.2.1 reads 8.x's exportLinkKeyByIndex in 7.x's field order: it never sees a key
                assert DEVICE["ieee_address"] not in keys, "bellows now reads link keys at 14+: assert them here"
            child = next((d for d in again["devices"] if d["ieee_address"] == CHILD["ieee_address"]), None)
            assert child is not None and (child["nwk_address"], child["is_child"]) == ("7a11", True), again["devices"]
            assert (again["pan_id"], again["channel"], again["network_key"]["key"]) == (f"{NEW_PAN:04x}", new_channel,
                                                                                       NEW_KEY)
            detail.update(pan_id=again["pan_id"], channel=again["channel"],
                          link_keys=len([k for k in keys.values() if k]), children=sum(d["is_child"] for d in again["devices"]))

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
