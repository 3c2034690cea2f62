"""DSP/CSP stub: the smart-metering back end that drives the Communications Hub.

Service requests (SR 11.1/11.2/11.3/11.4, CS06) come in as Python calls or DUIS-shaped XML; the back end
checks who may ask and the Central Products List, applies the distribution controls (in-progress check,
long retry, batching, guidance, optional SMETS1 capacity), drives the CH only through
`rig.hub.events.CommsHubPort`, and turns the hub's outcome events into alerts (N63, 0x8F8A/0x8F89, 0x8F8B,
N60/N61-style) in an append-only SQLite log. Start with `rig.backend.backend.Backend`.

Three rooms behind that facade: intake (`intake.py`: a request becomes a decision), jobs (`jobs.py` holds
their SQL and states, `dispatcher.py` their attempts, retries and timers) and outcomes (`outcomes.py`:
typed hub events become alerts).
"""

from __future__ import annotations

from rig.backend.backend import Backend, BackendConfig
from rig.backend.fixtures import Fixtures, FixtureError

__all__ = ["Backend", "BackendConfig", "Fixtures", "FixtureError"]
