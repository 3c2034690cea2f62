"""The test relay's switch command: appends "on N" / "off N" to a file, so the test sees each switch, and
switches the emulated PPMID on relay port N through `rig emulate --control SOCKET` (SOCKET_PATTERN with
{index} replaced by N), as a lab's relay switches a real device: a power_cycle then sees a real restart.

    record_power.py LOG on|off INDEX [SOCKET_PATTERN]
"""

import sys

from rig.emu.control import send

path, action, index = sys.argv[1:4]
with open(path, "a", encoding="utf-8") as log:
    log.write(f"{action} {index}\n")
socket = sys.argv[4].replace("{index}", index) if len(sys.argv) > 4 else None
if socket:
    answer = send(socket, f"{action} ppmid")
    sys.exit(0 if answer.startswith("ok") else f"rig emulate --control: {answer}")
