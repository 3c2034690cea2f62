"""`rig` command line. Each concern registers its own subcommands from its package's `cli` module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# (module, what it adds). A module exposes `register(subparsers)`.
_COMMAND_MODULES = [
    "rig.image.cli",   # rig image build|inspect|verify
    "rig.emu.cli",     # rig emulate
    "rig.plan.cli",    # rig run, rig plans check, rig demo
    "rig.bench.cli",   # rig doctor, rig pair
    "rig.report.cli",  # rig report
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig",
        description="HAN OTA Rig: test GB PPMID/HCALCS over-the-air upgrades on an emulated or real Zigbee stick.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # that concern has no commands yet
                continue
            raise
        module.register(sub)
    return parser


def version_text() -> str:
    """The rig's version and the pinned stack it drives (what a bug report needs)."""
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return (f"rig {of('han-ota-rig')} (zigpy {of('zigpy')}, bellows {of('bellows')}, "
            f"Python {sys.version.split()[0]})")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    stdout = sys.stdout = _PipeSafe(sys.stdout) if sys.stdout is not None else None
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    finally:
        if isinstance(stdout, _PipeSafe):
            sys.stdout = stdout.stream
            stdout.settle()


class _PipeSafe:
    """stdout that survives `rig ... | head`: once the reader has gone, output is dropped and the command
    carries on (a run still finishes its plans and writes its records and report) instead of dying with
    BrokenPipeError. Everything else is the wrapped stream's."""

    def __init__(self, stream) -> None:  # noqa: ANN001 - any text stream
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._went_away()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._went_away()

    def _went_away(self) -> None:
        self.broken = True
        self.settle()

    def settle(self) -> None:
        """Point the file descriptor at /dev/null, so nothing (not even the interpreter's last flush)
        writes into the closed pipe again."""
        if not self.broken:
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


if __name__ == "__main__":
    sys.exit(main())
