"""rig.config.validate.all_errors: every problem of a file at once, each on its own line (plans need this:
a plan's author fixes them all in one go)."""

from __future__ import annotations

import pytest
from pydantic import Field

from rig.config import ConfigFileError, FileModel, load_yaml, validate
from rig.config.validate import all_errors


class Device(FileModel):
    kind: str = Field(description="a device kind such as ppmid")
    image_type: int = Field(0, ge=0, le=0xFFFF, description="a 16-bit number such as 0x0101")


class Bench(FileModel):
    devices: dict[str, Device] = {}


def test_every_error_is_returned_each_placed_and_worded(tmp_path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text("devices:\n  p1: {kind: ppmid, image_type: 70000}\n  p2: {knd: gsme}\n")
    errors = [str(e) for e in all_errors(Bench, load_yaml(f), origin=str(f))]
    assert errors == [
        f"{f}:2:33: devices.p1.image_type: found 70000; expected a 16-bit number such as 0x0101",
        f"{f}:3:7: devices.p2.kind: missing; expected a device kind such as ppmid",
        f"{f}:3:8: devices.p2.knd: unknown key 'knd' (did you mean 'kind'?); expected one of: image_type, kind",
    ]


def test_a_valid_file_has_no_errors(tmp_path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text("devices:\n  p1: {kind: ppmid}\n")
    assert all_errors(Bench, load_yaml(f), origin=str(f)) == []


def test_data_built_in_code_still_names_the_field() -> None:
    with pytest.raises(ConfigFileError) as info:
        validate(Bench, {"devices": {"p1": {"kind": "ppmid", "image_type": -1}}}, origin="settings")
    assert str(info.value) == "settings:1:1: devices.p1.image_type: found -1; expected a 16-bit number such as 0x0101"
