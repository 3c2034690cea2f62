"""rig run --predict: real-bench time from the pacing model plus the waits a plan asks for."""

import subprocess
import sys

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.predict import predict_plan

PLAN = """\
plan: 1
name: predict me
settings:
  hub: {min_block_period: {ppmid: {value: 0, units: ms}}}   # the pacing model alone
devices:
  dut: {profile: ppmid}
images:
  big: {generate: {like: dut, version: 2, size: 750kB}}
steps:
  - pair: dut
  - service_request: {sr: "11.4", image: big, devices: [dut]}
  - expect_transfer: {device: dut}
  - wait: 10s
  - expect_activation: {device: dut}
"""


def test_a_750kb_transfer_is_predicted_at_real_bench_speed(tmp_path):
    (tmp_path / "testplans").mkdir()
    path = tmp_path / "testplans" / "p.yaml"
    path.write_text(PLAN)
    p = predict_plan(load_plan(path), load_bench("fixtures/benches/hardware-example.yaml"))
    assert p.transfers == 1
    # A 115200-baud stick caps OTA near 1-2 kB/s (anchors.md §D): 750 kB takes several minutes, not seconds.
    assert 750_000 / 2000 < p.transfer_seconds < 750_000 / 500
    assert p.waiting_seconds == 10 + 900  # the wait plus the CH's 15-minute version check
    # with the bench's own 250 ms MinimumBlockPeriod a device that honours it needs 18,750 x 0.25 s
    slow = predict_plan(load_plan(path, PLAN.replace("value: 0,", "value: 250,")),
                        load_bench("fixtures/benches/hardware-example.yaml"))
    assert slow.transfer_seconds == 18_750 * 0.25
    out = subprocess.run([sys.executable, "-m", "rig.cli", "run", str(path), "--predict"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "p  " in out.stdout and "total on a real bench" in out.stdout
