"""Child process for the hub SIGKILL test: a Session on the hardware strategy (the emulator's TCP port in
the parent process is a stick this process does not control; real clock) with the hub and the back end,
SQLite files in WORKDIR.

    hub_child.py PORT WORKDIR IEEE start   -> SR 11.4 for the image in WORKDIR/image.ota, then serve
    hub_child.py PORT WORKDIR IEEE resume  -> reopen the same databases and serve
    ... MODE wait                          -> the same, once a line arrives on stdin (the test starts the
                                              successor early, so its interpreter and imports are ready)

Prints READY once the hub is up (permit open), SR <accepted> after the request, and
ALERTS <json> once the device's transfer alert (0x8F8A / 0x8F89) is in the log (or after 60 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import zigpy.types  # noqa: E402

from rig.backend import Fixtures  # noqa: E402
from rig.bench.config import load_bench  # noqa: E402
from rig.bench.session import HardwareRadio, Session  # noqa: E402
from rig.image import parse_image  # noqa: E402
from tests.reliability.conftest import BENCH, GS_A, IS_A, duis  # noqa: E402


def fixtures(ieee: str, data: bytes) -> Fixtures:
    img = parse_image(data)
    estate = {"suppliers": [{"id": IS_A}, {"id": GS_A}],
              "devices": [{"id": duis(ieee), "kind": "PPMID", "model": "PPMID-EMU", "import_supplier": IS_A}]}
    cpl = {"entries": [{"model": "PPMID-EMU", "manufacturer_code": img.manufacturer_code,
                        "image_type": img.image_type, "firmware_version": img.file_version,
                        "sha256": hashlib.sha256(data).hexdigest()}]}
    return Fixtures.from_dicts(estate, cpl)


async def main(port: str, workdir: Path, ieee: str, mode: str) -> None:
    data = (workdir / "image.ota").read_bytes()
    bench = load_bench(BENCH)
    config = bench.hub.with_options(db_path=str(workdir / "hub.sqlite3"),
                                    zigpy_database=str(workdir / "zigpy.sqlite3"))
    session = Session(HardwareRadio(bench, port), config, workdir)
    await session.start()
    hub = session.hub
    backend = session.start_backend(fixtures(ieee, data))
    hub.replay_outcomes()  # an outcome committed by a killed predecessor but never handed over
    await hub.permit(120)
    print("READY", flush=True)
    if mode == "start":
        hub.allow_device(ieee, "ppmid")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:  # wait for zigpy's interview before offering
            zdev = hub.app.devices.get(zigpy.types.EUI64.convert(ieee))
            if zdev is not None and zdev.is_initialized:
                break
            await asyncio.sleep(0.05)
        response = backend.update_ppmid_firmware(IS_A, data, f"{parse_image(data).file_version:08X}", [duis(ieee)],
                                                 request_id="R1")
        print(f"SR {response.accepted} {response.reason}", flush=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        await backend.drain()
        if backend.alerts.list({"device": ieee, "code": "0x8F8A"}) or backend.alerts.list(
                {"device": ieee, "code": "0x8F89"}):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a late duplicate would show up here
    await backend.drain()
    out = [{"code": a.code, "device": a.device, "request_id": a.request_id, "dedup": a.dedup_key}
           for a in backend.alerts.list()]
    print("ALERTS " + json.dumps(out), flush=True)
    print("ERRORS " + json.dumps(backend.errors), flush=True)
    await session.stop()


if __name__ == "__main__":
    if sys.argv[5:] == ["wait"]:
        sys.stdin.readline()
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
