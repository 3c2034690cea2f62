"""Plans are validated up front; each problem names file:line:col, key, found and allowed."""

import subprocess
import sys
from pathlib import Path

import pytest

from rig.plan.loader import load_plan
from rig.plan.schema import PlanErrors, parse_duration

GOOD = """\
plan: 1
name: PPMID happy path
needs: [emulated]
devices:
  ppmid1: {profile: ppmid}
images:
  v2: {generate: {like: ppmid1, version: 2, size: 750kB}}
steps:
  - name: Ask for the upgrade
    service_request: {sr: "11.4", image: v2, devices: [ppmid1]}
    timeout: 30s
  - await_alert: {code: 0x8F8A, device: ppmid1, within: 10m}
  - advance_clock: 15m
  - measure: {name: throughput, metric: transfer_bytes_per_s, device: ppmid1, min: 100, unit: B/s}
"""


def errors_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(PlanErrors) as info:
        load_plan(path)
    return [str(e) for e in info.value.errors]


def test_good_plan_loads_with_typed_values(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    plan = load_plan(path)
    assert plan.needs == ["emulated"]
    assert plan.images["v2"].generate == {"like": "ppmid1", "version": 2, "size": 750_000, "corrupt_integrity": False,
                                         "off_cpl": False}
    kinds = [s.kind for s in plan.steps]
    assert kinds == ["service_request", "await_alert", "advance_clock", "measure"]
    assert plan.steps[0].timeout == 30 and plan.steps[0].title == "Ask for the upgrade"
    assert plan.steps[1].args["code"] == "0x8F8A"  # unquoted YAML hex arrives as an int
    assert plan.steps[2].args == {"by": 900.0}
    assert plan.steps[3].args["min"] == 100.0


def test_misspelt_step_suggests_the_nearest_and_points_at_the_line(tmp_path):
    errs = errors_of(GOOD.replace("  - advance_clock: 15m", "  - advance_clok: 15m"), tmp_path)
    assert len(errs) == 1
    assert errs[0].startswith(f"{tmp_path / 'plan.yaml'}:13:5: steps[3].advance_clok: unknown step 'advance_clok'")
    assert "did you mean 'advance_clock'?" in errs[0]


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace('sr: "11.4"', 'sr: "11.5"').replace("devices: [ppmid1]", "devices: [ppmdi1]")
    text = text.replace("within: 10m", "within: soon")
    errs = errors_of(text, tmp_path)
    assert len(errs) == 3
    assert ":10:27: steps[1].service_request.sr: found '11.5'; expected 11.4 | 11.1 | 11.3 | 11.2 | cs06" in errs[0]
    assert ":10:56: steps[1].service_request.devices[1]: found 'ppmdi1'" in errs[1] and "did you mean 'ppmid1'?" in errs[1]
    assert ":12:57: steps[2].await_alert.within: found 'soon'; expected a duration such as 90s" in errs[2]


def test_unknown_key_inside_a_step(tmp_path):
    errs = errors_of(GOOD.replace("device: ppmid1, within", "devcie: ppmid1, within"), tmp_path)
    assert ":12:33: steps[2].await_alert.devcie: unknown key 'devcie' (did you mean 'device'?); expected one of: code, " \
           "device, request, response_code, within" in errs[0]


def test_a_notify_goes_to_exactly_one_of_a_device_or_a_broadcast(tmp_path):
    both = "  - send_image_notify: {device: ppmid1, broadcast: all, payload_type: 0}\n"
    neither = "  - send_image_notify: {image: v2, jitter: 50}\n"
    errs = errors_of(GOOD + both + neither + "  - send_image_notify: {broadcast: everyone}\n", tmp_path)
    assert len(errs) == 3
    assert ":15:24: steps[5].send_image_notify: found {'device': 'ppmid1', 'broadcast': 'all', 'payload_type': 0}; " \
           "expected exactly one of device or broadcast" in errs[0]
    assert ":16:24: steps[6].send_image_notify: found {'image': 'v2', 'jitter': 50}; expected exactly one of device " \
           "or broadcast" in errs[1]
    assert ":17:36: steps[7].send_image_notify.broadcast: found 'everyone'; expected all | rx_on | routers" in errs[2]
    plan = load_plan(_write(tmp_path, GOOD + "  - send_image_notify: {broadcast: rx_on, image: v2, save_as: n}\n"
                            "  - expect_hub_frame: {device: ppmid1, command: QUERY_NEXT_IMAGE, direction: rx, "
                            "after: n, within: 1m, max_count: 0, min_count: 0}\n"))
    notify, expect = plan.steps[-2].args, plan.steps[-1].args
    assert (notify["payload_type"], notify["jitter"], notify["broadcast"]) == (3, 100, "rx_on")
    assert (expect["after"], expect["within"], expect["max_count"]) == ("n", 60.0, 0)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    return path


def test_missing_required_field_and_wrong_schema_version(tmp_path):
    errs = errors_of(GOOD.replace("plan: 1", "plan: 7").replace("code: 0x8F8A, ", ""), tmp_path)
    assert ":1:7: plan: found 7; expected the schema version 1" in errs[0]
    assert ":12:18: steps[2].await_alert.code: missing; expected an alert code" in errs[1]


def test_yaml_syntax_error_has_a_position(tmp_path):
    errs = errors_of("plan: 1\nname: [unclosed\n", tmp_path)
    assert len(errs) == 1 and "plan.yaml:3:1: yaml" in errs[0]


def test_image_file_must_exist(tmp_path):
    errs = errors_of(GOOD.replace("{generate: {like: ppmid1, version: 2, size: 750kB}}", "{file: nope.ota}"), tmp_path)
    assert ":7:14: images.v2.file: found 'nope.ota'; expected a path to an existing image" in errs[0]


def test_durations():
    assert parse_duration("15m") == 900 and parse_duration("4d") == 345600
    assert parse_duration("250ms") == 0.25 and parse_duration(12) == 12.0
    assert parse_duration("soon") is None and parse_duration(-1) is None and parse_duration(True) is None


def test_rig_plans_check_cli_exit_codes_and_no_traceback(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("advance_clock: 15m", "advance_clock: 15q"))
    rig = [sys.executable, "-m", "rig.cli", "plans", "check"]
    ok = subprocess.run(rig + [str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    ko = subprocess.run(rig + [str(good), str(bad)], capture_output=True, text=True)
    assert ko.returncode == 1
    assert f"{bad}:13:20: steps[3].advance_clock.by: found '15q'" in ko.stderr
    assert "Traceback" not in ko.stderr + ko.stdout
