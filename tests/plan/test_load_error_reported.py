"""A plan that fails to load is not dropped: it is an ERROR with its load error in the summary and report."""

from __future__ import annotations

import json

from tests.plan.clirun import QUICK, rig, write_plan


def test_a_plan_that_fails_to_load_is_an_error_in_the_summary_and_the_report(tmp_path):
    write_plan(tmp_path, "good.yaml")
    write_plan(tmp_path, "broken.yaml", QUICK.replace("advance_clock", "advance_clok"))
    proc = rig(tmp_path, "run", "testplans", "--report", "out")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "2 plans: 1 passed, 0 failed, 1 errors" in out
    [row] = [line for line in out.splitlines() if line.startswith("broken ")]
    assert "ERROR" in row and "broken.yaml:7:5" in row
    record = json.loads((tmp_path / "out" / "broken.json").read_text())
    assert record["verdict"] == "error" and "did you mean 'advance_clock'?" in record["message"]
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "2 plans: 1 error, 1 pass" in html and "steps[2].advance_clok" in html
    assert "Traceback" not in out
