"""A bench file on a labgrid place: the file gives the hub's settings and the device mapping, the place
gives the stick (its RFC 2217 URL) and the power switch.

    place = ...acquired LabPlace...
    bench = bench_on_place(load_bench("fixtures/benches/hardware-example.yaml"), place)
"""

from __future__ import annotations

import dataclasses

from rig.bench.config import Bench
from rig.lab.place import LabPlace


def bench_on_place(bench: Bench, place: LabPlace) -> Bench:
    """`bench` with its radio replaced by the place's stick; a hardware bench with the `labgrid` feature
    (plans can `needs: [labgrid]`); named `<bench>@<place>` so every record says where it ran."""
    features = tuple(f for f in bench.features if f not in ("emulated", "hardware")) + ("hardware", "labgrid")
    hub = bench.hub.with_options(radio=place.serial_url(), features=features)
    return dataclasses.replace(bench, name=f"{bench.name}@{place.name}", hub=hub)
