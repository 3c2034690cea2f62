"""The rig on a labgrid place, for real on one machine: lock, RFC 2217 stick, power, release, contention.

See conftest.py for the lab: labgrid's coordinator and exporter, ser2net, `rig emulate`, a power relay.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.bench.config import load_bench
from rig.lab import LabgridError, LabPlace, NoFreePlace, PlaceLocked
from rig.lab.bench import bench_on_place

# one xdist worker runs this module: its lab (coordinator, exporter, ser2net, emulators) starts once
pytestmark = pytest.mark.xdist_group("lab_place")

REPO = Path(__file__).resolve().parents[2]
HARDWARE_BENCH = REPO / "fixtures" / "benches" / "hardware-example.yaml"
CONFORMANCE = REPO / "testplans" / "conformance"
PLACE = "lab-ppmid-a"


def lab_bench_file(tmp_path: Path, radio: str | None = None, keep_network: bool = False) -> Path:
    """A hardware bench file whose plan device `dut` is the PPMID that `rig emulate --devices ppmid`
    (seed 0) brings: the same emulator code, asked the same way, gives its IEEE. `radio`: what the
    file's radio: says (e.g. labgrid:PLACE), else the example's serial path. `keep_network`: the hub's
    stores are files in the run's folder, as on a real bench, so the device stays paired across plans."""
    from rig.emu.emulator import Emulator

    ieee = Emulator(ezsp_version=13, transport="pty", seed=0).add_device("ppmid").ieee
    text = HARDWARE_BENCH.read_text(encoding="utf-8")
    if radio is not None:
        assert "radio: /dev/ttyUSB0\n" in text
        text = text.replace("radio: /dev/ttyUSB0\n", f"radio: {radio}\n")
    text = text.replace("flow_control: hardware", "flow_control: null")  # a pty behind ser2net has no RTS/CTS
    if not keep_network:
        text = text.replace("db_path: hub-store.sqlite3", "db_path: null")
        text = text.replace("  zigpy_database: zigpy.sqlite3\n", "")  # in memory: nothing left behind
    path = tmp_path / "lab-bench.yaml"
    # the emulated PPMID has no capacitors to drain: a lab may shorten the 5 s off time the same way.
    # labgrid_power: the place's power resource that switches this device (by its exporter name)
    dut = f"{{ieee: '{ieee}', kind: ppmid, labgrid_power: NetworkPowerPort}}"
    path.write_text(text + f"power:\n  off_for_s: 1\ndevices:\n  dut: {dut}\n",
                    encoding="utf-8")
    return path


async def test_a_conformance_plan_runs_on_a_labgrid_place_through_rfc2217_and_power_cycles_it(lab, tmp_path):
    from rig.plan.loader import load_plan
    from rig.plan.runner import run_plan
    from rig.report.record import Verdict

    async with LabPlace(PLACE, coordinator=lab.coordinator) as place:
        assert await lab.holder(PLACE) == place.holder and place.holder
        assert place.tags == {"kind": "ppmid"}
        bench = bench_on_place(load_bench(lab_bench_file(tmp_path)), place)
        assert bench.hub.radio.startswith("rfc2217://127.0.0.1:") and bench.hub.radio == place.serial_url()
        assert bench.name == f"lab-bench@{PLACE}" and "labgrid" in bench.features

        # The real hub (zigpy + bellows + serialx) opens the stick that ser2net exports from the pty of
        # `rig emulate`, forms the network, pairs the emulated PPMID and checks it queries the OTA server.
        # cf01 starts with a power_cycle: it goes through the place's labgrid power driver (the relay
        # switches the emulated PPMID through `rig emulate --control`), unattended, and the device's
        # restart is the evidence the step waits for.
        record = await run_plan(load_plan(CONFORMANCE / "cf01-discovery-and-query.yaml"), bench)
        assert record.verdict is Verdict.PASS, record.message
        assert record.bench["radio"] == place.serial_url()
        assert lab.power_calls() == ["off 0", "on 0"]
        assert any(f"labgrid place {PLACE}'s power" in str(e.get("detail", "")) for e in record.events), \
            "the power cycle is recorded as done by labgrid"

        assert place.power is not None
        await place.power.cycle(off_seconds=0.2)
        assert lab.power_calls()[2:] == ["off 0", "on 0"]
        await place.power.off()
        assert lab.power_calls()[-1] == "off 0"
        await place.power.on()
    assert await lab.holder(PLACE) is None  # released at the end of the run


