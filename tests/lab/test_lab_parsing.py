"""What the rig reads from labgrid-client's output, and the `--rig-bench labgrid:...` spec (no lab needed).

The samples are labgrid 26.0.1's own output for a place of the lab in conftest.py.
"""

from __future__ import annotations

import pytest

from rig.lab import BenchSpec, LabgridError, LabPlace, parse_bench_spec
from rig.lab.place import parse_env, parse_show, parse_tags

SHOW_ACQUIRED = """\
Place 'ppmid-1':
  tags: kind=ppmid, site=lab2
  matches:
    exp1/bench1/*
  acquired: vm/root
  acquired resources:
    exp1/bench1/NetworkPowerPort/NetworkPowerPort
    exp1/bench1/NetworkSerialPort/RawSerialPort
  created: 2026-12-04 19:10:12.710403
  changed: 2026-12-04 19:10:15.152061
Acquired resource 'RawSerialPort' (exp1/bench1/NetworkSerialPort/RawSerialPort):
  {'acquired': 'ppmid-1',
   'avail': True,
   'cls': 'NetworkSerialPort',
   'params': {'extra': {'path': '/dev/pts/0', 'proxy': 'localhost', 'proxy_required': False},
              'host': '127.0.0.1', 'port': 46723, 'speed': 115200}}
"""

SHOW_IDLE = """\
Place 'ppmid-2':
  matches:
    exp1/bench2/*
  acquired: None
  acquired resources:
  created: 2026-12-04 19:10:12.710403
  changed: 2026-12-04 19:10:15.152061
"""

ENV = """\
targets:
  ppmid-1:
    resources:
    - NetworkPowerPort:
        index: 0
        host: http://127.0.0.1:9/relay/{index}/{value}
        model: simplerest
    - NetworkSerialPort:
        name: RawSerialPort
        port: 46723
        host: 127.0.0.1
        speed: 115200
"""


def test_show_gives_holder_and_tags_not_resource_fields():
    info = parse_show(SHOW_ACQUIRED)
    assert (info.name, info.acquired, info.tags) == ("ppmid-1", "vm/root", {"kind": "ppmid", "site": "lab2"})
    idle = parse_show(SHOW_IDLE)
    assert (idle.name, idle.acquired, idle.tags) == ("ppmid-2", None, {})


def test_show_without_a_place_is_an_error_quoting_the_output():
    with pytest.raises(LabgridError, match="printed no place: 'nothing here'"):
        parse_show("nothing here\n")


def place_with(env: str) -> LabPlace:
    place = LabPlace("ppmid-1", coordinator="127.0.0.1:1")
    place.resources = parse_env(env)
    return place


def test_env_gives_the_stick_as_an_rfc2217_url_and_a_power_switch():
    place = place_with(ENV)
    assert place.serial_url() == "rfc2217://127.0.0.1:46723"
    assert place.power is not None and place.power.place == "ppmid-1"
    assert place.identity()["exporter_host"] == "127.0.0.1"
    assert place.power_named("NetworkPowerPort").name == "NetworkPowerPort"
    with pytest.raises(LabgridError, match="no power resource named 'dut' \\(has: NetworkPowerPort\\)"):
        place.power_named("dut")


def test_a_raw_tcp_export_opens_as_a_socket_url():
    assert place_with(ENV.replace("speed: 115200", "speed: 115200\n        protocol: raw")).serial_url() == \
        "socket://127.0.0.1:46723"


def test_a_place_without_a_stick_or_power_says_so():
    power_only = place_with(ENV.split("    - NetworkSerialPort:")[0])
    with pytest.raises(LabgridError, match="expected exactly one NetworkSerialPort, found none"):
        power_only.serial_url()
    stick_only = place_with("targets:\n  p:\n    resources:\n    - NetworkSerialPort: {host: h, port: 1}\n")
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
