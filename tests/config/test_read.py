"""rig.config's shared reading helpers (read_mapping, validate_any, renamed_keys) and how errors are placed:
a bad dict key at the key, a misspelt key as unknown (with its suggestion), a long value cut short."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, Field

from rig.config import ConfigFileError, FileModel, load_yaml, validate
from rig.config.validate import read_mapping, renamed_keys, validate_any


def _hex_key(text: str) -> str:
    if not text.startswith("0x"):
        raise ValueError("expected a hex number such as 0x0101")
    return text


class Part(FileModel):
    name: str = Field(description="a name")
    size: int = Field(0, ge=0, description="a size >= 0")


class Doc(FileModel):
    parts: list[Part] = []
    types: dict[Annotated[str, AfterValidator(_hex_key)], str] = {}
    note: str = Field("", description="a line of text")


def test_read_mapping_empty_list_and_tagged_files(tmp_path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text("")
    assert read_mapping(f, "things") == {} and str(read_mapping(f, "things").pos) == f"{f}:1:1"
    f.write_text("- 1\n")
    with pytest.raises(ConfigFileError, match=r"d\.yaml:1:1: found a list; expected a mapping of things"):
        read_mapping(f, "things")
    f.write_text("a: 1\nb: !!python/object:os.system x\n")
    with pytest.raises(ConfigFileError, match=r"d\.yaml:2:4: could not determine a constructor.*expected plain YAML"):
        read_mapping(f, "things")


def test_a_bad_key_of_a_mapping_is_placed_on_the_key(tmp_path) -> None:
    data = load_yaml(tmp_path / "d.yaml", "types:\n  '0x0101': a\n  zz: b\n")
    with pytest.raises(ConfigFileError) as err:
        validate(Doc, data, origin="d.yaml")
    assert str(err.value).endswith("d.yaml:3:3: types.zz: found 'zz'; expected a hex number such as 0x0101")


def test_a_misspelt_key_is_reported_as_unknown_not_as_missing(tmp_path) -> None:
    data = load_yaml(tmp_path / "d.yaml", "parts:\n  - {nmae: x}\n")
    with pytest.raises(ConfigFileError) as err:
        validate(Doc, data, origin="d.yaml")
    assert "d.yaml:2:6: parts.0.nmae: unknown key 'nmae' (did you mean 'name'?)" in str(err.value)


def test_data_built_in_code_names_its_source_not_a_line() -> None:
    with pytest.raises(ConfigFileError) as err:
        validate_any(Doc, {"parts": [{"name": "x", "size": -1}]}, origin="the plan's devices")
    assert str(err.value) == "the plan's devices: parts.0.size: found -1; expected a size >= 0"


def test_renamed_keys_keep_their_positions(tmp_path) -> None:
    data = load_yaml(tmp_path / "d.yaml", "power:\n  on: a\n  off: b\n")["power"]
    renamed = renamed_keys(data, {"True": "on", "False": "off"})
    assert renamed == {"on": "a", "off": "b"} and renamed.key_pos["off"].line == 3
    assert renamed_keys({"True": 1}, {"True": "on"}) == {"on": 1}


def test_a_long_value_is_cut_short(tmp_path) -> None:
    data = load_yaml(tmp_path / "d.yaml", "note: [" + ", ".join(["x"] * 500) + "]\n")
    with pytest.raises(ConfigFileError) as err:
        validate(Doc, data, origin="d.yaml")
    assert "... (2500 characters); expected a line of text" in str(err.value) and len(str(err.value)) < 400
