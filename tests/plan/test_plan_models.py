"""The plan's typed models (rig.plan.schema): what the hand-written checker did, and what it did not:
the back end's settings, names a generated image takes its identity from, list items named one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.plan.loader import load_plan
from rig.plan.schema import STEPS, PlanErrors

BASE = """\
plan: 1
name: models
devices:
  p1: {profile: ppmid}
  p2: ppmid
images:
  v2: {generate: {like: p1, version: current+1, size: 4kB}}
steps:
  - pair: p1
"""


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(PlanErrors) as info:
        load_plan(path)
    return [str(e).removeprefix(f"{path}:") for e in info.value.errors]


def test_the_base_plan_loads_with_both_device_forms(tmp_path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(BASE)
    plan = load_plan(path)
    assert {n: d.profile for n, d in plan.devices.items()} == {"p1": "ppmid", "p2": "ppmid"}
    assert plan.images["v2"].generate == {"version_from_current": 1, "size": 4000, "like": "p1",
                                          "corrupt_integrity": False, "off_cpl": False}
    assert plan.steps[0].args == {"device": "p1", "within": 120.0}


def test_problems_in_the_file_and_in_its_steps_come_together_in_line_order(tmp_path) -> None:
    text = BASE.replace("p2: ppmid", "p2: {profil: ppmid}").replace("  - pair: p1\n", "  - pair: p3\n")
    text = text.replace("steps:", "settings:\n  backend: {batch_size: 0}\nsteps:")
    assert errors_of(tmp_path, text) == [
        "5:7: devices.p2.profile: missing; expected a device profile name such as ppmid, hcalcs, gsme",
        "5:8: devices.p2.profil: unknown key 'profil' (did you mean 'profile'?); expected one of: in_device_log, "
        "install_code, profile",
        "9:25: settings.backend.batch_size: found 0; expected an integer >= 1",
        "11:11: steps[1].pair.device: found 'p3'; expected a device declared under devices: (p1, p2) "
        "(did you mean 'p2'?)",
    ]


def test_settings_keys_are_checked(tmp_path) -> None:
    [err] = errors_of(tmp_path, BASE.replace("steps:", "settings: {backend: {in_progres_timeout: 1d}}\nsteps:"))
    assert err.startswith("8:22: settings.backend.in_progres_timeout: unknown key 'in_progres_timeout' "
                          "(did you mean 'in_progress_timeout'?)")
    [err] = errors_of(tmp_path, BASE.replace("steps:", "settings: {hbu: {}}\nsteps:"))
    assert err == "8:12: settings.hbu: unknown key 'hbu' (did you mean 'hub'?); expected one of: backend, hub"


def test_a_generated_image_takes_its_identity_from_a_declared_device(tmp_path) -> None:
    [err] = errors_of(tmp_path, BASE.replace("like: p1", "like: p9"))
    assert err.startswith("7:25: images.v2.generate.like: found 'p9'; expected a device declared under devices:")


def test_each_item_of_a_list_of_devices_is_checked_where_it_is(tmp_path) -> None:
    step = "  - service_request: {sr: '11.4', image: v2, devices: [p1, p4, p2]}\n"
    [err] = errors_of(tmp_path, BASE + step)
    assert err.startswith("10:60: steps[2].service_request.devices[2]: found 'p4'; expected a device declared")


def test_a_step_model_reads_the_short_form_and_refuses_unknown_keys() -> None:
    model = STEPS["advance_clock"].model
    assert model.model_validate({"advance_clock": "1h 30m"}).advance_clock.by == 5400.0
    with pytest.raises(ValueError, match="extra"):
        model.model_validate({"advance_clock": {"by": "1m", "bye": 1}})
