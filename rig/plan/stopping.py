"""Stopping a run cleanly on Ctrl-C or SIGTERM.

Both take the same path: asyncio.run() turns SIGINT into a cancellation of the running plan, the runner
marks the plan ABORTED, closes the radio and hands its record back (PlanAborted), the plugin writes the
record, summary and report, and `rig run` exits 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM).
A SIGTERM is passed to whatever handles SIGINT at that moment, so a service manager stopping the rig gets
the same clean stop as an operator pressing Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
_last: signal.Signals | None = None


def _on_sigterm(signum, frame) -> None:
    global _last
    _last = signal.SIGTERM
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)  # asyncio's handler cancels the plan; the default one raises KeyboardInterrupt
    else:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM stops the run as Ctrl-C does (only the main thread may install handlers)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def reason() -> str:
    """What stopped the run, in the words a record shows: 'Ctrl-C' or 'SIGTERM'."""
    return _NAMES[_last or signal.SIGINT]


def exit_code() -> int:
    return 128 + int(_last or signal.SIGINT)
