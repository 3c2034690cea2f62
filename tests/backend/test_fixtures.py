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
