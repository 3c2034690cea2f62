"""An emulated device's event record, bounded so a long soak or a 750 kB transfer cannot grow it forever.

A block costs a device two OTA events (requested, received), so a GB-maximum image at 40-byte blocks
leaves about 38,000 and a soak of many transfers leaves millions. The log keeps the newest `keep` events
and drops older ones in chunks.

Indices are absolute: `len(log)` counts every event ever appended, so a `since = len(log)` taken before
a step still finds that step's events after older ones were dropped, and `log[since:]` returns them.
Reading one index that was dropped raises IndexError saying how many the log keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar, overload

E = TypeVar("E")

DEFAULT_KEEP = 100_000  # two GB-maximum transfers at 40-byte blocks, a few tens of MB at most


class EventLog(Generic[E]):
    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError(f"EventLog keep must be at least 1, got {keep}")
        self.keep = keep
        self.dropped = 0  # events appended and since dropped: the absolute index of the oldest kept
        self._events: list[E] = []
        self._trim_above = keep + max(keep // 4, 1)  # trim in chunks of a quarter: O(1) per append on average

    def resize(self, keep: int) -> None:
        """Keep the newest `keep` from now on (a standing bench that runs for days keeps fewer)."""
        if keep < 1:
            raise ValueError(f"EventLog keep must be at least 1, got {keep}")
        self.keep = keep
        self._trim_above = keep + max(keep // 4, 1)
        if len(self._events) > keep:
            cut = len(self._events) - keep
            del self._events[:cut]
            self.dropped += cut

    def append(self, event: E) -> None:  # once per OTA block and more: keep it to one comparison
        self._events.append(event)
        if len(self._events) > self._trim_above:
            cut = len(self._events) - self.keep
            del self._events[:cut]
            self.dropped += cut

    def __len__(self) -> int:
        return self.dropped + len(self._events)

    def __iter__(self) -> Iterator[E]:
        return iter(self._events)

    def __bool__(self) -> bool:
        return bool(self._events)

    @overload
    def __getitem__(self, index: int) -> E: ...

    @overload
    def __getitem__(self, index: slice) -> list[E]: ...

    def __getitem__(self, index: int | slice) -> E | list[E]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            kept = self._events[max(start - self.dropped, 0):max(stop - self.dropped, 0)]
            return kept[::step] if step != 1 else kept
        absolute = index + len(self) if index < 0 else index
        if not 0 <= absolute < len(self):
            raise IndexError(f"event index {index} out of range: {len(self)} events recorded")
        if absolute < self.dropped:
            raise IndexError(f"event {absolute} was dropped: the log keeps the newest {self.keep} "
                             f"of {len(self)} (oldest kept is {self.dropped})")
        return self._events[absolute - self.dropped]

    def __repr__(self) -> str:
        return f"EventLog({len(self._events)} kept of {len(self)}, keep={self.keep})"
