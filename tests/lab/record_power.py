"""The test relay's switch command: appends "on N" / "off N" to a file, so the test sees each switch, and
for relay port 0 (the place with the stick) switches the emulated PPMID's power through `rig emulate
--control SOCKET`, as a lab's relay switches a real device: a power_cycle then sees a real restart.

    record_power.py LOG on|off INDEX [SOCKET]
"""

import sys

from rig.emu.control import send

path, action, index = sys.argv[1:4]
with open(path, "a", encoding="utf-8") as log:
    log.write(f"{action} {index}\n")
if len(sys.argv) > 4 and index == "0":
    answer = send(sys.argv[4], f"{action} ppmid")
    sys.exit(0 if answer.startswith("ok") else f"rig emulate --control: {answer}")
