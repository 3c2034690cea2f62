"""`rig doctor` and `rig pair`."""

from __future__ import annotations

import argparse
import asyncio

from rig.bench.doctor import describe_probe, list_ports, probe


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
