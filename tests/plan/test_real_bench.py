"""What a real bench needs from the plan layer (issue: the conformance suite on a stick the rig did not
build). The tests that need a device in another process are in tests/bench/test_hardware_like.py."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.bench.config import BenchError, load_bench
from rig.bench.power import CommandPower, NoOperator, OperatorPower, PowerError, controlling_terminal, power_settings
from rig.bench.session import PlanNotForThisBench, Session
from rig.plan.limits import step_limit
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.plan.schema import PlanErrors
from rig.report.record import Verdict

REPO = Path(__file__).resolve().parents[2]
EMULATED = "fixtures/benches/emulated.yaml"


def running(pid: int) -> bool:
    """Alive, not a zombie waiting for whoever adopted it to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def plan_file(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- 1. no hidden real-time cap ------------------------------------------------------------------
LONG_WAITS = """\
plan: 1
name: long windows
devices:
  dut: {profile: ppmid}
steps:
  - advance_clock: 20m
  - name: an hour-long activation window
    advance_clock: 1h
"""


def _record_wait_for_limits(monkeypatch) -> list[float]:
    """The timeouts every asyncio.wait_for is given while the plan runs (the runner's step limits among them)."""
    limits: list[float] = []
    real_wait_for = asyncio.wait_for

    async def spy(aw, timeout):
        limits.append(timeout)
        return await real_wait_for(aw, timeout)

    monkeypatch.setattr(asyncio, "wait_for", spy)
    return limits


async def test_a_steps_real_time_limit_is_its_own_window_not_a_hidden_300_s_cap(tmp_path, monkeypatch):
    limits = _record_wait_for_limits(monkeypatch)
    record = await run_plan(load_plan(plan_file(tmp_path, LONG_WAITS)), load_bench(EMULATED))
    assert record.verdict is Verdict.PASS, record.message
    # each step's limit is its own window plus a margin, whatever it is
    assert any(20 * 60 < x <= 20 * 60 + 300 for x in limits), limits
    assert any(3600 < x <= 3600 + 300 for x in limits), limits
    assert 300.0 not in limits


POWER_CYCLES = """\
plan: 1
name: power cycles with and without a window of their own
devices:
  dut: {profile: ppmid}
steps:
  - pair: dut
  - power_cycle: dut
  - power_cycle: {device: dut, within: 10m}
"""


async def test_a_power_cycles_limit_is_the_benchs_restart_window_or_its_own(tmp_path, monkeypatch):
    """A device may take the bench's restart_within_s (600 s by default) to come back, or the step's own
    10 minutes: neither is cut short (a 10-minute power_cycle wait became 300 s)."""
    from rig.plan.limits import plan_limit

    limits = _record_wait_for_limits(monkeypatch)
    plan = load_plan(plan_file(tmp_path, POWER_CYCLES))
    record = await run_plan(plan, load_bench(EMULATED))
    assert record.verdict is Verdict.PASS, record.message
    # each power cycle's limit: the bench's restart window / its own 10 minutes, plus a margin
    assert len([x for x in limits if 600 < x <= 600 + 300]) == 2, limits
    assert plan_limit(plan.steps) >= 600 + 600  # the whole plan's guard (pytest-timeout) allows both


def test_step_limits_come_from_the_plan_with_a_default_per_kind(tmp_path):
    plan = load_plan(plan_file(tmp_path, """\
plan: 1
name: limits
devices:
  dut: {profile: ppmid}
steps:
  - expect_activation: {device: dut, within: 20m}
  - assert_device_version: {device: dut, version: 1}
  - name: a plan's own timeout wins
    assert_device_version: {device: dut, version: 1}
    timeout: 7s
"""))
    limit = [step_limit(s.kind, s.args, s.timeout) for s in plan.steps]
    assert limit[0] >= 20 * 60 + 60  # cf05 on hardware-example.yaml: activation 15 min after the check
    assert 60 <= limit[1] <= 300
    assert limit[2] == 7


# ---- 2. a power cycle needs evidence of a restart ------------------------------------------------
NOBODY_SWITCHES = """\
plan: 1
name: a power cycle that switches nothing
settings:
  hub:  # 250 blocks at least 30 ms apart: still downloading when a 3 s power-cycle window ends
    min_block_period: {ppmid: {value: 30, units: ms}}
devices:
  dut: {profile: ppmid}
images:
  next: {generate: {like: dut, version: current+1, size: 10kB}}
steps:
  - pair: dut
  - service_request: {sr: "11.4", image: next, devices: [dut]}
  - wait_download: {device: dut, progress: 20%}
  - power_cycle: {device: dut, within: 3s}
"""


async def test_a_power_cycle_that_switches_nothing_fails_and_names_what_was_heard(tmp_path, monkeypatch):
    """The download's next block request is no restart (it ended the step in 0.0 s before)."""
    from rig.bench.power import EmulatedPower

    async def switches_nothing(self, device, fields):
        return "switched nothing"

    monkeypatch.setattr(EmulatedPower, "cycle", switches_nothing)
    record = await run_plan(load_plan(plan_file(tmp_path, NOBODY_SWITCHES)), load_bench(EMULATED))
    step = record.steps[-1]
    assert step.kind == "power_cycle" and step.verdict is Verdict.FAIL, step.message
    assert "dut showed no restart within 3 s of the power cycle (switched nothing)" in step.message
    assert "IMAGE_BLOCK" in step.message and "no Device_annce, no rejoin" in step.message

    # given longer, the device finishes, is told to activate and reboots by itself: that restart is
    # taken, and the record says it may be the activation's, not the power cycle's
    longer = NOBODY_SWITCHES.replace("within: 3s", "within: 10m")
    record = await run_plan(load_plan(plan_file(tmp_path, longer)), load_bench(EMULATED))
    assert record.verdict is Verdict.PASS, record.message
    seen = [e["detail"] for e in record.events if e["kind"] == "restart_seen"]
    assert seen and "may be its activation reboot rather than the power cycle" in seen[0], seen


async def test_a_real_power_cycle_names_its_evidence_without_an_activation_note(tmp_path):
    record = await run_plan(load_plan(plan_file(tmp_path, NOBODY_SWITCHES)), load_bench(EMULATED))
    assert record.verdict is Verdict.PASS, record.message
    seen = [e["detail"] for e in record.events if e["kind"] == "restart_seen"]
    assert seen == ["it sent a Device_annce (announced itself on power-up)"]


# ---- 3. the operator prompt ----------------------------------------------------------------------
async def test_without_a_terminal_the_operator_prompt_fails_at_once_saying_why():
    with pytest.raises(NoOperator, match="needs an operator or a power control"):
        await OperatorPower(terminal=lambda: None).cycle("dut", {"ieee": "00:11"})


async def test_the_operator_prompt_is_written_to_the_terminal_at_once():
    master, slave = pty.openpty()
    try:
        term = open(os.ttyname(slave), "w", encoding="utf-8")  # noqa: SIM115 - the power control closes it
        await OperatorPower(terminal=lambda: term).cycle("dut", {"ieee": "00:11:22:33:44:55:66:77"})
        text = os.read(master, 4096).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert "POWER-CYCLE dut (00:11:22:33:44:55:66:77) NOW" in text


def test_with_stdin_closed_there_is_no_operator(monkeypatch):
    """A terminal the prompt could be written to is not enough: with stdin closed (CI, `rig run < /dev/null`)
    nobody is there to act on it, so there is no operator."""
    import rig.bench.power as power

    master, slave = pty.openpty()
    terminal = os.ttyname(slave)  # a terminal that opens, standing in for /dev/tty
    read, write = os.pipe()
    os.close(write)
    saved = os.dup(0)
    try:
        os.dup2(read, 0)  # stdin: a closed pipe
        monkeypatch.setattr(power, "_stdin_was_tty", None)
        power.note_stdin()
        assert power._stdin_was_tty is False
        assert controlling_terminal(terminal) is None
        os.dup2(slave, 0)  # stdin the terminal: the prompt goes to it
        power.note_stdin()
        term = controlling_terminal(terminal)
        assert term is not None
        term.close()
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read, master, slave):
            os.close(fd)


