"""`rig emulate` as a separate process: a bellows host forms a network on the printed path; SIGTERM exits 0."""

from __future__ import annotations

import asyncio
import signal
import sys

from tests.emu.conftest import app_config


async def test_rig_emulate_serves_bellows_and_exits_cleanly():
    from bellows.zigbee.application import ControllerApplication

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rig.cli", "emulate", "--ezsp-version", "13",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert b"stick ready:" in line, line
        port = line.decode().rsplit(":", 1)[1].strip() if b"tcp://" not in line else None
        assert port and port.startswith("/dev/"), line
        app = await ControllerApplication.new(app_config(port), auto_form=True, start_radio=True)
        assert app._ezsp.ezsp_version == 13
        await app.shutdown()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert b"stopped" in out
    assert b"recorded" not in err  # no emulator errors reported on exit


def test_rig_emulate_rejects_unknown_version(capsys):
    # In this process: the refusal comes before anything is opened, so no new interpreter is needed for it
    # (a traceback would fail the test as an exception here).
    from rig.cli import main

    assert main(["emulate", "--ezsp-version", "99"]) == 2
    err = capsys.readouterr().err
    assert "ezsp_version 99" in err and "Traceback" not in err
