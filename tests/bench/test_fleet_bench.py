"""bench/fleet.py and the bench harness it uses: when an upgrade counts as done, and the bench's own output."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from harness import HubRig, ppmid_image  # noqa: E402

from rig.hub.events import TransferOutcome, TransferResult, VersionObserved, VersionSource  # noqa: E402


async def test_running_ends_at_the_first_query_that_reports_the_new_version():
    async with HubRig() as rig:
        dev = await rig.add_device("ppmid")
        events = []
        rig.hub.subscribe(events.append)
        sinks = len(rig.hub.subscribers)
        seconds = await rig.upgrade([dev], ppmid_image(1500, version=3), until="running")
        assert len(rig.hub.subscribers) == sinks  # it stopped listening
        assert set(seconds) == {str(dev.ieee)}
        transferred = next(i for i, e in enumerate(events)
                           if isinstance(e, TransferOutcome) and e.result == TransferResult.SUCCESS)
        reported = [i for i, e in enumerate(events) if isinstance(e, VersionObserved)
                    and e.source is VersionSource.QUERY_NEXT_IMAGE and e.version == 3]
        assert reported and reported[0] > transferred
        # it returned once the device asked again with the new version: it runs the image
        assert dev.flash.current_file_version == 3


async def test_until_must_name_an_end_point():
    async with HubRig() as rig:
        dev = await rig.add_device("ppmid")
        try:
            await rig.upgrade([dev], ppmid_image(1500, version=3), until="activated")
        except ValueError as exc:
            assert "expected 'transferred' or 'running'" in str(exc)
        else:
            raise AssertionError("an unknown end point was accepted")


@pytest.mark.parametrize("until", ["running", "transferred"])
def test_fleet_bench_compares_each_fleet_upgrade_with_the_lone_device_beside_it(until, capsys):
    # (transferred: the second upgrade returns before the devices activate it, so the check that each
    # device installed the image must wait for the new version, not take the one installed before)
    # Its main() in this process (--in-process: the emulator too): the interpreter and imports are paid already.
    import fleet

    code = fleet.main(["--devices", "3", "--size", "1000", "--solo-runs", "1", "--repeats", "2", "--in-process",
                       "--timeout", "60", "--until", until, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["failures"] == 0 and result["until"] == until
    assert len(result["seconds"]) == len(result["aggregate_vs_one_device_runs"]) == 2
    assert len(result["one_device_runs_s"]) == 3  # one before the first fleet upgrade, one after each
    assert len(result["steal_pct_fleet"]) == 2 and len(result["steal_pct_one_device"]) == 3
    assert all(p is None or 0 <= p <= 100 for p in result["steal_pct_fleet"] + result["steal_pct_one_device"])
    for fleet_s, agg, one, ratio in zip(result["seconds"], result["aggregate_bytes_per_s"],
                                        result["one_device_bytes_per_s"], result["aggregate_vs_one_device_runs"]):
        assert abs(agg * fleet_s / (3 * result["size_bytes"]) - 1) < 0.1  # (seconds are rounded to 10 ms)
        assert abs(ratio - agg / one) < 0.01
    # 1000 bytes in 50-byte blocks plus the header is over 20 block responses a device, and three devices
    # under four slots wait for none: the fleet needs the lone device's frames (a retried block aside)
    assert result["frames_per_device_one_device"] > 20
    assert abs(result["frames_per_device_fleet"] - result["frames_per_device_one_device"]) <= 2
