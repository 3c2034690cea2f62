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
    p.add_argument("--coordinator", required=True)
    p.add_argument("--place", required=True)
    p.add_argument("--holder", required=True, help="HOST/USER the coordinator records for the holder")
    p.add_argument("--pid", type=int, default=0, help="the holder's pid, for the message")
    args = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
