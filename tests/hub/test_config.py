from __future__ import annotations

from pathlib import Path

import pytest

from rig.clock import DAY
from rig.hub.config import BlockPeriod, HubConfig
from rig.hub.errors import ConfigError

BENCHES = Path(__file__).resolve().parents[2] / "fixtures" / "benches"


def test_emulated_bench_loads_with_defaults() -> None:
    cfg = HubConfig.load(BENCHES / "emulated.yaml")
    assert cfg.radio == "emulated" and cfg.channel == 15 and cfg.ezsp_version == 13
    assert cfg.features == ("emulated",)
    assert cfg.block_size_cap == 40 and cfg.retention_s == 14 * DAY and cfg.version_check_delay_s == 900
    assert cfg.kind_of_image_type(0x0103) == "gsme"


def test_hardware_bench_units() -> None:
    cfg = HubConfig.load(BENCHES / "hardware-example.yaml")
    assert cfg.radio == "/dev/ttyUSB0" and cfg.flow_control == "hardware"
    assert cfg.block_period_for("hcalcs") == BlockPeriod(1, "s") and cfg.block_period_for("hcalcs").seconds == 1.0
    assert cfg.block_period_for("ppmid").seconds == 0.25
    assert cfg.upgrade_time_mode == "utc"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("radio: emulated\nchannel: 99\n", 2, "channel"),
        ("radio: emulated\nhub:\n  retention_days: 3\n", 3, "retention_days"),
        ("radio: emulated\nhub:\n  min_block_period:\n    ppmid: {value: 5, units: minutes}\n", 4, "units"),
        ("radio: emulated\nhub:\n  upgrade_time_mode: local\n", 3, "upgrade_time_mode"),
        ("radio: emulated\nbogus: 1\n", 2, "bogus"),
        ("channel: 15\n", 1, "radio"),
        ("radio: emulated\nhub:\n  image_pages: 3\n", 3, "image_pages"),
        ("radio: emulated\nhub:\n  image_types:\n    0x0101: ppmid\n    0x0999: toaster\n", 5, "0x0999"),
        ("radio: emulated\nhub:\n  image_types:\n    ppmid: 0x0101\n", 4, "16-bit image type"),
        ("radio: emulated\nhub:\n  image_types:\n    0x10000: ppmid\n", 4, "16-bit image type"),
        ("radio: emulated\nhub:\n  image_types: [0x0101]\n", 3, "image_types"),
        ("radio: emulated\nhub:\n  fatal_image_warnings: [integrity, typo]\n", 3, "fatal_image_warnings"),
    ],
)
def test_bad_bench_names_file_line_and_field(tmp_path: Path, text: str, line: int, needle: str) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text(text)
    with pytest.raises(ConfigError) as err:
        HubConfig.load(bench)
    message = str(err.value)
    assert f"bench.yaml:{line}:" in message and needle in message and "expected" in message


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        HubConfig.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("radio: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:2:1: YAML syntax: expected ',' or ']'"):
        HubConfig.load(bad)


def test_image_types_take_int_or_string_keys_and_plans_add_to_the_bench(tmp_path: Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text("radio: emulated\nhub:\n  image_types: {0x0101: ppmid, '0x0A00': hcalcs, '2561': gsme}\n")
    cfg = HubConfig.load(bench)
    assert cfg.image_types == {0x0101: "ppmid", 0x0A00: "hcalcs", 0x0A01: "gsme"}
    # A plan's settings.hub (a loader that keeps keys as strings) adds one type to the bench's mapping.
    plan = cfg.with_hub_settings({"image_types": {"0x0999": "ppmid"}}, "plan.yaml settings.hub")
    assert plan.image_types == {0x0101: "ppmid", 0x0A00: "hcalcs", 0x0A01: "gsme", 0x0999: "ppmid"}
    assert plan.known_image_types() == "0x0101=ppmid, 0x0999=ppmid, 0x0A00=hcalcs, 0x0A01=gsme"
    with pytest.raises(ConfigError, match="plan.yaml settings.hub: hub.image_types.0xZZ: found '0xZZ'; expected a 16-bit image type"):
        cfg.with_hub_settings({"image_types": {"0xZZ": "ppmid"}}, "plan.yaml settings.hub")


def test_fatal_image_warnings(tmp_path: Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text("radio: emulated\nhub:\n  fatal_image_warnings: [integrity]\n")
    assert HubConfig.load(bench).fatal_image_warnings == ("integrity",)
    bench.write_text("radio: emulated\nhub:\n  fatal_image_warnings: all\n")
    assert HubConfig.load(bench).fatal_image_warnings == ("integrity", "trailing-bytes", "elements")
    assert HubConfig().fatal_image_warnings == ()
