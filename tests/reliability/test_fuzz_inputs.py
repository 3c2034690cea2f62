"""Random and mutated plans, bench files, device profiles, back-end fixtures and images: the project's own
clear errors only (PlanErrors, ConfigError/BenchError, ProfileError, FixtureError, ImageError), never
another exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.backend.fixtures import FixtureError, Fixtures
from rig.bench.config import BenchError, load_bench
from rig.emu.profiles import ProfileError, load_profile
from rig.hub.errors import ConfigError
from rig.image import ImageError, build_image, parse_image
from rig.plan.loader import load_plan
from rig.plan.schema import PlanErrors

ROOT = Path(__file__).resolve().parents[2]
PLANS = sorted((ROOT / "testplans").rglob("*.yaml"))
PLAN_TEXTS = [p.read_text() for p in PLANS]
BENCH_TEXT = (ROOT / "fixtures" / "benches" / "emulated.yaml").read_text()
PROFILE_TEXTS = [p.read_text() for p in sorted((ROOT / "fixtures" / "devices").glob("*.yaml"))]
SUPPLIERS_TEXT, CPL_TEXT = ((ROOT / "fixtures" / "backend" / name).read_text() for name in ("suppliers.yaml", "cpl.yaml"))
IMAGES = [build_image(bytes(range(200)), manufacturer_code=0x1234, image_type=0x0101, file_version=2,
                      min_hw_version=1, max_hw_version=2, integrity_code=True),
          build_image(bytes(300), manufacturer_code=0x121D, image_type=0x84, file_version=3, format="gb-bare",
                      signature=bytes(64))]
FAST = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
YAML_BITS = st.sampled_from([":", "- ", "{", "}", "[", "]", "'", '"', "\n", "  ", "#", "&a", "*a", "!!python/object:x",
                             "0x", "-1", "1e99", "null", "~", "true", "10m", "999999999999999999999", "\t", "%"])


@st.composite
def mutated(draw, texts: list[str]) -> str:
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace_line", "dup_line"]))
        if action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif action == "insert":
            text = text[:at] + draw(st.one_of(YAML_BITS, st.text(max_size=8))) + text[at:]
        else:
            lines = text.splitlines()
            if not lines:
                continue
            i = draw(st.integers(0, len(lines) - 1))
            if action == "dup_line":
                lines.insert(i, lines[i])
            else:
                key = lines[i].split(":")[0]
                lines[i] = key + ": " + draw(st.one_of(YAML_BITS, st.integers(-5, 2**40).map(str), st.text(max_size=6)))
            text = "\n".join(lines)
    return text


@FAST
@given(text=st.one_of(mutated(PLAN_TEXTS), st.text(max_size=200)))
def test_mutated_plans_give_plan_errors_only(tmp_path_factory, text) -> None:
    path = tmp_path_factory.mktemp("plan") / "p.yaml"
    try:
        load_plan(path, text=text)
    except PlanErrors as exc:
        assert str(exc)


@FAST
@given(text=st.one_of(mutated([BENCH_TEXT]), st.text(max_size=200)))
def test_mutated_bench_files_give_config_errors_only(tmp_path_factory, text) -> None:
    path = tmp_path_factory.mktemp("bench") / "b.yaml"
    path.write_text(text)
    try:
        load_bench(path)
    except (ConfigError, BenchError) as exc:
        assert str(exc)


@FAST
@given(text=st.one_of(mutated(PROFILE_TEXTS), st.text(max_size=200)))
def test_mutated_device_profiles_give_profile_errors_only(tmp_path_factory, text) -> None:
    path = tmp_path_factory.mktemp("profile") / "d.yaml"
    path.write_text(text)
    try:
        load_profile(str(path))
    except ProfileError as exc:
        assert str(exc)


@FAST
@given(suppliers=st.one_of(mutated([SUPPLIERS_TEXT]), st.text(max_size=200)), cpl=mutated([CPL_TEXT]))
def test_mutated_backend_fixtures_give_fixture_errors_only(tmp_path_factory, suppliers, cpl) -> None:
    folder = tmp_path_factory.mktemp("fixtures")
    (folder / "s.yaml").write_text(suppliers)
    (folder / "c.yaml").write_text(cpl)
    try:
        Fixtures.load(folder / "s.yaml", folder / "c.yaml")
    except FixtureError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(base=st.sampled_from(IMAGES), edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 420)), fmt=st.sampled_from(["auto", "zigbee", "gb-bare"]),
       signature=st.sampled_from([None, True, False]))
def test_mutated_images_give_image_errors_only(base, edits, cut, fmt, signature) -> None:
    data = bytearray(base)
    for at, value in edits:
        if at < len(data):
            data[at] = value
    data = bytes(data[:cut] if cut is not None else data)
    try:
        parse_image(data, format=fmt, signature=signature)
    except ImageError as exc:
        assert exc.problems
