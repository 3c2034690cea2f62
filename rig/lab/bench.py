"""A bench file on a labgrid place: the file gives the hub's settings and the device mapping, the place
gives the stick (its RFC 2217 URL) and the power switch.

Which file: the one named on the command line (`--rig-bench my-bench.yaml --rig-radio labgrid:ppmid-1`),
or the one the place names in its `bench` tag (`labgrid-client -p ppmid-1 set-tags kind=ppmid
bench=lab2-ppmid-1` -> fixtures/benches/lab2-ppmid-1.yaml), which is how a worker that chose any free
`kind=ppmid` place learns the IEEE and install code of the device on it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rig.bench.config import Bench, load_bench
from rig.lab.client import LabgridError
from rig.lab.place import LabPlace

BENCH_DIR = Path("fixtures") / "benches"


def bench_on_place(bench: Bench, place: LabPlace) -> Bench:
    """`bench` with its radio replaced by the place's stick; a hardware bench with the `labgrid` feature
    (plans can `needs: [labgrid]`); named `<bench>@<place>` so every record says where it ran."""
    features = tuple(f for f in bench.features if f not in ("emulated", "hardware")) + ("hardware", "labgrid")
    hub = bench.hub.with_options(radio=place.serial_url(), features=features)
    power, switch = bench.power, place.power
    if switch is not None:  # power_cycle steps switch the place's power through labgrid, unattended
        power = dataclasses.replace(power, switch=switch)
    return dataclasses.replace(bench, name=f"{bench.name}@{place.name}", hub=hub, power=power)


def bench_for_place(place: LabPlace, bench_file: str | Path | None = None) -> Bench:
    """The bench for a run on `place`: `bench_file` if given, else the file its `bench` tag names."""
    if bench_file is None:
        name = place.tags.get("bench")
        if not name:
            raise LabgridError(f"labgrid place {place.name} has no 'bench' tag naming its bench file: add one "
                               f"(labgrid-client -p {place.name} set-tags ... bench=NAME for "
                               f"{BENCH_DIR}/NAME.yaml) or give the bench file with --rig-bench")
        bench_file = BENCH_DIR / f"{name}.yaml"
    return bench_on_place(load_bench(bench_file), place)
