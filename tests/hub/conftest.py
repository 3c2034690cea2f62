"""An emulated stick + a Hub on it, for the hub integration tests (real bellows/zigpy in between)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from rig.bench.session import EmulatedRadio, Session
from rig.clock import VirtualClock
from rig.hub import Hub, HubConfig
from rig.hub.events import HubEvent
from tests.session_view import SessionView

BENCH = Path(__file__).resolve().parents[2] / "fixtures" / "benches" / "emulated.yaml"


class Rig(SessionView):
    """A rig.bench.session.Session on the emulated stick, seen as the hub tests use it."""

    async def device(self, kind: str, *, allow: bool = True, profile: str | None = None):
        name = f"{kind}-{len(self.session.devices) + 1}"
        handle = self.session.add_device(name, profile or kind, in_device_log=allow)
        # Joined is not yet known: the hub notifies only devices zigpy has interviewed (rx-on known).
        await self.session.pair(name, within=60)
        return handle.emulated

    async def restart_hub(self, **options) -> Hub:
        return await self.session.restart_hub(replay=False, **options)


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
    sessions: list[Session] = []

    async def factory(**options) -> Rig:
        config = HubConfig.load(BENCH).with_options(db_path=str(tmp_path / "hub.sqlite3"), **options)
        session = Session(EmulatedRadio(ezsp_version=13), config, tmp_path)
        sessions.append(session)
        await session.start()
        return Rig(session)

    yield factory
    for session in reversed(sessions):
        try:
            await session.stop()
        except Exception:  # noqa: BLE001 - the hub was already stopped by the test
            pass
