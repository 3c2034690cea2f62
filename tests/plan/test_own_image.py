"""`rig run PLANS --image v2=my.ota`: shipped plans run on an engineer's own file, ids taken from it;
an image type the hub maps to no device kind is refused when the plan starts, naming image, type and the
known types; a plan's settings.hub is checked when the plan is loaded."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from rig.bench.config import load_bench
from rig.emu.profiles import load_profile
from rig.image import build_image
from rig.plan.loader import load_plan
from rig.plan.own_image import parse_option, with_own_images
from rig.plan.runner import run_plan
from rig.plan.schema import PlanErrors
from rig.report.record import Verdict

REPO = Path(__file__).resolve().parents[2]
CF05 = REPO / "testplans" / "conformance" / "cf05-activation-and-version.yaml"


def own_file(tmp_path: Path, *, image_type: int = 0x7B01, version: int = 0x0192020D) -> Path:
    """A vendor-like file: another manufacturer, integrity up to the element, a trailing CRC-32."""
    image = build_image(bytes(range(256)) * 8, manufacturer_code=0x10F2, image_type=image_type, file_version=version,
                        min_hw_version=0x0200, max_hw_version=0x0210, integrity_code=True,
                        integrity_coverage="to-element", header_string=b"vendor\x00\x01")
    path = tmp_path / "my.ota"
    path.write_bytes(image + zlib.crc32(image).to_bytes(4, "little"))
    return path


def test_the_plan_takes_the_files_identity(tmp_path: Path) -> None:
    name, path = parse_option(f"v2={own_file(tmp_path)}")
    plan = with_own_images(load_plan(CF05), {name: path})
    assert plan.images["v2"].file == path
    profile = load_profile(plan.devices["dut"].profile)
    assert (profile.manufacturer_code, profile.image_type, profile.kind) == (0x10F2, 0x7B01, "ppmid")
    assert profile.hardware_version == 0x0200 and profile.current_file_version == 1  # inside the range, below
    assert plan.settings["hub"]["image_types"] == {0x7B01: "ppmid"}
    versions = [s.args.get("version") for s in plan.steps if s.kind in ("assert_device_version", "assert_register")]
    assert versions == [0x0192020D, 0x0192020D]  # the plan's "version 2" is the file's version


def test_plans_without_that_image_are_unchanged(tmp_path: Path) -> None:
    plan = load_plan(CF05)
    assert with_own_images(plan, {"v9": own_file(tmp_path)}) is plan


def test_bad_options_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_option("my.ota")
    with pytest.raises(ValueError, match="is not a file"):
        parse_option(f"v2={tmp_path / 'missing.ota'}")
    junk = tmp_path / "junk.ota"
    junk.write_bytes(b"not an OTA file at all")
    with pytest.raises(PlanErrors, match=r"images.v2 \(--image\).*junk.ota.*file_identifier"):
        with_own_images(load_plan(CF05), {"v2": junk})


async def test_a_shipped_plan_passes_on_the_own_file(tmp_path: Path) -> None:
    plan = with_own_images(load_plan(CF05), {"v2": own_file(tmp_path)})
    record = await run_plan(plan, load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.PASS, record.message
    assert record.images["v2"]["file_version"] == 0x0192020D


async def test_an_unmapped_image_type_is_refused_at_start_naming_image_type_and_known_types(tmp_path: Path) -> None:
    folder = tmp_path / "testplans"
    folder.mkdir()
    path = folder / "unmapped.yaml"
    path.write_text(f"plan: 1\nname: unmapped\ndevices:\n  dut: {{profile: ppmid}}\nimages:\n"
                    f"  v2: {{file: {own_file(tmp_path, image_type=0x0999)}}}\n"
                    "steps:\n  - pair: dut\n")
    record = await run_plan(load_plan(path), load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.ERROR
    assert "image 'v2'" in record.message and "0x0999" in record.message and "0x0101=ppmid" in record.message


def test_plans_check_reads_settings_hub(tmp_path: Path) -> None:
    folder = tmp_path / "testplans"
    folder.mkdir()
    path = folder / "mapping.yaml"
    text = ("plan: 1\nname: mapping\ndevices:\n  dut: {profile: ppmid}\nsettings:\n  hub:\n"
            "    image_types: {0x0999: %s}\nsteps:\n  - pair: dut\n")
    path.write_text(text % "ppmid")
    assert load_plan(path).settings["hub"]["image_types"]  # a string key from the plan loader is fine
    path.write_text(text % "toaster")
    with pytest.raises(PlanErrors, match=r"mapping.yaml:7:\d+: settings.hub.*a device kind"):
        load_plan(path)


def test_rig_run_passes_image_options_to_pytest(tmp_path: Path) -> None:
    import argparse

    from rig.plan.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["run", "testplans/conformance", "--image", "v2=a.ota", "--image", "v3=b.ota"])
    from rig.plan.cli import _pytest_args

    out = _pytest_args(args)
    assert out[out.index("--rig-image") + 1] == "v2=a.ota" and out.count("--rig-image") == 2


def test_plans_check_takes_the_plans_own_mapping_and_names_an_unmapped_type(tmp_path: Path, capsys) -> None:
    from rig.cli import main

    folder = tmp_path / "testplans"
    folder.mkdir()
    path = folder / "own.yaml"
    text = ("plan: 1\nname: own\ndevices:\n  dut: {profile: ppmid}\nimages:\n"
            f"  v2: {{file: {own_file(tmp_path, image_type=0x0999)}}}\n%ssteps:\n  - pair: dut\n")
    path.write_text(text % "")
    assert main(["plans", "check", str(path)]) == 1
    out = capsys.readouterr()
    assert "own.yaml:6:3: images.v2.file: image type 0x0999 is not mapped" in out.out + out.err
    assert "known: 0x0101=ppmid, 0x0102=hcalcs, 0x0103=gsme" in out.out + out.err
    path.write_text(text % "settings:\n  hub:\n    image_types: {0x0999: ppmid}\n")
    assert main(["plans", "check", str(path)]) == 0, capsys.readouterr()


async def test_assert_device_image_compares_the_declared_image_not_the_vendors_wrapping(tmp_path: Path) -> None:
    """An own file in a vendor container: the device installs the image inside it, and the plan's
    assert_device_image says so (it compared with the whole file, container included, and failed)."""
    from tests.image import real_world as rw

    inner = build_image(bytes(range(256)) * 40, manufacturer_code=0x10F2, image_type=0x7B01, file_version=0x0192020D,
                        min_hw_version=0x0200, max_hw_version=0x0210, integrity_code=True,
                        integrity_coverage="to-element")
    path = tmp_path / "ikea.ota"
    path.write_bytes(rw.in_ikea_container(inner))
    plan = with_own_images(load_plan(REPO / "testplans" / "scenarios" / "ec02-resume-after-reboot.yaml"), {"v2": path})
    record = await run_plan(plan, load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.PASS, record.message


def test_limits_that_grow_with_the_image_follow_the_files_size(tmp_path: Path) -> None:
    """cf04 allows 333 blocks for its 10 kB image (resumed, not restarted): for a file 5x as large, 5x."""
    cf04 = load_plan(REPO / "testplans" / "conformance" / "cf04-resume.yaml")
    [before] = [s.args for s in cf04.steps if s.kind == "measure"]
    path = tmp_path / "big.ota"
    path.write_bytes(build_image(bytes(50_000 - 60 - 6), manufacturer_code=0x10F2, image_type=0x7B01,
                                 file_version=5, min_hw_version=0x0200, max_hw_version=0x0210))
    [after] = [s.args for s in with_own_images(cf04, {"v2": path}).steps if s.kind == "measure"]
    assert (before["metric"], before["max"]) == ("blocks_served", 333)
    assert after["max"] == pytest.approx(333 * 50_000 / 10_000)
    cf02 = with_own_images(load_plan(REPO / "testplans" / "conformance" / "cf02-download-and-verify.yaml"), {"v2": path})
    throughput = [s.args for s in cf02.steps if s.kind == "measure" and s.args["metric"] == "transfer_bytes_per_s"]
    assert throughput[0]["min"] == 20  # a rate does not grow with the size


def _neither_file(tmp_path: Path) -> Path:
    """An own file whose integrity code matches neither coverage (as Develco's): the shipped benches refuse it."""
    image = bytearray(build_image(bytes(range(256)) * 8, manufacturer_code=0x1015, image_type=0x0300, file_version=5,
                                  integrity_code=True))
    image[-1] ^= 0x01
    path = tmp_path / "develco-like.ota"
    path.write_bytes(bytes(image))
    return path


async def test_an_own_file_the_hub_would_refuse_is_named_when_the_plan_starts(tmp_path: Path) -> None:
    plan = with_own_images(load_plan(CF05), {"v2": _neither_file(tmp_path)})
    record = await run_plan(plan, load_bench("fixtures/benches/emulated.yaml"))
    assert record.verdict is Verdict.ERROR
    assert "image 'v2'" in record.message and "develco-like.ota, given with --image" in record.message
    assert "integrity code matches neither coverage" in record.message
    assert "hub.fatal_image_warnings makes this warning fatal" in record.message
    assert "download at 0 %" not in record.message and "<bytes>" not in record.message


def test_rig_run_refuses_an_own_file_the_hub_would_refuse_before_any_plan(tmp_path: Path, capsys) -> None:
    from rig.cli import main

    code = main(["run", str(CF05), "--image", f"v2={_neither_file(tmp_path)}", "--report", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "images.v2 (--image" in err and "the hub would refuse it" in err
    assert "integrity code matches neither coverage" in err and "nothing ran" in err
