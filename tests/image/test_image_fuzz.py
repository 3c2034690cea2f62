"""Garbage and mutated images: parse_image returns or raises ImageError, validate_image never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.image import ImageError, OtaImage, Problem, SubElement, build_image, parse_image, validate_image
from rig.image.bare import signature_block


@st.composite
def valid_images(draw, clean: bool = False) -> bytes:
    """Built images; unless `clean`, extras may carry defects the validator should name (reserved tag,
    wrong signature length) so that mutations start from those too."""
    fmt = draw(st.sampled_from(["zigbee", "gb-bare"]))
    hw = draw(st.none() | st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)).map(sorted))
    kwargs = dict(
        manufacturer_code=draw(st.integers(0, 0xFFFF)), image_type=draw(st.integers(0, 0xFFFF)),
        file_version=draw(st.integers(0, 0xFFFFFFFF)),
        security_credential_version=draw(st.none() | st.integers(0, 3)),
        upgrade_file_destination=draw(st.none() | st.just("00:11:22:33:44:55:66:77")),
        min_hw_version=None if hw is None else hw[0], max_hw_version=None if hw is None else hw[1], format=fmt)
    if fmt == "zigbee":
        kwargs["integrity_code"] = draw(st.booleans())
        kwargs["extra_elements"] = draw(st.lists(st.builds(
            SubElement, st.sampled_from([0x0004, 0xF000] if clean else [0x0001, 0x0004, 0xF000, 0x0042]), st.binary(max_size=20)), max_size=2))
    else:
        kwargs["signature"] = draw(st.none() | st.binary(min_size=64, max_size=64))
    firmware = draw(st.binary(min_size=0 if fmt == "zigbee" else 1, max_size=120))
    return build_image(firmware, **kwargs)


def _put(data: bytearray, offset: int, value: int, size: int) -> None:
    if offset < len(data):
        data[offset : offset + size] = value.to_bytes(size, "little")[: len(data) - offset]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(valid_images()))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "splice", "length", "overwrite", "append"]))
        if kind == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "splice":
            i = draw(st.integers(0, len(data)))
            j = draw(st.integers(i, len(data)))
            data[i:j] = draw(st.binary(max_size=16))
        elif kind == "length":
            # Lie in a length-bearing field: header length, field control, total size, element lengths.
            offset, size = draw(st.sampled_from([(6, 2), (8, 2), (52, 4), (58, 4), (62, 4), (66, 4), (71, 4)]))
            value = draw(st.sampled_from([0, 1, 55, 56, 69, 70, len(data) - 1, len(data), len(data) + 1,
                                          0xFFFF, 0xFFFFFFFF]) | st.integers(0, 2 ** (8 * size) - 1))
            _put(data, offset, value % (1 << (8 * size)), size)
        elif kind == "overwrite" and data:
            i = draw(st.integers(0, len(data) - 1))
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[i : i + len(chunk)] = chunk
        elif kind == "append":
            data += draw(st.binary(max_size=70)) if draw(st.booleans()) else signature_block(bytes(64))
    return bytes(data)


def check_never_crashes(data: bytes) -> None:
    problems = validate_image(data)
    assert all(isinstance(p, Problem) for p in problems)
    for fmt in ("auto", "zigbee", "gb-bare"):
        try:
            image = parse_image(data, format=fmt, source="fuzz.ota")
        except ImageError as exc:
            assert exc.problems, "an ImageError must say what is wrong"
            assert len(str(exc).splitlines()) == len(exc.problems)
            assert all(line.startswith("fuzz.ota: offset 0x") for line in str(exc).splitlines())
            if fmt == "auto":
                assert problems, "validate_image must find what parse_image refused"
            continue
        assert isinstance(image, OtaImage)
        image.sha256, image.firmware, image.integrity_ok  # noqa: B018 - properties must not raise either
        if fmt == "auto" and not problems:
            # A file with no problems re-serializes byte for byte from what was parsed.
            rebuilt = image.header.serialize()
            if image.format in ("zigbee", "telink"):
                rebuilt += b"".join(e.serialize() for e in image.elements)
            else:
                rebuilt += image.body + (signature_block(image.signature) if image.signature else b"")
            assert rebuilt == image.raw
            # What is served is the declared image; anything after it is kept aside, not lost.
            assert data[image.offset:].startswith(image.raw + image.trailing)
            assert len(image.raw) == image.total_image_size


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    check_never_crashes(data)


@FUZZ
@given(st.binary(max_size=120).map(lambda tail: bytes.fromhex("1EF1EE0B") + tail))
def test_random_bytes_behind_the_magic(data: bytes) -> None:
    check_never_crashes(data)


@FUZZ
@given(mutated())
def test_mutated_valid_images(data: bytes) -> None:
    check_never_crashes(data)


@settings(max_examples=150, deadline=None)
@given(valid_images(clean=True))
def test_built_images_are_valid(data: bytes) -> None:
    assert validate_image(data) == []
    check_never_crashes(data)