async def test_a_place_held_by_another_client_fails_naming_the_holder(lab):
    unknown = r"no labgrid place 'lab-ppmid' at .* \(places: lab-ppmid-a, lab-ppmid-b\)"
    with pytest.raises(LabgridError, match=unknown):
        await LabPlace("lab-ppmid", coordinator=lab.coordinator).acquire()  # no substring matching

    lab.client("-p", PLACE, "acquire", user="nightly-ci")
    try:
        with pytest.raises(PlaceLocked) as err:
            await LabPlace(PLACE, coordinator=lab.coordinator, wait_s=1.0, poll_s=0.25).acquire()
        holder = await lab.holder(PLACE)
        assert holder.endswith("/nightly-ci")
        assert str(err.value).startswith(f"place {PLACE} is locked by {holder}")
    finally:
        lab.client("-p", PLACE, "release", user="nightly-ci")

    # With a wait, the rig takes the place as soon as the other job lets it go.
    lab.client("-p", PLACE, "acquire", user="nightly-ci")
    releaser = asyncio.get_running_loop().run_in_executor(
        None, lambda: (time.sleep(1.5), lab.client("-p", PLACE, "release", user="nightly-ci")))
    async with LabPlace(PLACE, coordinator=lab.coordinator, wait_s=30, poll_s=0.25) as place:
        await releaser
        assert await lab.holder(PLACE) == place.holder and not place.holder.endswith("/nightly-ci")
    assert await lab.holder(PLACE) is None


@pytest.mark.parametrize("sig, released_by", [(signal.SIGINT, "the holder"), (signal.SIGKILL, "the reaper")],
                         ids=["ctrl-c", "sigkill"])
def test_a_place_is_released_when_its_holder_is_interrupted_or_killed(lab, sig, released_by):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from rig.lab import hold_place\n"
         f"with hold_place({PLACE!r}, coordinator={lab.coordinator!r}):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(120)\n"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        assert asyncio.run(lab.holder(PLACE)) is not None
        # SIGINT is Ctrl-C: the `with` unwinds and releases. SIGKILL leaves no finally and no atexit:
        # only the reaper can release (SIGTERM's default action and a crash are the same case).
        holder.send_signal(sig)
        holder.wait(30)
        deadline = time.monotonic() + 20
        while asyncio.run(lab.holder(PLACE)) is not None:
            assert time.monotonic() < deadline, f"the place stayed locked after {sig.name}"
            time.sleep(0.2)  # real time: the reaper runs labgrid-client release-from
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    reaped = "released labgrid place lab-ppmid-a" in holder.stderr.read()
    assert reaped == (released_by == "the reaper")


