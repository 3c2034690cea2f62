"""The verdict-check steps (rig.plan.steps_checks): they load with clear errors, pass on the behaviour
they check and fail with a message that names what was wrong."""

from pathlib import Path

import pytest

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.plan.schema import PlanErrors
from rig.report.record import Verdict


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


async def run(tmp_path: Path, text: str):
    return await run_plan(load_plan(write(tmp_path, text)), load_bench("fixtures/benches/emulated.yaml"))


N63 = """\
plan: 1
name: n63 fields
needs: [emulated]
steps:
  - mark: start
  - service_request: {sr: cs06, ch_version: 0x00020000, save_as: ok}
  - await_alert: {code: N63, request: ok, within: 1m}
  - expect_alert: {code: N63, request: ok, count: 1, fields: {CommsHubDeviceID: $ch, TimeStamp: $alert_time,
                   FirmwareVersion: "%s"}}
  - expect_alert_time: {code: N63, since_mark: start, min: 0s, max: %s}
"""


async def test_alert_fields_and_time_pass_on_the_right_values(tmp_path):
    record = await run(tmp_path, N63 % ("00020000", "1m"))
    assert record.verdict is Verdict.PASS, record.message


async def test_a_wrong_field_is_named_with_what_was_found(tmp_path):
    record = await run(tmp_path, N63 % ("00099999", "1m"))
    assert record.verdict is Verdict.FAIL
    assert "FirmwareVersion = '00020000', expected '00099999'" in record.message


LATE = """\
plan: 1
name: lower bound
needs: [emulated]
steps:
  - mark: start
  - service_request: {sr: cs06, ch_version: 0x00020000, save_as: ok}
  - await_alert: {code: N63, request: ok, within: 1m}
  - expect_alert_time: {code: N63, since_mark: start, min: 10m}
"""


async def test_an_alert_sooner_than_the_lower_bound_fails(tmp_path):
    record = await run(tmp_path, LATE)
    assert record.verdict is Verdict.FAIL
    assert "expected at least 10.0 min" in record.message


def test_a_time_check_needs_exactly_one_reference(tmp_path):
    text = LATE.replace("since_mark: start, ", "")
    with pytest.raises(PlanErrors) as err:
        load_plan(write(tmp_path, text))
    assert "since_mark" in str(err.value)


def test_an_unknown_defect_lists_the_known_ones(tmp_path):
    text = """\
plan: 1
name: defect
needs: [emulated]
devices:
  d: {profile: ppmid}
steps:
  - inject_defect: {device: d, defect: ignores_everything}
"""
    with pytest.raises(PlanErrors) as err:
        load_plan(write(tmp_path, text))
    assert "ignores_wait_for_data" in str(err.value) and "defect" in str(err.value)


RESUME = """\
plan: 1
name: resume
needs: [emulated]
devices:
  d: {profile: %s}
images:
  v2: {generate: {like: d, version: 2, size: 20kB}}
steps:
  - pair: d
  - service_request: {sr: "11.4", image: v2, devices: [d]}
  - wait_download: {device: d, progress: 20%%}
  - mark: reboot
  - power_cycle: d
  - expect_transfer: {device: d, result: success}
  - expect_resumed: {device: d, after: reboot, at_least: 15%%}
  - expect_clean_requests: d
"""


async def test_resume_passes_for_a_conformant_device(tmp_path):
    record = await run(tmp_path, RESUME % "ppmid")
    assert record.verdict is Verdict.PASS, record.message


async def test_a_device_restarting_from_zero_is_named(tmp_path):
    record = await run(tmp_path, RESUME % "ppmid+restarts_from_zero")
    assert record.verdict is Verdict.FAIL
    assert "restarted its download at offset 0" in record.message
