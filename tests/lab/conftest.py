"""A labgrid lab on localhost: coordinator, one exporter, an emulated stick behind ser2net, a power relay.

Every piece is the real program in its own process: `labgrid-coordinator` (gRPC), `labgrid-exporter`
(which starts ser2net for the stick's pty and serves it as RFC 2217), `rig emulate` (the stick, with an
emulated PPMID), and `rig.lab.relay` (a simplerest power relay whose switch command records each call).
Places:
  lab-ppmid-a  a stick (NetworkSerialPort) + relay port 0, tags kind=ppmid
  lab-ppmid-b  its own stick (a second `rig emulate`) + relay port 1, tags kind=ppmid
Each relay port switches the emulated PPMID of its place's emulator (control socket power-N.sock).
Outside CI, a missing labgrid or ser2net skips with the reason; under CI=true it fails instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.lab.coordinator import Coordinator

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str | None:
    beside = BIN / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").is_file() else None)


def _require_tools() -> dict[str, str]:
    tools = {name: _tool(name) for name in ("labgrid-coordinator", "labgrid-exporter", "labgrid-client",
                                            "ser2net")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        why = (f"{', '.join(missing)} not installed (labgrid: pip install -e '.[test]'; "
               "ser2net: the Debian package ser2net)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the labgrid tests: {why}")
        pytest.skip(why)
    return tools  # type: ignore[return-value]


class Proc:
    """A child process logging to a file (a pipe nobody drains could stall it), waited on by marker."""

    def __init__(self, name: str, cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = cwd / f"{name.replace(' ', '-')}.log"
        with open(self.log, "w", encoding="utf-8") as out:
            self.popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_for(self, marker: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
                if marker in line:
                    return line.strip()
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)  # real time: another process is starting up
        raise AssertionError(f"{self.name} did not print {marker!r} within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)  # its own session: ser2net under the exporter too
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@dataclasses.dataclass
class Lab:
    coordinator: str
    power_log: Path
    tools: dict[str, str]
    env: dict[str, str]

    def client(self, *args: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """labgrid-client as another person/CI job would run it (LG_USERNAME names who holds a place)."""
        env = dict(self.env, **({"LG_USERNAME": user} if user else {}))
        done = subprocess.run([self.tools["labgrid-client"], "-x", self.coordinator, *args], env=env,
                              capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise AssertionError(f"labgrid-client {' '.join(args)}: {done.stderr}{done.stdout}")
        return done

    async def holder(self, place: str) -> str | None:
        """Who holds the place now, as the coordinator says ("host/user"), or None."""
        async with Coordinator(self.coordinator) as lab:
            return lab.place(place).acquired

    def power_calls(self) -> list[str]:
        return self.power_log.read_text().splitlines() if self.power_log.exists() else []


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tools = _require_tools()
    work = tmp_path_factory.mktemp("lab")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LG_")}
    procs: list[Proc] = []
    try:
        # Independent pieces start together (the machine is small; each takes a second or two).
        # labgrid 26 prints the port it bound for ":0", 25 does not: take a free port from the kernel.
        address = f"127.0.0.1:{_free_port()}"
        coordinator = Proc("coordinator", [tools["labgrid-coordinator"], "--listen", address], cwd=work, env=env)
        # One emulated stick per place; relay port N switches the PPMID of emulator N through its socket.
        controls = "power-{index}.sock"
        emulators = [Proc(f"rig emulate {n}", [sys.executable, "-m", "rig.cli", "emulate", "--devices", "ppmid",
                                               "--control", str(work / controls.format(index=n))],
                          cwd=work, env=env) for n in (0, 1)]
        power_log = work / "power.log"
        record = f"{sys.executable} {HERE / 'record_power.py'} {power_log}"
        pattern = work / controls
        relay = Proc("relay", [sys.executable, "-m", "rig.lab.relay", "--on", f"{record} on {{index}} {pattern}",
                               "--off", f"{record} off {{index}} {pattern}"], cwd=work, env=env)
        procs += [coordinator, *emulators, relay]
        coordinator.wait_for("Coordinator ready")
        pty_a, pty_b = (emulator.wait_for("stick ready:").rsplit(" ", 1)[1] for emulator in emulators)
        relay_url = relay.wait_for("relay listening on").rsplit(" ", 1)[1]
        (work / "exporter.yaml").write_text(
            "bench-a:\n"
            "  RawSerialPort:\n"
            f"    port: {pty_a}\n"
            "    speed: 115200\n"
            "  NetworkPowerPort:\n"
            "    model: simplerest\n"
            f"    host: '{relay_url}'\n"
            "    index: 0\n"
            "bench-b:\n"
            "  RawSerialPort:\n"
            f"    port: {pty_b}\n"
            "    speed: 115200\n"
            "  NetworkPowerPort:\n"
            "    model: simplerest\n"
            f"    host: '{relay_url}'\n"
            "    index: 1\n", encoding="utf-8")
        exporter = Proc("exporter", [tools["labgrid-exporter"], "--coordinator", address, "--name", "bench-pc",
                                     "--hostname", "127.0.0.1", "exporter.yaml"], cwd=work, env=env)
        procs.append(exporter)
        lab = Lab(address, power_log, tools, env)
        exporter.wait_for("connected to coordinator")
        # What `labgrid-client -p NAME create / add-match / set-tags` send (docs/lab.md), in one session.
        places = {"lab-ppmid-a": "bench-pc/bench-a/*", "lab-ppmid-b": "bench-pc/bench-b/*"}
        asyncio.run(_make_places(address, places, ["bench-pc/bench-a/NetworkSerialPort",
                                                   "bench-pc/bench-b/NetworkSerialPort",
                                                   "bench-pc/bench-b/NetworkPowerPort"]))
        yield lab
    finally:
        for proc in reversed(procs):
            proc.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _make_places(address: str, matches: dict[str, str], resources: list[str],
                       timeout: float = 20.0) -> None:
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

    async with Coordinator(address) as lab:
        stub = lab.session.stub
        for place, pattern in matches.items():
            await stub.AddPlace(pb.AddPlaceRequest(name=place))
            await stub.AddPlaceMatch(pb.AddPlaceMatchRequest(placename=place, pattern=pattern))
            await stub.SetPlaceTags(pb.SetPlaceTagsRequest(placename=place, tags={"kind": "ppmid"}))
        deadline = time.monotonic() + timeout
        while True:  # the exporter registers its resources over gRPC after it connects
            await lab.sync()
            listed = {f"{exp}/{group}/{entry.cls}" for exp, groups in lab.session.resources.items()
                      for group, entries in groups.items() for entry in entries.values()}
            if set(resources) <= listed:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"exporter resources never appeared: {resources}; listed: {sorted(listed)}")
            await asyncio.sleep(0.1)  # real time: another process