def test_a_ci_job_killed_with_its_reaper_lets_go_of_its_places_in_after_script(lab):
    # A CI job's container stopped: the rig and its reaper died together, the place stays held.
    lab.client("-p", PLACE, "acquire", user="ci-42")
    lab.client("-p", "lab-ppmid-b", "acquire", user="nightly-ci")  # someone else's: never touched
    try:
        env = dict(lab.env, LG_COORDINATOR=lab.coordinator, LG_USERNAME="ci-42")
        done = subprocess.run([sys.executable, "-m", "rig.lab.reaper", "--mine"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip() == f"rig: released labgrid place {PLACE} held by {socket.gethostname()}/ci-42"
        assert asyncio.run(lab.holder(PLACE)) is None
        assert asyncio.run(lab.holder("lab-ppmid-b")).endswith("/nightly-ci")
    finally:
        lab.client("-p", PLACE, "release", "--kick", check=False)
        lab.client("-p", "lab-ppmid-b", "release", user="nightly-ci")


async def test_workers_choosing_by_tag_get_different_places(lab):
    # Two pytest-xdist workers asking at once: labgrid's reservation scheduler gives each its own place.
    first, second = await asyncio.gather(LabPlace.matching({"kind": "ppmid"}, coordinator=lab.coordinator),
                                         LabPlace.matching({"kind": "ppmid"}, coordinator=lab.coordinator))
    try:
        assert {first.name, second.name} == {"lab-ppmid-a", "lab-ppmid-b"}
        await asyncio.gather(first.acquire(), second.acquire())
        with pytest.raises(NoFreePlace, match="no free labgrid place with kind=ppmid"):
            await LabPlace.matching({"kind": "ppmid"}, coordinator=lab.coordinator)
    finally:
        await asyncio.gather(first.release(), second.release())
    assert await lab.holder("lab-ppmid-a") is None and await lab.holder("lab-ppmid-b") is None
    assert "Reservation" not in lab.client("reservations").stdout  # all cancelled


def test_a_pytest_worker_holds_its_place_for_the_session(lab, tmp_path):
    from rig.lab.run import LabRun

    assert LabRun.for_options("fixtures/benches/emulated.yaml", None) is None
    worker = LabRun.for_options(str(lab_bench_file(tmp_path)), f"labgrid:{PLACE}", coordinator=lab.coordinator)
    try:
        first = worker.bench()
        assert first.name == f"lab-bench@{PLACE}" and first.hub.radio.startswith("rfc2217://")
        assert worker.bench().hub.radio == first.hub.radio  # every plan of the worker: the same place
        assert LabRun.current() is worker and worker.place.power is not None
        other = LabRun.for_options(str(lab_bench_file(tmp_path)), f"labgrid:{PLACE}", coordinator=lab.coordinator)
        with pytest.raises(PlaceLocked, match=f"place {PLACE} is locked by "):
            other.bench()
    finally:
        worker.close()
    assert LabRun.current() is None and asyncio.run(lab.holder(PLACE)) is None


FAILING_PLAN = """plan: 1
name: "Fails on purpose: the device does not run version 0x7FFFFFFF"
devices:
  dut: {profile: ppmid}
steps:
  - pair: dut
  - assert_register: {device: dut, version: 0x7FFFFFFF}
"""

LONG_PLAN = """plan: 1
name: "Pairs, then sits for a while (interrupted by the test)"
devices:
  dut: {profile: ppmid}
steps:
  - pair: dut
  - pass_time: 10m
"""


def rig_run(lab, tmp_path: Path, *args: str) -> subprocess.Popen:
    """`rig run ...` as a person or CI job runs it, from its own folder, on the lab's coordinator."""
    env = dict(lab.env, LG_COORDINATOR=lab.coordinator)
    return subprocess.Popen([sys.executable, "-m", "rig.cli", "run", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


TINY_PLAN = """plan: 1
name: "The hub comes up on the place's stick; a second of rig time"
steps:
  - pass_time: 1s
"""


def test_rig_run_on_a_place_another_client_holds_fails_naming_the_holder_or_waits(lab, tmp_path):
    tiny = tmp_path / "lab-tiny.yaml"
    tiny.write_text(TINY_PLAN, encoding="utf-8")
    args = (str(tiny), "--bench", str(lab_bench_file(tmp_path)), "--radio", f"labgrid:{PLACE}")
    lab.client("-p", PLACE, "acquire", user="nightly-ci")
    try:
        holder = asyncio.run(lab.holder(PLACE))
        out, err = rig_run(lab, tmp_path, *args).communicate(timeout=120)
        assert f"labgrid: place {PLACE} is locked by {holder}" in out, out + err
        assert "Traceback" not in out + err and "PlaceLocked" not in out, out + err  # the lab's words only
        assert asyncio.run(lab.holder(PLACE)) == holder  # the other client's lock untouched

        # With --lab-wait, the run takes the place as soon as the other client lets it go.
        waiting = rig_run(lab, tmp_path, *args, "--lab-wait", "60")
        said = ""
        while not said.startswith("rig: ") and waiting.poll() is None:  # at once, not after the plan:
            said = waiting.stdout.readline()  # a CI log shows why the job sits there
        assert said.strip() == f"rig: place {PLACE} is locked by {holder}: waiting up to 60 s", said
        assert waiting.poll() is None and asyncio.run(lab.holder(PLACE)) == holder
    finally:
        lab.client("-p", PLACE, "release", user="nightly-ci")
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, out + err
    assert re.search(rf"lab-tiny @ {PLACE} \(127\.0\.0\.1\) +PASS", out), out
    assert asyncio.run(lab.holder(PLACE)) is None


def test_rig_run_on_a_bench_file_naming_its_place_releases_it_after_a_failed_plan(lab, tmp_path):
    # The bench file itself names the place (radio: labgrid:PLACE); no --radio on the command line.
    # Place b: its PPMID has joined no network yet (a's joined the first test's in-memory one and, like a
    # real device, does not leave it for another hub's new network).
    place = "lab-ppmid-b"
    bench = lab_bench_file(tmp_path, radio=f"labgrid:{place}", keep_network=True)
    failing = tmp_path / "lab-fails.yaml"
    failing.write_text(FAILING_PLAN, encoding="utf-8")
    switched_before = len(lab.power_calls())
    run = rig_run(lab, tmp_path, str(CONFORMANCE / "cf01-discovery-and-query.yaml"), str(failing),
                  "--bench", str(bench), "--report", str(tmp_path / "report"))
    try:
        out, err = run.communicate(timeout=150)
    finally:
        if run.poll() is None:  # a hung run must not keep holding the place for the next test
            run.kill()
            run.communicate()
    print(out, err)  # the run's own summary table, shown with -s or on failure
    assert run.returncode == 1, f"exit {run.returncode}\n{out}\n{err}"  # a plan failed

    # The summary table names the place (and the exporter host) each plan ran on.
    rows = {line.split()[0]: line for line in out.splitlines() if f" @ {place} (127.0.0.1) " in line}
    assert set(rows) == {"cf01-discovery-and-query", "lab-fails"}, out
    assert " PASS " in rows["cf01-discovery-and-query"] and " FAIL " in rows["lab-fails"], out
    assert "plan @ place (host)" in out, out
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<th>place (host)</th>" in html and html.count(f"<td>{place} (127.0.0.1)</td>") == 2

    # cf01's power cycle went through the place's labgrid power; the failed plan did not keep the place.
    assert lab.power_calls()[switched_before:] == ["off 1", "on 1"]
    assert asyncio.run(lab.holder(place)) is None
    assert "released labgrid place" not in err, err  # released by the rig itself, not by its reaper


def test_ctrl_c_on_rig_run_mid_plan_releases_the_place(lab, tmp_path):
    long = tmp_path / "lab-long.yaml"
    long.write_text(LONG_PLAN, encoding="utf-8")
    run = rig_run(lab, tmp_path, str(long), "--bench", str(lab_bench_file(tmp_path)),
                  "--radio", f"labgrid:{PLACE}")
    try:
        said = []
        for line in run.stdout:  # rig run's progress lines: the plan under way on the held place
            said.append(line)
            if "lab-long: step 1/2 pair" in line:
                break
        else:
            raise AssertionError("rig run never started the plan:\n" + "".join(said) + run.stderr.read())
        assert asyncio.run(lab.holder(PLACE)) is not None
        run.send_signal(signal.SIGINT)  # Ctrl-C mid-plan
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130, f"exit {run.returncode}\n{out}\n{err}"
    assert "ABORTED" in out, out
    assert asyncio.run(lab.holder(PLACE)) is None
    assert "released labgrid place" not in err, err  # by the rig as it stopped, not by the reaper
