"""Plans run end to end on the emulated bench: real bellows/zigpy, the emulated stick, hub and back end."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.report.record import Verdict

REPO = Path(__file__).resolve().parents[2]

HAPPY = """\
plan: 1
name: happy
devices:
  ppmid1: {profile: ppmid}
images:
  v2: {file: firmware_images/ppmid-v2.zigbee.ota}
steps:
  - pair: ppmid1
  - service_request: {sr: "11.4", image: v2, devices: [ppmid1]}
  - await_alert: {code: 0x8F8A, device: ppmid1, within: 10m}
  - advance_clock: 15m
  - await_alert: {code: 0x8F8B, device: ppmid1}
  - assert_register: {device: ppmid1, version: 2}
  - measure: {name: throughput, metric: transfer_bytes_per_s, device: ppmid1, min: 1}
"""


def write_plan(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    folder = tmp_path / "testplans"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


async def test_a_plan_passes_and_records_steps_alerts_and_measurements(tmp_path):
    plan = load_plan(write_plan(tmp_path, HAPPY))
    record = await run_plan(plan, load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.PASS, record.message
    assert [s.verdict for s in record.steps] == [Verdict.PASS] * 7
    codes = [a["code"] for a in record.alerts]
    assert "0x8F8A" in codes and "0x8F8B" in codes
    assert record.measurements[0].value > 0 and record.measurements[0].passed
    assert record.images["v2"]["file_version"] == 2
    assert any(e["kind"] == "block" for e in record.events)


async def test_a_wrong_expectation_fails_with_the_reason(tmp_path):
    """The same run, asked for the wrong version: the plan must fail, naming what it saw."""
    plan = load_plan(write_plan(tmp_path, HAPPY.replace("version: 2}", "version: 3}")))
    record = await run_plan(plan, load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.FAIL
    assert "register holds 0x00000002 for ppmid1, expected 0x00000003" in record.message
    assert record.steps[-1].verdict is Verdict.FAIL and len(record.steps) == 6  # stops at the failing step


async def test_a_measurement_outside_its_limits_fails(tmp_path):
    plan = load_plan(write_plan(tmp_path, HAPPY.replace("min: 1}", "min: 1, max: 2}")))
    record = await run_plan(plan, load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.FAIL and "throughput" in record.message and "outside limits" in record.message


@pytest.fixture(scope="module")
def pytest_on_plans(tmp_path_factory):
    """One pytest run over a folder with a good plan, a broken one and one needing hardware: the tests
    below judge the same run (a pytest process costs seconds of start-up)."""
    tmp_path = tmp_path_factory.mktemp("plans")
    write_plan(tmp_path, HAPPY, "good.yaml")
    write_plan(tmp_path, HAPPY.replace("  - advance_clock: 15m", "  - advance_clok: 15m"), "broken.yaml")
    write_plan(tmp_path, HAPPY.replace("name: happy", "name: happy\nneeds: [hardware]"), "hw.yaml")
    junit = tmp_path / "out.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "testplans"), "--rig-radio", "emulated",
         "--rig-bench", str(REPO / "fixtures/benches/emulated.yaml"), f"--junitxml={junit}",
         f"--rig-record-dir={tmp_path / 'records'}", "-p", "no:cacheprovider", "-q", "-rs"],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")} if junit.is_file() else {}
    return proc, cases, tmp_path


@pytest.mark.xdist_group("pytest-on-plans")  # one worker runs both: pytest runs once
def test_pytest_collects_plans_writes_junit_properties_and_rejects_broken_plans(pytest_on_plans):
    proc, cases, tmp_path = pytest_on_plans
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "broken.yaml:11:5: steps[4].advance_clok: unknown step 'advance_clok'" in out
    assert "did you mean 'advance_clock'?" in out
    assert "Traceback" not in out
    good = cases["good"]
    props = {p.get("name"): p.get("value") for p in good.iter("property")}
    assert float(props["measurement.throughput"].split()[0]) > 0
    assert props["measurement.throughput.passed"] == "true"
    assert props["radio"] == "emulated"
    assert props["image.v2"].startswith("2 sha256:")
    assert (tmp_path / "records" / "good.json").is_file()


@pytest.mark.xdist_group("pytest-on-plans")
def test_a_plan_needing_hardware_is_skipped_on_the_emulated_bench(pytest_on_plans):
    proc, cases, _ = pytest_on_plans
    assert "1 skipped" in proc.stdout and "plan needs hardware" in proc.stdout, proc.stdout
    # a skip, neither a failure nor an error (the run's exit code is the broken plan's)
    [skipped] = list(cases["hw"])
    assert skipped.tag == "skipped" and "plan needs hardware" in skipped.get("message"), ET.tostring(cases["hw"])
