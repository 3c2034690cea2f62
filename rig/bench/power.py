"""Switching a device's power for `power_cycle`: a bench's power control, the emulator, or an operator.

Every way is a `PowerControl`: `cycle()` takes the device's power away and gives it back, and
`budget_s` says how long that may take (the step's real-time limit grows by it). Whether the device
really restarted is not decided here: the step waits for evidence (rig.plan.restart). A labgrid
backend (or any other) is one more class with these two members.

Bench file:

    power:
      off: "uhubctl -l 1-1 -p {port} -a off"   # {device} {ieee} {kind} and the device's own fields
      on:  "uhubctl -l 1-1 -p {port} -a on"
      off_for_s: 5            # how long the device stays unpowered
      command_timeout_s: 30   # each command must finish within this
      restart_within_s: 600   # how long the device may take to show it came back
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import signal
import sys
from typing import Annotated, Any, Callable, Protocol, TextIO

from pydantic import AfterValidator, Field, model_validator

from rig.config import ConfigFileError, FileModel
from rig.config.validate import renamed_keys, validate_any


class PowerError(Exception):
    """The power control could not do it (a command failed or hung): a bench problem, not the device's."""


class NoOperator(Exception):
    """No power control and nobody at a terminal to do it by hand."""


class PowerControl(Protocol):
    description: str
    budget_s: float  # real seconds cycle() may take

    async def cycle(self, device: str, fields: dict[str, str]) -> str:
        """Power the device off and on again; return what was done, for the record."""


@dataclasses.dataclass(frozen=True)
class PowerSettings:
    off: str | None = None
    on: str | None = None
    off_for_s: float = 5.0
    command_timeout_s: float = 30.0
    restart_within_s: float = 600.0
    # A switch the bench was given rather than told of in its file: an object with `description` and
    # async `cycle(off_seconds, device_fields)`, e.g. a labgrid place's power driver (rig.lab.power.LabgridPower).
    switch: Any = dataclasses.field(default=None, compare=False)

    @property
    def commands(self) -> bool:
        return bool(self.off and self.on)


def _command(text: str) -> str:
    if not text.strip():
        raise ValueError("expected a shell command")
    return text


Command = Annotated[str, AfterValidator(_command)]
Seconds = Annotated[float, Field(ge=0, description="a number of seconds >= 0")]


class PowerSection(FileModel):
    """The bench file's `power:` mapping."""

    off: Command | None = Field(None, description="a shell command")
    on: Command | None = Field(None, description="a shell command")
    off_for_s: Seconds = PowerSettings.off_for_s
    command_timeout_s: Seconds = PowerSettings.command_timeout_s
    restart_within_s: Seconds = PowerSettings.restart_within_s

    @model_validator(mode="after")
    def _both_commands(self) -> PowerSection:
        if bool(self.off) != bool(self.on):
            given = "off" if self.off else "on"
            raise ValueError(f"expected both commands: give both off: and on: commands (found only {given}:)")
        return self

    @classmethod
    def prepared(cls, raw: Any) -> Any:
        """YAML 1.1 reads a bare `on:` / `off:` key as true / false: take them as the words they were."""
        return renamed_keys(raw, {"True": "on", "False": "off", True: "on", False: "off"})

    def settings(self) -> PowerSettings:
        return PowerSettings(**{k: getattr(self, k) for k in self.model_fields_set})


def power_settings(raw: Any, where: str) -> PowerSettings:
    """The bench file's `power:` mapping, checked; `where` names the file for the error (a ConfigFileError,
    which is a ValueError). rig.bench.config checks it as part of the whole bench file."""
    if raw is None:
        return PowerSettings()
    if not isinstance(raw, dict):
        raise ConfigFileError(getattr(raw, "pos", where), "power",  # type: ignore[arg-type] # a source name
                              f"found {raw!r}; expected a mapping with off:, on: (commands) and optionally "
                              "off_for_s, command_timeout_s, restart_within_s")
    return validate_any(PowerSection, PowerSection.prepared(raw), origin=where, prefix="power").settings()


@dataclasses.dataclass(frozen=True)
class ResetSettings:
    """`reset: {command: ..., timeout_s: ...}`: bring a device back to an older firmware (a programmer or
    bootloader tool), run before a plan whose file: image the device already runs or runs newer than."""

    command: str | None = None
    timeout_s: float = 300.0


class ResetSection(FileModel):
    """The bench file's `reset:` mapping."""

    command: Command = Field(description="a shell command ({device} {ieee} {kind} and the device's fields filled in)")
    timeout_s: float = Field(ResetSettings.timeout_s, gt=0, description="a number of seconds > 0")

    def settings(self) -> ResetSettings:
        return ResetSettings(self.command, self.timeout_s)


def reset_settings(raw: Any, where: str) -> ResetSettings:
    if raw is None:
        return ResetSettings()
    return validate_any(ResetSection, raw, origin=where, prefix="reset").settings()


