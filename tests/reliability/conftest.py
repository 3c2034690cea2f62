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
from rig.clock import VirtualClock
from rig.hub import Hub, HubConfig
from rig.hub.events import TransferOutcome
from tests.hub.images import firmware

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


@dataclasses.dataclass
class Stack:
    emu: object
    hub: Hub
    clock: VirtualClock
    config: HubConfig
    workdir: Path
    backend: object = None

    async def device(self, profile: str = "ppmid", *, allow: bool = True, ieee: str | None = None, link=None,
                     ota: dict | None = None):
        """Join an emulated device (profile overrides in `ota`) and wait for zigpy's interview."""
        from rig.emu.profiles import load_profile

        prof = load_profile(profile)
        if ota:
            prof = dataclasses.replace(prof, ota=dataclasses.replace(prof.ota, **ota))
        dev = self.emu.add_device(prof, ieee=ieee, link=link)
        if allow:
            self.hub.allow_device(str(dev.ieee), prof.kind)
        await self.hub.permit(60)
        await self.emu.join(dev)
        await wait_for(lambda: self._interviewed(dev), what=f"{profile} interviewed by zigpy")
        return dev

    def _interviewed(self, dev) -> bool:
        zdev = self.hub.app.devices.get(dev.ieee)
        return bool(zdev is not None and zdev.is_initialized)

    def outcomes(self, ieee: str) -> list[TransferOutcome]:
        return [e for e in self.hub.events if isinstance(e, TransferOutcome) and e.ieee == ieee]

    def attach_backend(self, devices: list[tuple[str, str]], cpl_entries: list[dict], signers: list[dict] = ()):
        """A Back end on this hub; `devices`: (ieee, KIND) with IS_A/GS_A responsible for each."""
        from rig.backend import Backend, Fixtures

        estate = {"suppliers": [{"id": IS_A}, {"id": GS_A}, {"id": OTHER}],
                  "devices": [{"id": duis(i), "kind": k, "model": f"{k}-EMU", "import_supplier": IS_A,
                               "gas_supplier": GS_A} for i, k in devices]}
        fixtures = Fixtures.from_dicts(estate, {"entries": cpl_entries, "signers": list(signers)})
        self.backend = Backend(self.workdir / "backend.sqlite3", self.clock, self.hub, fixtures)
        return self.backend


def cpl_entry(kind: str, data: bytes) -> dict:
    from rig.image import parse_image

    img = parse_image(data)
    return {"model": f"{kind}-EMU", "manufacturer_code": img.manufacturer_code, "image_type": img.image_type,
            "firmware_version": img.file_version, "sha256": sha(data)}


@pytest.fixture
async def make_stack(tmp_path):
    from rig.emu import Emulator  # tests may use the emulator; rig.hub never does

    made: list = []

    async def factory(seed: int = 0, **options) -> Stack:
        clock = VirtualClock()
        emu = Emulator(ezsp_version=13, clock=clock, seed=seed)
        await emu.start()
        made.append(emu)
        config = HubConfig.load(BENCH).with_options(db_path=str(tmp_path / "hub.sqlite3"), **options)
        hub = Hub(config, clock=clock)
        await asyncio.wait_for(hub.start(lambda: emu.port), 60)  # a closed pty comes back elsewhere
        stack = Stack(emu, hub, clock, config, tmp_path)
        made.append(stack)
        return stack

    yield factory
    for item in reversed(made):
        if isinstance(item, Stack):
            if item.backend is not None:
                item.backend.close()
            try:
                await asyncio.wait_for(item.hub.stop(), 20)
            except Exception:  # noqa: BLE001 - already stopped, or the line is gone by design
                pass
        else:
            await asyncio.wait_for(item.stop(), 20)


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
        net = stack.emu.network
        return len(stack.hub.frames), net.frames_to_host, net.frames_to_devices, stack.emu.ncp.commands_received

    seen, quiet_since = activity(), loop.time()
    while not (result := done()):
        if loop.time() > real_end or stack.clock.now() > rig_end:
            raise AssertionError(f"no {what} within {rig_s:g} s rig time / {real_s:g} s real time")
        await asyncio.sleep(0.01)
        now = activity()
        if now != seen:
            seen, quiet_since = now, loop.time()
        elif quiet_enough(loop.time() - quiet_since, idle, stack.hub, stack.emu):
            nxt = stack.clock.next_deadline()
            step = 1.0 if nxt is None else max(0.0, min(nxt, rig_end) - stack.clock.now())
            await stack.clock.advance(step, settle=lambda: asyncio.sleep(0.002))
            quiet_since = loop.time()
    return result
