"""`rig run` shows live progress: in place on a terminal (a real pty, its final screen replayed in a VT100
emulator), plain lines in a pipe; pytest's own output stays intact in both."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "fixtures" / "benches" / "emulated.yaml"
COLS, ROWS = 100, 40

PLAN = """\
plan: 1
name: live progress demo
devices:
  ppmid1: {profile: ppmid}
images:
  v2: {generate: {like: ppmid1, version: 2, size: 16kB}}
steps:
  - pair: ppmid1
  - service_request: {sr: "11.4", image: v2, devices: [ppmid1]}
  - expect_transfer: {device: ppmid1, result: success, within: 10m}
"""


def _plan(tmp_path: Path) -> list[str]:
    folder = tmp_path / "testplans"
    folder.mkdir()
    (folder / "live-demo.yaml").write_text(PLAN)
    return [sys.executable, "-m", "rig.cli", "run", str(folder / "live-demo.yaml"), "--bench", str(BENCH)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
    return env


def _run_in_pty(cmd: list[str], cwd: Path, cols: int = COLS) -> tuple[int, bytes]:
    """Run `cmd` with stdin/stdout/stderr on a fresh pty of cols x ROWS; returns (exit code, all output)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, cols, 0, 0))
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdin=terminal, stdout=terminal, stderr=terminal,
                            close_fds=True)
    os.close(terminal)
    out = bytearray()
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(controller)
    return proc.wait(timeout=30), bytes(out)


def _screen(text: str, cols: int) -> list[str]:
    screen = pyte.Screen(cols, ROWS)
    pyte.Stream(screen).feed(text)  # the pty turned each \n into \r\n
    return [line.rstrip() for line in screen.display if line.strip()]


def test_rig_run_on_a_terminal_shows_live_progress_and_leaves_pytest_output_intact(tmp_path) -> None:
    rc, raw = _run_in_pty(_plan(tmp_path), tmp_path)
    text = raw.decode("utf-8", "replace")
    assert rc == 0, text
    # While it ran: the plan, the step, the device with bytes, rate and ETA, redrawn in place.
    assert "live-demo" in text and "live progress demo" in text
    assert re.search(r"step 3/3.*expect_transfer", text), text
    assert re.search(r"ppmid1.*\d[\d,]* */ *16,000 B", text), text
    assert re.search(r"\d+(\.\d)? (KiB|B)/s", text) and "ETA" in text, text
    assert "\x1b[" in text  # cursor movement: redrawn, not scrolled
    # What is left on the screen afterwards is pytest's output alone, as without the live display.
    lines = _screen(text, COLS)
    assert any(re.fullmatch(r"\. +\[100%\]", line) for line in lines), lines
    assert any(re.search(r"\b1 passed\b.* in ", line) for line in lines), lines
    assert not any("ETA" in line or "step 3/3" in line for line in lines), lines


def test_a_narrow_terminal_truncates_the_live_lines_instead_of_wrapping_them(tmp_path) -> None:
    rc, raw = _run_in_pty(_plan(tmp_path), tmp_path, cols=48)
    text = raw.decode("utf-8", "replace")
    assert rc == 0, text
    assert "…" in text  # lines cut to the width: a wrapped line would break the redraw
    lines = _screen(text, 48)
    assert any(re.fullmatch(r"\. +\[100%\]", line) for line in lines), lines
    # the live area is gone (the summary table below names ppmid1 in its versions column: that is not it)
    assert not any("ETA" in line or "step 3/3" in line or "━" in line for line in lines), lines


def test_rig_run_into_a_pipe_writes_plain_lines(tmp_path) -> None:
    done = subprocess.run(_plan(tmp_path), cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=150)
    text = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, text
    assert "\x1b[" not in text and "\r" not in text  # nothing but lines
    lines = text.splitlines()
    assert any(re.fullmatch(r"live-demo: live progress demo", line) for line in lines), lines
    assert any(re.fullmatch(r"live-demo: step 3/3 expect_transfer .*", line) for line in lines), lines
    progress = [line for line in lines if line.startswith("live-demo: ppmid1: ")]
    assert 3 <= len(progress) <= 15, progress  # about one line per 10 %, not one per block
    assert re.search(r"100% \(16,000/16,000 B\).* done", progress[-1]), progress
    assert any(re.search(r"\b1 passed\b.* in ", line) for line in lines), lines


class _Plugins:
    def __init__(self) -> None:
        self.plugins: dict = {}

    def get_plugin(self, name: str):
        return self.plugins.get(name)

    getplugin = get_plugin


class _Config:  # what LiveRun and the prompt wiring use of pytest's config
    def __init__(self) -> None:
        self.pluginmanager = _Plugins()
        self.cleanups: list = []

    def add_cleanup(self, func) -> None:
        self.cleanups.append(func)


class _SameTerminal:
    """The operator's controlling terminal: the same screen the live display draws on."""

    def __init__(self, screen) -> None:
        self.screen = screen

    def write(self, text: str) -> int:
        return self.screen.write(text)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_an_operator_prompt_stays_on_the_screen_under_the_live_display() -> None:
    """power_cycle with no power control prompts the operator while the live region is drawn: the prompt
    must be readable on the screen while the step waits and after it, not erased by the next redraw."""
    import asyncio
    import io
    from types import SimpleNamespace

    from rig.bench.power import OperatorPower
    from rig.pytest_plugin import wire_operator_prompts
    from rig.report.live import PLUGIN_NAME, LiveRun

    config, screen = _Config(), io.StringIO()
    run = LiveRun(config, screen)
    config.pluginmanager.plugins[PLUGIN_NAME] = run
    wire_operator_prompts(config)
    try:
        run._begin("cf05", SimpleNamespace(name="power cycle by hand",
                                           steps=[SimpleNamespace(kind="power_cycle", args={"device": "dut"})]))
        run.note("step 1: power cycle")
        run.progress.update("dut", 4_000, 16_000, 1.0)  # cycled mid-download: the region has a transfer row
        how = asyncio.run(OperatorPower(terminal=lambda: _SameTerminal(screen)).cycle("dut", {"ieee": "00:0d:6f:00:00:00:00:01"}))
        run.note(f"  dut: {how}; waiting up to 600 s for it to show it restarted")
        run._refresh(force=True)
        waiting = _screen(screen.getvalue().replace("\n", "\r\n"), COLS)
        assert any("POWER-CYCLE dut" in line and "switch it off" in line for line in waiting), waiting
        assert sum("▶ cf05" in line for line in waiting) == 1, waiting  # no stale copy of the region left
        assert "\a" in screen.getvalue()  # and the bell
        run._end()
        after = _screen(screen.getvalue().replace("\n", "\r\n"), COLS)
        assert any("POWER-CYCLE dut" in line for line in after), after  # it stays in the scrollback
        assert not any("waiting up to 600 s" in line for line in after), after  # the live region is gone
    finally:
        for cleanup in config.cleanups:
            cleanup()


def test_a_terminal_that_reports_no_size_still_gets_the_live_display(tmp_path) -> None:
    """A pty with no window size (0 columns: `script`, some CI runners) is drawn at rich's default width,
    not at zero width (which drew nothing, operator prompts included)."""
    rc, raw = _run_in_pty(_plan(tmp_path), tmp_path, cols=0)
    text = raw.decode("utf-8", "replace")
    assert rc == 0, text
    assert re.search(r"step 3/3.*expect_transfer", text) and "ETA" in text, text