# ---- 4. automatic power control ------------------------------------------------------------------
async def test_the_bench_power_commands_switch_off_then_on_with_the_devices_fields(tmp_path):
    log = tmp_path / "switch.log"
    settings = power_settings({"off": f"echo off {{device}} {{port}} >> {log}",
                               "on": f"echo on {{ieee}} >> {log}", "off_for_s": 0}, "bench.yaml")
    done = await CommandPower(settings).cycle("dut", {"device": "dut", "port": "3", "ieee": "00:11"})
    assert log.read_text().splitlines() == ["off dut 3", "on 00:11"]
    assert "switched off" in done


async def test_a_failing_or_hanging_power_command_is_a_bench_problem_with_its_output(tmp_path):
    failing = power_settings({"off": "echo relay board not found; exit 3", "on": "true", "off_for_s": 0}, "b")
    with pytest.raises(PowerError, match=r"power.off: `echo relay board not found; exit 3` exited 3: relay board"):
        await CommandPower(failing).cycle("dut", {})
    # the shell forks what it runs: the whole command is ended, not only the shell (a relay script's child
    # left behind kept the rig waiting for it, or went on switching after the bench gave up on it)
    pid_file = tmp_path / "child.pid"
    hanging = power_settings({"off": f"sleep 30 > /dev/null 2>&1 & echo $! > {pid_file}; wait", "on": "true",
                              "command_timeout_s": 0.3}, "b")
    with pytest.raises(PowerError, match="did not finish within 0.3 s"):
        await CommandPower(hanging).cycle("dut", {})
    # SIGKILL went to the whole group; the kernel ends the forked child when it next runs (on a loaded
    # machine, a moment after killpg returns)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5.0
    while running(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not running(child), "the command's forked child outlived the bench's timeout"
    unknown = power_settings({"off": "switch {outlet} off", "on": "true"}, "b")
    with pytest.raises(PowerError, match=r"names 'outlet' which this device does not have"):
        await CommandPower(unknown).cycle("dut", {"ieee": "00:11"})


async def test_a_real_device_is_switched_by_the_bench_power_commands_not_the_operator(tmp_path):
    """The bench file's power: section is what power_cycle uses for a real device (no terminal needed);
    without one it falls back to the operator."""
    log = tmp_path / "switch.log"
    text = (REPO / "fixtures/benches/hardware-example.yaml").read_text()
    devices = "devices:\n  meter-ppmid: {ieee: '00:0d:6f:00:00:00:00:01', kind: ppmid, stands_for: dut, port: 3}\n"
    power = (f'power:\n  off: "echo off {{device}} {{port}} {{ieee}} >> {log}"\n'
             f'  on: "echo on {{plan_device}} >> {log}"\n  off_for_s: 0\n')
    (tmp_path / "lab.yaml").write_text(text + devices + power)
    session = Session.for_bench(load_bench(tmp_path / "lab.yaml"), tmp_path)
    handle = session.radio.add_device("dut", "ppmid")  # mapped to the bench file's device; nothing opened
    control = handle.power(session.bench.power)
    assert isinstance(control, CommandPower)
    done = await control.cycle("dut", handle.power_fields())
    assert log.read_text().splitlines() == ["off meter-ppmid 3 00:0d:6f:00:00:00:00:01", "on dut"]
    assert "by the bench's power control" in done
    (tmp_path / "manual.yaml").write_text(text + devices)
    manual = Session.for_bench(load_bench(tmp_path / "manual.yaml"), tmp_path)
    assert isinstance(manual.radio.add_device("dut", "ppmid").power(manual.bench.power), OperatorPower)


def test_a_bench_file_power_section_is_read_and_checked(tmp_path):
    text = (REPO / "fixtures/benches/hardware-example.yaml").read_text()
    bench = tmp_path / "lab.yaml"
    # bare on:/off: keys are YAML 1.1 booleans; the bench file takes them as meant
    bench.write_text(text + "power:\n  off: uhubctl -a off -p {port}\n  on: uhubctl -a on -p {port}\n"
                            "  off_for_s: 3\n")
    loaded = load_bench(bench)
    assert loaded.power.commands and loaded.power.off_for_s == 3 and loaded.identity()["power"] == "commands"
    bench.write_text(text + "power:\n  off: uhubctl -a off\n  off_after_s: 3\n")
    with pytest.raises(BenchError, match=r"lab.yaml:50:3: power.off_after_s: unknown key 'off_after_s' \(did you mean 'off_for_s'\?\)"):
        load_bench(bench)
    bench.write_text(text + "power:\n  off: uhubctl -a off\n")
    with pytest.raises(BenchError, match="give both off: and on: commands"):
        load_bench(bench)


# ---- 5. versions relative to what the device runs ------------------------------------------------
RELATIVE = """\
plan: 1
name: relative versions
devices:
  dut: {profile: ppmid}
images:
  next: {generate: {like: dut, version: current+1}}
steps:
  - pair: dut
  - assert_device_version: {device: dut, version: current}
  - service_request: {sr: "11.4", image: next, devices: [dut]}
  - expect_transfer: {device: dut, within: 1h}
  - expect_activation: {device: dut, within: 1h}
  - assert_device_version: {device: dut, version: current+1}
  - assert_register: {device: dut, version: current+1}
"""


async def test_images_and_expected_versions_follow_the_version_the_device_starts_on(tmp_path):
    record = await run_plan(load_plan(plan_file(tmp_path, RELATIVE)), load_bench(EMULATED))
    assert record.verdict is Verdict.PASS, record.message
    assert record.images["next"]["file_version"] == 2
    assert record.devices["dut"]["start_version"] == 1 and record.devices["dut"]["end_version"] == 2
    wrong = await run_plan(load_plan(plan_file(tmp_path, RELATIVE.replace("version: current}", "version: current+3}"))),
                           load_bench(EMULATED))
    assert wrong.verdict is Verdict.FAIL and "expected 0x00000004" in wrong.message


async def test_a_device_that_starts_on_v5_is_offered_v6_and_checked_against_v5(tmp_path):
    """A kept device is wherever the plan before left it: here an emulated PPMID running v5. The plan's
    `current` and `current+1` are read from it, not a fresh v1 device's 1 and 2."""
    profile = (REPO / "fixtures/devices/ppmid.yaml").read_text()
    assert "current_file_version: 0x00000001" in profile
    (tmp_path / "ppmid-v5.yaml").write_text(profile.replace("name: ppmid", "name: ppmid-v5").replace(
        "current_file_version: 0x00000001", "current_file_version: 0x00000005"))
    text = RELATIVE.replace("{profile: ppmid}", f"{{profile: {tmp_path / 'ppmid-v5.yaml'}}}")
    record = await run_plan(load_plan(plan_file(tmp_path, text)), load_bench(EMULATED))
    assert record.verdict is Verdict.PASS, record.message
    assert record.images["next"]["file_version"] == 6
    assert record.devices["dut"]["start_version"] == 5 and record.devices["dut"]["end_version"] == 6


def test_a_version_is_a_number_or_current_plus_n(tmp_path):
    with pytest.raises(PlanErrors, match=r"version: found 'latest'; expected a version: a number .* current\+N"):
        load_plan(plan_file(tmp_path, RELATIVE.replace("version: current+1}}", "version: latest}}")))


def test_the_summary_says_each_plans_start_and_end_version():
    from rig.report.record import RunRecord
    from rig.report.summary import summary_table

    rec = RunRecord("cf02", "cf02", "cf02.yaml", {})
    rec.devices = {"dut": {"start_version": 2, "end_version": 3}}
    assert "dut 0x2->0x3" in summary_table([rec])


# ---- 8. a plan for a device kind the bench does not have ----------------------------------------
def test_a_plan_needing_an_hcalcs_on_a_ppmid_bench_is_not_for_this_bench(tmp_path):
    text = (REPO / "fixtures/benches/hardware-example.yaml").read_text()
    bench = tmp_path / "ppmid-bench.yaml"
    bench.write_text(text + "devices:\n  dut: {ieee: '00:0d:6f:00:00:00:00:01', kind: ppmid}\n")
    session = Session.for_bench(load_bench(bench), tmp_path)
    with pytest.raises(PlanNotForThisBench, match=r"the plan needs dut to be a hcalcs; on bench ppmid-bench "
                                                  r"dut is dut \(ppmid\) \(add a hcalcs with `stands_for: dut`"):
        session.add_device("dut", "hcalcs")


# ---- 9. messages that say what the device did --------------------------------------------------
async def test_an_unsupported_attribute_is_reported_as_such_not_as_no_answer():
    from rig.plan.harness import RigHarness

    rig = await RigHarness(load_bench(EMULATED), "unsupported").start()
    try:
        dev = await rig.add_device("dut", "ppmid")
        value, why = await rig.hub.read_ota_attribute_status(dev.ieee, 0xFFFD)  # ClusterRevision: not defined
        assert value is None and why == "the device answered UNSUPPORTED_ATTRIBUTE"
        assert (await rig.hub.read_ota_attribute_status(dev.ieee, 0x0002)) == (1, "")
    finally:
        await rig.stop()


ALREADY_THERE = """\
plan: 1
name: offered what it already runs
devices:
  dut: {profile: ppmid}
images:
  same: {generate: {like: dut, version: current}}
steps:
  - pair: dut
  - service_request: {sr: "11.4", image: same, devices: [dut]}
  - wait_download: {device: dut, progress: 40%, within: 2h}
"""

FAILED_TRANSFER = """\
plan: 1
name: the device rejects the image
devices:
  dut: {profile: ppmid}
images:
  next: {generate: {like: dut, version: current+1}}
steps:
  - pair: dut
  - inject_fault: {fault: device_upgrade_end_status, device: dut, status: invalid_image}
  - service_request: {sr: "11.4", image: next, devices: [dut]}
  - pass_time: 30s
  - expect_activation: {device: dut, within: 2h}
"""


async def test_a_wait_ends_at_once_when_the_transfer_cannot_start_saying_why(tmp_path):
    record = await run_plan(load_plan(plan_file(tmp_path, ALREADY_THERE)), load_bench(EMULATED))
    step = record.steps[-1]
    assert step.verdict is Verdict.FAIL
    assert "the transfer cannot start" in step.message and "already runs the offered version" in step.message
    assert "v=0x00000001" in step.message  # what the device sent
    # the wait ended on the failure, not on its 2-hour window (that ends with "did not reach 40 % within")
    assert "within 7200" not in step.message


async def test_a_transfer_wait_ends_at_once_when_the_offer_is_refused_saying_why(tmp_path):
    """A kept device already runs the offered version: the hub answers its query NO_IMAGE_AVAILABLE and no
    transfer will ever start, so expect_transfer ends on that answer, not on its 2-hour window."""
    text = ALREADY_THERE.replace("wait_download: {device: dut, progress: 40%, within: 2h}",
                                 "expect_transfer: {device: dut, result: success, within: 2h}")
    record = await run_plan(load_plan(plan_file(tmp_path, text)), load_bench(EMULATED))
    step = record.steps[-1]
    assert step.verdict is Verdict.FAIL and step.kind == "expect_transfer"
    assert step.message.startswith("no transfer can come for dut: the transfer cannot start"), step.message
    assert "NO_IMAGE_AVAILABLE (0x98): device already runs the offered version" in step.message
    assert "v=0x00000001" in step.message


async def test_an_activation_wait_ends_at_once_when_the_transfer_failed_with_the_status(tmp_path):
    record = await run_plan(load_plan(plan_file(tmp_path, FAILED_TRANSFER)), load_bench(EMULATED))
    step = record.steps[-1]
    assert step.verdict is Verdict.FAIL and step.kind == "expect_activation"
    assert "no activation can come for dut: the transfer already failed: file_transfer_failure" in step.message
    assert "UPGRADE_END status 0x96" in step.message


# ---- 10. plans anywhere --------------------------------------------------------------------------
HAPPY = """\
plan: 1
name: copied plan
devices:
  dut: {profile: ppmid}
steps:
  - pair: dut
  - assert_device_version: {device: dut, version: current}
"""


@pytest.mark.parametrize("runner", ["pytest", "rig run"])
@pytest.mark.parametrize("given", ["file", "folder"])
def test_a_plan_outside_a_testplans_folder_runs(tmp_path, given, runner):
    folder = tmp_path / "my-copies"
    folder.mkdir()
    plan_file(folder, HAPPY, "copied.yaml")
    (folder / "notes.yaml").write_text("just: some yaml\n")  # not a plan: not collected
    target = folder / "copied.yaml" if given == "file" else folder
    if runner == "pytest":
        args = ["-m", "pytest", str(target), "--rig-bench", str(REPO / EMULATED), "-p", "no:cacheprovider", "-q",
                f"--rig-record-dir={tmp_path / 'rec'}"]
    else:
        args = ["-m", "rig.cli", "run", str(target), "--bench", str(REPO / EMULATED), "--report", str(tmp_path / "rep")]
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
