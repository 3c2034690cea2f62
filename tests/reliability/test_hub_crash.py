"""SIGKILL the hub + back end process mid-transfer. The emulated stick and the device live in this test
process (the stick outlives the hub, as a USB dongle outlives a crashed CH firmware); the hub and back
end run in a child on the emulator's TCP port with their SQLite files. A new child on the same files
finishes the job: the device holds the identical image and every alert exists exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from rig.clock import RealClock
from tests.hub.images import PPMID, image

CHILD = Path(__file__).with_name("hub_child.py")
IEEE = "00:0d:6f:00:0a:bc:de:01"


async def _spawn(port: str, workdir: Path, mode: str, *, wait: bool = False) -> asyncio.subprocess.Process:
    """The hub child; `wait`: it imports, then waits for a line on stdin before it opens anything."""
    return await asyncio.create_subprocess_exec(sys.executable, str(CHILD), port, str(workdir), IEEE, mode,
                                                *(["wait"] if wait else []), stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _line(proc: asyncio.subprocess.Process, prefix: str, timeout: float) -> str:
    async def read() -> str:
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                err = (await proc.stderr.read()).decode()[-2000:]
                raise AssertionError(f"child exited before printing {prefix}: rc={await proc.wait()}\n{err}")
            line = raw.decode().strip()
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    return await asyncio.wait_for(read(), timeout)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kill_at", [0.25, 0.6])
async def test_sigkill_hub_mid_transfer_then_restart(tmp_path, kill_at) -> None:
    from rig.emu import Emulator
    from rig.emu.profiles import load_profile
    import dataclasses

    data = image(PPMID, 2, 8000, seed=int(kill_at * 100))
    (tmp_path / "image.ota").write_bytes(data)
    prof = load_profile("ppmid")
    # Short request timeouts and a generous error budget: the device keeps asking while the hub is gone.
    prof = dataclasses.replace(prof, ota=dataclasses.replace(prof.ota, response_timeout_s=0.5, max_block_errors=400))
    async with Emulator(ezsp_version=13, transport="tcp", clock=RealClock(), seed=7) as emu:
        dev = emu.add_device(prof, ieee=IEEE)
        first = await _spawn(emu.port, tmp_path, "start")
        # The successor starts now but touches nothing until the kill: only its start-up overlaps.
        second = await _spawn(emu.port, tmp_path, "resume", wait=True)
        try:
            await _line(first, "READY", 60)
            await emu.join(dev, wait=30)
            assert (await _line(first, "SR", 60)).startswith("True")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while dev.flash.file_offset in (0xFFFFFFFF,) or dev.flash.file_offset < kill_at * len(data):
                assert loop.time() < deadline, "transfer never got going"
                await asyncio.sleep(0.005)
            killed_at = dev.flash.file_offset
            await _kill(first)
            assert 0 < killed_at < len(data), "the kill must land mid-transfer"
            second.stdin.write(b"go\n")
            await second.stdin.drain()
            alerts = json.loads(await _line(second, "ALERTS", 90))
            errors = json.loads(await _line(second, "ERRORS", 10))
            assert await asyncio.wait_for(second.wait(), 30) == 0
        finally:
            await _kill(first)
            await _kill(second)
        assert errors == []
        assert dev.flash.current_file_version == 2 and dev.flash.installed_image == data
        assert not dev.ota.events("download_aborted")
        counts = Counter((a["code"], a["device"]) for a in alerts)
        assert counts[("0x8F8A", IEEE)] == 1, alerts
        assert counts[("0x8F89", IEEE)] == 0, alerts
        assert counts[("N60", IEEE)] == 1, alerts  # delivered to the CH: once, from the first process
        assert len({a["dedup"] for a in alerts}) == len(alerts)
