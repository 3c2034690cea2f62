"""The run's capture: every packet the hub's zigpy application sends or receives, written as pcapng when
the plan ends (for Wireshark, beside the report)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rig.bench.session import Session
from rig.report.capture import Capture, tap


class PlanCapture:
    """A Capture on the session's hub, tapped again on each new zigpy application (a CH restart, the
    stick reopened), written to `path` by `close`."""

    def __init__(self, session: Session, path: Path) -> None:
        config = session.hub_config
        self.session = session
        self.path = path
        self.capture = Capture(pan_id=config.pan_id, channel=config.channel, now=session.clock.now)
        self._untap: Callable[[], None] | None = None

    def tap(self) -> None:
        """Record the running hub's application (the one tapped before, if any, is gone with its hub)."""
        self._untap = tap(self.session.hub.app, self.capture)

    def on_radio(self, state: str) -> None:
        if state == "up" and self._untap is not None:
            self.tap()  # the hub reopened the stick: a new zigpy application to tap

    def untap(self) -> None:
        if self._untap is not None:
            self._untap()
            self._untap = None

    def close(self) -> Path:
        """Stop recording; write the pcapng file; returns where."""
        self.untap()
        written = self.capture.write_pcapng(self.path)
        self.capture.close()
        return written
