"""Device defects (rig.emu.device_faults.DEFECTS): named, lasting faults a profile, a plan or a bench
script can give an emulated device; a bad name is refused with the list of known ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.emu.device_faults import DEFECTS
from rig.emu.profiles import ProfileError, load_profile


def test_plus_syntax_adds_defects_to_a_profile() -> None:
    p = load_profile("ppmid+stale_version+ignores_wait_for_data")
    assert p.name == "ppmid" and p.defects == ("stale_version", "ignores_wait_for_data")
    assert load_profile("ppmid").defects == ()


def test_an_unknown_defect_names_the_known_ones() -> None:
    with pytest.raises(ProfileError) as err:
        load_profile("ppmid+flies")
    assert "'flies' unknown" in str(err.value) and "restarts_from_zero" in str(err.value)


def test_a_profile_file_may_list_defects(tmp_path: Path) -> None:
    base = Path(__file__).resolve().parents[2] / "fixtures" / "devices" / "ppmid.yaml"
    text = base.read_text() + "defects: [no_upgrade_end, wrong_image_type]\n"
    (tmp_path / "bad-ppmid.yaml").write_text(text)
    assert load_profile(str(tmp_path / "bad-ppmid.yaml")).defects == ("no_upgrade_end", "wrong_image_type")
    (tmp_path / "worse.yaml").write_text(base.read_text() + "defects: [teleports]\n")
    with pytest.raises(ProfileError) as err:
        load_profile(str(tmp_path / "worse.yaml"))
    assert "worse.yaml" in str(err.value) and "teleports" in str(err.value)


def test_every_defect_sets_existing_fault_switches() -> None:
    from rig.emu.device_faults import DeviceFaults

    fields = set(DeviceFaults.__dataclass_fields__)
    for name, switches in DEFECTS.items():
        assert set(switches) <= fields, name


async def test_a_device_is_built_with_its_profile_defects(emulator) -> None:
    dev = emulator.add_device(load_profile("ppmid+wrong_manufacturer_in_blocks+queries_too_often"))
    f = dev.faults
    assert f.manufacturer_code == (dev.profile.manufacturer_code + 1) & 0xFFFF and f.fault_ids_in == "block"
    assert f.query_interval_s == 10.0
    assert dev.ota._ids("query") == (dev.profile.manufacturer_code, dev.profile.image_type)
    assert dev.ota._ids("block")[0] == f.manufacturer_code
