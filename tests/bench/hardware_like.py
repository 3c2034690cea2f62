"""A bench that behaves like hardware, for CI: `rig emulate` in its own process (the rig has no handle on
it: no clock jumps, no faults, no fresh devices), a bench file written as a lab writes one (radio: its
pty, features: [hardware], power: commands driving the emulator's control socket), the devices paired
once with `rig pair` and kept. Real-time waits are shortened only through bench-file settings a lab may
set too (version_check_delay_s, power.off_for_s)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RIG = [sys.executable, "-m", "rig.cli"]


class HardwareLikeBench:
    def __init__(self, workdir: Path, ezsp_version: int, devices: str = "ppmid,hcalcs") -> None:
        self.workdir = workdir
        self.ezsp_version = ezsp_version
        self.devices_arg = devices
        self.socket = str(workdir / "power.sock")
        self.proc: subprocess.Popen | None = None
        self.port = ""
        self.ieees: dict[str, str] = {}  # profile name -> ieee
        self.log = workdir / "emulate.log"

    def start(self, timeout: float = 30.0) -> HardwareLikeBench:
        self.proc = subprocess.Popen(RIG + ["emulate", "--devices", self.devices_arg, "--ezsp-version",
                                            str(self.ezsp_version), "--control", self.socket],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
        end = time.monotonic() + timeout
        lines = []
        assert self.proc.stdout is not None
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"stick ready: (\S+)", line):
                self.port = m.group(1)
            if m := re.search(r"device (\S+): ieee (\S+)", line):
                self.ieees[Path(m.group(1)).stem] = m.group(2)
            if "power control:" in line:
                return self
        raise RuntimeError("rig emulate did not come up:\n" + "".join(lines))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def bench_file(self, name: str = "bench", *, power: bool = True, devices: dict[str, str] | None = None,
                   extra: str = "") -> Path:
        """A bench file as a lab writes it. `devices`: bench name -> profile (default: dut = the PPMID,
        dut-hcalcs = the HCALCS standing for dut when a plan needs one)."""
        devices = devices if devices is not None else {"dut": "ppmid", "dut-hcalcs": "hcalcs"}
        control = f"{sys.executable} -m rig.emu.control {self.socket}"
        lines = [
            "description: hardware-like CI bench (rig emulate in its own process, driven as hardware)",
            f"radio: {self.port}",
            "channel: 15",
            "pan_id: 0x1A62",
            'extended_pan_id: "dd:dd:dd:dd:dd:dd:dd:dd"',
            f"ezsp: {{version: {self.ezsp_version}}}",
            "features: [hardware]",
        ]
        if power:
            lines += ["power:", f'  off: "{control} off {{ieee}}"', f'  on: "{control} on {{ieee}}"',
                      "  off_for_s: 1", "  command_timeout_s: 30", "  restart_within_s: 60"]
        lines.append("devices:")
        for bench_name, profile in devices.items():
            kind = "hcalcs" if "hcalcs" in profile else "ppmid"
            stands = "" if bench_name == "dut" else ", stands_for: dut"
            ident = ("manufacturer_code: 0x1234, image_type: " + ("0x0102" if kind == "hcalcs" else "0x0101")
                     + ", hardware_version: 0x0100, ")
            lines.append(f'  {bench_name}: {{ieee: "{self.ieees[Path(profile).stem]}", kind: {kind}, {ident}'
                         f'{stands.lstrip(", ")}}}'.replace(", }", "}"))
        lines += [
            "hub:",
            "  wait_for_data_delay_s: 1",
            "  min_block_period: {ppmid: {value: 0, units: ms}, hcalcs: {value: 0, units: ms}}",
            "  version_check_delay_s: 5          # a lab may shorten the 15-minute check the same way",
            "  version_check_retry_interval_s: 5",
            "  upgrade_time_mode: utc",
            f"  zigpy_database: {self.workdir / 'zigpy.sqlite3'}",
        ]
        path = self.workdir / f"{name}.yaml"
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    def pair(self, bench: Path, expect: int) -> subprocess.CompletedProcess:
        return subprocess.run(RIG + ["pair", "--bench", str(bench), "--seconds", "60", "--expect", str(expect)],
                              capture_output=True, text=True, cwd=REPO, timeout=120, stdin=subprocess.DEVNULL)

    def run(self, bench: Path, *paths: str, report: Path | None = None, timeout: float = 600,
            **kwargs) -> subprocess.CompletedProcess:
        args = RIG + ["run", *paths, "--bench", str(bench)] + (["--report", str(report)] if report else [])
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.run(args, capture_output=True, text=True, cwd=self.workdir, timeout=timeout,
                              stdin=kwargs.pop("stdin", subprocess.DEVNULL), env=env, **kwargs)


def records(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
