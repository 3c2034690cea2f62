"""What a plan run shows while it runs: plan, step, operator prompts and per-device transfer progress.

A pytest plugin (`rig.pytest_plugin` registers it for `--rig-progress on|auto`; `rig run` asks for `on`):
- on a terminal, a region redrawn in place under pytest's own output and erased when the plan ends, so
  pytest's lines read as they would without it. rich draws it (it fits each line to the terminal's
  width, so a narrow terminal truncates instead of wrapping and breaking the redraw). It writes to a
  duplicate of the terminal's descriptor, taken once, because pytest captures fd 1 while a test runs;
- otherwise (a pipe, a CI log), plain lines through pytest's terminal reporter: the plan, each step,
  prompts and failures, one progress line per 10 % per device.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

import pytest

from rig.report.progress import Progress
from rig.report.steps import step_text

PLUGIN_NAME = "rig-live"
_REFRESH_S = 0.1  # at most ten redraws a second: thousands of blocks a second must not cost a redraw each
_STEP = re.compile(r"step (\d+): ")
_BAR = 24


def install(config: pytest.Config, mode: str) -> None:
    """Register the display for this pytest run: `on` always, `auto` only on a terminal."""
    if mode == "off" or config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    capman = config.pluginmanager.getplugin("capturemanager")
    with _uncaptured(capman):
        try:
            terminal = os.isatty(sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            terminal = False
        if not terminal and mode != "on":
            return
        tty = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", errors="replace") if terminal else None
    config.pluginmanager.register(LiveRun(config, tty), PLUGIN_NAME)


def progress_for(config: pytest.Config) -> Progress | None:
    """The Progress the running plan should feed (None when no display is installed)."""
    live = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return live.progress if live is not None else None


def prompt_terminal(config: pytest.Config) -> Any | None:
    """Where operator prompts should be written while this run's display is on a terminal (None: no live
    region, write to the terminal as usual)."""
    live = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return _PromptTerminal(live) if live is not None and live.tty is not None else None


def note(config: pytest.Config, line: str) -> None:
    """A line the plan logged (step start, outcome, operator prompt, measurement)."""
    live = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if live is not None:
        live.note(line)


class _uncaptured:
    """pytest's capture suspended (the way its own live logging writes), or nothing without capture."""

    def __init__(self, capman: Any) -> None:
        self._cm = capman.global_and_fixture_disabled() if capman is not None else None

    def __enter__(self) -> None:
        if self._cm is not None:
            self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


class _PromptTerminal:
    """A terminal for operator prompts: while the live region is drawn, each line is printed above it (it
    stays on the screen) and shown in the region until the next step; otherwise the terminal itself."""

    def __init__(self, run: LiveRun) -> None:
        self._run = run

    def write(self, text: str) -> int:
        run = self._run
        if run._live is None:
            run.tty.write(text)
        else:
            if "\a" in text:
                run.tty.write("\a")  # the bell moves no cursor: the region is not disturbed
            for line in text.replace("\a", "").splitlines():
                if line.strip():
                    run.prompt(line.strip())
        return len(text)

    def flush(self) -> None:
        self._run.tty.flush()

    def close(self) -> None:  # the operator's terminal stays open for the display
        pass


