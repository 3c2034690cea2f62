"""One clear line instead of a traceback: what a bench engineer gets wrong first, checked before a radio
is touched, and what `rig run` says and exits with (README: Exit codes)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.plan.clirun import QUICK, REPO, environment, rig, rig_command, rig_many_in, write_plan

BAD_BENCH = "radio: emulated\nezsp:\n  version: 13\nhub:\n  max_concurent_downloads: 4\n"


def _one_clear_line(proc: subprocess.CompletedProcess, *needles: str) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "Error:" not in out.replace("ERROR:", ""), out
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, out  # the problem, and at most a hint
    for needle in needles:
        assert needle in out, out
    return out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket is closed


TYPO_COMMANDS = (["run", "testplans", "--bench", "bench.yaml"],
                 ["run", "testplans", "--bench", "bench.yaml", "--predict"],
                 ["plans", "check", "testplans", "--bench", "bench.yaml"])


@pytest.fixture(scope="module")
def stopped_early(tmp_path_factory):
    """Every command here that stops before a plan runs, each from its own folder, in one process
    (clirun.rig_many_in: the interpreter and imports paid once). Name -> (folder, CompletedProcess)."""
    folders, commands = {}, []

    def add(name: str, folder, args: list[str]) -> None:
        folders[name] = folder
        commands.append((name, folder, args))

    typo = tmp_path_factory.mktemp("typo")
    write_plan(typo)
    (typo / "bench.yaml").write_text(BAD_BENCH)
    for i, args in enumerate(TYPO_COMMANDS):
        add(f"typo{i}", typo, args)

    outputs = tmp_path_factory.mktemp("outputs")
    write_plan(outputs)
    (outputs / "taken").write_text("not a folder")
    add("report", outputs, ["run", "testplans", "--report", "taken"])
    add("junitxml", outputs, ["run", "testplans", "--junitxml", "missing/folder/out.xml"])

    radio = tmp_path_factory.mktemp("radio")
    write_plan(radio, "one.yaml")
    write_plan(radio, "two.yaml")
    (radio / "bench.yaml").write_text((REPO / "fixtures/benches/hardware-example.yaml").read_text()
                                      + "devices:\n  ppmid1: {ieee: '00:0d:6f:00:00:00:00:01', kind: ppmid}\n")
    port = _closed_port()
    add("tcp", radio, ["run", "testplans", "--bench", "bench.yaml", "--radio", f"tcp://127.0.0.1:{port}"])
    add("null", radio, ["run", "testplans", "--bench", "bench.yaml", "--radio", "/dev/null"])

    needs = tmp_path_factory.mktemp("needs")
    write_plan(needs, "emu.yaml", QUICK.replace("name: quick pairing", "name: emu\nneeds: [emulated]"))
    add("needs", needs, ["run", "testplans", "--radio", f"tcp://127.0.0.1:{_closed_port()}"])

    check = tmp_path_factory.mktemp("check")
    profiles = check / "profiles"
    profiles.mkdir()
    ppmid = (REPO / "fixtures/devices/ppmid.yaml").read_text()
    (profiles / "odd.yaml").write_text(ppmid.replace("image_type: 0x0101", "image_type: 0x0999"))
    (profiles / "broken.yaml").write_text(ppmid.replace("manufacturer_code: 0x1234", "manufacturer_code: lots"))
    (check / "junk.ota").write_bytes(b"\x00" * 200)
    write_plan(check, "profiles.yaml", PROFILES_PLAN)
    write_plan(check, "missing.yaml", QUICK.replace("steps:", "images:\n  gone: {file: ../nope.ota}\nsteps:"))
    add("check", check, ["plans", "check", "testplans"])
    add("check_good", check, ["plans", "check", str(REPO / "testplans/scenarios/ec00-ppmid-happy-path.yaml")])

    done = rig_many_in([(folder, args) for _, folder, args in commands])
    return {name: (folder, proc) for (name, folder, _), proc in zip(commands, done)}


# one worker runs them all: the commands above run once
pytestmark = pytest.mark.xdist_group("clear-errors")


def test_a_bench_file_typo_is_one_line_for_run_predict_check_and_pytest(stopped_early):
    for i, args in enumerate(TYPO_COMMANDS):
        tmp_path, proc = stopped_early[f"typo{i}"]
        assert proc.returncode == 2, (args, proc.stdout + proc.stderr)
        _one_clear_line(proc, "bench.yaml:5", "max_concurent_downloads")
    assert not (tmp_path / "runs").exists()  # nothing ran
    pytest_run = subprocess.run([sys.executable, "-m", "pytest", "testplans", "--rig-bench", "bench.yaml", "-q",
                                 "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120, env=environment())
    assert pytest_run.returncode == 4, pytest_run.stdout + pytest_run.stderr
    assert "bench.yaml:5" in pytest_run.stderr and "Traceback" not in pytest_run.stdout + pytest_run.stderr


def test_report_onto_an_existing_file_is_refused_before_anything_runs(stopped_early):
    tmp_path, proc = stopped_early["report"]
    assert proc.returncode == 2
    _one_clear_line(proc, "--report taken", "is a file")
    assert not (tmp_path / "runs").exists()
    _, proc = stopped_early["junitxml"]
    assert proc.returncode == 2
    _one_clear_line(proc, "--junitxml", "missing/folder")


def test_a_closed_pipe_is_not_a_traceback_and_the_run_still_keeps_its_record(tmp_path):
    write_plan(tmp_path)
    for args in (["plans", "check", str(REPO / "testplans")], ["run", "testplans"]):
        proc = subprocess.Popen(rig_command(*args), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=environment())
        proc.stdout.readline()
        proc.stdout.close()  # `| head -1`
        err = proc.stderr.read()
        assert proc.wait(timeout=240) == 0, err
        assert "Traceback" not in err and "BrokenPipe" not in err, err
    [folder] = [p for p in (tmp_path / "runs").iterdir() if not p.is_symlink()]
    assert json.loads((folder / "quick.json").read_text())["verdict"] == "pass"


def test_rig_pair_with_no_stick_says_so_and_exits(tmp_path):
    # Its own process: the hang was at exit (zigpy's database thread, left running when the stick did not
    # open, kept the interpreter alive after the message), which a command run among others cannot show.
    try:
        proc = rig(tmp_path, "pair", "--radio", str(tmp_path / "ttyUSB9"), "--seconds", "1", timeout=60)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"rig pair did not exit within 60 s after: {exc.stderr!r}")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    _one_clear_line(proc, f"{tmp_path / 'ttyUSB9'}: no EZSP stick answered: no such port", "rig doctor")


def test_a_radio_that_is_not_there_is_named_once_with_its_port_as_rig_doctor_words_it(stopped_early):
    _, proc = stopped_early["tcp"]
    port = proc.args[-1].rsplit(":", 1)[1]
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = _one_clear_line(proc, f"tcp://127.0.0.1:{port}: no EZSP stick answered", "nothing accepts connections",
                          "rig doctor --port")
    assert out.count("no EZSP stick answered") == 1
    assert "TransientConnectionError" not in out
    _, proc = stopped_early["null"]
    assert proc.returncode == 3
    _one_clear_line(proc, "/dev/null: no EZSP stick answered", "not a serial port")


def test_plans_the_bench_cannot_run_show_why_and_exit_5(stopped_early):
    _, proc = stopped_early["needs"]
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "emu: skipped: plan needs emulated" in proc.stdout + proc.stderr
    assert "no plan ran" in proc.stdout + proc.stderr


PROFILES_PLAN = """\
plan: 1
name: profiles
devices:
  a: {profile: ppmdi}
  b: {profile: profiles/broken.yaml}
  c: {profile: profiles/odd.yaml}
