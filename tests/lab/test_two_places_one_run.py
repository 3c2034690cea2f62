"""Two labgrid places in one `pytest -n 2`: each worker takes its own free place by tag, and the run gives
one report covering both (the pytest-xdist controller writes it from both workers' records).

See conftest.py for the lab: lab-ppmid-a and lab-ppmid-b each have an emulated stick behind ser2net and a
relay port that switches that stick's PPMID.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.lab.test_labgrid_place import CONFORMANCE, REPO, lab_bench_file

PLACES = {"lab-ppmid-a", "lab-ppmid-b"}


def test_two_places_in_one_xdist_run_give_one_report_naming_each_plans_place(lab, tmp_path):
    plans = []
    for copy in ("first", "second"):  # one plan, two files: one per worker
        path = tmp_path / f"cf01-{copy}.yaml"
        path.write_text((CONFORMANCE / "cf01-discovery-and-query.yaml").read_text(encoding="utf-8"),
                        encoding="utf-8")
        plans.append(path)
    report, junit = tmp_path / "report", tmp_path / "junit.xml"
    switched_before = len(lab.power_calls())  # the lab is shared by the module's tests
    env = dict(lab.env, LG_COORDINATOR=lab.coordinator)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-p", "no:labgrid", "-p", "no:hypothesispytest",
         *map(str, plans),
         "--rig-radio", "labgrid:kind=ppmid", "--rig-bench", str(lab_bench_file(tmp_path)),
         "--rig-report", str(report), "--rig-summary", "--rig-record-dir", str(tmp_path / "records"), "--junitxml", str(junit)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    print(out)  # the run's own summary, shown with -s or on failure
    assert run.returncode == 0, out
    assert "2 passed" in out, out
    assert f"HAN OTA Rig report: {report / 'report.html'}" in out, out

    # JUnit: both plans passed, each naming the place, exporter host, stick and device it ran on.
    cases = ET.parse(junit).getroot().iter("testcase")
    props = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")} for case in cases}
    assert set(props) == {"cf01-first", "cf01-second"}, props
    assert {p["place"] for p in props.values()} == PLACES, props  # one place each
    for p in props.values():
        assert p["bench"] == f"lab-bench@{p['place']}"
        assert p["host"] == "127.0.0.1" and p["radio"].startswith("rfc2217://127.0.0.1:")
        group = {"lab-ppmid-a": "bench-a", "lab-ppmid-b": "bench-b"}[p["place"]]  # the exporter's group
        assert p["stick"] == f"bench-pc/{group}/NetworkSerialPort/RawSerialPort", p
        assert p["device.dut"].startswith("ppmid ")
    assert props["cf01-first"]["radio"] != props["cf01-second"]["radio"]  # two sticks

    # One report, written once, from both workers' records.
    records = [json.loads(p.read_text()) for p in sorted(report.glob("*.json"))]
    assert sorted((r["plan"]["file"].rsplit("/", 1)[-1], r["verdict"], r["bench"]["lab"]["place"]) for r in records) \
        == sorted(zip(["cf01-first.yaml", "cf01-second.yaml"], ["pass", "pass"],
                      [props["cf01-first"]["place"], props["cf01-second"]["place"]])), records
    html = (report / "report.html").read_text(encoding="utf-8")
    for place in PLACES:
        assert f"lab-bench@{place}" in html
        assert html.count(f"<td>{place} (127.0.0.1)</td>") == 1  # the report's plan list: one plan each
    # One summary table (the controller's, from both workers' records), each plan with its place.
    rows = {line.split()[0]: line.split()[2] for line in out.splitlines() if " @ lab-ppmid-" in line}
    assert rows == {"cf01-first": props["cf01-first"]["place"], "cf01-second": props["cf01-second"]["place"]}, out
    assert out.count("HAN OTA Rig: plan summary") == 1, out
    assert html.count("cf01-first.yaml") >= 1 and html.count("cf01-second.yaml") >= 1

    # Both places were released when the workers ended.
    assert [asyncio.run(lab.holder(place)) for place in sorted(PLACES)] == [None, None]
    assert sorted(lab.power_calls()[switched_before:]) == sorted(["off 0", "on 0", "off 1", "on 1"])  # each place's own relay port
