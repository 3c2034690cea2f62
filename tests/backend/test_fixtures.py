"""Fixtures: the shipped files load, and errors name the place."""

from __future__ import annotations

from rig.backend.fixtures import Fixtures
from tests.backend.helpers import PPMID1, PPMID_IMG, ieee


def test_shipped_fixture_files_load_and_cover_the_test_images():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "fixtures" / "backend"
    fx = Fixtures.load(root / "suppliers.yaml", root / "cpl.yaml")
    from rig.backend.imagecheck import image_facts

    facts = image_facts(PPMID_IMG)
    device = fx.devices[ieee(PPMID1)]
    assert fx.cpl_match(device.model, facts.manufacturer_code, facts.image_type, facts.file_version, facts.sha256)


def test_fixture_errors_name_the_place(tmp_path):
    import pytest

    from rig.backend.fixtures import FixtureError

    bad = tmp_path / "s.yaml"
    bad.write_text("suppliers: [{id: A}]\ndevices:\n  - {id: 00-11, kind: PPMID, model: M}\n")
    (tmp_path / "c.yaml").write_text("entries: []\n")
    with pytest.raises(FixtureError, match=r"s\.yaml:3:10: devices\.0\.id: found '00-11'; expected an EUI-64"):
        Fixtures.load(bad, tmp_path / "c.yaml")


def test_a_broken_shipped_cpl_names_line_and_column(tmp_path):
    from pathlib import Path

    import pytest

    from rig.backend.fixtures import FixtureError
    from tests.config.helpers import broken

    root = Path(__file__).resolve().parents[2] / "fixtures" / "backend"
    text, line, column = broken((root / "cpl.yaml").read_text(), "image_type: 0x0085", "image_type: 0x10085")
    cpl = tmp_path / "cpl.yaml"
    cpl.write_text(text)
    with pytest.raises(FixtureError) as err:
        Fixtures.load(root / "suppliers.yaml", cpl)
    assert str(err.value) == f"{cpl}:{line}:{column + 12}: entries.2.image_type: found 65669; expected an integer 0..0xffff"
    text, line, column = broken((root / "suppliers.yaml").read_text(), "  kind: HCALCS", "  knid: HCALCS")
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(FixtureError) as err:
        Fixtures.load(tmp_path / "s.yaml", root / "cpl.yaml")
    assert str(err.value).startswith(f"{tmp_path / 's.yaml'}:{line}:{column + 2}: devices.3.knid: unknown key 'knid' "
                                     "(did you mean 'kind'?)"), err.value
