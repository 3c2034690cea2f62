"""The committed sample images are exactly what generate.py makes; large images are made at test time."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from rig.image import parse_image, validate_image
from rig.image.samples import GB_AVERAGE_IMAGE_BYTES, GB_MAX_IMAGE_BYTES, make_large_image, payload

SAMPLES = Path(__file__).resolve().parents[2] / "firmware_images"


def load_generator():
    spec = importlib.util.spec_from_file_location("firmware_images_generate", SAMPLES / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    return yaml.safe_load((SAMPLES / "manifest.yaml").read_text(encoding="utf-8"))["images"]


def test_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    written = load_generator().generate(tmp_path)
    names = sorted(p.name for p in written)
    assert len(names) == 13  # 3 devices x 2 versions x 2 formats + manifest
    for name in names:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_manifest_matches_the_files(manifest: list[dict]) -> None:
    assert len(manifest) == 12
    for entry in manifest:
        data = (SAMPLES / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["size"]
        image = parse_image(data, source=entry["file"], format=entry["format"])
        assert validate_image(data) == []
        assert image.format == entry["format"]
        signed_or_tlv = entry["format"] == "zigbee" or entry["gb_signature"]
        assert parse_image(data).format == (entry["format"] if signed_or_tlv else "unknown-body")
        assert (image.manufacturer_code, image.image_type, image.file_version) == (
            entry["manufacturer_code"], entry["image_type"], entry["file_version"])
        assert (image.min_hw_version, image.max_hw_version) == (entry["min_hw_version"], entry["max_hw_version"])
        assert hashlib.sha256(image.firmware).hexdigest() == entry["firmware_sha256"]
        assert image.integrity_ok is (True if entry["integrity_code"] else None)
        assert (image.signature is not None) == entry["gb_signature"]


def test_sample_identities(manifest: list[dict]) -> None:
    ids = {(e["device"], e["format"], e["file_version"]): e for e in manifest}
    for device, image_type in (("PPMID", 0x0101), ("HCALCS", 0x0102), ("GSME", 0x0103)):
        for version in (1, 2):
            for fmt in ("zigbee", "gb-bare"):
                entry = ids[(device, fmt, version)]
                assert entry["manufacturer_code"] == 0x1234 and entry["image_type"] == image_type
                suffix = "zigbee" if fmt == "zigbee" else "gb"
                assert entry["file"] == f"{device.lower()}-v{version}.{suffix}.ota"
                hw = (None, None) if device == "GSME" else (0x0100, 0x01FF)
                assert (entry["min_hw_version"], entry["max_hw_version"]) == hw
                assert 2_000 < entry["size"] < 10_000


def test_payload_is_deterministic_and_seed_dependent() -> None:
    assert payload("a", 100) == payload("a", 100)
    assert payload("a", 100) != payload("b", 100)
    assert payload("a", 1000)[:100] == payload("a", 100)


@pytest.mark.parametrize("size", [GB_AVERAGE_IMAGE_BYTES, GB_MAX_IMAGE_BYTES])
def test_gb_sized_zigbee_images_build_and_parse(size: int) -> None:
    data = make_large_image(size, integrity_code=True, min_hw_version=0x0100, max_hw_version=0x01FF)
    assert len(data) == size
    image = parse_image(data)
    assert image.total_image_size == size and image.integrity_ok is True  # long-form AES-MMO
    assert (image.manufacturer_code, image.image_type, image.file_version) == (0x1234, 0x0101, 2)


def test_max_size_gb_bare_image_with_signature() -> None:
    data = make_large_image(GB_MAX_IMAGE_BYTES, format="gb-bare", signature=bytes(64), image_type=0x0103)
    image = parse_image(data)
    assert len(data) == GB_MAX_IMAGE_BYTES and image.format == "gb-bare" and image.signature == bytes(64)


def test_too_small_a_size_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        make_large_image(60)
