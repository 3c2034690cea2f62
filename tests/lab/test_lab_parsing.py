"""What the rig makes of a place's resources, and the `--rig-bench labgrid:...` spec (no lab needed)."""

from __future__ import annotations

import pytest

from rig.lab import BenchSpec, LabgridError, LabPlace, parse_bench_spec
from rig.lab.place import parse_tags

# What labgrid's ClientSession.get_target_config gives for the place (as `labgrid-client env` prints it).
POWER = ("NetworkPowerPort",
         {"index": 0, "host": "http://127.0.0.1:9/relay/{index}/{value}", "model": "simplerest"})
STICK = ("NetworkSerialPort", {"name": "RawSerialPort", "port": 46723, "host": "127.0.0.1", "speed": 115200})


def place_with(*resources) -> LabPlace:
    place = LabPlace("ppmid-1", coordinator="127.0.0.1:1")
    place.resources = list(resources)
    return place


def test_env_gives_the_stick_as_an_rfc2217_url_and_a_power_switch():
    place = place_with(POWER, STICK)
    assert place.serial_url() == "rfc2217://127.0.0.1:46723"
    assert place.power is not None and place.power.place == "ppmid-1"
    assert place.identity()["exporter_host"] == "127.0.0.1"
    assert place.power_named("NetworkPowerPort").name == "NetworkPowerPort"
    with pytest.raises(LabgridError, match="no power resource named 'dut' \\(has: NetworkPowerPort\\)"):
        place.power_named("dut")


def test_a_raw_tcp_export_opens_as_a_socket_url():
    raw = (STICK[0], dict(STICK[1], protocol="raw"))
    assert place_with(POWER, raw).serial_url() == "socket://127.0.0.1:46723"


def test_a_place_without_a_stick_or_power_says_so():
    power_only = place_with(POWER)
    with pytest.raises(LabgridError, match="expected exactly one NetworkSerialPort, found none"):
        power_only.serial_url()
    stick_only = place_with(("NetworkSerialPort", {"host": "h", "port": 1}))
    assert stick_only.power is None
    with pytest.raises(LabgridError, match="NetworkSerialPort named 'dut'"):
        stick_only.serial_url("dut")


def test_bench_spec_names_a_place_or_tags():
    assert parse_bench_spec("fixtures/benches/emulated.yaml") is None
    assert parse_bench_spec("labgrid:ppmid-1") == BenchSpec(name="ppmid-1")
    assert parse_bench_spec("labgrid:kind=ppmid,site=lab2") == BenchSpec(tags={"kind": "ppmid", "site": "lab2"})
    assert parse_bench_spec("labgrid:kind=ppmid").describe() == "a free labgrid place with kind=ppmid"


@pytest.mark.parametrize("spec, says", [
    ("labgrid:", "expected labgrid:PLACE or labgrid:key=value"),
    ("labgrid:a,b", "'a,b' is not a place name"),
    ("labgrid:kind=ppmid,Site=x", "tag 'Site=x' in 'kind=ppmid,Site=x': expected key=value with a lower-case key"),
    ("labgrid:kind=", "tag 'kind='"),
])
def test_bad_bench_specs_say_what_was_expected(spec, says):
    with pytest.raises(LabgridError, match=says.replace("(", r"\(")):
        parse_bench_spec(spec)


def test_tags_parse_and_reject_malformed_pairs():
    assert parse_tags("kind=ppmid, site=lab2") == {"kind": "ppmid", "site": "lab2"}
    with pytest.raises(LabgridError, match="'nokey'"):
        parse_tags("nokey")


async def test_an_unreachable_coordinator_is_named():
    pytest.importorskip("labgrid", reason="labgrid not installed (pip install -e '.[test]')")
    from rig.lab.coordinator import Coordinator

    unreachable = r"cannot reach the labgrid coordinator at 127\.0\.0\.1:1 \(LG_COORDINATOR\)"
    with pytest.raises(LabgridError, match=unreachable):
        async with Coordinator("127.0.0.1:1", connect_timeout_s=10):
            pass


def test_a_bench_file_on_a_place_takes_the_places_stick():
    from rig.bench.config import load_bench
    from rig.lab.bench import bench_on_place

    bench = bench_on_place(load_bench("fixtures/benches/emulated.yaml"), place_with(POWER, STICK))
    assert bench.name == "emulated@ppmid-1"
    assert bench.hub.radio == "rfc2217://127.0.0.1:46723" and not bench.emulated
    assert bench.features == ("hardware", "labgrid")
    assert bench.identity()["radio"] == "rfc2217://127.0.0.1:46723"


def test_a_place_names_its_bench_file_in_a_tag():
    from rig.lab.bench import bench_for_place

    place = place_with(POWER, STICK)
    with pytest.raises(LabgridError, match="labgrid place ppmid-1 has no 'bench' tag naming its bench file"):
        bench_for_place(place)
    place.tags = {"kind": "ppmid", "bench": "hardware-example"}
    bench = bench_for_place(place)
    assert bench.name == "hardware-example@ppmid-1" and bench.hub.baudrate == 115200
    assert bench_for_place(place, "fixtures/benches/emulated.yaml").name == "emulated@ppmid-1"


def test_a_place_with_several_power_resources_switches_the_one_the_device_names():
    ppmid = ("NetworkPowerPort", dict(POWER[1], name="ppmid-power"))
    hcalcs = ("NetworkPowerPort", dict(POWER[1], index=1, name="hcalcs-power"))
    power = place_with(ppmid, hcalcs, STICK).power
    assert power.resource_for({"labgrid_power": "hcalcs-power"}) == "hcalcs-power"
    assert power._args("cycle", name="hcalcs-power")[-2:] == ["--name", "hcalcs-power"]
    # Switching "the first one" could power-cycle the other device on the bench: said, not guessed.
    with pytest.raises(LabgridError, match="has 2 power resources \\(ppmid-power, hcalcs-power\\): give the "
                                           "device's entry in the bench file labgrid_power: NAME"):
        power.resource_for({"ieee": "00:11"})
    with pytest.raises(LabgridError, match="no power resource named 'pdu' \\(has: ppmid-power, hcalcs-power\\)"):
        power.resource_for({"labgrid_power": "pdu"})
    assert place_with(POWER, STICK).power.resource_for({}) is None  # one resource: labgrid's own choice
