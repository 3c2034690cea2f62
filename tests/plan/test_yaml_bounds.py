"""A hostile or runaway YAML file gets a clear error naming the file, not a hang while memory grows."""

from __future__ import annotations

import time

import pytest

from rig.plan.loader import PlanErrors, load_plan
from rig.config.source import MAX_ALIASES, MAX_DOCUMENT_BYTES, YamlError, load_yaml

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


def test_billion_laughs_is_refused_quickly_naming_the_file(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text("plan: 1\nname: laughs\n" + LAUGHS + "steps: [{advance_clock: 1m}]\n")
    started = time.monotonic()
    with pytest.raises(PlanErrors) as err:
        load_plan(path)
    assert time.monotonic() - started < 5
    text = str(err.value)
    assert str(path) in text and "aliases" in text


def test_a_few_aliases_are_fine(tmp_path):
    doc = load_yaml(tmp_path / "x.yaml", "base: &b {profile: ppmid}\none: *b\ntwo: *b\n")
    assert doc["one"] == doc["two"] == {"profile": "ppmid"}


def test_alias_expansion_is_bounded_even_under_the_alias_count(tmp_path):
    # 10 aliases, each to a node already holding 10 aliases: few anchors, a large expansion
    text = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: &b [" + ", ".join(["*a"] * 60) + "]\n"
    assert text.count("*") < MAX_ALIASES
    with pytest.raises(YamlError, match="expands to more than"):
        load_yaml(tmp_path / "wide.yaml", text)


def test_a_document_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * MAX_DOCUMENT_BYTES + "\nplan: 1\n")
    with pytest.raises(YamlError) as err:
        load_yaml(path)
    assert str(path) in str(err.value) and "larger than" in str(err.value)


def test_billion_laughs_in_a_profile_or_a_bench_file_is_an_error_not_a_hang(tmp_path):
    from rig.bench.config import load_bench
    from rig.emu.profiles import ProfileError, load_profile
    from rig.hub.errors import ConfigError

    profile = tmp_path / "laughs.yaml"
    profile.write_text("name: x\nkind: ppmid\n" + LAUGHS)
    started = time.monotonic()
    with pytest.raises(ProfileError, match="expands to more than"):
        load_profile(str(profile))
    bench = tmp_path / "bench.yaml"
    bench.write_text("radio: emulated\nfeatures:\n" + "".join("  " + line + "\n" for line in LAUGHS.splitlines()))
    with pytest.raises(ConfigError, match=r"bench\.yaml:\d+:\d+: the document expands to more than"):
        load_bench(bench)
    assert time.monotonic() - started < 5


def test_more_aliases_than_the_limit_are_refused_even_when_they_expand_to_little(tmp_path):
    # the alias count is its own bound (the expansion budget is the other): a file naming one scalar
    # MAX_ALIASES + 1 times is refused at the alias that goes over, with its line
    text = "x: &x 1\nrefs:\n" + "".join(f"  - *x\n" for _ in range(MAX_ALIASES + 1))
    with pytest.raises(YamlError, match=rf"many\.yaml:{MAX_ALIASES + 3}:\d+: more than {MAX_ALIASES} aliases"):
        load_yaml(tmp_path / "many.yaml", text)


def test_a_date_shaped_scalar_that_is_no_date_is_an_error_on_its_line(tmp_path) -> None:
    """YAML reads 9002-00-00 as a date; month 0 made the loader raise a bare ValueError (a traceback
    instead of file:line; found by tests/reliability/test_fuzz_inputs.py)."""
    path = tmp_path / "suppliers.yaml"
    path.write_text("suppliers:\n- id: 90-B3-D5-1F-30-01-00-00\n- id: 9002-00-00\n")
    with pytest.raises(YamlError) as caught:
        load_yaml(path)
    text = str(caught.value)
    assert f"{path}:3:7" in text and "9002-00-00" in text and "timestamp" in text and "quote it" in text
