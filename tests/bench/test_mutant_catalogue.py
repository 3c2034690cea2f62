"""The mutant catalogue (bench/mutants.py) stays in step with the code: every mutant's anchor is found
exactly once and every plan and test it names exists. A refactoring that moves an anchor breaks this test,
not silently the verdict figures in docs/verdicts.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_mutant_anchor_and_named_check_exists() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "mutants.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "catalogue ok" in proc.stdout, proc.stdout
