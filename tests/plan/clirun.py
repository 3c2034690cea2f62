"""Run the `rig` command line in a subprocess from a scratch folder (its own runs/), as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

QUICK = """\
plan: 1
name: quick pairing
devices:
  ppmid1: {profile: ppmid}
steps:
  - pair: ppmid1
  - advance_clock: 1m
"""


def write_plan(folder: Path, name: str = "quick.yaml", text: str = QUICK) -> Path:
    plans = folder / "testplans"
    plans.mkdir(parents=True, exist_ok=True)
    path = plans / name
    path.write_text(text, encoding="utf-8")
    return path


def rig_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from rig.cli import main; sys.exit(main())", *args]


def environment() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def rig(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(rig_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=environment())


# Runs several `rig` commands one after another in one fresh Python process (not pytest's: no logging
# handlers, so whatever a command logs reaches its stderr as in a shell), each with its own stdout, stderr
# and exit code at the file-descriptor level; the interpreter and the rig's imports are paid once.
_MANY = r"""
import json, os, sys, time, traceback
from rig.cli import main

results = []
for cwd, argv in json.loads(sys.argv[1]):
    os.chdir(cwd)
    out, err = (os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600) for p in sys.argv[2:4])
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush(); sys.stderr.flush()
    os.dup2(out, 1); os.dup2(err, 2)
    started = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse, as the `rig` script would exit
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what the interpreter would print and exit 1 with
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(saved[0], 1); os.dup2(saved[1], 2)
        os.close(saved[0]); os.close(saved[1])
    took = time.monotonic() - started
    texts = []
    for fd in (out, err):
        os.lseek(fd, 0, 0)
        texts.append(os.read(fd, 1 << 24).decode("utf-8", "replace"))
        os.close(fd)
    results.append([code, *texts, took])
print(json.dumps(results))
"""


def rig_many(cwd: Path, *commands: list[str], timeout: float = 240) -> list[subprocess.CompletedProcess]:
    """`rig ARGS` for each of `commands` from `cwd`, in one process; a CompletedProcess each (`.seconds`:
    its time)."""
    return rig_many_in([(cwd, args) for args in commands], timeout=timeout)


def rig_many_in(commands: list[tuple[Path, list[str]]], timeout: float = 240) -> list[subprocess.CompletedProcess]:
    """As rig_many, each command from its own folder: (folder, ARGS) pairs."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", _MANY, json.dumps([(str(cwd), list(args)) for cwd, args in commands]),
                               f"{tmp}/out", f"{tmp}/err"], cwd=tmp, capture_output=True, text=True,
                              timeout=timeout, env=environment())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = []
    for (_, args), (code, out, err, took) in zip(commands, json.loads(proc.stdout.splitlines()[-1])):
        one = subprocess.CompletedProcess(rig_command(*args), code, out, err)
        one.seconds = took
        done.append(one)
    return done


def start(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(rig_command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=environment())
