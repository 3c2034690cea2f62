"""The parts of a rig.bench.session.Session the test fixtures read, under the short names the tests use
(`rig.hub`, `stack.emu`): the hub tests' `Rig` and the reliability tests' `Stack` both build on it."""

from __future__ import annotations

from rig.bench.session import Session
from rig.clock import VirtualClock
from rig.hub import Hub, HubConfig


class SessionView:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def emu(self):
        return self.session.emulator

    @property
    def hub(self) -> Hub:
        return self.session.hub

    @property
    def clock(self) -> VirtualClock:
        return self.session.clock

    @property
    def config(self) -> HubConfig:
        return self.session.hub_config
