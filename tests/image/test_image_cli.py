"""`rig image build | inspect | verify` through rig.cli.main, and once through the installed script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rig.cli import main
from rig.image import build_image, parse_image

IDS = dict(manufacturer_code=0x1234, image_type=0x0101, file_version=2, min_hw_version=0x100, max_hw_version=0x1FF)


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    path = tmp_path / "fw.bin"
    path.write_bytes(bytes(range(256)) * 3)
    return path


def test_build_zigbee_with_integrity(tmp_path: Path, firmware: Path, capsys) -> None:
    out = tmp_path / "out.ota"
    code = main(["image", "build", "--firmware", str(firmware), "--manufacturer", "0x1234", "--image-type",
                 "0x0101", "--version", "0x00000002", "--header-string", "cli", "--hw-min", "0x0100",
                 "--hw-max", "0x01FF", "--integrity", "-o", str(out)])
    assert code == 0
    assert out.read_bytes() == build_image(firmware.read_bytes(), **IDS, header_string="cli", integrity_code=True)
    assert "wrote" in capsys.readouterr().out


def test_build_gb_bare(tmp_path: Path, firmware: Path) -> None:
    out = tmp_path / "out.gb.ota"
    assert main(["image", "build", "--firmware", str(firmware), "--manufacturer", "4660", "--image-type", "0x0103",
                 "--version", "1", "--format", "gb-bare", "-o", str(out)]) == 0
    image = parse_image(out.read_bytes(), format="gb-bare")
    assert image.format == "gb-bare" and image.firmware == firmware.read_bytes() and image.image_type == 0x0103


def test_build_errors_are_clear(tmp_path: Path, firmware: Path, capsys) -> None:
    base = ["image", "build", "--manufacturer", "1", "--image-type", "1", "--version", "1", "-o", str(tmp_path / "x")]
    assert main([*base, "--firmware", str(tmp_path / "missing.bin")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main([*base, "--firmware", str(firmware), "--hw-min", "0x200", "--hw-max", "0x100"]) == 2
    assert "above" in capsys.readouterr().err
    assert main([*base, "--firmware", str(firmware), "--format", "gb-bare", "--integrity"]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["image", "build", "--firmware", str(firmware), "--manufacturer", "0x10000", "--image-type", "1",
              "--version", "1", "-o", "x"])
    assert caught.value.code == 2
    assert "does not fit in 16 bits" in capsys.readouterr().err


def test_inspect_table_and_json(tmp_path: Path, capsys) -> None:
    path = tmp_path / "a.ota"
    path.write_bytes(build_image(b"firmware", **IDS, header_string="hello", integrity_code=True,
                                 upgrade_file_destination="00:11:22:33:44:55:66:77"))
    assert main(["image", "inspect", str(path)]) == 0
    table = capsys.readouterr().out
    for text in ("0x1234", "0x0101", "0x00000002", "'hello'", "IMAGE_INTEGRITY_CODE", "00:11:22:33:44:55:66:77", "ok"):
        assert text in table
    assert main(["image", "inspect", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["manufacturer_code"] == 0x1234 and info["image_type"] == 0x0101 and info["file_version"] == 2
    assert info["format"] == "zigbee" and info["header_string"] == "hello"
    assert info["total_image_size"] == path.stat().st_size
    assert info["elements"] == [{"tag": 0, "name": "UPGRADE_IMAGE", "length": 8, "offset": 68},
                                {"tag": 3, "name": "IMAGE_INTEGRITY_CODE", "length": 16, "offset": 82}]
    assert info["sha256"] == parse_image(path.read_bytes()).sha256
    assert (info["min_hw_version"], info["max_hw_version"]) == (0x100, 0x1FF)
    assert info["upgrade_file_destination"] == "00:11:22:33:44:55:66:77" and info["integrity_ok"] is True
    assert info["problems"] == []


def test_inspect_gb_bare_json(tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.ota"
    path.write_bytes(build_image(b"manufacturer image", **IDS, format="gb-bare"))
    assert main(["image", "inspect", "--json", "--format", "gb-bare", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "gb-bare" and info["elements"] == [] and info["firmware_length"] == 18
    assert main(["image", "inspect", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "unknown-body"


def test_inspect_broken_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "broken.ota"
    path.write_bytes(b"not an ota file at all")
    assert main(["image", "inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert "broken.ota: offset 0x00 (file_identifier)" in err and "Traceback" not in err


def test_verify_ok_and_invalid(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.ota"
    good.write_bytes(build_image(b"fw" * 50, **IDS, integrity_code=True))
    assert main(["image", "verify", str(good)]) == 0
    assert capsys.readouterr().out.startswith("OK")
    bad = tmp_path / "bad.ota"
    data = bytearray(good.read_bytes())
    data[4] = 0x02  # header version
    data[70] ^= 0xFF  # firmware byte: integrity mismatch (a warning)
    bad.write_bytes(bytes(data) + b"extra")
    assert main(["image", "verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "offset 0x04 (header_version)" in out
    assert "warning: " in out and "integrity code matches neither coverage" in out
    assert "5 bytes after the declared end (looks like: unknown)" in out
    assert "INVALID: 1 problem(s)" in out


def test_verify_unreadable_file(tmp_path: Path, capsys) -> None:
    assert main(["image", "verify", str(tmp_path / "nope.ota")]) == 2
    assert main(["image", "verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("cannot read") == 2 and "Traceback" not in err


@pytest.mark.parametrize("action", ["build", "inspect", "verify"])
def test_help(action: str, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["image", action, "--help"])
    assert caught.value.code == 0
    assert f"usage: rig image {action}" in capsys.readouterr().out


def test_installed_rig_script(tmp_path: Path) -> None:
    rig = Path(sys.executable).parent / "rig"
    path = tmp_path / "s.ota"
    path.write_bytes(build_image(b"fw", **IDS))
    done = subprocess.run([str(rig), "image", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("OK"), done
    path.write_bytes(path.read_bytes()[:40])
    done = subprocess.run([str(rig), "image", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "(header): found 40 bytes, expected at least 56 bytes" in done.stdout
