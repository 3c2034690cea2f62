"""Shared bring-up for the reliability/security campaign: emulated stick + Hub (+ Back end) in-process.

Everything goes through the real ASH/EZSP line and bellows/zigpy; only the devices are emulated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from rig.bench.quiet import quiet_enough
from rig.bench.session import EmulatedRadio, Session
from rig.clock import VirtualClock
from rig.hub import Hub, HubConfig
from rig.hub.events import TransferOutcome
from tests.hub.images import firmware
from tests.session_view import SessionView

BENCH = Path(__file__).resolve().parents[2] / "fixtures" / "benches" / "emulated.yaml"
IS_A = "90-B3-D5-1F-30-01-00-00"  # import supplier of every device here
GS_A = "90-B3-D5-1F-30-02-00-00"  # gas supplier
OTHER = "90-B3-D5-1F-30-09-00-00"  # a known supplier responsible for nothing
SEEDS = (1, 2, 3)


async def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll in real time; AssertionError naming `what` after `timeout` s (never hangs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def duis(ieee: str) -> str:
    return ieee.replace(":", "-").upper()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Stack(SessionView):
    """A rig.bench.session.Session on the emulated stick (+ a back end), seen as these tests use it."""

    @property
    def workdir(self) -> Path:
        return self.session.workdir

    @property
    def backend(self):
        return self.session.backend

    async def device(self, profile: str = "ppmid", *, allow: bool = True, ieee: str | None = None, link=None,
                     ota: dict | None = None):
        """Join an emulated device (profile overrides in `ota`) and wait for zigpy's interview."""
        from rig.emu.profiles import load_profile

        prof = load_profile(profile)
        if ota:
            prof = dataclasses.replace(prof, ota=dataclasses.replace(prof.ota, **ota))
        name = f"{profile}-{len(self.session.devices) + 1}"
        handle = self.session.add_device(name, prof, in_device_log=allow, ieee=ieee, link=link)
        await self.session.pair(name, within=60)
        return handle.emulated

    def outcomes(self, ieee: str) -> list[TransferOutcome]:
        return [e for e in self.hub.events if isinstance(e, TransferOutcome) and e.ieee == ieee]

    def attach_backend(self, devices: list[tuple[str, str]], cpl_entries: list[dict], signers: list[dict] = ()):
        """A Back end on this hub; `devices`: (ieee, KIND) with IS_A/GS_A responsible for each."""
        from rig.backend import Fixtures

        estate = {"suppliers": [{"id": IS_A}, {"id": GS_A}, {"id": OTHER}],
                  "devices": [{"id": duis(i), "kind": k, "model": f"{k}-EMU", "import_supplier": IS_A,
                               "gas_supplier": GS_A} for i, k in devices]}
        fixtures = Fixtures.from_dicts(estate, {"entries": cpl_entries, "signers": list(signers)})
        return self.session.start_backend(fixtures)


def cpl_entry(kind: str, data: bytes) -> dict:
    from rig.image import parse_image

    img = parse_image(data)
    return {"model": f"{kind}-EMU", "manufacturer_code": img.manufacturer_code, "image_type": img.image_type,
            "firmware_version": img.file_version, "sha256": sha(data)}


@pytest.fixture
async def make_stack(tmp_path):
    sessions: list[Session] = []

    async def factory(seed: int = 0, **options) -> Stack:
        config = HubConfig.load(BENCH).with_options(db_path=str(tmp_path / "hub.sqlite3"), **options)
        session = Session(EmulatedRadio(ezsp_version=13, seed=seed), config, tmp_path)
        sessions.append(session)
        await asyncio.wait_for(session.start(), 60)  # the hub follows the stick to a new pty if its line closes
        return Stack(session)

    yield factory
    for session in reversed(sessions):
        try:
            await asyncio.wait_for(session.stop(), 40)
        except Exception:  # noqa: BLE001 - already stopped, or the line is gone by design
            pass


def bare_firmware(size: int, seed: int = 0) -> bytes:
    return firmware(size, seed)


async def drive_until(stack: Stack, done: Callable[[], object], *, rig_s: float = 3600.0, real_s: float = 60.0,
                      what: str = "condition", idle: float = 0.05) -> object:
    """Like wait_for, but when the bench is quiet for `idle` real seconds, jump the virtual clock to the
    next timer (device timeouts, hourly re-asks); fails after `rig_s` of rig time or `real_s` real."""
    loop = asyncio.get_running_loop()
    real_end = loop.time() + real_s
    rig_end = stack.clock.now() + rig_s

    def activity() -> tuple[int, ...]:
        return len(stack.hub.frames), *stack.session.radio.activity()

    seen, quiet_since = activity(), loop.time()
    while not (result := done()):
        if loop.time() > real_end or stack.clock.now() > rig_end:
            raise AssertionError(f"no {what} within {rig_s:g} s rig time / {real_s:g} s real time")
        await asyncio.sleep(0.01)
        now = activity()
        if now != seen:
            seen, quiet_since = now, loop.time()
        elif quiet_enough(loop.time() - quiet_since, idle, stack.hub, stack.session.radio):
            nxt = stack.clock.next_deadline()
            step = 1.0 if nxt is None else max(0.0, min(nxt, rig_end) - stack.clock.now())
            await stack.clock.advance(step, settle=lambda: asyncio.sleep(0.002))
            quiet_since = loop.time()
    return result
