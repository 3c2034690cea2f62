"""An emulated stick + a Hub on it, for the hub integration tests (real bellows/zigpy in between)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from rig.clock import VirtualClock
from rig.hub import Hub, HubConfig
from rig.hub.events import HubEvent

BENCH = Path(__file__).resolve().parents[2] / "fixtures" / "benches" / "emulated.yaml"


@dataclasses.dataclass
class Rig:
    emu: object
    hub: Hub
    clock: VirtualClock
    config: HubConfig

    async def device(self, kind: str, *, allow: bool = True, profile: str | None = None):
        dev = self.emu.add_device(profile or kind)
        if allow:
            self.hub.allow_device(str(dev.ieee), kind)
        await self.hub.permit(60)
        await self.emu.join(dev)
        # Joined is not yet known: the hub notifies only devices zigpy has interviewed (rx-on known).
        await wait_for(lambda: self._interviewed(dev), what=f"{kind} interviewed by zigpy")
        return dev

    def _interviewed(self, dev) -> bool:
        zdev = self.hub.app.devices.get(dev.ieee)
        return bool(zdev is not None and zdev.is_initialized)

    async def restart_hub(self, **options) -> Hub:
        await self.hub.stop()
        self.config = self.config.with_options(**options)
        self.hub = Hub(self.config, clock=self.clock)
        await self.hub.start(self.emu.port)
        return self.hub


async def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def events_of(hub: Hub, kind: type, ieee: str | None = None) -> list[HubEvent]:
    return [e for e in hub.events if isinstance(e, kind) and (ieee is None or getattr(e, "ieee", None) == ieee)]


@pytest.fixture
async def make_rig(tmp_path):
    from rig.emu import Emulator  # tests may use the emulator; rig.hub never does

    stack = []

    async def factory(**options) -> Rig:
        clock = VirtualClock()
        emu = Emulator(ezsp_version=13, clock=clock)
        await emu.__aenter__()
        stack.append(emu)
        config = HubConfig.load(BENCH).with_options(db_path=str(tmp_path / "hub.sqlite3"), **options)
        hub = Hub(config, clock=clock)
        await hub.start(emu.port)
        rig = Rig(emu, hub, clock, config)
        stack.append(rig)
        return rig

    yield factory
    for item in reversed(stack):
        if isinstance(item, Rig):
            try:
                await item.hub.stop()
            except Exception:  # noqa: BLE001 - already stopped by the test
                pass
        else:
            await item.__aexit__(None, None, None)
