"""`rig` command line. Each concern registers its own subcommands from its package's `cli` module."""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
