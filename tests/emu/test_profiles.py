"""Device profiles: the shipped fixtures load with the identities the sample images use, and bad
files give errors naming file, line, key, found and expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.emu.profiles import DeviceProfile, ProfileError, available_profiles, load_profile


@pytest.mark.parametrize(("name", "image_type", "rx_on"), [("ppmid", 0x0101, True), ("hcalcs", 0x0102, True), ("gsme", 0x0103, False)])
def test_shipped_profiles(name: str, image_type: int, rx_on: bool) -> None:
    p = load_profile(name)
    assert isinstance(p, DeviceProfile) and p.kind == name
    assert (p.manufacturer_code, p.image_type, p.hardware_version, p.current_file_version) == (0x1234, image_type, 0x0100, 1)
    assert p.rx_on_when_idle is rx_on and p.sleepy is (not rx_on)
    ep = p.ota_endpoint
    assert ep.profile_id == 0x0109 and 0x0019 in ep.out_clusters and 0x0019 not in ep.in_clusters
    assert p.ota.max_data_size == 40
    # mains devices ask daily and are notified; the sleepy GSME gets no notify, so it asks every 5 min
    assert p.ota.query_interval_s == (300 if name == "gsme" else 86400)
    if name == "gsme":
        assert 0 < p.poll_interval_s <= 10 and p.short_poll_interval_s == 0.25


def test_variants_extend_their_base() -> None:
    assert {"ppmid-sleepy", "ppmid-paged", "ppmid-seconds", "ppmid-oob", "ppmid-ha"} <= set(available_profiles())
    sleepy = load_profile("ppmid-sleepy")
    assert sleepy.name == "ppmid-sleepy" and not sleepy.rx_on_when_idle and sleepy.poll_interval_s == 7
    assert sleepy.model == "EMU-PPMID" and sleepy.ota.max_image_size == 786432  # inherited
    assert load_profile("ppmid-paged").ota.use_page_requests is True
    assert load_profile("ppmid-seconds").ota.min_block_period_units == "s"
    assert load_profile("ppmid-oob").ota.activation_policy == 1
    assert load_profile("ppmid-ha").ota_endpoint.profile_id == 0x0104


def test_explicit_path_and_env_override(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "devices").mkdir()
    src = Path(load_profile("ppmid").source).read_text()
    (tmp_path / "devices" / "mine.yaml").write_text(src.replace("EMU-PPMID", "MINE"))
    assert load_profile(str(tmp_path / "devices" / "mine.yaml")).model == "MINE"
    monkeypatch.setenv("RIG_FIXTURES", str(tmp_path))
    assert load_profile("mine").model == "MINE"
    with pytest.raises(ProfileError, match="not found.*available profiles: mine"):
        load_profile("ppmid")


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return str(path)


BASE = """\
kind: ppmid
manufacturer_name: x
model: y
manufacturer_code: 0x1234
image_type: 0x0101
hardware_version: 0x0100
current_file_version: 1
endpoints:
  - id: 1
    device_type: 0x0507
    in_clusters: [0]
    out_clusters: [0x0019]