images:
  corrupt: {file: ../junk.ota}
  unmapped: {generate: {like: c, version: 2}}
steps:
  - pair: a
"""


def test_plans_check_finds_what_a_run_would_find_before_a_radio_is_touched(stopped_early):
    _, proc = stopped_early["check"]
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "profiles.yaml:4:" in out and "device profile not found" in out and "ppmid" in out  # unknown
    assert "broken.yaml" in out and "manufacturer_code" in out  # broken profile
    assert "profiles.yaml:8:" in out and "junk.ota" in out  # corrupt image
    assert "profiles.yaml:9:" in out and "0x0999" in out and "not mapped" in out  # the hub cannot map it
    assert "missing.yaml:6:" in out and "nope.ota" in out and "existing image" in out  # a missing image
    assert "0 valid, 2 with problems" in out
    assert "Traceback" not in out
    _, good = stopped_early["check_good"]
    assert good.returncode == 0, good.stdout + good.stderr


def test_a_stick_that_answered_the_probe_but_does_not_open_for_a_plan_is_not_called_a_ctrl_c(tmp_path):
    """The stick answered `rig run`'s probe, then did not open when the first plan started (unplugged, taken
    by another program): that plan is an ERROR worded as rig doctor words it, the rest are not run, and the
    exit is 3; not 'stopped by Ctrl-C' and 130."""
    for name in ("one.yaml", "two.yaml"):
        write_plan(tmp_path, name)
    (tmp_path / "bench.yaml").write_text((REPO / "fixtures/benches/hardware-example.yaml").read_text()
                                         + "devices:\n  ppmid1: {ieee: '00:0d:6f:00:00:00:00:01', kind: ppmid}\n")
    port = f"tcp://127.0.0.1:{_closed_port()}"
    answered_the_probe = ("import sys, rig.plan.cli as cli; cli.probe_radio = lambda bench: None; "
                          "from rig.cli import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", answered_the_probe, "run", "testplans", "--bench", "bench.yaml",
                           "--radio", port], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=environment())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out
    assert "Ctrl-C" not in out and "Traceback" not in out, out
    assert f"{port}: no EZSP stick answered: nothing accepts connections" in out
    [folder] = [p for p in (tmp_path / "runs").iterdir() if not p.is_symlink()]
    assert [json.loads(p.read_text())["verdict"] for p in folder.glob("*.json")] == ["error"]  # one plan tried
