"""`rig --version` and `rig plans list`: what is installed, and what plans there are."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from rig.cli import main
from tests.plan.clirun import REPO


def test_rig_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"rig {version('han-ota-rig')}") and "zigpy 2.4.0" in out and "bellows 1.2.1" in out


def test_plans_list_shows_name_title_needs_kinds_and_expected_time(capsys):
    assert main(["plans", "list", str(REPO / "testplans")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["plan", "title", "needs", "devices", "expected"]
    rows = {line.split()[0]: line for line in lines[2:] if line and not line.startswith(" ")}
    cf02 = rows["cf02-download-and-verify"]
    assert "hardware" not in cf02.split()[0] and "ppmid" in cf02 and ":" in cf02  # an hh:mm:ss time
    ec09 = rows["ec09-gsme-preemption"]
    assert "emulated" in ec09 and "gsme" in ec09 and "emulated only" in ec09
    shipped = len(list((REPO / "testplans").rglob("*.yaml")))  # every plan file, whatever the suite grows to
    assert any(line.startswith(f"{shipped} plans") for line in lines)


def test_plans_list_names_a_plan_that_does_not_load(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("plan: 1\nname: x\nsteps: [{advance_clok: 1m}]\n")
    assert main(["plans", "list", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "bad.yaml:3:" in captured.err and "Traceback" not in captured.err
