"""Nothing lost: every run has its own folder, two runs at once keep both, one report folder lists both."""

from __future__ import annotations

import json
from pathlib import Path

from rig.cli import main
from rig.report.runs import new_run_id, record_path, run_folder
from tests.plan.clirun import rig_many, start, write_plan


def _run_folders(base: Path) -> list[Path]:
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink())


def test_two_runs_at_once_keep_both_records_and_latest_points_at_the_newest(tmp_path):
    write_plan(tmp_path)
    first = start(tmp_path, "run", "testplans/quick.yaml")
    second = start(tmp_path, "run", "testplans/quick.yaml")
    outs = [p.communicate(timeout=240)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    folders = _run_folders(tmp_path / "runs")
    assert len(folders) == 2, folders
    for folder in folders:
        record = json.loads((folder / "quick.json").read_text())
        assert record["verdict"] == "pass" and record["run"]["id"] == folder.name
        assert (folder / "report.html").is_file()  # `rig run` leaves a report in the run's folder
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink() and latest.resolve() in [f.resolve() for f in folders]
    assert any(f"runs/{latest.resolve().name}" in out for out in outs)  # the run says where it wrote


def test_two_runs_into_one_report_folder_give_a_report_listing_both(tmp_path):
    write_plan(tmp_path, "one.yaml")
    write_plan(tmp_path, "two.yaml")
    # three `rig run`s one after another (in one process: each is its own pytest session and run id)
    runs = rig_many(tmp_path, ["run", "testplans/one.yaml", "--report", "shared"],
                    ["run", "testplans/two.yaml", "--report", "shared"],
                    ["run", "testplans/one.yaml", "--report", "shared"])  # the same plan once more
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stdout + r.stderr for r in runs]
    html = (tmp_path / "shared" / "report.html").read_text(encoding="utf-8")
    assert "3 plans: 3 pass" in html
    assert len(list((tmp_path / "shared").glob("one*.json"))) == 2  # neither run of `one` overwrote the other


def test_a_second_run_of_a_plan_gets_its_own_record_file(tmp_path):
    a, b = new_run_id(), new_run_id()
    assert a != b
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "p.json").write_text(json.dumps({"run": {"id": a}}))
    assert record_path(folder, "p", a) == folder / "p.json"
    assert record_path(folder, "p", b) == folder / f"p.{b}.json"


def test_run_folder_moves_latest(tmp_path):
    base = tmp_path / "runs"
    one = run_folder("20260101-000000-aaaaaa", base)
    two = run_folder("20260101-000001-bbbbbb", base)
    assert one.is_dir() and two.is_dir()
    assert (base / "latest").resolve() == two.resolve()


def test_rig_report_merges_several_run_folders(tmp_path, capsys):
    base = tmp_path / "runs"
    for run_id, plan in (("20260101-000000-aaaaaa", "alpha"), ("20260101-000100-bbbbbb", "beta")):
        folder = run_folder(run_id, base)
        record = {"record_version": 1, "run": {"id": run_id}, "plan": {"id": plan, "name": plan, "file": "x"},
                  "verdict": "pass", "steps": []}
        (folder / f"{plan}.json").write_text(json.dumps(record))
    assert main(["report", str(base), "-o", str(tmp_path / "merged")]) == 0  # the runs/ folder itself
    html = (tmp_path / "merged" / "report.html").read_text(encoding="utf-8")
    assert "2 plans: 2 pass" in html  # `latest` is not counted twice
    assert "report.html (2 plans from 2 runs)" in capsys.readouterr().out
    assert main(["report", str(base / "20260101-000000-aaaaaa"), str(base / "20260101-000100-bbbbbb"),
                 "-o", str(tmp_path / "merged2")]) == 0
    assert "2 plans: 2 pass" in (tmp_path / "merged2" / "report.html").read_text(encoding="utf-8")
