"""Benches shared across machines through labgrid (coordinator, exporters, places).

The rig runs on labgrid's own machinery rather than growing its own: `place` acquires and locks a
place through labgrid's client, `power` switches the place's power resource, `rfc2217` lets the
hub open the place's exported serial port (ser2net, RFC 2217), `reaper` releases a place whose
holder died, and `relay` turns any local on/off command into a network power switch labgrid drives.
"""

from rig.lab.client import LabgridError
from rig.lab.place import BenchSpec, LabPlace, NoFreePlace, PlaceLocked, hold_place, parse_bench_spec
from rig.lab.power import LabgridPower

__all__ = ["BenchSpec", "LabPlace", "LabgridError", "LabgridPower", "NoFreePlace", "PlaceLocked", "hold_place",
           "parse_bench_spec"]
