"""`rig emulate`: run the emulated stick (and devices) until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "emulate",
        help="run an emulated EZSP Zigbee stick with emulated HAN devices",
        description="Serve an emulated EZSP NCP on a pty (or TCP) for any zigpy/bellows tool. Devices "
        "join as soon as the host permits joining.",
    )
    p.add_argument("--devices", default="", help="comma-separated device profiles, e.g. ppmid,hcalcs")
    p.add_argument("--ezsp-version", type=int, default=13, help="EZSP protocol version to speak (default 13)")
    p.add_argument("--transport", choices=("pty", "tcp"), default="pty")
    p.add_argument("--port", type=int, default=0, help="TCP port (tcp transport; default: any free port)")
    p.add_argument("--seed", type=int, default=0, help="seed for addresses, link loss and faults")
    p.add_argument("--xncp", action="store_true",
                   help="be a firmware build with the XNCP extension (combined send) rather than stock EmberZNet")
    p.add_argument("--control", metavar="SOCKET",
                   help="serve power control on this Unix socket: `python -m rig.emu.control SOCKET off|on "
                        "<ieee|profile>` switches a device as a lab's USB hub or PDU would (a bench file's power:)")
    p.add_argument("-v", "--verbose", action="store_true", help="log EZSP traffic")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


async def _serve(args: argparse.Namespace) -> int:
    from rig.emu.emulator import Emulator

    names = [n.strip() for n in args.devices.split(",") if n.strip()]
    try:
        emu = Emulator(ezsp_version=args.ezsp_version, transport=args.transport, seed=args.seed,
                       tcp_port=args.port, xncp=args.xncp)
    except ValueError as exc:
        print(f"rig emulate: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await emu.start()
    try:
        devices = []
        for name in names:
            try:
                devices.append((name, emu.add_device(name)))
            except Exception as exc:  # bad profile name/file: say which, do not trace back
                print(f"rig emulate: cannot create device {name!r}: {exc}", file=sys.stderr)
                return 2
        control = None
        if args.control:
            from rig.emu.control import ControlServer

            control = ControlServer(emu, args.control)
            await control.start()
        print(f"Emulated EZSP v{emu.ezsp_version} stick ready: {emu.port}", flush=True)
        print(f"  e.g. bellows/zigpy config: device: {{path: {emu.port}}}", flush=True)
        for name, dev in devices:
            print(f"  device {name}: ieee {dev.ieee}", flush=True)
        if control is not None:
            print(f"  power control: {args.control} (python -m rig.emu.control {args.control} off|on <ieee>)",
                  flush=True)
        joiners = [asyncio.create_task(_join_when_permitted(emu, name, dev, stop)) for name, dev in devices]
        await stop.wait()
        for task in joiners:
            task.cancel()
        if control is not None:
            await control.stop()
        if emu.errors:
            print(f"rig emulate: the emulated NCP recorded {len(emu.errors)} error(s):", file=sys.stderr)
            for err in emu.errors:
                print(f"  {err}", file=sys.stderr)
    finally:
        await emu.stop()
    print("stopped", flush=True)
    return 0


async def _join_when_permitted(emu, name: str, device, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await emu.network.wait_for_permit()
        try:
            await emu.join(device)
        except Exception as exc:  # permit closed again in between: wait for the next window
            LOGGER.info("join of %s deferred: %s", name, exc)
            await asyncio.sleep(0.5)
            continue
        print(f"  {name} ({device.ieee}, nwk 0x{int(device.nwk):04X}) joined", flush=True)
        return
