"""A bench file is read once, into one typed model, and a broken one names file:line:col, the field,
what was found and what was expected."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rig.bench.config import BenchError, load_bench
from tests.config.helpers import broken

BENCHES = Path(__file__).resolve().parents[2] / "fixtures" / "benches"
DEVICE = "devices:\n  dut: {ieee: '00:0d:6f:00:0a:bc:de:f0', kind: ppmid, outlet: 7}\n"


def test_the_bench_file_is_read_once(tmp_path, monkeypatch) -> None:
    bench = tmp_path / "lab.yaml"
    bench.write_text((BENCHES / "hardware-example.yaml").read_text() + DEVICE + "reset: {command: 'flash {outlet}'}\n")
    reads = []
    module = sys.modules["rig.config.validate"]  # (rig.config.validate is also the function's name)
    real = module.load_yaml
    monkeypatch.setattr(module, "load_yaml", lambda path: reads.append(path) or real(path))
    loaded = load_bench(bench)
    assert reads == [bench]
    assert loaded.hub.block_period_for("hcalcs").seconds == 1.0 and loaded.reset.command == "flash {outlet}"
    assert loaded.devices["dut"].fields["outlet"] == "7" and loaded.devices["dut"].kind == "ppmid"


@pytest.mark.parametrize(("old", "new", "at", "expected"), [
    ("max_concurrent_downloads: 2", "max_concurrent_downloads: -2", "-2",
     "hub.max_concurrent_downloads: found -2; expected a non-negative integer"),
    ("hcalcs: {value: 1, units: s}", "hcalcs: {value: 1, units: hours}", "hours",
     "hub.min_block_period.hcalcs.units: found 'hours'; expected 'ms' or 's'"),
    ("kind: ppmid, outlet", "kind: ppmdi, outlet", "ppmdi",
     "devices.dut.kind: found 'ppmdi'; expected a device kind, one of ppmid, hcalcs, gsme, esme, ch"),
    ("outlet: 7", "stand_for: x", "stand_for",
     "devices.dut.stand_for: unknown key 'stand_for' (did you mean 'stands_for'?)"),
    ("retention_days: 14", "retension_days: 14", "retension_days",
     "hub.retension_days: unknown key 'retension_days' (did you mean 'retention_days'?)"),
])
def test_a_broken_bench_file_names_line_and_column(tmp_path, old, new, at, expected) -> None:
    text, line, column = broken((BENCHES / "hardware-example.yaml").read_text() + DEVICE, old, new)
    bench = tmp_path / "lab.yaml"
    bench.write_text(text)
    with pytest.raises(BenchError) as err:
        load_bench(bench)
    assert str(err.value).startswith(f"{bench}:{line}:{column + new.index(at)}: {expected}"), err.value


@pytest.mark.parametrize("written", ["'00:0D:6F:00:0A:BC:DE:F0'", "00-0d-6f-00-0a-bc-de-f0", "000D6F000ABCDEF0",
                                     "'0x000d6f000abcdef0'"])
def test_a_device_ieee_in_another_tools_notation_is_read_as_zigpy_writes_it(tmp_path, written) -> None:
    # zigbee2mqtt and herdsman write 0x-prefixed hex, Silabs tools bare hex, labels dashes: all one device.
    bench = tmp_path / "lab.yaml"
    bench.write_text((BENCHES / "hardware-example.yaml").read_text()
                     + f"devices:\n  dut: {{ieee: {written}, kind: ppmid}}\n")
    assert load_bench(bench).devices["dut"].ieee == "00:0d:6f:00:0a:bc:de:f0"


def test_an_ieee_that_is_not_eight_bytes_is_refused_on_its_line(tmp_path) -> None:
    bench = tmp_path / "lab.yaml"
    bench.write_text((BENCHES / "hardware-example.yaml").read_text() + "devices:\n  dut: {ieee: '0x0d6f', kind: ppmid}\n")
    with pytest.raises(BenchError, match=r"devices\.dut\.ieee: found '0x0d6f'; expected an EUI-64"):
        load_bench(bench)
