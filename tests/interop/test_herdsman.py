"""zigbee-herdsman (the stack under zigbee2mqtt), `ember` adapter, over tcp:// to `rig emulate`.

A host the rig did not write, pinned by tests/interop/package-lock.json: start (form), permit, the
emulated PPMID joins, interview, read Basic (manufacturer, model), an OTA upgrade with herdsman's own
OTA server (Device.updateOta from a local file), stop, start again (the network is resumed, not
formed anew), at EZSP 13, 14 and 19 (the newest herdsman 11 speaks); at 13 and 19 also a touchlink
scan and a CCA mode from herdsman's stack config. Then herdsman's own backup, with a device's link
key added, onto a new blank stick: herdsman restores it (keys, NWK frame counter, PAN, channel).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.interop.emulate_cli import EmulateProcess
from tests.interop.node_env import HERE, herdsman_package, herdsman_root, require_tool
from tests.interop.test_zigpy_app import small_image

NETWORK_KEY = "01030507090b0d0f00020406080a0c0d"  # what herdsman_driver.js configures
# a device added to herdsman's backup before it is restored, with its APS link key
DEVICE_IEEE, DEVICE_KEY = "00112233445566a7", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
STEPS = ["start", "form", "permit", "join", "interview", "read Basic", "ota", "stop", "restart", "stop again"]


def ppmid_image(version: int) -> bytes:
    """A small OTA file for the emulated PPMID (its manufacturer code and image type)."""
    return bytes(small_image(version).firmware.serialize())


@pytest.fixture(scope="module")
def herdsman() -> str:
    return str(herdsman_package(herdsman_root()))


def run_herdsman(herdsman: str, port: str, workdir, ota_file, *extra: str, restore: bool = False) -> list[dict]:
    node = require_tool("node")
    env = dict(os.environ, RESTORE="1" if restore else "0")
    proc = subprocess.run([node, str(HERE / "herdsman_driver.js"), herdsman, port, str(workdir), str(ota_file), *extra],
                          capture_output=True, text=True, timeout=240, env=env)
    steps = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for s in steps:
        print(f"  {s['step']:<15} {'ok' if s['ok'] else 'FAILED'} {s.get('seconds', 0):.2f} s "
              f"{ {k: v for k, v in s.items() if k not in ('step', 'ok', 'seconds', 'log', 'error')} }")
    failed = [s for s in steps if not s["ok"]]
    if failed or proc.returncode != 0:
        detail = failed[0] if failed else {"stderr": proc.stderr[-3000:]}
        log = "\n    ".join(detail.get("log", []))
        pytest.fail(f"herdsman step {detail.get('step', '?')!r} failed: {detail.get('error', detail)}\n    {log}")
    return steps


VERSIONS = [13, 14, 19]


def test_the_newest_ezsp_version_herdsman_speaks_is_tested(herdsman):
    consts = (Path(herdsman) / "dist" / "adapter" / "ember" / "ezsp" / "consts.js").read_text()
    newest = int(re.search(r"EZSP_PROTOCOL_VERSION = (0x[0-9a-fA-F]+|\d+);", consts).group(1), 0)
    assert newest == max(VERSIONS), f"herdsman now speaks EZSP {newest}: test it"


@pytest.mark.parametrize("version", VERSIONS)
def test_herdsman_ember_adapter(version, herdsman, tmp_path):
    emulator = EmulateProcess("--transport", "tcp", "--devices", "ppmid", "--ezsp-version", str(version),
                              workdir=tmp_path)
    try:
        if version != 14:  # herdsman's stack config (next to its backup): start-up then sets the CCA mode
            (tmp_path / "stack_config.json").write_text(json.dumps({"CCA_MODE": "SIGNAL_AND_RSSI"}))
        ota_file = tmp_path / "ppmid-v2.ota"
        ota_file.write_bytes(ppmid_image(2))
        # touchlink's 16-channel scan costs ~9 s: at 13 (7.x callbacks) and 19 (8.x), not 14 as well
        steps = run_herdsman(herdsman, emulator.port, tmp_path, ota_file, *(["touchlink"] if version != 14 else []))
    finally:
        errors = emulator.stop()
    print(f"zigbee-herdsman {json.loads((Path(herdsman) / 'package.json').read_text())['version']}, "
          f"EZSP v{version}: emulator errors {len(errors)}")
    expected = STEPS if version == 14 else [*STEPS[:7], "touchlink scan", "read after scan", *STEPS[7:]]
    assert [s["step"] for s in steps] == expected
    by_step = {s["step"]: s for s in steps}
    assert by_step["start"]["result"] == "reset"  # a blank stick: herdsman formed the network
    assert by_step["restart"]["result"] == "resumed"
    assert by_step["read Basic"]["modelId"] == "EMU-PPMID"
    assert (by_step["ota"]["from"], by_step["ota"]["to"]) == (1, 2)
    assert "joined" in emulator.output
    if version != 14:
        assert by_step["touchlink scan"]["found"] == 0 and by_step["touchlink scan"]["channelAfter"] == 15
        # the stick sent one scan request per channel, each on that channel (rig.emu.ncp_handlers logs them)
        assert "CCA mode set to 3" in emulator.err_path.read_text()  # setRadioIeee802154CcaMode(SIGNAL_AND_RSSI)
        raw = re.findall(r"raw 802\.15\.4 frame on channel (\d+)", emulator.err_path.read_text())
        assert sorted(map(int, raw)) == list(range(11, 27)), raw
    # herdsman writes its coordinator backup (open-coordinator format) on stop, from the stick's answers
    backup = json.loads((tmp_path / "coordinator_backup.json").read_text())
    assert backup["metadata"]["internal"]["ezspVersion"] == version
    assert (backup["pan_id"], backup["extended_pan_id"], backup["channel"]) == ("1a62", "dd" * 8, 15)
    assert backup["network_key"]["key"] == NETWORK_KEY
    assert backup["network_key"]["frame_counter"] > 0  # the stick counted the frames it sent
    assert errors == [], "the emulated NCP recorded errors:\n" + "\n".join(errors)

    # -- the backup onto a new, blank stick, with a device's link key added to it ----------------------
    backup["devices"].append({"ieee_address": DEVICE_IEEE, "nwk_address": "5a3c", "is_child": False,
                              "link_key": {"key": DEVICE_KEY, "tx_counter": 0, "rx_counter": 0}})
    (tmp_path / "coordinator_backup.json").write_text(json.dumps(backup))
    (tmp_path / "blank").mkdir()
    blank = EmulateProcess("--transport", "tcp", "--ezsp-version", str(version), workdir=tmp_path / "blank")
    try:
        steps = run_herdsman(herdsman, blank.port, tmp_path, ota_file, restore=True)
    finally:
        errors = blank.stop()
    print(f"  restore onto a blank stick, EZSP v{version}: emulator errors {len(errors)}")
    by_step = {s["step"]: s for s in steps}
    assert [s["step"] for s in steps] == ["restore start", "restore stop"]
    assert (by_step["restore start"]["panID"], by_step["restore start"]["channel"]) == (0x1A62, 15)
    again = json.loads((tmp_path / "coordinator_backup.json").read_text())
    assert (again["pan_id"], again["extended_pan_id"], again["network_key"]["key"]) == ("1a62", "dd" * 8, NETWORK_KEY)
    assert again["network_key"]["frame_counter"] >= backup["network_key"]["frame_counter"]
    # herdsman imported the device's key before forming (its backups never carry keys back: 11.1.1 builds
    # the key list only when ALLOW_APP_KEY_REQUESTS, a constant false), so the stick's log says so
    ieee = ":".join(DEVICE_IEEE[i:i + 2] for i in range(0, 16, 2))
    assert f"APS link key for {ieee} imported at key-table index 0" in (tmp_path / "blank" / "emulate.err").read_text()
    assert errors == [], "the emulated NCP recorded errors:\n" + "\n".join(errors)

