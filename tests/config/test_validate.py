"""rig.config: a typed model over positioned YAML; each error names file:line:col, the field, what was
found and what was expected."""

from __future__ import annotations

import pytest
from pydantic import Field, field_validator

from rig.config import ConfigFileError, FileModel, load_yaml, validate


class Device(FileModel):
    ieee: str = Field(description="an EUI-64 such as 00:0d:6f:00:00:00:00:01")
    kind: str
    image_type: int = Field(0, ge=0, le=0xFFFF, description="a 16-bit number such as 0x0101")


class Hub(FileModel):
    block_period: float = Field(0.0, ge=0, description="a number of seconds")

    @field_validator("block_period")
    @classmethod
    def _not_huge(cls, v: float) -> float:
        if v > 3600:
            raise ValueError("at most 3600 seconds")
        return v


class Bench(FileModel):
    hub: Hub = Hub()
    devices: dict[str, Device] = {}
    steps: list[Device] = []


def _load(tmp_path, text: str):
    f = tmp_path / "b.yaml"
    f.write_text(text)
    return validate(Bench, load_yaml(f), origin=str(f)), f


def _error(tmp_path, text: str) -> str:
    with pytest.raises(ConfigFileError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_a_good_file_becomes_typed_values(tmp_path) -> None:
    bench, _ = _load(tmp_path, "hub:\n  block_period: 0.5\ndevices:\n  p1: {ieee: aa, kind: ppmid, image_type: 0x0101}\n")
    assert bench.hub.block_period == 0.5 and bench.devices["p1"].image_type == 0x0101


def test_a_wrong_type_names_the_line_the_field_and_the_description(tmp_path) -> None:
    msg = _error(tmp_path, "hub:\n  block_period: fast\n")
    assert msg.endswith("b.yaml:2:17: hub.block_period: found 'fast'; expected a number of seconds"), msg


def test_a_value_inside_a_mapping_of_devices(tmp_path) -> None:
    msg = _error(tmp_path, "devices:\n  p1:\n    ieee: aa\n    kind: ppmid\n    image_type: 70000\n")
    assert "b.yaml:5:17: devices.p1.image_type: found 70000; expected a 16-bit number" in msg, msg


def test_a_missing_key_points_at_its_mapping(tmp_path) -> None:
    msg = _error(tmp_path, "devices:\n  p1:\n    kind: ppmid\n")
    assert "b.yaml:3:5: devices.p1.ieee: missing; expected an EUI-64" in msg, msg


def test_an_unknown_key_is_named_with_a_suggestion(tmp_path) -> None:
    msg = _error(tmp_path, "hub:\n  block_perod: 1\n")
    assert "b.yaml:2:3: hub.block_perod: unknown key 'block_perod' (did you mean 'block_period'?)" in msg, msg


def test_list_items_and_validator_messages(tmp_path) -> None:
    assert "b.yaml:3:5: steps.1: " in _error(tmp_path, "steps:\n  - {ieee: a, kind: k}\n  - 7\n")
    msg = _error(tmp_path, "hub: {block_period: 9000}\n")
    assert "hub.block_period: found 9000; expected at most 3600 seconds" in msg, msg


def test_no_coercion_across_types(tmp_path) -> None:
    assert "found '1'" in _error(tmp_path, "hub: {block_period: '1'}\n")
    assert "found True" in _error(tmp_path, "devices: {p: {ieee: a, kind: k, image_type: true}}\n")
