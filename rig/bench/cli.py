"""`rig doctor` and `rig pair`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from rig.bench.doctor import describe_probe, list_ports, probe, radio_problem


def radio_line(port: str, exc: BaseException) -> str:
    """The one line every command prints when a stick does not open, worded as `rig doctor` does."""
    return f"{port}: no EZSP stick answered: {radio_problem(exc)} (try `rig doctor --port {port}`)"


def register(sub: argparse._SubParsersAction) -> None:
    doctor = sub.add_parser(
        "doctor", help="find the Zigbee stick and check it speaks a supported EZSP version",
        description="List serial ports, point out the ones that look like Silicon Labs EZSP sticks, open the "
                    "chosen one with bellows and report its EZSP protocol and stack version. Exit 0 when a "
                    "stick answered, 1 when none did.")
    doctor.add_argument("--port", help="probe this port (a path such as /dev/ttyUSB0, or tcp://host:port)")
    doctor.add_argument("--baudrate", type=int, default=115200)
    doctor.add_argument("--flow-control", choices=["software", "hardware"], default=None)
    doctor.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the stick (default 15)")
    doctor.set_defaults(func=_doctor)

    pair = sub.add_parser(
        "pair", help="let a real device join the bench's network (optionally with its install code)",
        description="Open the bench's stick as the Communications Hub, permit joining (with the device's "
                    "install-code-derived link key when --ieee and --install-code are given, as Smart Energy "
                    "test devices expect) and report each device that joins and completes its interview.")
    pair.add_argument("--bench", default="fixtures/benches/hardware-example.yaml", help="bench file")
    pair.add_argument("--radio", help="override the bench radio path")
    pair.add_argument("--seconds", type=int, default=120, help="how long to permit joining (default 120)")
    pair.add_argument("--ieee", help="the joining device's EUI64 (with --install-code)")
    pair.add_argument("--install-code", help="the device's install code, hex (with its CRC)")
    pair.add_argument("--expect", type=int, default=0, metavar="N",
                      help="stop as soon as N devices have joined and been interviewed (default: wait --seconds)")
    pair.set_defaults(func=_pair)


def _doctor(args: argparse.Namespace) -> int:
    ports = list_ports()
    if ports:
        print("Serial ports:")
        for p in ports:
            usb = f"USB {p.usb_id[0]:04x}:{p.usb_id[1]:04x}" if p.usb_id else "no USB id"
            print(f"  {p.device:<20} {usb:<15} {p.description}" + (f"  <- {p.hint}" if p.hint else ""))
    else:
        print("Serial ports: none")
    if args.port:
        targets = [args.port]
    else:
        targets = [p.device for p in ports if p.hint]
        if not targets:
            print("\nNo Zigbee stick found: no serial port looks like a Silicon Labs EZSP stick. Plug the stick in "
                  "(check `dmesg` for a new /dev/ttyUSB* or /dev/ttyACM*), or name the port with --port.")
            return 1
    answered = False
    for path in targets:
        result = asyncio.run(probe(path, baudrate=args.baudrate, flow_control=args.flow_control,
                                   timeout=args.timeout))
        print("\n" + describe_probe(result))
        answered |= result.ok
    return 0 if answered else 1


def _pair(args: argparse.Namespace) -> int:
    from rig.bench.config import BenchUnreadable, read_bench

    if bool(args.ieee) != bool(args.install_code):
        print("--ieee and --install-code go together", file=sys.stderr)
        return 2
    try:
        bench = read_bench(args.bench, args.radio)
    except BenchUnreadable as exc:
        print(exc, file=sys.stderr)
        return 2
    if bench.emulated:
        print("rig pair is for real devices: give a bench whose radio is a serial port (or --radio /dev/ttyUSB0)")
        return 2
    return asyncio.run(_pair_async(bench, args))


async def _pair_async(bench, args: argparse.Namespace) -> int:
    from rig.bench.session import HardwareRadio, Session
    from rig.hub.errors import HubError

    session = Session(HardwareRadio(bench), bench.hub, bench=bench)
    try:
        await session.start()
    except Exception as exc:  # noqa: BLE001 - the user needs the words: wrong port, no stick, ...
        print(radio_line(bench.hub.radio, exc), file=sys.stderr)
        return 3
    hub = session.hub
    joined: list[str] = []

    class Listener:
        def device_initialized(self, device) -> None:
            joined.append(str(device.ieee))
            print(f"joined and interviewed: {device.ieee} nwk 0x{device.nwk:04x} "
                  f"{device.manufacturer or ''} {device.model or ''}".rstrip(), flush=True)

    hub.app.add_listener(Listener())
    try:
        if args.ieee:
            try:
                await hub.permit_with_install_code(args.ieee, args.install_code, args.seconds)
            except (ValueError, HubError) as exc:
                print(f"--install-code: {exc}")
                return 2
            print(f"permitting only {args.ieee} to join, with its install-code link key, for {args.seconds} s ...")
        else:
            await hub.permit(args.seconds)
            print(f"permitting joins for {args.seconds} s (well-known link key) ...")
        loop = asyncio.get_running_loop()
        end = loop.time() + args.seconds
        while loop.time() < end and not (args.expect and len(joined) >= args.expect):
            await asyncio.sleep(0.2)
    finally:
        await session.stop()
    print(f"{len(joined)} device(s) joined" + ("" if joined else ": none (is the device in pairing mode?)"))
    return 0 if joined else 1
