"""One small observer mechanism for the whole rig (in the spirit of zigpy's ListenableMixin).

    frames = Signal("OTA frame logged")
    stop = frames.connect(progress.on_frame)   # returns the way to unsubscribe
    frames.emit(record)                        # every listener, in the order they connected
    stop()

A listener that raises is logged and skipped: an observer's bug (a progress bar, a timeline, a test's
probe) must never stop the hub serving or the back end committing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger(__name__)


class Signal:
    """Listeners called with what `emit` is given, in the order they connected."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[..., Any]] = []

    def connect(self, listener: Callable[..., Any]) -> Callable[[], None]:
        """Call `listener` on every emit from now on; returns a callable that disconnects it."""
        self._listeners.append(listener)
        return lambda: self.disconnect(listener)

    def disconnect(self, listener: Callable[..., Any]) -> None:
        """Stop calling `listener` (compared by ==, so a bound method given again matches); a no-op if it
        is not connected."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def listeners(self) -> tuple[Callable[..., Any], ...]:
        return tuple(self._listeners)

    def __len__(self) -> int:
        return len(self._listeners)

    def emit(self, *args: Any) -> None:
        for listener in list(self._listeners):  # a listener may disconnect itself (or another) while called
            try:
                listener(*args)
            except Exception:  # noqa: BLE001 - an observer's bug must not stop the one who emits
                LOGGER.exception("%s listener %r failed on %r", self.name, listener, args)

    def __repr__(self) -> str:
        return f"<Signal {self.name}: {len(self._listeners)} listeners>"
