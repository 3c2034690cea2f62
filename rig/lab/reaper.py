"""Release a labgrid place when the rig process holding it dies without releasing it.

Started by LabPlace after acquiring, in its own session, with a pipe on stdin from the holder. The
holder writes "released" before a normal release; if the pipe instead reaches end-of-file (the holder
was killed, crashed or exited without unwinding), the reaper runs labgrid's
`labgrid-client -p PLACE release-from HOST/USER`, which releases the place only if that same holder
still has it — so a place someone else acquired meanwhile is never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from rig.lab import client


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rig.lab.reaper")
    p.add_argument("--coordinator", default=None, help="HOST:PORT (default: LG_COORDINATOR)")
    p.add_argument("--mine", action="store_true",
                   help="release every place held as LG_HOSTNAME/LG_USERNAME (a CI job's after_script: the job "
                        "was killed together with its reaper, e.g. its container stopped)")
    p.add_argument("--place")
    p.add_argument("--holder", help="HOST/USER the coordinator records for the holder")
    p.add_argument("--pid", type=int, default=0, help="the holder's pid, for the message")
    args = p.parse_args(argv)
    if args.mine:
        return release_mine(args.coordinator)
    if not (args.place and args.holder and args.coordinator):
        p.error("--coordinator, --place and --holder are required (or --mine)")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the holder's Ctrl-C is the holder's to handle
    said = sys.stdin.buffer.read()  # blocks until the holder closes the pipe or dies
    if said.startswith(b"released"):
        return 0
    for attempt in range(3):  # a coordinator restarting or a network blip should not leave the lock
        if attempt:
            time.sleep(2.0)
        rc, _, err = asyncio.run(client.run(["-p", args.place, "release-from", args.holder],
                                            coordinator=args.coordinator, check=False))
        if rc == 0:
            break
    if rc == 0:
        print(f"rig: released labgrid place {args.place} left held by {args.holder} (pid {args.pid} ended "
              "without releasing it)", file=sys.stderr)
        return 0
    print(f"rig: could not release labgrid place {args.place} held by {args.holder}: "
          f"{client.last_words(err)}; run: labgrid-client -x {args.coordinator} -p {args.place} "
          f"release-from {args.holder}", file=sys.stderr)
    return 1


def release_mine(coordinator: str | None) -> int:
    """Release (release-from: only if still ours) every place the coordinator says this identity holds."""
    from rig.lab.client import LabgridError
    from rig.lab.coordinator import Coordinator

    me = client.identity()

    async def run() -> list[tuple[str, str | None]]:
        async with Coordinator(coordinator) as lab:
            mine = sorted(name for name, place in lab.session.places.items() if place.acquired == me)
            return [(name, await lab.release_from(name, me)) for name in mine]

    try:
        done = asyncio.run(run())
    except LabgridError as exc:
        print(f"rig: {exc}", file=sys.stderr)
        return 1
    for name, refused in done:
        print(f"rig: released labgrid place {name} held by {me}" if refused is None
              else f"rig: labgrid place {name} not released: {refused}", file=sys.stderr)
    if not done:
        print(f"rig: no labgrid place is held by {me}", file=sys.stderr)
    return 0 if all(refused is None for _, refused in done) else 1


if __name__ == "__main__":
    sys.exit(main())
