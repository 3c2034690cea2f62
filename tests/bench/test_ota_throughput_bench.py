"""bench/ota_throughput.py: repeated passes and their summary."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from ota_throughput import summarise  # noqa: E402


def _row(stack, size, seconds, steal=None, ratio=None):
    row = {"stack": stack, "stick": "stock", "emulator": "in-process", "size_bytes": size, "seconds": seconds,
           "steal_pct": steal}
    if ratio is not None:
        row["ratio"] = ratio
    return row


def test_summary_per_stack_and_size():
    rows = [_row("rig", 750_000, 30.0, 1.0), _row("zigpy", 750_000, 50.0, 2.0, ratio=1.67),
            _row("rig", 750_000, 24.0, 0.0), _row("zigpy", 750_000, 60.0, 9.0, ratio=2.5),
            _row("rig", 750_000, 41.0, 20.0), _row("zigpy", 750_000, 44.0, 4.0, ratio=1.07),
            _row("rig", 50_000, 2.0)]
    by = {(s["stack"], s["size_bytes"]): s for s in summarise(rows)}
    rig = by["rig", 750_000]
    assert (rig["runs"], rig["seconds_min"], rig["seconds_median"], rig["seconds_max"]) == (3, 24.0, 30.0, 41.0)
    assert rig["bytes_per_s_best"] == 31250.0 and rig["steal_pct_median"] == 1.0 and rig["ratio_median"] is None
    assert by["zigpy", 750_000]["ratio_median"] == 1.67  # the median pass, not the mean (1.75)
    assert by["rig", 50_000]["runs"] == 1 and by["rig", 50_000]["steal_pct_median"] is None


def test_repeats_print_each_pass_and_a_summary():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "ota_throughput.py"), "--sizes", "2000",
                          "--repeats", "2", "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    runs = [r for r in lines if not r.get("summary")]
    (summary,) = [r for r in lines if r.get("summary")]
    assert [r["repeat"] for r in runs] == [1, 2] and all(r["size_bytes"] == 2000 and r["blocks"] == 40 for r in runs)
    assert summary["runs"] == 2 and summary["seconds_min"] == min(r["seconds"] for r in runs)
    assert summary["seconds_max"] == max(r["seconds"] for r in runs)


def test_repeats_must_be_positive():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "ota_throughput.py"), "--repeats", "0"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and "--repeats: found '0', expected a whole number >= 1" in out.stderr