async def run_command(what: str, template: str, fields: dict[str, str], timeout_s: float) -> str:
    """Run a bench command with the device's fields filled in; PowerError (with its output) unless it
    exits 0 within `timeout_s`. Returns its output."""
    try:
        command = template.format(**{k: shlex.quote(str(v)) for k, v in fields.items()})
    except (KeyError, IndexError) as exc:
        raise PowerError(f"{what}: the command names {exc} which this device does not have "
                         f"(known: {', '.join('{' + k + '}' for k in sorted(fields))})") from None
    # Its own process group, ended whole on a timeout or an abort: the shell forks its commands, and a
    # child left holding the output pipe kept the rig waiting until it ended, long after the timeout.
    proc = await asyncio.create_subprocess_shell(command, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except (asyncio.TimeoutError, TimeoutError):
        _kill_group(proc.pid)
        await proc.wait()
        raise PowerError(f"{what}: `{command}` did not finish within {timeout_s:g} s") from None
    except asyncio.CancelledError:  # the plan was aborted (Ctrl-C no longer reaches the command's group)
        _kill_group(proc.pid)
        raise
    text = out.decode(errors="replace").strip()
    if proc.returncode != 0:
        tail = text.splitlines()[-3:]
        raise PowerError(f"{what}: `{command}` exited {proc.returncode}" + (f": {' / '.join(tail)}" if tail else ""))
    return text


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class CommandPower:
    """The bench's own switch: a USB hub port, a PDU outlet, a relay board, driven by two commands."""

    def __init__(self, settings: PowerSettings) -> None:
        self.settings = settings
        self.description = "the bench's power control (power: off/on commands)"
        self.budget_s = 2 * settings.command_timeout_s + settings.off_for_s

    async def cycle(self, device: str, fields: dict[str, str]) -> str:
        await self._run("off", self.settings.off or "", fields)
        await asyncio.sleep(self.settings.off_for_s)  # real time: the device's capacitors drain
        await self._run("on", self.settings.on or "", fields)
        return f"switched off for {self.settings.off_for_s:g} s and on by the bench's power control"

    async def _run(self, what: str, template: str, fields: dict[str, str]) -> None:
        await run_command(f"power.{what}", template, fields, self.settings.command_timeout_s)


class SwitchPower:
    """A switch object handed to the bench (a labgrid place's power driver): one cycle call."""

    def __init__(self, settings: PowerSettings) -> None:
        self.settings = settings
        self.switch = settings.switch
        self.description = getattr(self.switch, "description", type(self.switch).__name__)
        self.budget_s = 2 * settings.command_timeout_s + settings.off_for_s

    async def cycle(self, device: str, fields: dict[str, str]) -> str:
        try:
            await self.switch.cycle(self.settings.off_for_s, fields)  # fields: which device (its power resource)
        except Exception as exc:  # noqa: BLE001 - any switch failure is a bench problem, said with its words
            raise PowerError(f"{self.description}: {type(exc).__name__}: {exc}") from exc
        return f"switched off for {self.settings.off_for_s:g} s and on by {self.description}"


class EmulatedPower:
    """An emulated device on an emulated bench: the emulator reboots it (flash kept)."""

    description = "the emulated device's reboot"
    budget_s = 0.0

    def __init__(self, device: Any) -> None:
        self.device = device

    async def cycle(self, device: str, fields: dict[str, str]) -> str:
        self.device.reboot()
        return "rebooted by the emulator (RAM lost, flash kept)"


_stdin_was_tty: bool | None = None  # noted before pytest's capture puts /dev/null on fd 0


def note_stdin() -> None:
    """Remember whether stdin is a terminal now, before pytest captures fd 0 (the plugin calls this
    when it is loaded, ahead of capture)."""
    global _stdin_was_tty
    try:
        _stdin_was_tty = os.isatty(0)
    except OSError:
        _stdin_was_tty = False


def controlling_terminal(path: str = "/dev/tty") -> TextIO | None:
    """Where a prompt reaches the operator at once, whatever pytest captures: the controlling terminal,
    or the process's original stderr if that is one. None: no terminal, or stdin was not one (CI, a
    closed or redirected stdin): there is nobody to act on a prompt."""
    stdin_tty = _stdin_was_tty
    if stdin_tty is None:
        try:
            stdin_tty = os.isatty(0)
        except OSError:
            stdin_tty = False
    if not stdin_tty:
        return None
    try:
        return open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed by the caller
    except OSError:
        pass
    err = sys.__stderr__
    if err is not None and not err.closed and err.isatty():
        return err
    return None


# Set while a live display redraws a region of the terminal (rig.report.live, wired by the pytest plugin):
# a prompt written under that region would be erased by its next redraw, so it goes through the display.
prompt_terminal: TextIO | None = None


class OperatorPower:
    """Nobody wired a power switch: a person does it, told on the terminal at once."""

    description = "the operator (prompted on the terminal)"
    budget_s = 0.0

    def __init__(self, terminal: Callable[[], TextIO | None] = controlling_terminal) -> None:
        self._terminal = terminal

    async def cycle(self, device: str, fields: dict[str, str]) -> str:
        term = self._terminal()
        if term is None:
            raise NoOperator(f"power_cycle of {device} needs an operator or a power control: no terminal to "
                             "prompt on (CI, or stdin closed). Add a power: section (off:/on: commands) to "
                             "the bench file, or run from a terminal")
        ieee = fields.get("ieee", "")
        try:
            (prompt_terminal or term).write(f"\n\a>>> POWER-CYCLE {device} ({ieee}) NOW: switch it off, wait 5 s, switch it on. "
                       "The rig waits until it sees the device restart.\n")
            (prompt_terminal or term).flush()
        finally:
            if term not in (sys.__stderr__, sys.__stdout__):
                term.close()
        return "power-cycled by the operator (prompted on the terminal)"


def power_control(settings: PowerSettings, emulated_device: Any = None) -> PowerControl:
    """The emulator for an emulated device; else a switch the bench was handed (labgrid); else the bench's
    power commands; else a person."""
    if emulated_device is not None:
        return EmulatedPower(emulated_device)
    if settings.switch is not None:
        return SwitchPower(settings)
    if settings.commands:
        return CommandPower(settings)
    return OperatorPower()
