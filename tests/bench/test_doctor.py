"""rig doctor: says clearly when there is no stick; reports the EZSP version of whatever answers."""

import subprocess
import sys

import pytest

from rig.bench.doctor import describe_probe, list_ports, probe
from rig.emu import Emulator


@pytest.mark.parametrize("version", [13, 14])
async def test_probe_reports_the_emulated_sticks_ezsp_version(version):
    async with Emulator(ezsp_version=version) as emu:
        result = await probe(emu.port, timeout=10)
    assert result.ok and result.ezsp_version == version
    assert result.supported
    text = describe_probe(result)
    assert f"EZSP protocol version : {version}" in text and "supported             : yes" in text


async def test_probe_of_something_that_is_not_a_stick_says_so(tmp_path):
    silent = tmp_path / "not-a-stick"
    silent.write_text("")
    result = await probe(str(silent), timeout=3)
    assert not result.ok and result.error
    assert describe_probe(result).startswith(f"{silent}: no EZSP stick answered")


def test_doctor_without_a_stick_exits_non_zero_with_a_clear_message():
    if any(p.hint for p in list_ports()):
        pytest.skip("a USB serial adapter that may be a stick is attached to this machine")
    proc = subprocess.run([sys.executable, "-m", "rig.cli", "doctor"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "No Zigbee stick found" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_doctor_against_rig_emulate_in_another_process():
    emu = subprocess.Popen([sys.executable, "-m", "rig.cli", "emulate", "--devices", ""], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for _ in range(50):
            line = emu.stdout.readline()
            if "/dev/" in line or "tcp://" in line:
                port = next(w for w in line.split() if w.startswith(("/dev/", "tcp://")))
                break
        assert port, "rig emulate printed no serial path"
        proc = subprocess.run([sys.executable, "-m", "rig.cli", "doctor", "--port", port, "--timeout", "10"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "EZSP protocol version : 13" in proc.stdout
    finally:
        emu.terminate()
        emu.wait(timeout=10)
