"""Long-timer scenarios on a rig.clock.VirtualClock: days of rig time, seconds of wall time.

    .venv/bin/python bench/virtual_time.py            # table; --json for one object per scenario

* long_retry:  the back end's 4-day too-busy long retry (CSP always "too_busy") until it gives up;
* retention:   an image left in the hub's store for 14 days is discarded (R-STORE-03);
* hcalcs_wait: an HCALCS told 0xFFFFFFFF (activation held) re-asks with Upgrade End Request hourly,
               for a day, each time over the real stack (bellows, emulated stick, pty).

Everything runs on a real hub on the emulated stick. Goal: each scenario <= 5 s of wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import HubRig, table, wait_until

from rig.clock import DAY, HOUR
from rig.hub.events import ActivationPlan, ImageDiscarded, TransferOutcome


async def _settle_real() -> None:
    """Between fired timers: let real pty I/O (bellows <-> emulated stick) finish at the frozen rig time."""
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.sleep(0.003)


async def long_retry() -> dict[str, Any]:
    from rig.backend import BackendConfig, Fixtures  # noqa: PLC0415

    ppmid = "00-DB-12-34-56-78-90-A4"
    estate = {"suppliers": [{"id": "90-B3-D5-1F-30-01-00-00"}], "devices": [
        {"id": "00-DB-12-34-56-78-90-A2", "kind": "CH", "model": "CH-1", "import_supplier": "90-B3-D5-1F-30-01-00-00"},
        {"id": ppmid, "kind": "PPMID", "model": "PPMID-1", "import_supplier": "90-B3-D5-1F-30-01-00-00"}]}
    from harness import ppmid_image  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    image = ppmid_image(2_000)
    cpl = {"entries": [{"model": "PPMID-1", "manufacturer_code": 0x1234, "image_type": 0x0101,
                        "firmware_version": 2, "sha256": hashlib.sha256(image).hexdigest()}]}
    with tempfile.TemporaryDirectory() as tmp:
        async with HubRig() as rig:  # the session closes the back end with the hub
            backend = rig.session.start_backend(Fixtures.from_dicts(estate, cpl), BackendConfig(),
                                                db_path=Path(tmp) / "backend.db")
            backend.csp.set_availability("too_busy")
            wall = time.perf_counter()
            t0 = rig.clock.now()
            r = backend.update_ppmid_firmware("90-B3-D5-1F-30-01-00-00", image, "00000002", [ppmid])
            await rig.clock.advance(4 * DAY + 2 * HOUR)
            wall = time.perf_counter() - wall
            gave_up = [e for e in backend.log_entries() if "gave up" in json.dumps(e)]
            return {"scenario": "long_retry", "rig_time_s": rig.clock.now() - t0, "wall_s": round(wall, 3),
                    "detail": f"{backend.csp.attempts} CSP attempts, request {'accepted' if r.accepted else 'refused'}, "
                              f"{'gave up' if gave_up else 'still retrying'}, {len(rig.hub.events)} hub events",
                    "ok": backend.csp.attempts >= 96 and bool(gave_up) and not backend.errors}


async def retention() -> dict[str, Any]:
    from harness import ppmid_image  # noqa: PLC0415

    async with HubRig() as rig:
        hub = rig.hub
        image_id = hub.store_image(ppmid_image(2_000))
        wall = time.perf_counter()
        t0 = rig.clock.now()
        await rig.clock.advance(14 * DAY - HOUR)
        kept = not any(isinstance(e, ImageDiscarded) for e in hub.events)
        await rig.clock.advance(2 * HOUR)
        wall = time.perf_counter() - wall
        gone = [e for e in hub.events if isinstance(e, ImageDiscarded) and e.image_id == image_id]
        return {"scenario": "retention", "rig_time_s": rig.clock.now() - t0, "wall_s": round(wall, 3),
                "detail": f"kept at 14 d - 1 h: {kept}; discarded: {[e.reason for e in gone]}",
                "ok": kept and [e.reason for e in gone] == ["retention_expired"]}


async def hcalcs_wait() -> dict[str, Any]:
    from rig.image import build_image  # noqa: PLC0415

    from harness import firmware  # noqa: PLC0415

    async with HubRig() as rig:
        dev = await rig.add_device("hcalcs")
        data = build_image(firmware(1_500), manufacturer_code=0x1234, image_type=0x0102, file_version=2,
                           min_hw_version=0x0100, max_hw_version=0x0100, integrity_code=True)
        hub = rig.hub
        hub.offer(str(dev.ieee), hub.store_image(data), plan=ActivationPlan.WAIT)
        await wait_until(lambda: any(isinstance(e, TransferOutcome) for e in hub.events), 60, "HCALCS transfer")
        await wait_until(lambda: any(e.name == "upgrade_end_response" or e.name == "countdown" or
                                     e.name.startswith("upgrade_end") for e in dev.ota.records), 10, "end exchange")
        wall = time.perf_counter()
        t0 = rig.clock.now()
        for _ in range(24):
            await rig.clock.advance(HOUR, settle=_settle_real)
            await _settle_real()
        wall = time.perf_counter() - wall
        asked = [e.time for e in dev.ota.records if e.name == "upgrade_end_sent" and e.time > t0 + 1]
        gaps = [b - a for a, b in zip(asked, asked[1:])]
        answered = sum(1 for f in hub.frames if f.command == "UPGRADE_END_RSP")
        return {"scenario": "hcalcs_wait", "rig_time_s": rig.clock.now() - t0, "wall_s": round(wall, 3),
                "detail": f"{len(asked)} re-asks in a day (shortest gap {min(gaps, default=0) / 60:.0f} min), "
                          f"{answered} Upgrade End Responses, still v{dev.flash.current_file_version}",
                "ok": 23 <= len(asked) <= 24 and min(gaps, default=0) >= HOUR - 60
                and dev.flash.current_file_version == 1}


SCENARIOS = {"long_retry": long_retry, "retention": retention, "hcalcs_wait": hcalcs_wait}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only this scenario (repeatable)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = []
    for name in args.only or list(SCENARIOS):
        row = asyncio.run(SCENARIOS[name]())
        row["rig_time_h"] = round(row.pop("rig_time_s") / HOUR, 1)
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        print(table(rows, [("scenario", "scenario", ""), ("rig_time_h", "rig hours", ".1f"), ("wall_s", "wall s", ".2f"),
                           ("ok", "ok", ""), ("detail", "detail", "")]))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