class LiveRun:
    def __init__(self, config: pytest.Config, tty: Any | None) -> None:
        self.config = config
        self.tty = tty  # the terminal (a dup of fd 1), or None for plain lines
        self.progress: Progress | None = None
        self._plan_id = self._plan_name = self._step = self._prompt = self._last = ""
        self._steps: list[Any] = []
        self._live = None
        self._column = 0
        self._drawn = 0.0

    # -- pytest hooks ----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        plan = getattr(item, "plan", None)
        if plan is None or getattr(item, "load_error", None) is not None:
            return (yield)
        self._begin(item.name, plan)
        try:
            return (yield)
        finally:
            self._end()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.tty is not None:
            self.tty.close()
            self.tty = None

    # -- what the plan tells us -------------------------------------------------------------------
    def note(self, line: str) -> None:
        text = line.strip()
        m = _STEP.match(text)
        if m:
            index = int(m.group(1))
            step = self._steps[index - 1] if 0 < index <= len(self._steps) else None
            what = step_text(step.kind, step.args) if step is not None else text[m.end():]
            self._step, self._prompt, self._last = f"step {index}/{len(self._steps)} {what}", "", ""
            self._plain(self._step)
        elif text.startswith(">>>"):
            self._prompt = text
            self._plain(text)
        elif text.startswith("->"):
            if text != "-> ok":
                self._plain(f"{self._step}: {text[2:].strip()}")
        else:
            self._last = text
            self._plain(text)
        self._refresh(force=True)

    def prompt(self, text: str) -> None:
        """An operator prompt: printed above the region at once (it stays), and kept in the region."""
        from rich.text import Text

        self._prompt = text
        if self._live is not None:
            self._live.console.print(Text(text, style="bold yellow"), no_wrap=True, overflow="ellipsis")
        self._refresh(force=True)

    # -- plan start and end -----------------------------------------------------------------------
    def _begin(self, plan_id: str, plan: Any) -> None:
        self._plan_id, self._plan_name, self._steps = plan_id, plan.name, list(plan.steps)
        self._step = self._prompt = self._last = ""
        self.progress = Progress(log=None if self.tty is not None else self._plain, on_change=self._changed)
        if self.tty is None:
            self._plain(self._plan_name, prefix=True)
            return
        from rich.console import Console
        from rich.live import Live

        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        self._column = reporter._tw.width_of_current_line if reporter is not None else 0
        if self._column:  # pytest is mid-line ("..."): draw below it, come back to it at the end
            self.tty.write("\n")
        console = Console(file=self.tty, force_terminal=True, highlight=False, soft_wrap=False)
        self._fit(console)
        self._live = Live(console=console, auto_refresh=False, transient=True, redirect_stdout=False,
                          redirect_stderr=False, get_renderable=self._renderable)
        self._live.start(refresh=True)

    def _end(self) -> None:
        live, self._live, self.progress = self._live, None, None
        if live is None:
            return
        live.stop()  # transient: the region is erased, the cursor back where the region began
        if self._column:
            self.tty.write(f"\x1b[1A\x1b[{self._column + 1}G")
        self.tty.flush()

    # -- drawing ----------------------------------------------------------------------------------
    def _changed(self, force: bool) -> None:
        self._refresh(force)

    def _refresh(self, force: bool = False) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if force or now - self._drawn >= _REFRESH_S:
            self._drawn = now
            self._fit(self._live.console)
            self._live.refresh()

    def _fit(self, console: Any) -> None:
        try:
            size = os.get_terminal_size(self.tty.fileno())
        except (OSError, ValueError):
            return
        if size.columns > 0 and size.lines > 0:  # a terminal that reports no size (0 x 0): rich's default
            console.size = (size.columns, size.lines)

    def _renderable(self):
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        head = Text.assemble(("▶ ", "bold cyan"), (self._plan_id, "bold"), "  ", (self._plan_name, ""))
        grid.add_row(Text(no_wrap=True, overflow="ellipsis").append_text(head))
        if self._step:
            grid.add_row(Text("  " + self._step, no_wrap=True, overflow="ellipsis"))
        if self._prompt:
            grid.add_row(Text("  " + self._prompt, style="bold yellow", no_wrap=True, overflow="ellipsis"))
        elif self._last:
            grid.add_row(Text("  " + self._last, style="dim", no_wrap=True, overflow="ellipsis"))
        if self.progress is not None and self.progress.devices:
            devices = Table.grid(padding=(0, 2))
            for p in list(self.progress.devices.values()):
                parts = Progress.line_parts(p)
                style = {None: "", True: "green", False: "bold red"}[p.finished]
                tail = " ".join(x for x in (parts["state"], f"[{parts['extra']}]" if parts["extra"] else "") if x)
                devices.add_row(Text("  " + p.device, style="bold"),
                                ProgressBar(total=max(p.size, 1), completed=p.offset, width=_BAR),
                                Text(parts["percent"], justify="right"), Text(parts["bytes"], justify="right"),
                                Text(parts["rate"], justify="right"), Text(parts["eta"]),
                                Text(tail, style=style, no_wrap=True, overflow="ellipsis"))
            grid.add_row(devices)
        return grid

    def _plain(self, text: str, *, prefix: bool = True) -> None:
        """One plain line through pytest's terminal reporter (pipes and logs only)."""
        if self.tty is not None:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        line = f"{self._plan_id}: {text}" if prefix else text
        with _uncaptured(self.config.pluginmanager.getplugin("capturemanager")):
            if reporter is None:
                print(line, flush=True)
                return
            if reporter._tw.width_of_current_line:
                reporter._tw.line()
            reporter._tw.line(line)
            reporter._tw.flush()
