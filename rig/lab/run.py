"""The labgrid side of one pytest process (one pytest-xdist worker): hold one place for the session.

The pytest plugin needs three calls (see docs/lab.md and the integration notes):

    lab = LabRun.for_options(bench_option, radio_option, wait_s=...)   # None: not a labgrid run
    bench = lab.bench()          # first call acquires the place; every plan of the worker reuses it
    config.add_cleanup(lab.close)

`--rig-radio labgrid:SPEC` takes the stick from the place and the rest from the --rig-bench file;
`--rig-bench labgrid:SPEC` takes the bench file from the place's `bench` tag. SPEC is a place name or
key=value tags (any free place with those tags; pytest-xdist workers each get a different one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rig.bench.config import Bench
from rig.lab.bench import bench_for_place
from rig.lab.place import BenchSpec, LabPlace, hold_place, parse_bench_spec


class LabRun:
    _current: "LabRun | None" = None

    def __init__(self, spec: BenchSpec, bench_file: str | Path | None, *, wait_s: float = 0.0,
                 coordinator: str | None = None, on_wait: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.on_wait = on_wait  # where "place X is locked by Y: waiting up to N s" is said
        self.bench_file = bench_file
        self.wait_s = wait_s
        self.coordinator = coordinator
        self.place: LabPlace | None = None
        self._hold = None

    @classmethod
    def for_options(cls, bench_option: str | None, radio_option: str | None, *, wait_s: float = 0.0,
                    coordinator: str | None = None,
                    on_wait: Callable[[str], None] | None = None) -> "LabRun | None":
        """From this worker's --rig-bench entry and --rig-radio; None when neither names labgrid."""
        radio_spec = parse_bench_spec(radio_option) if radio_option else None
        if radio_spec is not None:
            return cls(radio_spec, bench_option, wait_s=wait_s, coordinator=coordinator, on_wait=on_wait)
        bench_spec = parse_bench_spec(bench_option) if bench_option else None
        if bench_spec is not None:
            return cls(bench_spec, None, wait_s=wait_s, coordinator=coordinator, on_wait=on_wait)
        return None

    def bench(self) -> Bench:
        """The bench on the held place (acquired on the first call, kept until close())."""
        if self.place is None:
            hold = hold_place(self.spec, coordinator=self.coordinator, wait_s=self.wait_s, on_wait=self.on_wait)
            self.place, self._hold = hold.__enter__(), hold
            LabRun._current = self
        return bench_for_place(self.place, self.bench_file)

    def close(self) -> None:
        hold, self._hold = self._hold, None
        if LabRun._current is self:
            LabRun._current = None
        if hold is not None:
            self.place = None
            hold.__exit__(None, None, None)

    @classmethod
    def current(cls) -> "LabRun | None":
        """The run holding a place in this process (for power_cycle steps to reach the place's power)."""
        return cls._current
