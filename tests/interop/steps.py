"""A step table for the interop tests: each step's result and time, printed as it ends (run with -s).

The table is the evidence the issue asks for (each step's result per host and EZSP version); a step
that raises is printed FAILED with its error and the exception goes on to fail the test.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class Steps:
    def __init__(self, title: str) -> None:
        self.title = title
        self.results: list[tuple[str, bool]] = []
        print(f"\n{title}")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        """`with steps.step("form") as detail: ...; detail["pan"] = ...` prints one line at the end."""
        detail: dict[str, Any] = {}
        t0 = time.monotonic()
        try:
            yield detail
        except BaseException as exc:
            self.results.append((name, False))
            print(f"  {name:<15} FAILED {time.monotonic() - t0:6.2f} s {exc!r:.300}")
            raise
        self.results.append((name, True))
        print(f"  {name:<15} ok     {time.monotonic() - t0:6.2f} s {detail or ''}")

    def passed(self) -> list[str]:
        return [name for name, ok in self.results if ok]
