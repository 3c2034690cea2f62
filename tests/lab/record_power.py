"""The test relay's switch command: appends "on N" / "off N" to a file, so the test sees each switch.

The hardware-style run points the relay at the emulator's power socket instead (rig.lab.relay --on/--off).
"""

import sys

path, action, index = sys.argv[1:4]
with open(path, "a", encoding="utf-8") as log:
    log.write(f"{action} {index}\n")
