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


def start(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(rig_command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=environment())