"""


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ("ota:\n  max_data_size: 300\n", r"bad\.yaml:15:18: ota\.max_data_size: found 300; expected an integer 1\.\.255"),
        ("ota:\n  min_block_period_units: minutes\n", r":15:27: ota\.min_block_period_units: found 'minutes'; expected one of 'ms', 's'"),
        ("ota:\n  qurey_interval_s: 5\n", r":15:3: ota\.qurey_interval_s: unknown key 'qurey_interval_s' \(did you mean 'query_interval_s'\?\)"),
        ("ota:\n  verify: [header, magic]\n", r":15:20: ota\.verify\.1: found 'magic'; expected a list drawn from"),
        ("node:\n  rx_on_when_idle: false\n  poll_interval_s: 0\n", r":16:20: node\.poll_interval_s: found 0; expected a positive poll"),
        ("ota:\n  allow_downgrade: maybe\n", r":15:20: ota\.allow_downgrade: found 'maybe'; expected true or false"),
    ],
)
def test_validation_errors_name_file_line_key(tmp_path: Path, extra: str, pattern: str) -> None:
    with pytest.raises(ProfileError, match=pattern):
        load_profile(_write(tmp_path, "\n" + BASE + extra))


def test_structural_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"bad\.yaml:1:7: kind: found 'meter'; expected one of 'ppmid', 'hcalcs', 'gsme'"):
        load_profile(_write(tmp_path, BASE.replace("kind: ppmid", "kind: meter")))
    with pytest.raises(ProfileError, match=r"bad\.yaml:4:20: manufacturer_code: found 70000; expected an integer 0\.\.0xFFFF"):
        load_profile(_write(tmp_path, BASE.replace("0x1234", "70000")))
    with pytest.raises(ProfileError, match=r"bad\.yaml:1:1: model: missing; expected a string"):
        load_profile(_write(tmp_path, BASE.replace("model: y\n", "")))
    with pytest.raises(ProfileError, match=r"bad\.yaml:9:3: endpoints: found .*; expected OTA 0x0019 in some endpoint's out_clusters"):
        load_profile(_write(tmp_path, BASE.replace("[0x0019]", "[0x000A]")))
    with pytest.raises(ProfileError, match=r"bad\.yaml:2:1: YAML syntax: "):
        load_profile(_write(tmp_path, "kind: [ppmid\n"))
    with pytest.raises(ProfileError, match=r"bad\.yaml:1:1: found a list; expected a mapping of profile keys"):
        load_profile(_write(tmp_path, "- 1\n- 2\n"))
    # a tag the safe loader refuses (found by the profile fuzzer): a profile error with its line
    with pytest.raises(ProfileError, match=r"bad\.yaml:1:1: could not determine a constructor.*expected plain YAML"):
        load_profile(_write(tmp_path, "!!python/object:x Emulated GSME\n"))
    with pytest.raises(ProfileError, match=r"bad\.yaml:2:8: .*expected plain YAML"):
        load_profile(_write(tmp_path, "name: x\nmodel: !!python/object:os.system y\n"))


def test_extends_errors_point_at_the_variant(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(BASE)
    variant = tmp_path / "variant.yaml"
    variant.write_text("extends: base.yaml\nota:\n  page_size: 0\n")
    with pytest.raises(ProfileError, match=r"variant\.yaml:3:14: ota\.page_size: found 0; expected an integer 1\.\.65535"):
        load_profile(str(variant))
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(str(loop))


@pytest.mark.parametrize(("old", "new", "at", "expected"), [
    ("max_data_size: 40", "max_data_size: 400", "400", "ota.max_data_size: found 400; expected an integer 1..255"),
    ("rx_on_when_idle: true", "rx_on_when_idel: true", "rx_on_when_idel",
     "node.rx_on_when_idel: unknown key 'rx_on_when_idel' (did you mean 'rx_on_when_idle'?)"),
    ("image_type: 0x0101", "image_type: '0x0101'", "'0x0101'", "image_type: found '0x0101'; expected an integer 0..0xFFFF"),
])
def test_a_broken_shipped_profile_names_line_and_column(tmp_path: Path, old, new, at, expected) -> None:
    from tests.config.helpers import broken

    text, line, column = broken(Path(load_profile("ppmid").source).read_text(), old, new)
    path = tmp_path / "ppmid.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profile(str(path))
    assert str(err.value).startswith(f"{path}:{line}:{column + new.index(at)}: {expected}"), err.value


def test_an_error_in_an_inherited_key_names_the_base_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE.replace("device_type: 0x0507", "device_type: 0x10000"))
    (tmp_path / "variant.yaml").write_text("extends: base.yaml\nname: v\n")
    with pytest.raises(ProfileError) as err:
        load_profile(str(tmp_path / "variant.yaml"))
    assert str(err.value) == f"{tmp_path / 'base.yaml'}:10:18: endpoints.0.device_type: found 65536; " \
                             "expected an integer 0..0xFFFF"
