"""Child process for the SIGKILL test: a back end with a (file-persisted) fake CH runs one fixed
scenario; with `--pause-at P` it prints PAUSE and blocks at point P so the parent can SIGKILL it there.
Points: "step:N" between scenario steps, "append:N" inside the transaction writing the N-th alert.
Run again without --pause-at it resumes from the database and prints the alert log as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rig.backend import Backend  # noqa: E402
from rig.clock import HOUR, VirtualClock  # noqa: E402
from rig.hub.events import TransferResult  # noqa: E402
from tests.backend.fake_ch import FakeCommsHub  # noqa: E402
from tests.backend.helpers import CH, HCALCS1, HCALCS_IMG, IS_A, PPMID1, PPMID2, PPMID_IMG, fixtures, ieee  # noqa: E402


def pause() -> None:
    print("PAUSE", flush=True)
    time.sleep(120)  # the parent kills us here


async def main(workdir: Path, pause_at: str | None) -> None:
    clock = VirtualClock(start=1_700_000_000.0)
    hub = FakeCommsHub(clock, state_path=workdir / "hub.json")
    backend = Backend(workdir / "backend.db", clock, hub, fixtures())
    appended = 0
    real_append = backend.alerts.append

    def append(**kw):
        nonlocal appended
        appended += 1
        alert = real_append(**kw)
        if pause_at == f"append:{appended}":
            pause()
        return alert

    backend.alerts.append = append

    async def step(n: int) -> None:
        await clock.advance(0)  # let resumed timers and the CSP inbox run
        await backend.drain()
        if pause_at == f"step:{n}":
            pause()

    backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1, PPMID2], request_id="R1")
    await step(1)
    hub.transfer(hub.offer_for(ieee(PPMID1)))
    hub.transfer(hub.offer_for(ieee(PPMID2)), TransferResult.FILE_TRANSFER_FAILURE)
    await step(2)
    hub.activation(hub.offer_for(ieee(PPMID1)))
    await step(3)
    backend.csp.set_availability("too_busy", count=3)
    backend.update_firmware(IS_A, HCALCS_IMG, "00000200", HCALCS1, request_id="R2")
    await step(4)
    await clock.advance(6 * HOUR)  # busy x3 (the count restarts with a restarted process): offered by +4 h
    await step(5)
    hub.transfer(hub.offer_for(ieee(HCALCS1)))
    await step(6)
    backend.activate_comms_hub_firmware(CH, "0000AB01", security=True, request_id="R3")
    backend.comms_hub_activation_response("R3", ch_id=CH, firmware_version="0000AB01")
    await step(7)
    backend.comms_hub_activation_response("R3", ch_id=CH, firmware_version="0000AB01")
    await step(8)
    out = [{"code": a.code, "device": a.device, "request_id": a.request_id, "dedup": a.dedup_key}
           for a in backend.alerts.list()]
    print("ALERTS " + json.dumps(out), flush=True)
    print("ERRORS " + json.dumps(backend.errors), flush=True)
    backend.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--pause-at")
    args = ap.parse_args()
    asyncio.run(main(args.workdir, args.pause_at))
