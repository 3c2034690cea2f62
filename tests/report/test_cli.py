"""`rig report RECORD.json ... [-o DIR]` regenerates the report; bad input gets a clear error."""

from __future__ import annotations

import json

from rig.cli import main
from tests.report.records import record_copy


def test_rig_report_from_records(tmp_path, capsys) -> None:
    first, second = record_copy(), record_copy()
    second["plan"]["id"] = "second-plan"
    second["verdict"] = "pass"
    (tmp_path / "runs").mkdir()
    a = tmp_path / "runs" / "a.json"
    b = tmp_path / "runs" / "b.json"
    a.write_text(json.dumps(first))
    b.write_text(json.dumps(second))
    assert main(["report", str(a), str(b), "-o", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="plan-ppmid-reboot-and-throttle"' in html and 'id="plan-second-plan"' in html
    assert "2 plans: 1 fail, 1 pass" in html
    assert "report.html (2 plans)" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "runs")]) == 0  # a directory of records; output next to them
    assert (tmp_path / "runs" / "report.html").exists()


def test_rig_report_names_the_bad_file(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"plan": {"id": 1},\n  "verdict": }')
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.json:2:" in err and "not valid JSON" in err and "Traceback" not in err
    other = tmp_path / "list.json"
    other.write_text("[1, 2]")
    assert main(["report", str(other)]) == 2
    assert "found a JSON list, expected an object" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read" in capsys.readouterr().err
