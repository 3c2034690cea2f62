"""`rig emulate` as a separate process, as a user runs it for a host the rig did not write."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

READY = re.compile(r"stick ready: (\S+)")
ERRORS = re.compile(r"the emulated NCP recorded (\d+) error")


class EmulateProcess:
    """Starts `rig emulate`; `stop()` interrupts it and returns the NCP's recorded error lines."""

    def __init__(self, *args: str, workdir: Path) -> None:
        self.out_path = workdir / "emulate.out"
        self.err_path = workdir / "emulate.err"
        cmd = [sys.executable, "-c", "import sys; from rig.cli import main; sys.exit(main())", "emulate", *args]
        self._out = self.out_path.open("w")
        self._err = self.err_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, text=True)
        self.port = self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = READY.search(self.out_path.read_text())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"rig emulate did not become ready:\n{self.out_path.read_text()}\n"
                             f"{self.err_path.read_text()[-3000:]}")

    @property
    def output(self) -> str:
        return self.out_path.read_text()

    def stop(self) -> list[str]:
        """Interrupt (as Ctrl-C does) and return the errors the emulated NCP recorded (empty = none)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()
        err = self.err_path.read_text()
        # rig.emu.ncp logs every recorded error at ERROR ("EMULATOR ERROR: ..."); the CLI also lists
        # them on exit. Either is enough, so a change to the CLI's wording cannot hide an error.
        logged = [line.split("EMULATOR ERROR:", 1)[1].strip() for line in err.splitlines() if "EMULATOR ERROR:" in line]
        match = ERRORS.search(err)
        listed = []
        if match:
            tail = err[match.start():].splitlines()[1:]
            listed = [line.strip() for line in tail if line.startswith("  ")][: int(match.group(1))]
        if not (logged or listed) and "stopped" not in self.output:
            return [f"rig emulate did not stop cleanly (exit {self.proc.returncode}):\n{err[-2000:]}"]
        return listed or logged
